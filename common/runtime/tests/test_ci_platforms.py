"""Fast tier: the factory speaks to GitHub Actions and to Azure Pipelines, and reads either's retraining schedule."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.factory import github_actions
from mlops.factory.slot import Slot
from mlops.factory.workflows import retrain_workflow, workflow_crons

CI_VARIABLES = ("GITHUB_OUTPUT", "GITHUB_HEAD_REF", "GITHUB_REF_NAME", "TF_BUILD")
AZURE_BRANCHES = ("SYSTEM_PULLREQUEST_SOURCEBRANCH", "BUILD_SOURCEBRANCH")


@pytest.fixture(autouse=True)
def outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CI variable leaks in from the shell that runs the tests."""
    for variable in (*CI_VARIABLES, *AZURE_BRANCHES):
        monkeypatch.delenv(variable, raising=False)


def test_in_azure_pipelines_the_gate_outputs_are_output_variables(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TF_BUILD", "True")
    github_actions.set_outputs(verdict="passed", version="3")
    assert capsys.readouterr().out.splitlines() == [
        "##vso[task.setvariable variable=verdict;isOutput=true]passed",
        "##vso[task.setvariable variable=version;isOutput=true]3",
    ]


def test_outside_azure_pipelines_no_logging_command_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    github_actions.set_outputs(verdict="rejected")
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("variables", "branch"),
    [
        (
            {"SYSTEM_PULLREQUEST_SOURCEBRANCH": "refs/heads/feature/x", "BUILD_SOURCEBRANCH": "refs/pull/7/merge"},
            "feature/x",
        ),
        ({"BUILD_SOURCEBRANCH": "refs/heads/main"}, "main"),
        ({"GITHUB_HEAD_REF": "", "GITHUB_REF_NAME": "develop"}, "develop"),
        ({}, None),
    ],
    ids=["azure pull request", "azure push", "github push", "outside ci"],
)
def test_the_branch_built_is_read_from_either_ci(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], branch: str | None
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert github_actions.head_branch() == branch


def test_the_retraining_cron_is_read_from_an_azure_pipeline(tmp_path: Path) -> None:
    pipeline = tmp_path / Slot("churn").azure_pipeline("retrain")
    pipeline.parent.mkdir(parents=True)
    pipeline.write_text('trigger: none\nschedules:\n  - cron: "0 3 * * 1"\n    always: "true"\nstages: []\n')
    assert retrain_workflow(tmp_path, "churn") == pipeline
    assert workflow_crons(pipeline) == ["0 3 * * 1"]
    pipeline.write_text("trigger: none\npr: none\nstages: []\n")
    assert workflow_crons(pipeline) == []


def test_a_github_workflow_is_read_when_the_factory_has_one(tmp_path: Path) -> None:
    workflow = tmp_path / Slot("churn").workflow("retrain")
    workflow.parent.mkdir(parents=True)
    workflow.write_text('on:\n  schedule:\n    - cron: "0 4 * * *"\n  workflow_dispatch:\n')
    assert retrain_workflow(tmp_path, "churn") == workflow
    assert workflow_crons(workflow) == ["0 4 * * *"]
