"""Fast tier: the generated workflows, per branching strategy, environments and notifications.

Every workflow passes check-jsonschema (GitHub's workflow schema, bundled) and zizmor offline; each
slot's triggers cover its own folders and the shared code but no other slot; triggers and deployment
stages follow the factory's answers; the retraining cron agrees with the slot config.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from projects import git_commit_all, load_workflow, render, tool

COMBOS = {
    "trunk-none": {"branching_strategy": "trunk", "notifications": "none", "environments": "dev,staging,prod"},
    "gitflow-slack": {"branching_strategy": "gitflow", "notifications": "slack", "environments": "dev,staging,prod"},
    "trunk-teams-2env": {"branching_strategy": "trunk", "notifications": "teams", "environments": "dev,prod"},
    "gitflow-4env": {"branching_strategy": "gitflow", "notifications": "none", "environments": "qa,uat,preprod,prod"},
}
SLOTS = {"churn": ("classification", ""), "churn_v2": ("classification", ""), "fares": ("regression", "0 3 * * 1")}
WORKFLOWS = Path(".github/workflows")


@pytest.fixture(scope="module", params=list(COMBOS))
def factory(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A factory of one option combination with three slots (one with scheduled retraining)."""
    answers = COMBOS[request.param]
    root = render(tmp_path_factory.mktemp(request.param) / "factory", "factory", **answers)
    git_commit_all(root, "Factory base")
    for model, (problem_type, schedule) in SLOTS.items():
        render(root, "model", model_name=model, problem_type=problem_type, retraining_schedule=schedule)
    git_commit_all(root, "Slots")
    return root, answers


def test_every_workflow_passes_the_github_schema_and_zizmor(factory: tuple[Path, dict]) -> None:
    root, _ = factory
    files = sorted(str(p) for p in (root / WORKFLOWS).glob("*.yml"))
    assert len(files) == 6 + 3 * len(SLOTS) + (factory[1]["notifications"] != "none")
    schema = [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *files]
    done = subprocess.run(schema, cwd=root, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    dependabot = [tool("check-jsonschema"), "--builtin-schema", "vendor.dependabot", ".github/dependabot.yml"]
    done = subprocess.run(dependabot, cwd=root, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    for persona in ("regular", "pedantic"):  # pedantic: every permission says why it is granted
        zizmor = [tool("zizmor"), "--offline", "--no-progress", "--persona", persona, str(WORKFLOWS)]
        done = subprocess.run(zizmor, cwd=root, capture_output=True, text=True, check=False)
        assert done.returncode == 0, persona + ": " + done.stdout + done.stderr


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A GitHub `paths` glob as a regex (`**` any depth, `*` within one folder)."""
    parts = re.split(r"(\*\*|\*)", pattern)
    return re.compile("".join({"**": ".*", "*": "[^/]*"}.get(part, re.escape(part)) for part in parts) + "$")


def triggered(patterns: list[str], path: str) -> bool:
    return any(glob_regex(pattern).match(path) for pattern in patterns)


@pytest.mark.parametrize("kind", ["pr", "cd"])
def test_slot_paths_cover_its_folders_and_common_code_but_no_other_slot(factory: tuple[Path, dict], kind: str) -> None:
    root, _ = factory
    for model in SLOTS:
        on = load_workflow(root / WORKFLOWS / f"{model}-{kind}.yml")["on"]
        event = on["pull_request" if kind == "pr" else "push"]
        patterns = event["paths"]
        own = [f"src/{model}/train.py", f"tests/{model}/test_train.py", f"mlops/{model}/train.yaml"]
        own += [f"data/{model}/x.csv", "mlops/factory/gate.py", f".github/workflows/{model}-{kind}.yml"]
        assert all(triggered(patterns, path) for path in own), (model, patterns)
        for other in set(SLOTS) - {model}:
            theirs = [f"src/{other}/train.py", f"tests/{other}/test_x.py", f"mlops/{other}/config.yaml"]
            theirs += [f"data/{other}/x.csv", f".github/workflows/{other}-{kind}.yml"]
            assert not any(triggered(patterns, path) for path in theirs), (model, other, patterns)
        assert not triggered(patterns, "README.md")


def test_the_pr_guard_runs_every_hook_on_every_change_of_every_pull_request(factory: tuple[Path, dict]) -> None:
    root, _ = factory
    guard = load_workflow(root / WORKFLOWS / "pr-guard.yml")
    assert guard["on"] == {"pull_request": None}  # no paths, no branches: nothing a pull request changes escapes it
    (job,) = guard["jobs"].values()
    checkout = next(step for step in job["steps"] if "actions/checkout@" in step.get("uses", ""))
    assert checkout["with"]["fetch-depth"] >= 2  # HEAD^1, the base of GitHub's merge commit, must be there
    runs = [step["run"] for step in job["steps"] if "run" in step]
    assert runs == [
        "uv run --locked --only-group dev pre-commit run --show-diff-on-failure --from-ref HEAD^1 --to-ref HEAD"
    ]
    # A workflow of its own: a conflict that makes another workflow file invalid cannot silence it.
    others = [path.name for path in (root / WORKFLOWS).glob("*.yml") if "--from-ref HEAD^1" in path.read_text()]
    assert others == ["pr-guard.yml"]


def test_triggers_and_stages_follow_the_branching_strategy(factory: tuple[Path, dict]) -> None:
    root, answers = factory
    branches = ["develop", "main"] if answers["branching_strategy"] == "gitflow" else ["main"]
    envs = answers["environments"].split(",")
    stages = envs[1:] if len(envs) > 1 else envs
    for model in SLOTS:
        assert load_workflow(root / WORKFLOWS / f"{model}-pr.yml")["on"]["pull_request"]["branches"] == branches
        cd = load_workflow(root / WORKFLOWS / f"{model}-cd.yml")
        assert cd["on"]["push"]["branches"] == branches
        assert cd["jobs"]["release"]["uses"] == "./.github/workflows/slot-release.yml"
        assert cd["concurrency"] == {"group": f"{model}-release", "cancel-in-progress": False}
    release = load_workflow(root / WORKFLOWS / "slot-release.yml")
    deploys = [name for name in release["jobs"] if name.startswith("deploy-")]
    assert deploys == [f"deploy-{stage}" for stage in stages]
    for index, name in enumerate(deploys):
        job = release["jobs"][name]
        assert job["with"]["environment"] == stages[index]
        assert job["needs"] == ["train"] + ([deploys[index - 1]] if index else [])
        assert job["with"]["champion"] is (index == len(deploys) - 1)
        main_only = "github.ref == 'refs/heads/main'" in job["if"]
        assert main_only is (answers["branching_strategy"] == "gitflow" and index == len(deploys) - 1)
    train = release["jobs"]["train"]["steps"]
    assert any(f"--env {envs[-1]} --tier prod" in step.get("run", "") for step in train)
    checks = load_workflow(root / WORKFLOWS / "slot-checks.yml")["jobs"]["checks"]["steps"]
    assert any(f'factory aml submit "$MODEL" --env {envs[0]} --dry-run' in step.get("run", "") for step in checks)
    deploy = load_workflow(root / WORKFLOWS / "slot-deploy.yml")["jobs"]["deploy"]
    (approve,) = [step["run"] for step in deploy["steps"] if "promote-champion" in step.get("run", "")]
    assert approve == 'uv run factory promote-champion "$MODEL" --version "$VERSION"'  # the version it deployed
    assert deploy["env"]["VERSION"] == "${{ inputs.version }}"


def test_notifications_follow_the_answer(factory: tuple[Path, dict]) -> None:
    root, answers = factory
    release = load_workflow(root / WORKFLOWS / "slot-release.yml")
    enabled = answers["notifications"] != "none"
    assert (root / WORKFLOWS / "slot-notify.yml").is_file() is enabled
    assert ({"announce", "report"} & set(release["jobs"])) == ({"announce", "report"} if enabled else set())
    if enabled:
        secret = f"{answers['notifications'].upper()}_WEBHOOK_URL"
        assert secret in release["on"]["workflow_call"]["secrets"]
        assert release["jobs"]["report"]["if"] == "always()"
        for model in SLOTS:
            assert secret in load_workflow(root / WORKFLOWS / f"{model}-cd.yml")["jobs"]["release"]["secrets"]


# Values a model name or a status could carry if someone tried to break out of the script or the JSON.
HOSTILE = {
    "WEBHOOK_URL": "",
    "MODEL": 'churn"; echo broken $(id) `id` \\',
    "STATUS": "rejected by the gate\n}]} {{ x }}",
    "REPOSITORY": "acme/factory",
    "RUN_URL": "https://github.com/acme/factory/actions/runs/42",
}


def posted_payload(root: Path) -> dict:
    """Run the notify step's script as GitHub's bash does against a local webhook, and return the JSON it posted."""
    job = load_workflow(root / WORKFLOWS / "slot-notify.yml")["jobs"]["notify"]
    assert set(job["env"]) == set(HOSTILE), "the test fills in every variable the job sets"
    received: list[bytes] = []

    class Webhook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            """Keep the test output quiet."""

    server = HTTPServer(("127.0.0.1", 0), Webhook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {**HOSTILE, "WEBHOOK_URL": f"http://127.0.0.1:{server.server_port}/hook", "PATH": "/usr/bin:/bin"}
        script = job["steps"][0]["run"]
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], env=env, check=False)
        assert done.returncode == 0
    finally:
        server.shutdown()
        server.server_close()
    assert len(received) == 1
    return json.loads(received[0])


def test_the_notification_is_built_from_the_environment_as_the_webhook_expects(factory: tuple[Path, dict]) -> None:
    root, answers = factory
    if answers["notifications"] == "none":
        pytest.skip("no notifications in this combination")
    payload = posted_payload(root)
    if answers["notifications"] == "slack":
        assert payload == {"text": f"{HOSTILE['MODEL']} release {HOSTILE['STATUS']}: {HOSTILE['RUN_URL']}"}
        return
    # Teams Workflows webhooks take a message whose one attachment is an Adaptive Card.
    assert payload["type"] == "message"
    (attachment,) = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    title, facts = card["body"]
    assert title == {
        "type": "TextBlock",
        "text": f"{HOSTILE['MODEL']} release {HOSTILE['STATUS']}",
        "weight": "Bolder",
        "size": "Medium",
        "wrap": True,
    }
    assert facts["type"] == "FactSet"
    assert {fact["title"]: fact["value"] for fact in facts["facts"]} == {
        "Model": HOSTILE["MODEL"],
        "Status": HOSTILE["STATUS"],
        "Repository": HOSTILE["REPOSITORY"],
    }
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open the workflow run", "url": HOSTILE["RUN_URL"]}]


def test_least_privilege_oidc_and_no_persisted_credentials(factory: tuple[Path, dict]) -> None:
    root, _ = factory
    for path in (root / WORKFLOWS).glob("*.yml"):
        workflow = load_workflow(path)
        assert workflow["permissions"] in ({"contents": "read"}, {}), path.name
        for name, job in workflow["jobs"].items():
            steps = job.get("steps", [])
            logs_in = any("azure/login@" in step.get("uses", "") for step in steps)
            calls_azure = job.get("uses", "").endswith(("slot-release.yml", "slot-deploy.yml")) or logs_in
            assert (job.get("permissions", {}).get("id-token") == "write") is calls_azure, (path.name, name)
            for step in steps:
                if "actions/checkout@" in step.get("uses", ""):
                    assert step["with"]["persist-credentials"] is False, (path.name, name)
                if "azure/login@" in step.get("uses", ""):
                    assert set(step["with"]) == {"client-id", "tenant-id", "subscription-id"}
                    # Signing in to an environment's workspace happens only under that GitHub environment.
                    assert job.get("environment"), f"{path.name}:{name} signs in to Azure outside an environment"
                assert "${{ inputs." not in step.get("run", ""), f"{path.name}:{name}: inputs go through env"


def test_template_updates_arrive_as_pull_requests_with_only_the_rights_they_need(factory: tuple[Path, dict]) -> None:
    workflow = load_workflow(factory[0] / WORKFLOWS / "template-updates.yml")
    assert set(workflow["on"]) == {"schedule", "workflow_dispatch"}
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"}
    script = "\n".join(step.get("run", "") for step in job["steps"])
    assert "uv run factory update-prs --plan" in script and "gh pr create --base" in script
    assert "git push" not in script  # branches are pushed by `factory update-prs`, never the default branch


def signing_in_environments(root: Path) -> set[str]:
    """The GitHub environments under which a generated job signs in to Azure (static or passed to slot-deploy)."""
    found = set()
    for path in (root / WORKFLOWS).glob("*.yml"):
        for job in load_workflow(path)["jobs"].values():
            if any("azure/login@" in step.get("uses", "") for step in job.get("steps", [])):
                found.add(job["environment"])
            if job.get("uses", "").endswith("slot-deploy.yml"):
                found.add(job["with"]["environment"])
    return {name for name in found if "${{" not in name}  # slot-deploy's own `inputs.environment` is the callers'


def test_the_azure_page_lists_every_signing_environment_and_builds_no_subject(factory: tuple[Path, dict]) -> None:
    root, answers = factory
    page = (root / "docs/azure.md").read_text()
    listed = set(re.findall(r"^\| `([^`]+)` \| (?:training|deployment)", page, flags=re.MULTILINE))
    assert listed == signing_in_environments(root)
    assert "repo:<owner>/<repo>:environment:<env>" in page
    assert "repo:<owner>@<owner_id>/<repo>@<repo_id>:environment:<env>" in page
    # The subject is read from the repository: no page states one made of the factory's answers.
    for doc in [*(root / "docs").glob("*.md"), root / "README.md"]:
        assert f"repo:{answers.get('org', 'my-org')}/" not in doc.read_text(), doc.name


def test_every_job_installs_the_committed_lock_and_nothing_else(factory: tuple[Path, dict]) -> None:
    root, _ = factory
    for path in (root / WORKFLOWS).glob("*.yml"):
        for name, job in load_workflow(path)["jobs"].items():
            for step in job.get("steps", []):
                for line in step.get("run", "").splitlines():
                    if "uv sync" in line:
                        assert "--locked" in line, (path.name, name, line)
                    assert "--with-requirements" not in line and "pip install" not in line, (path.name, name, line)


def test_the_retraining_cron_is_in_the_workflow_and_the_config(factory: tuple[Path, dict]) -> None:
    from mlops.factory.workflows import schedule_problems, workflow_crons
    from mlops.pipeline.config import load_model_folder

    root, _ = factory
    for model, (_, schedule) in SLOTS.items():
        assert workflow_crons(root / WORKFLOWS / f"{model}-retrain.yml") == ([schedule] if schedule else [])
        folder = load_model_folder(root / "mlops" / model)
        assert folder.config.retraining.schedule == (schedule or None)
        assert schedule_problems(root, folder) == []
    config = root / "mlops/churn/config.yaml"
    config.write_text(config.read_text().replace("schedule: null", 'schedule: "0 4 * * *"'))
    problems = schedule_problems(root, load_model_folder(root / "mlops/churn"))
    assert len(problems) == 1 and "'0 4 * * *'" in problems[0] and "churn-retrain.yml" in problems[0]
    subprocess.run(["git", "checkout", "--", "mlops/churn/config.yaml"], cwd=root, check=True)


def test_the_secrets_scan_and_whitespace_hooks_pass_for_every_option(factory: tuple[Path, dict]) -> None:
    """The generated CI's own file hooks, run on each combination (the slow tier runs them on the defaults only)."""
    root, _ = factory
    files = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True).stdout.split()
    for hook in (
        [sys.executable, "tools/secret_detectors.py", "--baseline", ".secrets.baseline"],
        [tool("end-of-file-fixer")],
        [tool("trailing-whitespace-fixer")],
    ):
        done = subprocess.run([*hook, *files], cwd=root, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
