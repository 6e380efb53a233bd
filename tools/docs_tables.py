"""Derive docs/questions.md from copier.yml (one source of truth); --check fails when it is stale."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "questions.md"
APPLICATIONS = ("prototype", "factory", "model")


def asked_in(question: dict[str, Any], application: str) -> bool:
    """Whether a question's `when` condition asks it for this application (conditions here test `template`)."""
    when = question.get("when", True)
    if when is False:
        return False
    if when is True:
        return True
    condition = re.fullmatch(r"\{\{ template (==|!=) '(\w+)' \}\}", str(when).strip())
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


def render() -> str:
    """The whole page."""
    config = yaml.safe_load((ROOT / "copier.yml").read_text(encoding="utf-8"))
    questions = {k: v for k, v in config.items() if not k.startswith("_") and v.get("when") is not False}
    lines = [
        "# Questions",
        "",
        "Generated from `copier.yml` by `nox -s docs_tables`; do not edit by hand.",
        "Pass any answer with `--data name=value`; `--defaults` accepts the defaults.",
    ]
    for application in APPLICATIONS:
        lines += ["", f"## template={application}", "", "| question | help | choices | default |", "|---|---|---|---|"]
        for name, question in questions.items():
            if name != "template" and asked_in(question, application):
                row = (name, question.get("help", ""), choices(question), question.get("default", ""))
                lines.append("| " + " | ".join(cell(value) for value in row) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the page, or with --check compare it."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if docs/questions.md is out of date")
    args = parser.parse_args(argv)
    page = render()
    if args.check:
        if not TARGET.is_file() or TARGET.read_text(encoding="utf-8") != page:
            print(f"{TARGET.relative_to(ROOT)} is stale: run `python -m nox -s docs_tables`", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(page, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
