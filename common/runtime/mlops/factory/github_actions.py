"""What factory commands hand to the CI they run in: the job summary, step outputs, the branch.

GitHub Actions names files in its variables; Azure Pipelines (TF_BUILD set) reads logging commands from the output.
Elsewhere the variables are unset and every function here does nothing (or returns None).
"""

from __future__ import annotations

import os
from pathlib import Path


def publish(markdown: str) -> str:
    """Append Markdown to the job summary when running in Actions; returns it for the terminal."""
    _append("GITHUB_STEP_SUMMARY", markdown + "\n\n")
    return markdown


def set_outputs(**values: str) -> None:
    """Step outputs for later jobs (`verdict`, `version`) when running in GitHub Actions or Azure Pipelines."""
    _append("GITHUB_OUTPUT", "".join(f"{key}={value}\n" for key, value in values.items()))
    if os.environ.get("TF_BUILD"):  # Azure Pipelines: output variables, read as <step name>.<key>
        for key, value in values.items():
            print(f"##vso[task.setvariable variable={key};isOutput=true]{value}")


def head_branch() -> str | None:
    """The branch a workflow or pipeline builds: the pull request's head, or the pushed branch; None outside CI."""
    for variable in ("GITHUB_HEAD_REF", "GITHUB_REF_NAME", "SYSTEM_PULLREQUEST_SOURCEBRANCH", "BUILD_SOURCEBRANCH"):
        if os.environ.get(variable):  # Azure Pipelines spells branches refs/heads/<name>
            return os.environ[variable].removeprefix("refs/heads/")
    return None


def _append(variable: str, text: str) -> None:
    """Append to the file GitHub Actions names in `variable` (job summary, step outputs); elsewhere do nothing."""
    target = os.environ.get(variable)
    if target:
        with Path(target).open("a", encoding="utf-8") as handle:
            handle.write(text)
