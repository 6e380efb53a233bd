"""Hardening families (marker `hardening`): fuzzed answer sets for all three applications, and bad model names.

Every fuzzed answer set is either refused by a validator that names its question, with nothing written, or renders
files that all parse (TOML, YAML, JSON, notebooks, Python), read the answers back as written, and pass the generated
repo's own `ruff check` and `ruff format --check` (run once over every render at the end). Most answers are drawn
valid and some are arbitrary text, so that both outcomes are common.
"""

from __future__ import annotations

import ast
import copy
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import copier
import copier._main
import copier._template
import jinja2
import nbformat
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from projects import ROOT, copy_work_tree, render, text_files

pytestmark = pytest.mark.hardening

RESERVED: dict[str, list[str]] = yaml.safe_load((ROOT / "copier.yml").read_text(encoding="utf-8"))["reserved_names"][
    "default"
]
METRICS = {"classification": ["roc_auc", "accuracy", "f1", "precision", "recall"], "regression": ["rmse", "mae", "r2"]}
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
YAML_WORDS = ["yes", "No", "on", "OFF", "true", "False", "null", "~", "y", "n", ".nan", ".inf", "0x1f", "1e3", "12:30"]
# Characters the formats treat specially, mixed into arbitrary text.
TRICKY = [
    '"',
    "\\",
    "'",
    "\t",
    "\x00",
    "\x1b",
    "\x7f",
    "\x85",
    "\u2028",
    "\ufeff",
    "é",
    "😀",
    "#",
    ": ",
    "- ",
    "{{",
    "{=",
    "=}",
    "%}",
]
ARBITRARY = st.lists(
    st.one_of(st.sampled_from([*TRICKY, *LINE_BREAKS, *YAML_WORDS]), st.text(max_size=8)), max_size=6
).map("".join)
ONE_LINE = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters=LINE_BREAKS), min_size=1, max_size=30
).filter(str.strip)


def answer(valid: st.SearchStrategy[Any], odd: st.SearchStrategy[Any] | None = None) -> st.SearchStrategy[Any]:
    """Mostly a valid answer; one time in ten arbitrary text or an odd value (a trailing newline, a YAML word...)."""
    odd = odd if odd is not None else st.nothing()
    strange = st.one_of(ARBITRARY, odd, valid.map(lambda value: f"{value}\n"), st.sampled_from(YAML_WORDS))
    return one_in_ten(strange, valid)


def one_in_ten(rare: st.SearchStrategy[Any], common: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`rare` one time in ten, else `common` (integers would favour their bounds)."""
    return st.sampled_from([False] * 9 + [True]).flatmap(lambda pick_rare: rare if pick_rare else common)


def pattern(regex: str) -> st.SearchStrategy[str]:
    """Text matching a validator's pattern."""
    return st.from_regex(regex, fullmatch=True)


RESERVED_NAMES = st.sampled_from(sorted(set().union(*RESERVED.values())))
MODEL_NAME = answer(pattern(r"[a-z][a-z0-9_]{3,20}"), RESERVED_NAMES)
PROTOTYPE = {
    "project_name": answer(ONE_LINE),
    "repo_slug": answer(pattern(r"[a-z][a-z0-9]{0,8}(-[a-z0-9]{1,4}){0,2}")),
    "problem_type": answer(st.sampled_from(["classification", "regression"])),
    "model_name": MODEL_NAME,
    "description": answer(ONE_LINE),
    "author": answer(ONE_LINE),
    "python_version": answer(st.sampled_from(["3.11", "3.12", "3.13"])),
    "license": answer(st.sampled_from(["MIT", "Apache-2.0", "BSD-3-Clause", "Proprietary"])),
    "ci_platform": answer(st.sampled_from(["github", "azure-devops"])),
}
ENVIRONMENT = pattern(r"[a-z][a-z0-9]{1,9}")
FACTORY = {
    "project_name": answer(ONE_LINE),
    "repo_slug": answer(pattern(r"[a-z][a-z0-9]{0,8}(-[a-z0-9]{1,4}){0,2}")),
    "org": answer(pattern(r"[A-Za-z0-9](-?[A-Za-z0-9]){0,12}")),
    "branching_strategy": answer(st.sampled_from(["trunk", "gitflow"])),
    "environments": answer(st.lists(ENVIRONMENT, min_size=1, max_size=4, unique=True).map(",".join)),
    "azure_subscription_id": answer(st.one_of(st.just(""), st.uuids().map(str))),
    "azure_resource_group": answer(pattern(r"[A-Za-z0-9_.()-]{0,20}[A-Za-z0-9_()-]")),
    "azure_workspace": answer(pattern(r"[A-Za-z0-9][A-Za-z0-9_-]{2,21}")),
    "compute_cluster": answer(pattern(r"[A-Za-z][A-Za-z0-9-]{1,14}[A-Za-z0-9]")),
    "notifications": answer(st.sampled_from(["none", "slack", "teams"])),
    "python_version": answer(st.sampled_from(["3.11", "3.12", "3.13"])),
    "ci_platform": answer(st.sampled_from(["github", "azure-devops"])),
}
# Asked only on Azure DevOps: a factory on GitHub records no service connection.
SERVICE_CONNECTION = answer(pattern(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,20}"))


def factory_answers() -> st.SearchStrategy[dict[str, Any]]:
    """A factory's answers, with a service connection when its CI is Azure DevOps."""
    return fixed(FACTORY).flatmap(
        lambda answers: (
            SERVICE_CONNECTION.map(lambda name: {**answers, "azure_service_connection": name})
            if answers["ci_platform"] == "azure-devops"
            else st.just(answers)
        )
    )


CRON_FIELD = st.sampled_from(["*", "0", "3", "*/5", "1-5", "1,3", "MON"])
CRON = st.lists(CRON_FIELD, min_size=5, max_size=5).map(" ".join)


@st.composite
def slot_answers(draw: st.DrawFn) -> dict[str, Any]:
    """A model slot's answers: metric, direction and threshold mostly consistent with the problem type."""
    problem_type = draw(st.sampled_from(["classification", "regression"]))
    metric = draw(st.sampled_from(METRICS[problem_type]))
    score = metric not in {"rmse", "mae"}
    bound = {"rmse": 50.0, "mae": 50.0, "r2": 0.99}.get(metric, 0.99)
    low = -5.0 if metric == "r2" else 1e-6
    threshold = st.floats(low, bound, allow_nan=False).map(lambda value: repr(round(value, 6) or 0.5))
    return {
        "org": draw(answer(pattern(r"[A-Za-z0-9](-?[A-Za-z0-9]){0,12}"))),
        "problem_type": draw(answer(st.just(problem_type))),
        "model_name": draw(MODEL_NAME),
        "primary_metric": draw(answer(st.just(metric), st.sampled_from([m for ms in METRICS.values() for m in ms]))),
        "greater_is_better": draw(one_in_ten(st.booleans(), st.just(score))),
        "business_threshold": draw(answer(threshold, st.sampled_from(["nan", "inf", "", "-1", "1e999", "0.7 "]))),
        "retraining_schedule": draw(answer(st.one_of(st.just(""), CRON))),
    }


def fixed(questions: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """A fixed dictionary of answers, one per question."""
    return st.fixed_dictionaries(questions)


PARSERS: dict[str, Callable[[str], Any]] = {
    ".toml": tomllib.loads,
    ".yaml": yaml.safe_load,
    ".yml": yaml.safe_load,
    ".json": json.loads,
    ".baseline": json.loads,
    ".ipynb": lambda text: nbformat.validate(nbformat.reads(text, as_version=4)),
    ".py": ast.parse,
}


class Family:
    """The shared state of the answers family: the template, where renders go, what they gave."""

    def __init__(self, root: Path, scratch: Path) -> None:
        self.source = copy_work_tree(root / "template")
        self.out = scratch  # about a thousand throwaway renders: the scratch folder (TMPDIR), not the test folder
        self.factory = render(root / "base", "factory", vcs_ref=None, src=self.source)
        self.counter = itertools.count()
        self.rendered: dict[Path, dict[str, Any]] = {}
        self.broken: dict[str, str] = {}
        self.started = time.perf_counter()

    def destination(self, application: str) -> Path:
        """A fresh destination; a slot's holds the factory base's answers and project settings (ruff's config)."""
        dest = self.out / f"{application}-{next(self.counter)}"
        if application == "model":
            dest.mkdir(parents=True)
            for name in (".copier-answers.yml", "pyproject.toml"):
                shutil.copy2(self.factory / name, dest / name)
        return dest


@pytest.fixture(scope="module")
def family(tmp_path_factory: pytest.TempPathFactory, tally: Any) -> Iterator[Family]:
    """The answers family with copier sped up (see `faster_copier`), and its tally line in a fixed order."""
    tally.add("answers", tried=0, refused=0, rendered=0, broken=0)
    with faster_copier(), tempfile.TemporaryDirectory(prefix="answers-renders-") as scratch:
        yield Family(tmp_path_factory.mktemp("answers"), Path(scratch))


class faster_copier:  # noqa: N801  (a context manager read as a phrase)
    """Speed only, output unchanged (test_the_speed_ups_render_the_same_files): Jinja compiles each template source
    once for all renders (each render builds a new, identical environment), copier reads copier.yml once (a third of
    a render's time is PyYAML parsing it again; each render gets its own deep copy), and copier skips syncing
    executable bits to a git index (no destination here is in a git repo, where copier's own check returns at once)."""

    def __enter__(self) -> None:
        self.patch = pytest.MonkeyPatch()
        compile_source = jinja2.Environment.compile
        compiled: dict[tuple[Any, ...], Any] = {}

        def compile_once(env: jinja2.Environment, source: Any, *args: Any, **kwargs: Any) -> Any:
            if not isinstance(source, str):
                return compile_source(env, source, *args, **kwargs)
            options = (env.block_start_string, env.variable_start_string, env.comment_start_string)
            options += (env.trim_blocks, env.lstrip_blocks, env.keep_trailing_newline, env.newline_sequence)
            key = (type(env), options, tuple(env.extensions), source, args, tuple(sorted(kwargs.items())))
            if key not in compiled:
                compiled[key] = compile_source(env, source, *args, **kwargs)
            return compiled[key]

        self.patch.setattr(jinja2.Environment, "compile", compile_once)
        load_config = copier._template.load_template_config
        configs: dict[tuple[Path, int], Any] = {}

        def load_config_once(conf_path: Path, quiet: bool = False) -> Any:
            key = (conf_path, conf_path.stat().st_mtime_ns)
            if key not in configs:
                configs[key] = load_config(conf_path, quiet)
            return copy.deepcopy(configs[key])

        self.patch.setattr(copier._template, "load_template_config", load_config_once)
        self.patch.setattr(copier._main.Worker, "_sync_git_index_executable_bit", lambda *_: None)

    def __exit__(self, *_: object) -> None:
        self.patch.undo()


def files_of(root: Path) -> dict[str, bytes]:
    """Every file under `root` with its bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in text_files(root)} if root.exists() else {}


def apply(family: Family, tally: Any, application: str, answers: dict[str, Any]) -> None:
    """Render one answer set; count it as refused, rendered or broken (a render that fails a check, or a crash)."""
    dest = family.destination(application)
    before = files_of(dest)
    tally.add("answers", tried=1)
    label = f"{application} {answers!r}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            copier.run_copy(
                str(family.source), str(dest), data={"template": application, **answers}, defaults=True, quiet=True
            )
    except ValueError as error:
        named = "question '" in str(error) or "for '" in str(error)
        if named and files_of(dest) == before:
            tally.add("answers", refused=1)
            return
        family.broken[label] = f"refused without naming the question or with files written: {error}"
    except Exception as error:  # noqa: BLE001  (any other failure is a finding, reported at the end)
        family.broken[label] = f"{type(error).__name__}: {error}"
    else:
        if problem := check_render(dest, application, answers):
            family.broken[label] = problem
        else:
            family.rendered[dest] = answers
            tally.add("answers", rendered=1)
            return
    tally.add("answers", broken=1)


def check_render(dest: Path, application: str, answers: dict[str, Any]) -> str | None:
    """Why a render is broken: a file that does not parse, or an answer that does not read back as written."""
    for path in text_files(dest):
        parser = PARSERS.get(path.suffix)
        if parser:
            try:
                parser(path.read_text(encoding="utf-8"))
            except Exception as error:  # noqa: BLE001
                return f"{path.relative_to(dest)} does not parse: {error}"
    slot = application == "model"
    answers_file = (
        dest / "mlops" / answers["model_name"] / ".copier-answers.yml" if slot else dest / ".copier-answers.yml"
    )
    recorded = yaml.safe_load(answers_file.read_text(encoding="utf-8"))
    if {k: recorded.get(k) for k in answers} != answers:
        return f"{answers_file.relative_to(dest)} reads back {recorded}"
    return read_back_problem(dest, application, answers)


def read_back_problem(dest: Path, application: str, answers: dict[str, Any]) -> str | None:
    """Answers written unquoted into YAML read back as the same text (no boolean, null or number)."""
    if application == "factory":
        environments = yaml.safe_load((dest / "mlops/environments.yaml").read_text(encoding="utf-8"))
        names = [name.strip() for name in answers["environments"].split(",")]
        if (
            environments["compute"] != answers["compute_cluster"]
            or [e["name"] for e in environments["environments"]] != names
        ):
            return f"mlops/environments.yaml reads back {environments}"
        return None
    model = answers["model_name"]
    config_file = dest / ("configs/config.yaml" if application == "prototype" else f"mlops/{model}/config.yaml")
    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    expected = {"model_name": model, "experiment_name": model, "problem_type": answers["problem_type"]}
    if application == "model":
        expected |= {
            "primary_metric": answers["primary_metric"],
            "business_threshold": float(answers["business_threshold"]),
        }
        expected["retraining"] = {**config["retraining"], "schedule": answers["retraining_schedule"] or None}
    if {k: config.get(k) for k in expected} != expected:
        return f"{config_file.relative_to(dest)} reads back {config}"
    return None


FUZZ = settings(max_examples=400, suppress_health_check=list(HealthCheck))


@FUZZ
@given(answers=fixed(PROTOTYPE))
def test_fuzzed_prototype_answers_are_refused_by_name_or_render_files_that_parse(
    family: Family, tally: Any, answers: dict[str, Any]
) -> None:
    apply(family, tally, "prototype", answers)


@settings(FUZZ, max_examples=300)
@given(answers=factory_answers())
def test_fuzzed_factory_answers_are_refused_by_name_or_render_files_that_parse(
    family: Family, tally: Any, answers: dict[str, Any]
) -> None:
    apply(family, tally, "factory", answers)


@settings(FUZZ, max_examples=300)
@given(answers=slot_answers())
def test_fuzzed_slot_answers_are_refused_by_name_or_render_files_that_parse(
    family: Family, tally: Any, answers: dict[str, Any]
) -> None:
    apply(family, tally, "model", answers)


def ruff_failures(dests: list[Path]) -> dict[Path, str]:
    """The renders `ruff check` or `ruff format --check` fail, with each one's own pyproject.toml as its config."""
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is part of the test dependencies"
    failures: dict[Path, str] = {}
    common = dests[0].parent
    for command in (
        [ruff, "check", "--no-cache", "--output-format=concise"],
        [ruff, "format", "--check", "--no-cache"],
    ):
        done = subprocess.run(
            [*command, *(d.name for d in dests)], cwd=common, capture_output=True, text=True, check=False
        )
        for line in (done.stdout + done.stderr).splitlines():
            for dest in dests:
                if dest.name + "/" in line:
                    failures.setdefault(dest, line)
        if done.returncode and not failures:
            failures[common] = done.stdout + done.stderr
    return failures


def test_every_fuzzed_render_passes_its_own_ruff_and_nothing_was_broken(family: Family, tally: Any) -> None:
    assert len(family.rendered) >= 200, "too few answer sets rendered to mean anything"
    for dest, line in ruff_failures(sorted(family.rendered)).items():
        family.broken[f"{dest.name} {family.rendered.get(dest)!r}"] = line
        tally.add("answers", rendered=-1, broken=1)
    print(f"answers family: {time.perf_counter() - family.started:.0f} s")  # noqa: T201  (shown with -s)
    assert family.broken == {}


def test_the_speed_ups_render_the_same_files(tmp_path: Path, family: Family) -> None:
    answers = {
        "project_name": "Équipe 😀",
        "repo_slug": "equipe",
        "model_name": "fraud_v2",
        "problem_type": "regression",
    }
    with_speed_ups = render(tmp_path / "fast", "prototype", vcs_ref=None, src=family.source, **answers)
    # The module's patches are on in this interpreter: render without them in a fresh one.
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); from pathlib import Path; from projects import render; "
        "render(Path(sys.argv[2]), 'prototype', vcs_ref=None, src=Path(sys.argv[3]), **json.loads(sys.argv[4]))"
    )
    plain = tmp_path / "plain"
    command = [sys.executable, "-c", code, str(ROOT / "tools"), str(plain), str(family.source), json.dumps(answers)]
    subprocess.run(command, check=True)  # noqa: S603  (this interpreter, our own code)
    assert files_of(with_speed_ups) == files_of(plain)


# Bad model names: every one refused before anything is written, by a prototype and by a slot.
BAD_NAMES = sorted(
    {names[index * (len(names) - 1) // 3] for names in RESERVED.values() for index in range(4)}
    | {"con", "nul", "com1", "lpt9", "scipy", "statistics", "pickle", "matplotlib", "skops", "pytest", "datetime"}
    | {"yes", "null", "mlops", "pipeline", "tests", "src", "data", "match", "class"}
) + [
    "churn\n",
    "churn\r\n",
    "\nchurn",
    "churn ",
    " churn",
    "Churn",
    "CHURN",
    "my-model",
    "my.model",
    "my model",
    "1model",
    "_private",
    "m" * 41,
    "",
    "café",
    "ｃｈｕｒｎ",
    "модель",
    "churn\x00",
    "churn\t",
    "ﬁle",
    "../churn",
    "churn/v2",
    "churn\u2028",
    "churn-v2",
]


def test_every_bad_model_name_is_refused_before_anything_is_written(family: Family, tally: Any) -> None:
    assert len(BAD_NAMES) >= 60
    accepted, written = [], []
    for name in BAD_NAMES:
        outcomes = {refused_before_writing(family, application, name) for application in ("prototype", "model")}
        accepted += [name] if "accepted" in outcomes else []
        written += [name] if "written" in outcomes else []
        tally.add("model names", tried=1, refused=int(outcomes == {"refused"}), written=int("written" in outcomes))
    assert (accepted, written) == ([], [])


def refused_before_writing(family: Family, application: str, name: str) -> str:
    """`refused` if model_name's validator refuses the name and nothing is written, else `accepted` or `written`."""
    dest = family.destination(application)
    before = files_of(dest)
    outcome = "accepted"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            data = {"template": application, "model_name": name}
            copier.run_copy(str(family.source), str(dest), data=data, defaults=True, quiet=True)
        except ValueError as error:
            outcome = "refused" if "question 'model_name'" in str(error) else "accepted"
    return "written" if files_of(dest) != before else outcome
