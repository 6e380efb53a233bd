"""Template updates as pull-request branches: names, and refusals that name the repository and the fix."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mlops.updates import cli
from mlops.updates.proposals import branch_name

IDENTITY = {"GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "t@example.com"}
IDENTITY |= {"GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "t@example.com"}


def test_each_application_and_release_has_its_own_branch_name() -> None:
    assert branch_name("slot churn", "v0.2.0") == "template-update/slot-churn-v0.2.0"
    assert branch_name("factory base", "v0.2.0") == "template-update/factory-base-v0.2.0"
    assert branch_name("prototype", "v0.2.0-3-gabc123") == "template-update/prototype-v0.2.0-3-gabc123"


def test_outside_a_git_work_tree_update_prs_says_so_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--plan", str(tmp_path / "plan.json")]) == 1
    assert capsys.readouterr().err == f"error: the repository {tmp_path} is not a git work tree\n"
    assert not (tmp_path / "plan.json").exists()


def test_update_prs_refuses_to_start_from_a_proposal_branch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key, value in IDENTITY.items():
        monkeypatch.setenv(key, value)
    for command in (
        ["init", "-q", "-b", "template-update/prototype-v0.2.0"],
        ["commit", "-q", "--allow-empty", "-m", "x"],
    ):
        subprocess.run(["git", *command], cwd=tmp_path, check=True)  # noqa: S603, S607
    assert cli.main([]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path}: check out the default branch first") and err.count("\n") == 1
