"""Slow tier: a generated prototype passes its own CI, trains, logs to MLflow and runs its notebook."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from projects import git_commit_all, render, run, tool_env, uv

pytestmark = pytest.mark.slow

NOTEBOOK_RUNNER = """
import nbclient, nbformat
notebook = nbformat.read("notebooks/01_eda.ipynb", as_version=4)
nbclient.NotebookClient(notebook, timeout=300, resources={"metadata": {"path": "notebooks"}}).execute()
print("cells executed:", sum(1 for cell in notebook.cells if cell.cell_type == "code"))
"""


@pytest.fixture(scope="module", params=["classification", "regression"])
def prototype(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated, committed and synced prototype repo."""
    repo = render(tmp_path_factory.mktemp(request.param) / "experiment", "prototype", problem_type=request.param)
    git_commit_all(repo, "Generated from the template")
    # Compiled once at install: this suite may run with PYTHONDONTWRITEBYTECODE set.
    run([uv(), "sync", "--quiet", "--compile-bytecode"], repo)
    return repo


def test_its_pre_commit_hooks_pass_without_changing_a_file(prototype: Path) -> None:
    run([uv(), "run", "pre-commit", "run", "--all-files", "--show-diff-on-failure"], prototype)
    assert run(["git", "status", "--porcelain", "--untracked-files=no"], prototype) == ""


def test_its_tests_pass(prototype: Path) -> None:
    output = run([uv(), "run", "pytest", "-q", "-p", "no:cacheprovider"], prototype)
    assert " passed" in output and "failed" not in output


def test_its_pipeline_logs_params_metrics_dataset_and_a_loadable_model(prototype: Path) -> None:
    import mlflow.pyfunc
    from mlflow import MlflowClient

    output = run([uv(), "run", "pipeline", "--figures", "reports/figures"], prototype, tool_env())
    for step in ("prep", "train", "evaluate"):
        assert f"step {step}" in output
    config = yaml.safe_load((prototype / "configs" / "config.yaml").read_text(encoding="utf-8"))
    assert f"| {config['primary_metric']}" in output  # the final metrics table
    assert sorted(p.name for p in (prototype / "reports" / "figures").glob("*.png"))

    client = MlflowClient(f"sqlite:///{prototype / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(config["model_name"])
    (logged,) = client.search_runs([experiment.experiment_id])
    assert logged.info.status == "FINISHED"
    assert logged.data.params["estimator"] == "random_forest"
    assert config["primary_metric"] in logged.data.metrics
    assert len(logged.data.tags["dataset.digest"]) == 64
    assert logged.data.tags["mlflow.source.git.commit"] == run(["git", "rev-parse", "HEAD"], prototype).strip()
    assert logged.inputs.dataset_inputs and logged.inputs.dataset_inputs[0].dataset.digest
    model = mlflow.pyfunc.load_model(f"{logged.info.artifact_uri}/model")
    assert model.metadata.signature is not None
    predictions = prototype / "outputs" / config["model_name"]
    metrics_file = next(predictions.rglob("metrics.json"))
    assert json.loads(metrics_file.read_text())[config["primary_metric"]] == pytest.approx(
        logged.data.metrics[config["primary_metric"]]
    )


def test_its_eda_notebook_executes_against_the_sample(prototype: Path) -> None:
    output = run([uv(), "run", "python", "-c", NOTEBOOK_RUNNER], prototype)
    assert "cells executed: 7" in output
