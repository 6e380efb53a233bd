"""Fast tier: any accepted answer reaches the generated TOML, YAML and JSON files as a literal that reads back."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import event, given, settings
from hypothesis import strategies as st
from jinja2 import FileSystemLoader
from jinja2.sandbox import SandboxedEnvironment
from projects import ROOT, copy_work_tree, render, text_files

# The examples are the same on every run unless HYPOTHESIS_PROFILE=explore (see conftest.py).

# Arbitrary text (any character but surrogates) mixed with what the formats treat specially: quotes, backslashes,
# control and C1 characters, DEL, line breaks, noncharacters, astral characters, YAML indicators.
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # what str.splitlines splits at
TRICKY = ['"', "\\", "'", "\t", "\x00", "\x1b", "\x7f", "\x9f", "\xa0", "\ufeff", "\ufffe", "\uffff"]
TRICKY += ["é", "😀", "\U0010ffff", "#", ": ", "- ", "{{", "{=", "=}", "%}", "<>&", " "]
TEXT = st.lists(st.one_of(st.sampled_from([*TRICKY, *LINE_BREAKS]), st.text(max_size=6)), max_size=12).map("".join)
# Free-text answers: mostly one line, as a validator refuses any line break, so that most examples get rendered.
ONE_LINE = st.text(st.characters(exclude_characters=LINE_BREAKS), min_size=1, max_size=6)
ANSWER = st.lists(st.one_of(st.sampled_from([*TRICKY, "\n"]), ONE_LINE), min_size=1, max_size=12).map("".join)


def quote_macros() -> Any:
    """common/fragments/quote.jinja as Copier loads it: a sandbox over the template repo with copier.yml's `_envops`."""
    envops = yaml.safe_load((ROOT / "copier.yml").read_text(encoding="utf-8")).get("_envops", {})
    env = SandboxedEnvironment(loader=FileSystemLoader(ROOT), **{"keep_trailing_newline": True, **envops})
    return env.get_template("common/fragments/quote.jinja").module


QUOTE = quote_macros()
READ_BACK: dict[str, Callable[[str], Any]] = {
    "toml": lambda literal: tomllib.loads(f"k = {literal}")["k"],
    "yaml": lambda literal: yaml.safe_load(f"k: {literal}")["k"],
    "json": json.loads,
}
PARSERS: dict[str, Callable[[str], Any]] = {
    ".toml": tomllib.loads,
    ".yaml": yaml.safe_load,
    ".yml": yaml.safe_load,
    ".json": json.loads,
    ".ipynb": json.loads,
}


@pytest.mark.parametrize("fmt", READ_BACK)
@settings(max_examples=500)
@given(text=TEXT)
def test_a_literal_reads_back_as_the_exact_text(fmt: str, text: str) -> None:
    assert READ_BACK[fmt](getattr(QUOTE, fmt)(text)) == text


@pytest.mark.parametrize("fmt", READ_BACK)
def test_text_the_format_allows_is_written_as_it_is(fmt: str) -> None:
    assert getattr(QUOTE, fmt)("Équipe 😀 <data> & 'co' >=3.11") == "\"Équipe 😀 <data> & 'co' >=3.11\""


@pytest.mark.parametrize("fmt", READ_BACK)
def test_quotes_backslashes_and_control_characters_are_escaped(fmt: str) -> None:
    assert getattr(QUOTE, fmt)('say "hi" \\ \t\x01\x7f') == r'"say \"hi\" \\ \t\u0001\u007f"'


def test_yaml_escapes_what_pyyaml_refuses_or_folds() -> None:
    assert QUOTE.yaml("\x85\x9f\u2028\u2029\ufffe") == r'"\u0085\u009f\u2028\u2029\ufffe"'


def refusal(answers: dict[str, str]) -> str | None:
    """The message of the first copier.yml validator that refuses these answers (given in question order), if any."""
    for name, value in answers.items():
        if not value.strip():
            return f"{name} must not be empty"
        if name == "project_name" and len(value) > 80:
            return "project_name must be at most 80 characters"
        if "".join(value.splitlines()) != value:  # any Unicode line break: \n, \r, NEL, LS, PS...
            return f"{name} must be one line"
    return None


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template as plain files: copier renders it without cloning, twice as fast."""
    return copy_work_tree(tmp_path_factory.mktemp("template") / "model-factory-templates")


def render_or_refuse(source: Path, dest: Path, template: str, answers: dict[str, str]) -> dict[str, Any] | None:
    """Every TOML, YAML and JSON file of the render, parsed; None if a validator refused it and nothing was written."""
    if message := refusal(answers):
        event(f"refused: {message}")
        with pytest.raises(ValueError, match=re.escape(message)):
            render(dest, template, vcs_ref=None, src=source, repo_slug="any-answer", **answers)
        assert not dest.exists()
        return None
    event("rendered")
    render(dest, template, vcs_ref=None, src=source, repo_slug="any-answer", **answers)
    return {
        path.relative_to(dest).as_posix(): PARSERS[path.suffix](path.read_text(encoding="utf-8"))
        for path in text_files(dest)
        if path.suffix in PARSERS
    }


# A few whole renders per run here; the filters alone read back 500 texts above, and the hardening family
# (tests/test_hardening_answers.py) renders hundreds of fuzzed answer sets of each application in every CI run.
@settings(max_examples=15)
@given(project_name=ANSWER, description=ANSWER, author=ANSWER)
def test_a_prototype_writes_any_accepted_free_text_answer_into_files_that_parse(
    source: Path, tmp_path_factory: pytest.TempPathFactory, project_name: str, description: str, author: str
) -> None:
    answers = {"project_name": project_name, "description": description, "author": author}
    files = render_or_refuse(source, tmp_path_factory.mktemp("prototype") / "repo", "prototype", answers)
    if files is None:
        return
    assert files["pyproject.toml"]["project"]["description"] == description
    assert files["pyproject.toml"]["project"]["authors"] == [{"name": author}]
    assert files["configs/dataset.yaml"]["description"] == "Bundled sample: " + description
    assert {name: files[".copier-answers.yml"][name] for name in answers} == answers


@settings(max_examples=5)
@given(project_name=ANSWER)
def test_a_factory_writes_any_accepted_project_name_into_files_that_parse(
    source: Path, tmp_path_factory: pytest.TempPathFactory, project_name: str
) -> None:
    answers = {"project_name": project_name}
    files = render_or_refuse(source, tmp_path_factory.mktemp("factory") / "repo", "factory", answers)
    if files is not None:
        assert files[".copier-answers.yml"]["project_name"] == project_name
