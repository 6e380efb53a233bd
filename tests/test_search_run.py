"""A hyperparameter search of the example model, run end to end in a rendered factory (fast tier) and prototype (slow).

The rendered repos run with this repo's test environment (no uv sync): the steps are this interpreter with the
rendered `src/` on the path. A search of 10 trials runs in the train step, each trial is a nested MLflow run, and the
model trained with the best values is the one evaluate scores and the gate judges.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml
from projects import git_commit_all, render

SEARCH = {
    "params": {
        "params.max_depth": {"type": "int", "low": 2, "high": 10},
        "params.min_samples_leaf": {"type": "int", "low": 1, "high": 30, "log": True},
        "params.max_features": {"type": "categorical", "choices": ["sqrt", "log2"]},
    },
    "trials": 10,
    "seed": 3,
}


def add_search(train_yaml: Path, search: dict) -> None:
    """A cheap forest with a search block in train.yaml."""
    params = yaml.safe_load(train_yaml.read_text(encoding="utf-8"))
    params["params"]["n_estimators"] = 15
    train_yaml.write_text(yaml.safe_dump({**params, "search": search}, sort_keys=False), encoding="utf-8")


@pytest.fixture(scope="module")
def factory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A factory with a classification slot whose train.yaml declares a search."""
    root = render(tmp_path_factory.mktemp("search") / "factory", "factory")
    render(root, "model", model_name="churn", problem_type="classification")
    add_search(root / "mlops/churn/train.yaml", SEARCH)
    git_commit_all(root, "Factory with a searching slot")
    return root


def test_factory_run_searches_and_the_gate_judges_the_best_trials_model(
    factory: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow.sklearn
    from mlflow import MlflowClient

    from mlops.factory.slot_run import run_slot

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.chdir(factory)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    run, verdict = run_slot("churn", tmp_path / "run", quiet=True)

    search = json.loads((run.outputs["train"]["model_output"] / "search.json").read_text())
    assert len(search["trials"]) == 10 and search["metric"] == "roc_auc"
    assert search["best_value"] == max(trial["value"] for trial in search["trials"])
    forest = mlflow.sklearn.load_model(str(run.outputs["train"]["model_output"])).named_steps["estimator"]
    assert {key: forest.get_params()[key.split(".")[1]] for key in search["best"]} == search["best"]
    # The gate judged the test-split score of that model: evaluate's metrics, not a validation score.
    assert [check.candidate for check in verdict.checks] == [run.metrics["roc_auc"]] != [search["best_value"]]
    assert verdict.passed

    client = MlflowClient(uri)
    parent = client.get_run(run.run_id)
    assert {key: parent.data.params[key] for key in search["best"]} == {k: str(v) for k, v in search["best"].items()}
    children = client.search_runs([run.experiment_id], f"tags.mlflow.parentRunId = '{run.run_id}'")
    assert len(children) == 10
    registered = client.get_model_version_by_alias("churn", "champion")
    assert registered.run_id == run.run_id
    assert json.loads(registered.tags["params"])["params"]["max_depth"] == search["best"]["params.max_depth"]


@pytest.mark.slow  # the same runner as the factory's run above: the fast tier keeps that one
def test_a_prototype_pipeline_searches_a_regressor_for_the_lowest_error(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient

    from mlops.pipeline.cli import main

    root = render(tmp_path_factory.mktemp("search") / "prototype", "prototype", problem_type="regression")
    depth_and_leaf = {key: SEARCH["params"][key] for key in ("params.max_depth", "params.min_samples_leaf")}
    add_search(root / "configs/train.yaml", {**SEARCH, "params": depth_and_leaf})
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.chdir(root)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    assert main(["configs", "--workdir", str(tmp_path / "run"), "-q"]) == 0

    search = json.loads((tmp_path / "run/train/model_output/search.json").read_text())
    assert (search["metric"], search["direction"]) == ("rmse", "minimize")  # config.yaml's primary metric
    assert search["best_value"] == min(trial["value"] for trial in search["trials"])
    client = MlflowClient(uri)
    experiment = yaml.safe_load((root / "configs/config.yaml").read_text())["experiment_name"]
    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    (parent,) = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]
    assert sum(run.data.tags.get("mlflow.parentRunId") == parent.info.run_id for run in runs) == 10
    assert parent.data.params["params.max_depth"] == str(search["best"]["params.max_depth"])


def test_the_same_seed_gives_the_same_trials_and_another_seed_others(
    factory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pandas as pd

    monkeypatch.syspath_prepend(str(factory / "src"))
    for name in [name for name in sys.modules if name.split(".")[0] == "churn"]:
        monkeypatch.delitem(sys.modules, name)  # the rendered model, not one another test imported; restored after
    from churn.prep import clean  # type: ignore[import-not-found]
    from churn.search import run_search  # type: ignore[import-not-found]
    from churn.train import train  # type: ignore[import-not-found]

    frame = clean(pd.read_csv(next((factory / "data/churn").glob("*.csv"))))
    params_file = factory / "mlops/churn/train.yaml"
    params = yaml.safe_load(params_file.read_text())
    first, again = (run_search(frame, params, params_file, train) for _ in range(2))
    assert first["trials"] == again["trials"] and first["best"] == again["best"]
    other = run_search(frame, {**params, "search": {**SEARCH, "seed": 4}}, params_file, train)
    assert [t["params"] for t in other["trials"]] != [t["params"] for t in first["trials"]]


def test_a_sweep_trial_trains_with_the_given_values_and_logs_its_validation_metrics(
    factory: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow.sklearn
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    trial = client.create_run(client.create_experiment("sweep")).info.run_id
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_RUN_ID", trial)  # as Azure ML sets them in a sweep trial's job
    monkeypatch.syspath_prepend(str(factory / "src"))
    for name in [name for name in sys.modules if name.split(".")[0] == "churn"]:
        monkeypatch.delitem(sys.modules, name)
    from churn import prep, train  # type: ignore[import-not-found]

    raw = next((factory / "data/churn").glob("*.csv"))
    prep.main(["--raw_data", str(raw), "--prep_data", str(tmp_path / "prep")])
    flags = ["--set", "params.max_depth=3.0", "--set", "params.max_features=log2"]  # Azure ML's text values
    paths = ["--training_data", str(tmp_path / "prep"), "--params", str(factory / "mlops/churn/train.yaml")]
    train.main([*paths, "--model_output", str(tmp_path / "model"), *flags])

    forest = mlflow.sklearn.load_model(str(tmp_path / "model")).named_steps["estimator"]
    assert (forest.max_depth, forest.max_features) == (3, "log2")
    assert {"validation_roc_auc", "validation_accuracy"} <= set(client.get_run(trial).data.metrics)
    assert mlflow.active_run() is None  # the job owns its run: the step leaves none active in its process
    # The trial's own record: the runner logs its values as the run's params, as after a local search.
    saved = json.loads((tmp_path / "model" / "search.json").read_text())
    assert saved["best"] == {"params.max_depth": 3, "params.max_features": "log2"} and len(saved["trials"]) == 1
