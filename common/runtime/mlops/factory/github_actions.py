"""What factory commands hand to GitHub Actions when they run there: the job summary, step outputs, the branch.

Outside Actions the variables are unset and every function here does nothing (or returns None).
"""

from __future__ import annotations

import os
from pathlib import Path


def publish(markdown: str) -> str:
    """Append Markdown to the job summary when running in Actions; returns it for the terminal."""
    _append("GITHUB_STEP_SUMMARY", markdown + "\n\n")
    return markdown


def set_outputs(**values: str) -> None:
    """Step outputs for later jobs (`verdict`, `version`) when running in GitHub Actions."""
    _append("GITHUB_OUTPUT", "".join(f"{key}={value}\n" for key, value in values.items()))


def head_branch() -> str | None:
    """The branch a workflow builds: the pull request's head, or the pushed branch; None outside Actions."""
    for variable in ("GITHUB_HEAD_REF", "GITHUB_REF_NAME"):
        if os.environ.get(variable):
            return os.environ[variable]
    return None


def _append(variable: str, text: str) -> None:
    """Append to the file GitHub Actions names in `variable` (job summary, step outputs); elsewhere do nothing."""
    target = os.environ.get(variable)
    if target:
        with Path(target).open("a", encoding="utf-8") as handle:
            handle.write(text)
