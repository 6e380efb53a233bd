"""Hardening families `secrets` and `conflicts`: what the generated repos' hooks and pull-request checks catch.

Fake credentials of every kind a factory's users handle (made at run time from a seeded generator: realistic
shapes, never real values) are planted in code, YAML, a workflow, Markdown, `.env` and notebook outputs of a
prototype and a factory. Each must be reported, at its file and line, by the repository's pre-commit hook when
the change is committed, and by the command of its pull-request check (the factory's pr-guard.yml, the
prototype's ci.yml) on the merged change. Clean repos of every factory option and both problem types, and a
factory after a promotion, must report nothing. Conflict markers and `.rej` files anywhere, workflows included,
must fail both too. Hooks run with real pre-commit and the user's pre-commit cache (the slow tier fills it).
"""

from __future__ import annotations

import base64
import itertools
import json
import random
import re
import shlex
import string
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from projects import git_commit_all, render, run, tool, tool_env

from mlops.factory.promote import promote

pytestmark = pytest.mark.hardening

ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
LOCATION = re.compile(r"^Location:\s+(\S+):(\d+)$", re.MULTILINE)


class Fake:
    """Credential-shaped values from a seeded generator: the same run to run, never a real credential."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)  # noqa: S311  (reproducible fakes, not cryptography)

    def text(self, length: int, alphabet: str = ALNUM) -> str:
        return "".join(self.random.choice(alphabet) for _ in range(length))

    def b64(self, length: int, url: bool = False) -> str:
        raw = bytes(self.random.randrange(256) for _ in range(length))
        return base64.urlsafe_b64encode(raw).decode().rstrip("=") if url else base64.b64encode(raw).decode()

    def guid(self) -> str:
        h = self.text(32, HEX)
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def jwt(self) -> str:
        def part(claims: dict[str, object]) -> str:
            return base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")

        claims = {"sub": "svc-scoring", "aud": "factory", "exp": 1893456000}
        return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.{self.b64(32, url=True)}"

    def pem(self, kind: str) -> list[str]:
        body = self.b64(320)
        return [
            f"-----BEGIN {kind}-----",
            *(body[i : i + 64] for i in range(0, len(body), 64)),
            f"-----END {kind}-----",
        ]

    def url_password(self) -> str:
        """A password using every sub-delimiter RFC 3986 allows in userinfo."""
        return f"{self.text(4)}&!{self.text(3)}$'({self.text(2)})*+,;={self.text(3)}"


@dataclass(frozen=True)
class Plant:
    """One fake credential: its kind, where it goes (a location of LOCATIONS) and the lines that carry it."""

    kind: str
    location: str
    lines: tuple[str, ...]
    needle: str  # the text on the line the scan must report

    @property
    def printed(self) -> str:
        """How the credential shows in a notebook's output: a config line as it is, a value from code by itself."""
        if self.location == "code":
            return self.needle
        return next(line for line in self.lines if self.needle in line).strip()


def plants(fake: Fake) -> list[Plant]:
    """One plant per kind, each where people put that kind of credential."""
    sas = fake.b64(32).replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    found: list[Plant] = []

    def add(kind: str, location: str, needle: str, *lines: str) -> None:
        found.append(Plant(kind, location, lines or (needle,), needle))

    slack = (
        f"https://hooks.slack.com/services/T{fake.text(8, HEX.upper())}/B{fake.text(10, HEX.upper())}/{fake.text(24)}"
    )
    add("slack_webhook", "docs", slack, f"Release announcements go to {slack} (channel #ml-releases).")
    team = f"T{fake.text(8, HEX.upper())}"
    slack_workflow = f"https://hooks.slack.com/triggers/{team}/{fake.text(10, string.digits)}/{fake.text(32, HEX)}"
    add("slack_workflow_webhook", "workflow", slack_workflow, f"      SLACK_WEBHOOK_URL: {slack_workflow}")
    teams = (
        f"https://contoso.webhook.office.com/webhookb2/{fake.guid()}@{fake.guid()}/IncomingWebhook/"
        f"{fake.text(32, HEX)}/{fake.guid()}/V2{fake.text(43)}"
    )
    add("teams_webhook", "config", teams, "notifications:", f"  teams_webhook: {teams}")
    workflow_url = (
        f"https://prod-{fake.text(2, '123456789')}.westeurope.logic.azure.com:443/workflows/{fake.text(32, HEX)}"
        "/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0"
        f"&sig={fake.b64(32, url=True)}"
    )
    add("teams_workflows_webhook", "code", workflow_url, f'TEAMS_WORKFLOW = "{workflow_url}"')
    sas_url = (
        "https://stfactorydata.blob.core.windows.net/raw/churn_2026.csv?sv=2022-11-02&ss=b&srt=o&sp=r"
        f"&se=2027-01-31T00:00:00Z&st=2026-11-01T00:00:00Z&spr=https&sig={sas}"
    )
    add("azure_sas_url", "config", sas_url, f"full_data: {sas_url}")
    storage = (
        f"DefaultEndpointsProtocol=https;AccountName=stfactorydata;AccountKey={fake.b64(64)};"
        "EndpointSuffix=core.windows.net"
    )
    add("azure_storage_connection_string", "code", storage, f'STORAGE = "{storage}"')
    bus = (
        "Endpoint=sb://sb-factory.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;"
        f"SharedAccessKey={fake.b64(32)}"
    )
    add("azure_service_bus_connection_string", "dotenv", bus, f"EVENTS={bus}")
    client_secret = f"{fake.text(3)}8Q~{fake.text(34, ALNUM + '_~.-')}"
    add("azure_ad_client_secret", "code", client_secret, f'ENTRA_APP = "{client_secret}"')
    key = fake.pem("RSA PRIVATE KEY")
    add("private_key", "docs", key[0], "The deploy key:", "", "```", *key, "```")
    encrypted = fake.pem("ENCRYPTED PRIVATE KEY")
    add("encrypted_private_key", "readme", encrypted[0], "", *encrypted, "")
    ghp = "ghp_" + fake.text(36)
    add(
        "github_token",
        "workflow",
        ghp,
        f"      MIRROR: https://x-access-token:{ghp}@github.com/acme-ml/factory-mirror.git",
    )
    pat = f"github_pat_{fake.text(22)}_{fake.text(59)}"
    add(
        "github_fine_grained_token",
        "readme",
        pat,
        f"Clone the data repo with `GH_TOKEN={pat} gh repo clone acme-ml/data`.",
    )
    pypi = "pypi-AgEIcHlwaS5vcmc" + fake.b64(64, url=True)
    add("pypi_token", "dotenv", pypi, f"UV_PUBLISH_TOKEN={pypi}")
    jwt = fake.jwt()
    add("jwt", "code", jwt, f'SCORING_KEY = "{jwt}"')
    aws = "AKIA" + fake.text(16, string.ascii_uppercase + "234567")
    add("aws_access_key", "code", aws, f'S3_KEY_ID = "{aws}"')
    hf = "hf_" + fake.text(34, string.ascii_letters)
    add("huggingface_token", "code", hf, f'HUB_ACCESS = "{hf}"')
    databricks = "dapi" + fake.text(32, HEX)
    add("databricks_token", "dotenv", databricks, f"DATABRICKS_TOKEN={databricks}")
    token = fake.text(40)
    add("yaml_token", "config", token, "registry:", "  url: https://registry.example.com", f"  token: {token}")
    url_password = fake.url_password()
    pg = f"postgresql://ml_reader:{url_password}@db.internal.example.com:5432/features"
    add("url_password_rfc3986", "code", pg, f'FEATURE_STORE = "{pg}"')
    password = fake.text(16)
    add("dotenv_password", "dotenv", password, f"PASSWORD={password}")
    tracking = f"https://factory-admin:{fake.text(18)}@mlflow.example.com"
    add("mlflow_tracking_uri_credentials", "docs", tracking, f"    export MLFLOW_TRACKING_URI={tracking}")
    mlflow_token = fake.text(48)
    add("mlflow_tracking_token", "workflow", mlflow_token, f"      MLFLOW_TRACKING_TOKEN: {mlflow_token}")
    bearer = fake.text(44)
    add(
        "authorization_bearer_header",
        "docs",
        bearer,
        f'    curl -H "Authorization: Bearer {bearer}" https://scoring.example.com/score',
    )
    return found


# Where each location is in each repo: new files, or existing files the plants are appended to.
LOCATIONS = {
    "code": {"factory": "src/churn/settings.py", "prototype": "src/churn/settings.py"},
    "config": {"factory": "mlops/environments.yaml", "prototype": "configs/config.yaml"},
    "workflow": {"factory": ".github/workflows/announce.yml", "prototype": ".github/workflows/announce.yml"},
    "docs": {"factory": "docs/operations.md", "prototype": "docs/model_card.md"},
    "readme": {"factory": "README.md", "prototype": "README.md"},
    "dotenv": {"factory": ".env", "prototype": ".env"},
    "notebook": {"factory": "notebooks/explore.ipynb", "prototype": "notebooks/01_eda.ipynb"},
}
HEADERS = {
    # One assignment of a string per line: ruff format (a hook that runs first) keeps them on their line.
    "code": ['"""Connection settings."""', ""],
    "workflow": [
        "name: announce",
        "on: workflow_dispatch",
        "permissions: {}",
        "jobs:",
        "  announce:",
        "    runs-on: ubuntu-latest",
        "    steps:",
        "      - run: ./announce.sh",
        "    env:",
    ],
    "docs": ["# Operations", ""],
}


def write_plants(root: Path, repo: str, planted: list[Plant]) -> dict[tuple[str, int], str]:
    """Write every plant in its natural place and again in a notebook's output; (path, line) -> kind."""
    by_path: dict[str, list[str]] = {}
    for plant in planted:
        path = LOCATIONS[plant.location][repo]
        if path not in by_path:
            existing = root / path
            by_path[path] = (
                existing.read_text(encoding="utf-8").splitlines()
                if existing.exists()
                else list(HEADERS.get(plant.location, []))
            )
        by_path[path].extend(plant.lines)
    expected: dict[tuple[str, int], str] = {}
    for path, lines in by_path.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text("\n".join(lines) + "\n", encoding="utf-8")
        for plant in planted:
            if LOCATIONS[plant.location][repo] == path:
                expected[(path, line_of(root / path, plant.needle))] = plant.kind
    notebook = LOCATIONS["notebook"][repo]
    write_notebook_outputs(root / notebook, [plant.printed for plant in planted])
    for plant in planted:
        expected[(notebook, line_of(root / notebook, json.dumps(plant.printed)[1:-1]))] = plant.kind
    return expected


def line_of(path: Path, needle: str) -> int:
    """The number of the one line holding `needle`."""
    lines = [number for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in line]
    assert len(lines) == 1, (path, needle, lines)
    return lines[0]


def write_notebook_outputs(path: Path, printed: list[str]) -> None:
    """A notebook whose first code cell ran and printed `printed` (as nbformat writes it)."""
    if path.exists():
        notebook = json.loads(path.read_text(encoding="utf-8"))
    else:
        notebook = {
            "cells": [{"cell_type": "code", "id": "0", "metadata": {}, "source": ["print(settings)"]}],
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    cell = next(cell for cell in notebook["cells"] if cell["cell_type"] == "code")
    cell["execution_count"] = 1
    cell["outputs"] = [{"name": "stdout", "output_type": "stream", "text": [line + "\n" for line in printed]}]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def reported(output: str) -> set[tuple[str, int]]:
    """The (path, line) locations detect-secrets reported in a hook run's output."""
    return {(path, int(line)) for path, line in LOCATION.findall(output)}


def hook_env() -> dict[str, str]:
    """The generated projects' environment, with the test environment's pre-commit first on PATH."""
    env = tool_env()
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    return env


def check_command(root: Path, workflow: str, runner: str) -> str:
    """The pull-request check's pre-commit command, read from the workflow, without the runner that installs it."""
    jobs = yaml.safe_load((root / ".github/workflows" / workflow).read_text(encoding="utf-8"))["jobs"]
    runs = [step["run"] for job in jobs.values() for step in job["steps"] if "pre-commit run" in step.get("run", "")]
    assert len(runs) == 1 and runs[0].startswith(runner), runs
    return runs[0].removeprefix(runner)


def pr_check_command(root: Path, repo: str) -> str:
    """The pre-commit command of the repo's pull-request check (read before a change can make the workflow invalid)."""
    if repo == "factory":
        return check_command(root, "pr-guard.yml", "uv run --locked --only-group dev ")
    return check_command(root, "ci.yml", "uv run ")


def pr_check(root: Path, command: str) -> str:
    """Run the pull-request check's command on HEAD, GitHub's merge of the pull request: its output."""
    return run(["bash", "-c", command], root, env=hook_env(), check=False)


def commit_with_hooks(root: Path, message: str, ignored: tuple[str, ...] = ()) -> str:
    """`git commit` of the whole change (`ignored` files forced in) with pre-commit installed: the hooks' output."""
    run([tool("pre-commit"), "install"], root, env=hook_env())
    run(["git", "add", "-A"], root)
    if ignored:
        run(["git", "add", "-f", *ignored], root)
    head = run(["git", "rev-parse", "HEAD"], root)
    output = run(["git", "commit", "-m", message], root, env=hook_env(), check=False)
    assert run(["git", "rev-parse", "HEAD"], root) == head, "the hooks let the commit through"
    return output


def open_pull_request(root: Path, branch: str, message: str) -> None:
    """What is staged in `root` as a contributor's pull request, merged into main as GitHub's merge ref would.

    The contributor works in a clone of their own, where the hooks were never installed (a fresh clone has none):
    it is their pull request the PR check must stop; the user's own path, with hooks on, is tested above.
    """
    patch = root.parent / f"{root.name}-{branch}.patch"
    patch.write_text(run(["git", "diff", "--cached", "--binary"], root), encoding="utf-8")
    contributor = root.parent / f"{root.name}-{branch}"
    run(["git", "clone", "-q", str(root), str(contributor)], root.parent)
    assert not [hook for hook in (contributor / ".git/hooks").iterdir() if not hook.name.endswith(".sample")]
    run(["git", "checkout", "-q", "-b", branch], contributor)
    run(["git", "apply", "--index", str(patch)], contributor)
    run(["git", "commit", "-q", "-m", message], contributor)
    run(["git", "checkout", "-q", "main"], contributor)
    run(["git", "merge", "-q", "--no-ff", "-m", f"Merge {branch}", branch], contributor)
    run(["git", "fetch", "-q", str(contributor), "main"], root)
    run(["git", "reset", "-q", "--hard", "FETCH_HEAD"], root)


def secrets_found(root: Path) -> set[tuple[str, int]]:
    """The secrets scan hook of the repo, as its pre-commit entry runs, over every tracked file."""
    config = yaml.safe_load((root / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    hook = next(h for repo in config["repos"] for h in repo["hooks"] if h["id"] == "detect-secrets")
    entry = shlex.split(hook["entry"])
    assert entry[0] == "python"
    files = run(["git", "ls-files"], root).split()
    done = subprocess.run([sys.executable, *entry[1:], *files], cwd=root, capture_output=True, text=True)
    found = reported(done.stdout)
    assert done.returncode == 0 or found, done.stdout + done.stderr  # a scan that could not run finds nothing
    return found


def test_every_planted_secret_is_caught_at_commit_and_by_the_pull_request_check(
    tmp_path: Path, template: Path, tally: Any
) -> None:
    prototype = render(tmp_path / "prototype", "prototype", src=template)
    factory = render(tmp_path / "factory", "factory", src=template, notifications="teams")
    git_commit_all(factory, "Factory")
    render(factory, "model", src=template, model_name="churn")
    render(factory, "model", src=template, model_name="fares", problem_type="regression")
    planted = plants(Fake(seed=20261123))
    expected: dict[str, dict[tuple[str, int], str]] = {}
    at_commit: dict[str, set[tuple[str, int]]] = {}
    by_check: dict[str, set[tuple[str, int]]] = {}
    for repo, root in {"prototype": prototype, "factory": factory}.items():
        git_commit_all(root, "Clean repo")
        command = pr_check_command(root, repo)
        expected[repo] = write_plants(root, repo, planted)
        at_commit[repo] = reported(commit_with_hooks(root, "Plant fake secrets", ignored=(".env",)))
        run(["git", "checkout", "-q", "--", "."], root)  # the fixers (nbstripout too) changed the work tree only
        open_pull_request(root, "fake-secrets", "Plant fake secrets")
        by_check[repo] = reported(pr_check(root, command))
    missed_at_commit = {(repo, *where) for repo in expected for where in expected[repo] if where not in at_commit[repo]}
    missed_by_check = {(repo, *where) for repo in expected for where in expected[repo] if where not in by_check[repo]}
    unexpected = {
        (repo, *where) for repo in expected for where in (at_commit[repo] | by_check[repo]) - set(expected[repo])
    }
    planted_count = sum(map(len, expected.values()))
    tally.add(
        "secrets",
        kinds=len({plant.kind for plant in planted}),
        planted=planted_count,
        caught_by_pre_commit=planted_count - len(missed_at_commit),
        caught_by_pr_check=planted_count - len(missed_by_check),
        false_positives=len(unexpected),
    )
    assert not missed_at_commit and not missed_by_check and not unexpected, (
        missed_at_commit,
        missed_by_check,
        unexpected,
    )


FACTORY_OPTIONS = list(itertools.product(["trunk", "gitflow"], ["none", "slack", "teams"]))


def test_clean_repos_of_every_option_and_a_promotion_report_nothing(tmp_path: Path, template: Path, tally: Any) -> None:
    scanned: dict[str, set[tuple[str, int]]] = {}
    for problem_type in ("classification", "regression"):
        prototype = render(tmp_path / f"prototype-{problem_type}", "prototype", src=template, problem_type=problem_type)
        git_commit_all(prototype, "Prototype")
        scanned[f"prototype {problem_type}"] = secrets_found(prototype)
    for index, (branching, notifications) in enumerate(FACTORY_OPTIONS):
        environments = ["dev,staging,prod", "dev,prod", "qa,uat,preprod,prod"][index % 3]
        answers = {"branching_strategy": branching, "notifications": notifications, "environments": environments}
        factory = render(tmp_path / f"factory-{index}", "factory", src=template, **answers)
        # One slot each, alternating what a slot's files depend on: problem type, metric, retraining schedule.
        if index % 2:
            render(factory, "model", src=template, model_name="churn", retraining_schedule="0 3 * * 1")
        else:
            render(factory, "model", src=template, model_name="fares", problem_type="regression", primary_metric="mae")
        git_commit_all(factory, "Factory with a slot")
        scanned[f"factory {branching} {notifications}"] = secrets_found(factory)
    # A promotion writes promotion.yaml (digests, commits) and the dev sample; its pull request passes the guard.
    prototype = tmp_path / "prototype-classification"
    factory = render(tmp_path / "promoted", "factory", src=template)
    git_commit_all(factory, "Factory")
    promote(prototype, factory, "churn", run_slot_checks=False, echo=lambda _: None)
    open_pull_request(factory, "promote-churn", "Promote churn")
    scanned["factory after promotion"] = secrets_found(factory)
    guard = pr_check(factory, pr_check_command(factory, "factory"))
    assert re.search(r"^detect secrets.*(Passed|Failed)$", guard, re.MULTILINE), guard  # the scan ran
    scanned["pull request of the promotion"] = reported(guard)
    false_positives = {name: found for name, found in scanned.items() if found}
    tally.add("secrets", clean_repos_scanned=len(scanned), false_positives=sum(map(len, false_positives.values())))
    assert not false_positives


CONFLICT = "<<<<<<< before updating\n{old}\n=======\n{new}\n>>>>>>> after updating\n"
# Files outside every slot's paths where an update or a merge leaves markers (a workflow too, not pr-guard.yml).
CONFLICTED = {
    "factory": ["README.md", "docs/azure.md", "mlops/environments.yaml", ".github/workflows/common.yml"],
    "prototype": ["README.md", "configs/config.yaml", ".github/workflows/ci.yml", "CONTRIBUTING.md"],
}
REJECTED = {
    "factory": ["README.md.rej", ".github/workflows/slot-checks.yml.rej", "docs/index.md.rej"],
    "prototype": ["README.md.rej", ".github/workflows/ci.yml.rej", "notebooks/01_eda.ipynb.rej"],
}


@pytest.mark.parametrize("repo", ["prototype", "factory"])
def test_conflict_markers_and_rej_files_anywhere_fail_commit_and_the_pull_request_check(
    tmp_path: Path, template: Path, repo: str, tally: Any
) -> None:
    root = render(tmp_path / repo, repo, src=template)
    git_commit_all(root, "Repo")
    command = pr_check_command(root, repo)
    for path in CONFLICTED[repo]:
        with (root / path).open("a", encoding="utf-8") as file:
            file.write(CONFLICT.format(old="timeout: 20", new="timeout: 25"))
    rejected = REJECTED[repo]
    for path in rejected:
        (root / path).write_text("@@ -1,3 +1,3 @@\n-timeout: 20\n+timeout: 25\n", encoding="utf-8")
    planted = [*CONFLICTED[repo], *rejected]
    at_commit = commit_with_hooks(root, "Update with conflicts")
    run(["git", "checkout", "-q", "--", "."], root)
    open_pull_request(root, "update", "Update with conflicts")
    by_check = pr_check(root, command)

    def caught(output: str) -> int:
        conflicted = set(re.findall(r"^(\S+):\d+: Merge conflict string", output, re.MULTILINE))
        return len(conflicted & set(CONFLICTED[repo])) + sum(f"\n{path}\n" in output for path in rejected)

    tally.add(
        "conflicts",
        planted=len(planted),
        caught_by_pre_commit=caught(at_commit),
        caught_by_pr_check=caught(by_check),
    )
    assert caught(at_commit) == caught(by_check) == len(planted), (at_commit, by_check)
