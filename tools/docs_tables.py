"""Derive docs pages from their single sources; --check fails when one is stale.

Sources: copier.yml (questions), the templates and `_skip_if_exists` (files), the promotion mapping, the config
schema of `mlops/pipeline/config.py`, the argument parsers of the generated repos' commands and the example
model's data contracts (`schema.py`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "common" / "runtime"))
sys.path.insert(0, str(ROOT / "tools"))
import reserved_names  # noqa: E402  (its generated block in copier.yml is checked with the pages)

from mlops.factory.promotion.plan import MAPPING  # noqa: E402  (the shared source, importable once on the path)

APPLICATIONS = ("prototype", "factory", "model")
# Jinja variables as copier.yml's `_envops` delimits them (`{= name =}`), as regular expressions.
ENVOPS = yaml.safe_load((ROOT / "copier.yml").read_text(encoding="utf-8"))["_envops"]
VARIABLE_START, VARIABLE_END = re.escape(ENVOPS["variable_start_string"]), re.escape(ENVOPS["variable_end_string"])


def asked_in(question: dict[str, Any], application: str) -> bool:
    """Whether a question's `when` condition asks it for this application (conditions here test `template`, and
    may add `and <answer> == '<value>'`, which the question's help names)."""
    when = question.get("when", True)
    if when is False:
        return False
    if when is True:
        return True
    also = r"(?: and \w+ == '[\w-]+')?"
    condition = re.fullmatch(rf"{VARIABLE_START} template (==|!=) '(\w+)'{also} {VARIABLE_END}", str(when).strip())
    if not condition:
        raise ValueError(f"unsupported `when` for docs: {when!r}")
    operator, value = condition.groups()
    return (application == value) == (operator == "==")


def cell(value: Any) -> str:
    """A Markdown table cell: one line, pipes escaped, Jinja shown as code."""
    text = " ".join(str(value).split()).replace("|", "\\|")
    return f"`{text}`" if "{" in text else text


def choices(question: dict[str, Any]) -> str:
    """The allowed values, whatever form `choices` takes."""
    raw = question.get("choices")
    if isinstance(raw, dict):
        return ", ".join(v["value"] if isinstance(v, dict) else str(v) for v in raw.values())
    return ", ".join(map(str, raw)) if raw else ""


def validation(question: dict[str, Any]) -> str:
    """What a question's validator refuses: the messages between its Jinja tags, answers shown as <name>."""
    text = re.sub(r"\{#.*?#\}", "", str(question.get("validator", "")), flags=re.DOTALL)  # Jinja comments
    pieces = re.split(r"\{%-?.*?-?%\}", text, flags=re.DOTALL)

    # An expression shows as the name it starts with (`{= ns.reason or '...' =}` -> <reason>), else as <...>.
    def shown(match: re.Match[str]) -> str:
        name = re.match(r"(?:\w+\.)*(\w+)", match.group(1))
        return f"<{name.group(1)}>" if name else "<...>"

    value = re.compile(rf"{VARIABLE_START}-?\s*(.*?)\s*-?{VARIABLE_END}", flags=re.DOTALL)
    messages = [value.sub(shown, piece.strip()) for piece in pieces if piece.strip()]
    # Markdown would read <name> as an HTML tag outside code spans; inside them it is shown as written.
    parts = "; ".join(messages).split("`")
    parts[::2] = [part.replace("<", "&lt;").replace(">", "&gt;") for part in parts[::2]]
    return "`".join(parts)


def names(questions: dict[str, Any], ask_mentions: str) -> str:
    """The questions whose `ask` condition reads `ask_mentions`, as code spans."""
    return ", ".join(
        f"`{name}`" for name, question in questions.items() if ask_mentions in str(question.get("ask", ""))
    )


def rules(config: dict[str, Any], questions: dict[str, Any]) -> list[str]:
    """What an update keeps and the model names no answer may take, from the questions' `ask` and the hidden list."""
    lines = [
        "",
        "## What an update keeps",
        "",
        f"- {names(questions, '_copier_conf.overwrite')} cannot change: `copier update` does not ask them and refuses",
        "  `--data` that changes them; the message says what to do instead (a new repo, or a new slot).",
        f"- {names(questions, 'recorded_config')} come from the model's own config once it exists",
        "  (`configs/config.yaml` in a prototype, `mlops/<model>/config.yaml` in a slot): an update takes them",
        "  from there without asking, refuses `--data` that disagrees and names the file and key to change.",
        "- A copy over a slot that exists is refused, with or without `--overwrite`; a slot is added with a plain",
        "  copy (not `--overwrite` or `--force`) and updated with `copier update --answers-file",
        "  mlops/<model>/.copier-answers.yml`.",
        "",
        "## Reserved model names",
        "",
        "`model_name` cannot take these names (the list is generated by `tools/reserved_names.py`):",
        "",
    ]
    for reason, reserved in config["reserved_names"]["default"].items():
        lines += [f"- {reason} ({len(reserved)}): " + ", ".join(f"`{name}`" for name in reserved)]
    return lines


def questions_page() -> str:
    """docs/questions.md: every question of copier.yml, per application, and the rules the validators hold."""
    config = yaml.safe_load((ROOT / "copier.yml").read_text(encoding="utf-8"))
    questions = {k: v for k, v in config.items() if not k.startswith("_") and v.get("when") is not False}
    lines = [
        "# Questions",
        "",
        "Generated from `copier.yml` by `nox -s docs_tables`; do not edit by hand.",
        "Pass any answer with `--data name=value`; `--defaults` accepts the defaults.",
    ]
    for application in APPLICATIONS:
        lines += ["", f"## template={application}", "", "| question | help | choices | default | validation |"]
        lines.append("|---|---|---|---|---|")
        for name, question in questions.items():
            if name != "template" and asked_in(question, application):
                row = (name, question.get("help", ""), choices(question), question.get("default", ""))
                lines.append("| " + " | ".join(cell(value) for value in row) + f" | {cell(validation(question))} |")
    return "\n".join(lines + rules(config, questions)) + "\n"


def mapping_table() -> str:
    """common/fragments/promotion-mapping.md: the promotion mapping as a table (docs/promotion.md, the factory site)."""
    rows = "\n".join(f"| `{source}` | `{target}` |" for source, target in MAPPING)
    return f"| prototype | factory |\n|---|---|\n{rows}\n"


def promotion_page() -> str:
    """docs/promotion.md: who does what, the mapping table and the checks the command enforces."""
    return f"""# Promotion

Generated by `nox -s docs_tables` from `mlops/factory/promotion/plan.py`; do not edit by hand.

Promotion moves a model from a prototyping repo into its factory slot: a template update plus a file
copy into a known shape. The data scientist commits the experiment (here `../churn-experiments`,
model `churn`); the ML engineer runs, from the factory's root:

```bash
uv run factory promote --from ../churn-experiments --model churn --dry-run   # the plan; nothing is written
uv run factory promote --from ../churn-experiments --model churn             # do it: one staged change
git diff --cached --stat && git commit -m "Promote churn from churn-experiments"
```

The commit runs the factory's hooks (lint, typing, secrets scan) over the promoted files; they pass
without edits. Exit codes: 0 promoted (and registered), 2 the gate rejected the model, 1 refused or
failed. After a rejection the change is still staged: committing it integrates the code without a
new model version (the registry is untouched), which is how a refactor that does not move the
metric gets in; `git checkout -f HEAD` drops it instead. Promoting the same prototype commit again
changes nothing and says so.

## Who does what

| who | does |
|---|---|
| data scientist | commits the experiment; keeps `src/<model>/`, `tests/<model>/` and `configs/` in the contract shape |
| ML engineer | runs `factory promote` in the factory, reviews the staged change, opens the pull request |
| CI | runs the slot's tests, offline pipeline validation and the gated training on the PR |

## The mapping

{mapping_table()}
The dataset manifest's `path` is rewritten to the slot's data file; nothing else is edited. Only
files git tracks in the prototype are copied: ignored files (local settings, data beyond the sample,
models) never leave it.

The model's own dependencies (in the prototype's `[project] dependencies` but not the factory's)
become the factory's dependency group named after the model, written with `uv add --group <model>`
into `pyproject.toml` and `uv.lock`: `uv sync` installs every group locally and in CI, while the
model's Azure ML job environment takes the factory's packages and its own group only, pinned from
the lock. A dependency the prototype drops leaves the group the same way (`uv remove --group`).

## What the command enforces

1. The factory is a clean git work tree; the prototype has no uncommitted change in what promotion
   reads (`src/<model>/`, `tests/<model>/`, `configs/`, `pyproject.toml`, `uv.lock`, the data
   file), so every promoted file is a committed one. The dirty files are named. `--dry-run` only
   notes these and still prints the plan.
2. The slot exists: it is created (`copier copy`, `template=model`, at the factory's template
   version) or brought to the factory's template version (`copier update` of that slot).
3. The contract: every step in `pipeline.yaml` is a module of `src/<model>/` whose argument parser
   defines every flag the pipeline gives it; `src/<model>/schema.py` declares the data contract
   (`COLUMNS`, each with a role and a dtype) with exactly one target, the one `dataset.yaml` names
   ([data contract](concepts/data-contract.md)); the dataset manifest is complete; the prototype's
   template is not newer than the factory's.
4. Slot files changed in the factory since the last promotion are not overwritten without `--force`.
5. Provenance is written to `mlops/<model>/promotion.yaml`: the prototype's name, remote (without
   credentials) and commit, template versions, dataset name, version and digest, the model's
   dependencies, the digest of every promoted file, date. No local path is recorded.
6. The slot's tests and its local pipeline with the gate run. Every MLflow run and registered
   version of the slot carries the prototype commit (`promotion.source_commit`), the factory commit
   and whether the factory's tree had uncommitted changes (`git.dirty`, with `git.diff_digest`):
   a model trained during promotion says so, and the commit that follows holds exactly that code.

Every change is staged as it is made: the result is one commit-ready change, and an interrupted
promotion is undone with `git checkout -f HEAD`.
"""


# The applications whose files docs/files.md lists: (heading, answers); the slot renders into a factory.
RENDERED = (
    ("template=prototype", {"template": "prototype"}),
    ("template=factory", {"template": "factory"}),
    ("template=model", {"template": "model", "model_name": "churn"}),
)
MODEL_OWNED = "model"


def rendered_files(source: Path, answers: dict[str, str]) -> dict[str, str]:
    """The files an application renders with these answers (`<model>` for its name) and who owns each."""
    import tempfile
    import warnings

    import copier
    import pathspec

    config = yaml.safe_load((ROOT / "copier.yml").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as scratch, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        target = Path(scratch) / "repo"
        base: set[str] = set()
        if answers["template"] == "model":  # a slot renders into a factory: list only its own files
            copier.run_copy(str(source), str(target), data={"template": "factory"}, defaults=True, quiet=True)
            base = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
        copier.run_copy(str(source), str(target), data=answers, defaults=True, quiet=True)
        files = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()} - base
    model = answers.get("model_name", "churn")
    patterns = [pattern.replace("{= model_name =}", model) for pattern in config["_skip_if_exists"]]
    owned = pathspec.PathSpec.from_lines("gitwildmatch", patterns)
    return {
        re.sub(rf"(?<![a-z_]){model}(?![a-z_])", "<model>", path): MODEL_OWNED if owned.match_file(path) else "template"
        for path in sorted(files)
    }


def files_page() -> str:
    """docs/files.md: every file each application creates, and whether the template or the model owns it."""
    lines = [
        "# Files",
        "",
        "Generated by `nox -s docs_tables` from the templates and `_skip_if_exists` in `copier.yml`; do not edit by",
        "hand. Template-owned files take every release (`copier update` merges your edits); model-owned files are",
        "created once and then yours. A release never drops a model-owned path: a test compares this list with",
        "every earlier version of it in the repository's history.",
    ]
    import tempfile

    from projects import copy_work_tree

    with tempfile.TemporaryDirectory() as scratch:
        source = copy_work_tree(Path(scratch) / "template")  # the work tree as it is, tags or not
        for heading, answers in RENDERED:
            lines += ["", f"## {heading}", "", "| file | owner |", "|---|---|"]
            lines += [f"| `{path}` | {owner} |" for path, owner in rendered_files(source, answers).items()]
    return "\n".join(lines) + "\n"


def model_owned_paths(page: str) -> set[str]:
    """The model-owned rows of a docs/files.md page, as `heading: path`."""
    found, heading = set(), ""
    for line in page.splitlines():
        if line.startswith("## "):
            heading = line[3:]
        match = re.fullmatch(r"\| `(.+)` \| (\w+) \|", line)
        if match and match.group(2) == MODEL_OWNED:
            found.add(f"{heading}: {match.group(1)}")
    return found


def schema_rows(schema: dict[str, Any], defs: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, ...]]:
    """One row per key of a JSON schema (nested sections as dotted keys): key, type, default, constraints, what."""
    required = set(schema.get("required", []))
    for name, field in schema["properties"].items():
        reference = field.get("$ref") or next((item["$ref"] for item in field.get("allOf", []) if "$ref" in item), "")
        if reference:
            yield from schema_rows(defs[reference.rsplit("/", 1)[-1]], defs, f"{prefix}{name}.")
            continue
        options = field.get("anyOf", [field])
        kinds = " or ".join(
            " \\| ".join(json.dumps(value) for value in option["enum"]) if "enum" in option else option.get("type", "")
            for option in options
        )
        limits = {
            "pattern": "matches `{}`",
            "minLength": "length >= {}",
            "minimum": ">= {}",
            "exclusiveMinimum": "> {}",
            "maximum": "<= {}",
            "exclusiveMaximum": "< {}",
        }
        constraints = [text.format(option[key]) for option in options for key, text in limits.items() if key in option]
        default = "required" if name in required else f"`{json.dumps(field.get('default'))}`"
        yield (f"`{prefix}{name}`", kinds, default, ", ".join(constraints), field.get("description", ""))


def slot_config_page() -> str:
    """docs/slot-config.md: every key of a model's config.yaml and dataset.yaml, from the pydantic models."""
    from mlops.pipeline.config import DatasetManifest, ModelConfig
    from mlops.pipeline.spec import BINDINGS, RESULTS

    lines = [
        "# Slot config",
        "",
        "Generated by `nox -s docs_tables` from `mlops/pipeline/config.py`; do not edit by hand. A model's config",
        "folder (`mlops/<model>/` in the factory, `configs/` in an experiment repo) holds these files; every",
        "command reads them through the same models, and an unknown key is an error that names the file and key.",
    ]
    for file, model in (("config.yaml", ModelConfig), ("dataset.yaml", DatasetManifest)):
        schema = model.model_json_schema()
        what = schema.get("description", "").split(": ", 1)[-1]
        lines += ["", f"## {file}", "", what[:1].upper() + what[1:], ""]
        lines += ["| key | type | default | constraints | what |", "|---|---|---|---|---|"]
        lines += ["| " + " | ".join(row) + " |" for row in schema_rows(schema, schema.get("$defs", {}))]
    bindings = ", ".join(f"`${{{name}}}`" for name in BINDINGS)
    results = ", ".join(f"`{name}`" for name in RESULTS)
    lines += [
        "",
        "## train.yaml",
        "",
        "The hyperparameters: a free mapping, handed to the train step as `--params` and logged as the run's params.",
        "",
        "## pipeline.yaml",
        "",
        "`steps`: a list of `name`, `module` (run as `python -m <module>`), `inputs` (flag: value), `outputs` (a list",
        f"of flags, each a folder) and `args` (flag: fixed value). An input is {bindings}, an earlier step's output",
        f"as `${{<step>.<output>}}`, or a path in the repository. `results` names the step outputs that are {results}.",
        "The [step contract](concepts/step-contract.md) gives the three steps every model starts with.",
    ]
    return "\n".join(lines) + "\n"


class _Parsed(Exception):  # noqa: N818  (not an error: how a parser leaves the function that builds it)
    """Raised in place of parsing, carrying the parser a command built."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        super().__init__(parser.prog)
        self.parser = parser


def parser_of(parse: Callable[[list[str]], object]) -> argparse.ArgumentParser:
    """The argument parser a command's parse function builds, caught before it parses anything."""

    def catch(parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        raise _Parsed(parser)

    original = argparse.ArgumentParser.parse_args
    argparse.ArgumentParser.parse_args = catch  # type: ignore[method-assign,assignment]
    try:
        parse([])
    except _Parsed as parsed:
        return parsed.parser
    finally:
        argparse.ArgumentParser.parse_args = original  # type: ignore[method-assign]
    raise RuntimeError(f"{parse} built no argument parser")


def helps(parser: argparse.ArgumentParser) -> Iterator[tuple[str, str]]:
    """The `--help` of a command and of each of its subcommands, depth first."""
    yield parser.prog, parser.format_help()
    for action in parser._actions:  # argparse keeps subcommands only here
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                yield from helps(sub)


@contextlib.contextmanager
def terminal(columns: int) -> Iterator[None]:
    """Help text wrapped at a fixed width and without colour, whatever terminal runs the tool."""
    saved = {key: os.environ.get(key) for key in ("COLUMNS", "NO_COLOR")}
    os.environ.update(COLUMNS=str(columns), NO_COLOR="1")
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def commands_page() -> str:
    """docs/commands.md: the `--help` of every command the generated repos install, subcommands included."""
    from mlops.factory import cli
    from mlops.pipeline import cli as pipeline_cli
    from mlops.updates import cli as updates_cli

    lines = [
        "# Commands",
        "",
        "Generated by `nox -s docs_tables` from the argument parsers in `mlops/`; do not edit by hand.",
        "A factory installs `factory` and `pipeline`, an experiment repo `pipeline` and `update-prs`; run them from",
        "the repository's root with `uv run` (`uv run factory status churn`). Each step of a model is a module with",
        "its own `--help` (`uv run python -m churn.train --help`); see the [step contract](concepts/step-contract.md).",
    ]
    with terminal(100):
        for parse in (cli.parse_args, pipeline_cli.parse_args, updates_cli.parse_args):
            for prog, text in helps(parser_of(parse)):
                lines += ["", f"## {prog}", "", "```text", text.rstrip(), "```"]
    return "\n".join(lines) + "\n"


def contract_table(problem_type: str) -> Callable[[], str]:
    """The example model's data contract as the prototype's model card shows it: a table derived from its schema."""

    def render() -> str:
        from mlops.factory.contract import schema_constants
        from mlops.factory.modelpage_sections import columns_table

        source = (ROOT / "common" / "model" / problem_type / "schema.py").read_bytes()
        return columns_table(schema_constants(source)["COLUMNS"]) + "\n"

    return render


# Each derived file, relative to the repository root, and what writes it (the mapping and contracts first: the
# factory's promotion page and the prototype's model card include them, and files_page renders the templates).
PAGES: dict[str, Callable[[], str]] = {
    "common/fragments/promotion-mapping.md": mapping_table,
    "common/model/classification/contract.md": contract_table("classification"),
    "common/model/regression/contract.md": contract_table("regression"),
    "docs/questions.md": questions_page,
    "docs/promotion.md": promotion_page,
    "docs/files.md": files_page,
    "docs/slot-config.md": slot_config_page,
    "docs/commands.md": commands_page,
}


def main(argv: list[str] | None = None) -> int:
    """Write the page, or with --check compare it."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if a derived page is out of date")
    args = parser.parse_args(argv)
    # The reserved names first (they say themselves when stale): the questions page lists them.
    failed = reserved_names.main(["--check" if args.check else "--keep-dependencies"])
    stale = []
    for name, render in PAGES.items():
        target, page = ROOT / name, render()
        if args.check:
            if not target.is_file() or target.read_text(encoding="utf-8") != page:
                stale.append(name)
        else:
            target.write_text(page, encoding="utf-8")
    for name in stale:
        print(f"{name} is stale: run `python -m nox -s docs_tables`", file=sys.stderr)
    return 1 if stale or failed else 0


if __name__ == "__main__":
    sys.exit(main())
