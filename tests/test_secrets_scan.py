"""Fast tier: the generated repos' secrets scan, hook order and `.gitignore`.

The scan is detect-secrets with the detectors of `common/runtime/tools/secret_detectors.py`, shipped byte-identical into
both repos and named by their baseline. Each kind of the hardening family's corpus is reported by the detector
meant for it; look-alikes a repo holds on purpose are not. The hardening tier (test_secrets_hardening.py) runs the
same corpus through real commits and pull-request checks.
"""

from __future__ import annotations

import ast
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from projects import ROOT, git_commit_all, render, tool
from test_secrets_hardening import Fake, plants

DETECTORS = ROOT / "common/runtime/tools/secret_detectors.py"
# The kinds a detector of ours exists for, and the secret type it reports.
OWN_DETECTOR = {
    "slack_workflow_webhook": "Slack workflow webhook",
    "teams_webhook": "Microsoft Teams webhook",
    "teams_workflows_webhook": "Microsoft Teams webhook",
    "azure_sas_url": "Azure shared access signature",
    "azure_storage_connection_string": "Azure connection string key",
    "azure_service_bus_connection_string": "Azure connection string key",
    "azure_ad_client_secret": "Azure AD client secret",
    "encrypted_private_key": "Service token",
    "github_fine_grained_token": "Service token",
    "huggingface_token": "Service token",
    "databricks_token": "Service token",
    "yaml_token": "Secret assignment",
    "url_password_rfc3986": "Password in URL",
    "dotenv_password": "Secret assignment",
    "mlflow_tracking_uri_credentials": "Password in URL",
    "mlflow_tracking_token": "Secret assignment",
    "authorization_bearer_header": "Authorization header",
}
SUFFIX = {"code": ".py", "config": ".yaml", "workflow": ".yml", "docs": ".md", "readme": ".md", "dotenv": ".env"}


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A committed prototype and a committed factory with one slot."""
    base = tmp_path_factory.mktemp("scan")
    prototype = render(base / "prototype", "prototype")
    git_commit_all(prototype, "Prototype")
    factory = render(base / "factory", "factory")
    render(factory, "model", model_name="churn")
    git_commit_all(factory, "Factory")
    return {"prototype": prototype, "factory": factory}


def hooks(root: Path) -> list[dict]:
    """The hooks of a generated repo's .pre-commit-config.yaml, in the order pre-commit runs them."""
    config = yaml.safe_load((root / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    return [hook for repo in config["repos"] for hook in repo["hooks"]]


def scan_folder(folder: Path) -> Path:
    """A folder holding what the scan needs, from their single sources (shipped byte-identical, tested above)."""
    (folder / "tools").mkdir(parents=True)
    shutil.copy(DETECTORS, folder / "tools/secret_detectors.py")
    shutil.copy(ROOT / "common/fragments/secrets.baseline", folder / ".secrets.baseline")
    hook_list = (ROOT / "common/fragments/pre-commit-hooks.yaml").read_text(encoding="utf-8")
    (folder / ".pre-commit-config.yaml").write_text("repos:\n" + hook_list, encoding="utf-8")
    return folder


def scan(root: Path, files: list[str]) -> dict[str, list[dict]]:
    """The repo's detect-secrets hook, as its entry runs it, on `files`: the findings per file."""
    entry = shlex.split(next(hook for hook in hooks(root) if hook["id"] == "detect-secrets")["entry"])
    done = subprocess.run([sys.executable, *entry[1:], "--json", *files], cwd=root, capture_output=True, text=True)
    return json.loads(done.stdout)["results"] if done.returncode else {}


def test_one_source_of_detectors_is_shipped_to_both_repos_and_named_by_their_baseline(repos: dict[str, Path]) -> None:
    classes = {
        node.name
        for node in ast.parse(DETECTORS.read_text(encoding="utf-8")).body
        if isinstance(node, ast.ClassDef) and node.name.endswith("Detector")
    }
    for root in repos.values():
        assert (root / "tools/secret_detectors.py").read_bytes() == DETECTORS.read_bytes()
        baseline = json.loads((root / ".secrets.baseline").read_text(encoding="utf-8"))
        ours = {plugin["name"] for plugin in baseline["plugins_used"] if "path" in plugin}
        assert ours == classes
        assert {plugin["path"] for plugin in baseline["plugins_used"] if "path" in plugin} == {
            "file://tools/secret_detectors.py"
        }


def test_the_scan_reads_notebooks_before_nbstripout_and_every_hook_installs_from_pypi_or_nothing(
    repos: dict[str, Path],
) -> None:
    for root in repos.values():
        config = yaml.safe_load((root / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
        assert {repo["repo"] for repo in config["repos"]} == {"local"}
        ids = [hook["id"] for hook in hooks(root)]
        assert ids.index("detect-secrets") < ids.index("nbstripout")
        scan_hook = hooks(root)[ids.index("detect-secrets")]
        assert "files" not in scan_hook and "types" not in scan_hook  # every file, notebooks and .env included
        for hook in hooks(root):
            assert hook["language"] in {"python", "fail"}, hook["id"]
            assert hook["language"] == "fail" or all("==" in d for d in hook["additional_dependencies"]), hook["id"]
        rejected = hooks(root)[ids.index("no-rejected-hunks")]
        assert (rejected["language"], rejected["files"]) == ("fail", r"\.rej$")


def test_each_kind_is_reported_by_its_own_detector_in_each_kind_of_file(tmp_path: Path) -> None:
    root = scan_folder(tmp_path / "repo")
    expected: dict[str, str | None] = {}  # file -> the secret type of the detector meant for its kind
    for plant in plants(Fake(seed=7)):
        name = f"{plant.kind}{SUFFIX[plant.location]}"
        (root / name).write_text("\n".join(plant.lines) + "\n", encoding="utf-8")
        expected[name] = OWN_DETECTOR.get(plant.kind)
    found = scan(root, list(expected))
    for name, own in expected.items():
        types = {finding["type"] for finding in found.get(name, [])}
        assert types and (own is None or own in types), (name, types)


LOOK_ALIKES = {
    "workflow.yml": [
        "env:",
        "  MLFLOW_TRACKING_TOKEN: ${{ secrets.MLFLOW_TRACKING_TOKEN }}",
        "  token_name: MLFLOW_TRACKING_TOKEN",
        "  credentials: azure-cli",
        "  description: Bearer token of the MLflow server, if it needs one",
    ],
    "settings.py": [
        'token = os.environ["MLFLOW_TRACKING_TOKEN"]',
        "password = getpass.getpass()",
        "credential = DefaultAzureCredential(exclude_interactive_browser_credential=True)",
        'headers = {"Authorization": f"Bearer {token}"}',
        'uri = f"https://{user}:{password}@mlflow.example.com"',
        "secret_path = Path('secrets/mlflow-token')",
    ],
    "promotion.yaml": [
        "source_commit: 3f2a9c8e1b7d4f6a0c5e9b2d8a1f7c3e6b0d4a9f",
        "dataset:",
        "  digest: sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "files:",
        "  src/churn/tokenizer.py: sha256:60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752",
    ],
    "docs.md": [
        "Set `MLFLOW_TRACKING_TOKEN` (a bearer token) as a repository secret.",
        "    export MLFLOW_TRACKING_URI=https://<user>:<password>@mlflow.example.com",
        "    curl -H 'Authorization: Bearer <token>' https://scoring.example.com/score",
        "    git clone ssh://git@github.com:22/acme-ml/factory.git",
        "PASSWORD=changeme-in-your-env",
    ],
    ".env.example": ["MLFLOW_TRACKING_URI=", "MLFLOW_TRACKING_TOKEN=", "PASSWORD=${PASSWORD}"],
}


def test_look_alikes_and_notebook_figures_are_not_reported(tmp_path: Path) -> None:
    root = scan_folder(tmp_path / "repo")
    for name, lines in LOOK_ALIKES.items():
        (root / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    figure = Fake(seed=11).b64(3000)  # a PNG's base64: high entropy, never a secret
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": 1,
                "id": "0",
                "metadata": {},
                "outputs": [{"data": {"image/png": figure}, "metadata": {}, "output_type": "display_data"}],
                "source": ["df.plot()"],
            }
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (root / "figure.ipynb").write_text(json.dumps(notebook, indent=1) + "\n", encoding="utf-8")
    assert scan(root, [*LOOK_ALIKES, "figure.ipynb"]) == {}


def test_a_baseline_naming_a_detector_file_that_is_not_there_fails_the_scan(repos: dict[str, Path]) -> None:
    root = repos["factory"]
    baseline = root / ".secrets.baseline"
    original = baseline.read_text(encoding="utf-8")
    try:
        baseline.write_text(original.replace("tools/secret_detectors.py", "tools/moved.py"), encoding="utf-8")
        entry = shlex.split(next(hook for hook in hooks(root) if hook["id"] == "detect-secrets")["entry"])
        ours = subprocess.run([sys.executable, *entry[1:], "README.md"], cwd=root, capture_output=True, text=True)
        plain = subprocess.run(
            [tool("detect-secrets-hook"), "--baseline", ".secrets.baseline", "README.md"], cwd=root, capture_output=True
        )
    finally:
        baseline.write_text(original, encoding="utf-8")
    assert ours.returncode == 1 and "cannot run" in ours.stdout
    assert plain.returncode == 0  # why the hook is not plain detect-secrets-hook: it passes having scanned nothing


MUST_IGNORE = [
    ".env",
    ".env.local",
    "mlops/.env.production",
    "mlflow.db",
    "mlruns/0/meta.yaml",
    "mlartifacts/1/model.pkl",
    "outputs/churn/20261123T080000Z/model/model.skops",
    "model.pkl",
    "src/churn/artifacts/model.joblib",
    "export/model.onnx",
    "notebooks/.ipynb_checkpoints/01_eda-checkpoint.ipynb",
    "reports/figures/roc_curve.png",
]
MUST_KEEP = [".env.example", "README.md", "uv.lock", "data/README.md"]
DATA = {
    # The bundled sample and a promoted one (promotion copies the file its manifest names into data/<model>/).
    "factory": (
        ["data/churn/customer_churn.csv", "data/churn/churn_2026_sample.csv", "data/fares/README.md"],
        ["data/churn/full_extract.parquet", "data/churn/raw/2026-11.csv", "models/churn.pkl"],
    ),
    "prototype": (
        ["data/raw/customer_churn.csv", "data/raw/README.md", "data/processed/README.md", "models/README.md"],
        ["data/raw/full_extract.parquet", "data/processed/train.csv", "data/interim/clean.csv", "models/model.pkl"],
    ),
}


@pytest.mark.parametrize("repo", ["prototype", "factory"])
def test_gitignore_keeps_credentials_runs_models_and_bulk_data_out_and_samples_and_configs_in(
    repos: dict[str, Path], repo: str
) -> None:
    root = repos[repo]
    keep, ignore = DATA[repo]
    configs = ["mlops/churn/config.yaml", "mlops/churn/promotion.yaml"] if repo == "factory" else ["configs/train.yaml"]
    paths = [*MUST_IGNORE, *ignore, *MUST_KEEP, *keep, *configs]
    done = subprocess.run(
        ["git", "check-ignore", "--no-index", "--stdin"],
        cwd=root,
        input="\n".join(paths),
        capture_output=True,
        text=True,
    )
    ignored = set(done.stdout.split())
    assert ignored == {*MUST_IGNORE, *ignore}, {"not ignored": {*MUST_IGNORE, *ignore} - ignored, "ignored": ignored}
