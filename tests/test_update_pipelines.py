"""Fast tier: the `template-updates` pipelines of prototypes and factories, on GitHub and on Azure DevOps.

Each runs its application's own update-PR command, holds only the rights it needs and never pushes itself. Its step
that opens the pull requests runs here, offline, on a plan with a clean and a conflicted update, against stand-ins for
`gh`, `az` and `curl` that record their arguments: one pull request per branch, each labelled, and the run fails
when a conflict is left.
"""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml
from projects import ROOT, load_workflow, tool

from mlops.updates.proposals import CONFLICT_LABEL, LABEL

PLATFORMS = {
    "github": ".github/workflows/template-updates.yml",
    "azure-devops": ".azure-pipelines/template-updates.yml",
}
COMMANDS = {"prototype": "uv run update-prs --plan", "factory": "uv run factory update-prs --plan"}
# Only what these files are made of: copier.yml, the fragments, the answers files and the pipelines themselves.
SOURCES = ["copier.yml", "common/fragments/*", "*template*/**/{=_copier_conf.answers_file=}.jinja"]
SOURCES += ["*template*/**/template-updates.yml.jinja"]
PLAN = [
    {"application": "slot churn", "branch": "template-update/slot-churn-v0.2.0", "title": "Update slot churn",
     "body": "Clean.\n\nSecond line.", "labels": [LABEL]},
    {"application": "factory base", "branch": "template-update/factory-base-v0.2.0", "title": "Update factory base",
     "body": "Conflicts to resolve.", "labels": [LABEL, CONFLICT_LABEL]},
]  # fmt: skip
# Each stand-in records its arguments as one JSON line; `az` answers with the new pull request's id.
STAND_IN = """import json, os, sys
with open(os.environ["CALLS"], "a") as log:
    log.write(json.dumps([os.path.basename(sys.argv[0]), *sys.argv[1:]]) + "\\n")
if os.path.basename(sys.argv[0]) == "az":
    print(41 + sum(1 for _ in open(os.environ["CALLS"])))
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    """The template-updates pipeline of each application on each platform, applied as users apply it."""
    source = tmp_path_factory.mktemp("update-pipelines-source")
    for path in {path for pattern in SOURCES for path in ROOT.glob(pattern) if path.is_file()}:
        (source / path.relative_to(ROOT)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, source / path.relative_to(ROOT))
    out, found = tmp_path_factory.mktemp("update-pipelines"), {}
    for application in COMMANDS:
        for platform, file in PLATFORMS.items():
            root = out / f"{application}-{platform}"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # optional external data is absent from a new repo
                data = {"template": application, "ci_platform": platform}
                copier.run_copy(str(source), str(root), data=data, defaults=True, quiet=True)
            found[application, platform] = root / file
    data = {"template": "factory", "ci_platform": "azure-devops", "branching_strategy": "gitflow"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        copier.run_copy(str(source), str(out / "gitflow"), data=data, defaults=True, quiet=True)
    found["factory-gitflow", "azure-devops"] = out / "gitflow" / PLATFORMS["azure-devops"]
    return found


def steps(path: Path) -> list[dict[str, Any]]:
    """The steps of the pipeline's one job."""
    if path.parent.name == "workflows":
        (job,) = load_workflow(path)["jobs"].values()
    else:
        (job,) = yaml.safe_load(path.read_text(encoding="utf-8"))["jobs"]
    found: list[dict[str, Any]] = job["steps"]
    return found


def script(step: dict[str, Any]) -> str:
    """A step's shell script, whichever platform's keyword holds it."""
    return str(step.get("run") or step.get("bash") or step.get("script") or "")


@pytest.mark.parametrize("application", COMMANDS)
@pytest.mark.parametrize("platform", PLATFORMS)
def test_each_pipeline_runs_its_applications_own_command_and_never_pushes_itself(
    rendered: dict[tuple[str, str], Path], application: str, platform: str
) -> None:
    scripts = [script(step) for step in steps(rendered[application, platform])]
    assert sum(COMMANDS[application] in text for text in scripts) == 1
    assert not any("git push" in text for text in scripts)  # branches are pushed by the command, never the default


def test_every_pipeline_passes_the_generated_repos_whitespace_hooks(rendered: dict[tuple[str, str], Path]) -> None:
    for hook in ("end-of-file-fixer", "trailing-whitespace-fixer"):
        done = subprocess.run([tool(hook), *map(str, rendered.values())], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr


def test_the_github_workflows_hold_only_contents_and_pull_requests_write(
    rendered: dict[tuple[str, str], Path],
) -> None:
    for application in COMMANDS:
        workflow = load_workflow(rendered[application, "github"])
        assert workflow["permissions"] == {"contents": "read"}
        assert set(workflow["on"]) == {"schedule", "workflow_dispatch"}
        (job,) = workflow["jobs"].values()
        assert job["permissions"] == {"contents": "write", "pull-requests": "write"}


def test_the_azure_pipelines_run_on_schedule_and_give_the_token_to_git_for_one_step_only(
    rendered: dict[tuple[str, str], Path],
) -> None:
    for application in COMMANDS:
        pipeline = yaml.safe_load(rendered[application, "azure-devops"].read_text(encoding="utf-8"))
        assert pipeline["trigger"] == "none" and pipeline["pr"] == "none"
        (schedule,) = pipeline["schedules"]
        assert schedule["always"] == "true"  # a release is proposed even when nothing was committed here
        assert schedule["branches"]["include"] == ["main"]
        checkout, *rest = steps(rendered[application, "azure-devops"])
        assert checkout["persistCredentials"] == "false" and checkout["fetchDepth"] == "0"
        with_token = [step for step in rest if "$(System.AccessToken)" in json.dumps(step.get("env", {}))]
        assert [step["displayName"] for step in with_token] == [
            "Push one update branch per application",
            "Open the pull requests",
        ]


def test_a_gitflow_factory_proposes_updates_to_develop_on_azure_devops(rendered: dict[tuple[str, str], Path]) -> None:
    pipeline = yaml.safe_load(rendered["factory-gitflow", "azure-devops"].read_text(encoding="utf-8"))
    (schedule,) = pipeline["schedules"]
    assert schedule["branches"]["include"] == ["develop"]  # the run's branch is the pull requests' target


def open_pull_requests(step: dict[str, Any], tmp_path: Path, plan: list[dict[str, Any]]) -> tuple[int, str, list]:
    """Run a pipeline's pull-request step on `plan` with recording stand-ins; its exit code, output and calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("gh", "az", "curl"):
        (bin_dir / name).write_text(f"#!{sys.executable}\n{STAND_IN}")
        (bin_dir / name).chmod((bin_dir / name).stat().st_mode | stat.S_IEXEC)
    (tmp_path / "update-prs.json").write_text(json.dumps(plan))
    calls = tmp_path / "calls.jsonl"
    calls.touch()
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "CALLS": str(calls),
        "RUNNER_TEMP": str(tmp_path),
        "AGENT_TEMPDIRECTORY": str(tmp_path),
        "BASE": "main",
        "BUILD_SOURCEBRANCH": "refs/heads/main",
        "SYSTEM_COLLECTIONURI": "https://dev.azure.com/org/",
        "SYSTEM_TEAMPROJECTID": "project-id",
        "BUILD_REPOSITORY_ID": "repo-id",
        "SYSTEM_ACCESSTOKEN": "token",
    }
    done = subprocess.run(["bash", "-c", script(step)], env=env, capture_output=True, text=True, check=False)
    return done.returncode, done.stdout + done.stderr, [json.loads(line) for line in calls.read_text().splitlines()]


def pull_request_step(path: Path) -> dict[str, Any]:
    """The step that opens the pull requests."""
    (step,) = [s for s in steps(path) if (s.get("name") or s.get("displayName")) == "Open the pull requests"]
    return step


@pytest.mark.skipif(shutil.which("jq") is None, reason="the pipelines read their plan with jq, as the hosted runners")
@pytest.mark.parametrize("application", COMMANDS)
def test_github_opens_one_labelled_pull_request_per_branch_and_fails_on_a_conflict(
    rendered: dict[tuple[str, str], Path], application: str, tmp_path: Path
) -> None:
    code, output, calls = open_pull_requests(pull_request_step(rendered[application, "github"]), tmp_path, PLAN)
    assert code == 1 and "1 pull request(s) need their conflicts resolved" in output
    created = [call for call in calls if call[1:3] == ["pr", "create"]]
    assert len(created) == 2
    for call, proposal in zip(created, PLAN, strict=True):
        flags = dict(zip(call[3::2], call[4::2], strict=True))
        assert flags["--base"] == "main" and flags["--head"] == proposal["branch"]
        assert flags["--title"] == proposal["title"] and flags["--label"] == ",".join(proposal["labels"])
    assert {call[3] for call in calls if call[1:3] == ["label", "create"]} == {LABEL, CONFLICT_LABEL}
    code, _, _ = open_pull_requests(pull_request_step(rendered[application, "github"]), tmp_path / "clean", PLAN[:1])
    assert code == 0


@pytest.mark.skipif(shutil.which("jq") is None, reason="the pipelines read their plan with jq, as the hosted agents")
@pytest.mark.parametrize("application", COMMANDS)
def test_azure_devops_opens_one_labelled_pull_request_per_branch_and_fails_on_a_conflict(
    rendered: dict[tuple[str, str], Path], application: str, tmp_path: Path
) -> None:
    step = pull_request_step(rendered[application, "azure-devops"])
    assert set(step["env"]) == {"AZURE_DEVOPS_EXT_PAT", "SYSTEM_ACCESSTOKEN"}
    code, output, calls = open_pull_requests(step, tmp_path, PLAN)
    assert code == 1 and "##vso[task.logissue type=error]1 pull request(s)" in output
    created = [call for call in calls if call[0] == "az"]
    assert [call[1:4] for call in created] == [["repos", "pr", "create"]] * 2
    ids = []
    for call, proposal in zip(created, PLAN, strict=True):
        flags = dict(zip(call[4::2], call[5::2], strict=True))
        assert flags["--source-branch"] == proposal["branch"] and flags["--target-branch"] == "refs/heads/main"
        assert flags["--title"] == proposal["title"] and flags["--description"] == proposal["body"]
        assert flags["--repository"] == "repo-id" and flags["--query"] == "pullRequestId"
        ids.append(str(calls.index(call) + 1 + 41))
    labelled = [(call[-1], json.loads(call[call.index("--data") + 1])["name"]) for call in calls if call[0] == "curl"]
    prefix = "https://dev.azure.com/org/project-id/_apis/git/repositories/repo-id/pullRequests/"
    assert labelled == [
        (f"{prefix}{ids[0]}/labels?api-version=7.1", LABEL),
        (f"{prefix}{ids[1]}/labels?api-version=7.1", LABEL),
        (f"{prefix}{ids[1]}/labels?api-version=7.1", CONFLICT_LABEL),
    ]
    code, _, _ = open_pull_requests(step, tmp_path / "clean", PLAN[:1])
    assert code == 0
