"""train.yaml's `search:` block is checked with errors naming the file and key, and its trials are logged nested."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mlops.pipeline.config import ConfigError, load_model_folder

SPACE = {
    "params": {
        "params.depth": {"type": "int", "low": 2, "high": 8},
        "params.rate": {"type": "float", "low": 0.001, "high": 0.3, "log": True},
        "estimator": {"type": "categorical", "choices": ["toy", "other"]},
    },
    "trials": 12,
    "seed": 7,
}


def with_search(folder: Path, search: object) -> None:
    """Add a search block to the folder's train.yaml."""
    path = folder / "train.yaml"
    params = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**params, "search": search}))


def test_a_search_block_is_read_with_the_slots_primary_metric_by_default(tmp_path: Path, make_model_folder) -> None:
    folder = make_model_folder(tmp_path)
    with_search(folder, SPACE)
    search = load_model_folder(folder).search
    assert search is not None and search.trials == 12 and search.seed == 7
    assert (search.metric, search.direction) == ("roc_auc", "maximize")
    assert set(search.params) == {"params.depth", "params.rate", "estimator"}


def test_a_folder_without_a_search_block_has_none(tmp_path: Path, make_model_folder) -> None:
    assert load_model_folder(make_model_folder(tmp_path)).search is None


@pytest.mark.parametrize(
    ("search", "message"),
    [
        ({**SPACE, "trials": 0}, "search.trials: Input should be greater than or equal to 1"),
        (
            {"params": {"params.depth": {"type": "int", "low": 8, "high": 2}}},
            "search.params.params.depth: low (8) must be below high (2)",
        ),
        (
            {"params": {"params.rate": {"type": "float", "low": 0, "high": 1, "log": True}}},
            "search.params.params.rate: log: true needs low above 0 (got 0.0)",
        ),
        ({"params": {"params.depth": {"type": "normal"}}}, "search.params.params.depth: Input tag 'normal'"),
        ({"params": {"params.depth": {"type": "int", "low": 1, "high": 3, "lo": 0}}}, "unknown keys ['lo']"),
        ({"params": {}}, "search.params: Dictionary should have at least 1 item"),
        ({"params": {"search.trials": {"type": "int", "low": 1, "high": 3}}}, "must be a dotted path into train.yaml"),
        ({**SPACE, "direction": "up"}, "search.direction: Input should be 'maximize' or 'minimize'"),
        ({**SPACE, "sampler": "tpe"}, "search: unknown keys ['sampler']"),
    ],
)
def test_a_bad_search_block_names_the_file_and_the_key(
    tmp_path: Path, make_model_folder, search: dict, message: str
) -> None:
    folder = make_model_folder(tmp_path)
    with_search(folder, search)
    with pytest.raises(ConfigError) as error:
        load_model_folder(folder)
    assert str(error.value).startswith(f"{folder / 'train.yaml'}: ")
    assert message in str(error.value)


def record(trials: int = 10) -> dict:
    """A search record as the model's train step saves it."""
    rows = [
        {"number": n, "params": {"params.depth": n + 2}, "value": 0.5 + n / 100, "scores": {"roc_auc": 0.5 + n / 100}}
        for n in range(trials)
    ]
    best = rows[-1]
    return {
        "metric": "roc_auc",
        "direction": "maximize",
        "seed": 7,
        "best_trial": best["number"],
        "best_value": best["value"],
        "best": best["params"],
        "params": {"estimator": "toy", "params": {"depth": best["params"]["params.depth"], "tags": [1, 2]}},
        "trials": rows,
    }


def test_each_trial_is_a_nested_run_and_the_parent_holds_the_best_params(
    tmp_path: Path, make_model_folder, mlflow_uri: str
) -> None:
    from mlflow import MlflowClient

    from mlops.pipeline.runner import run_pipeline

    folder = make_model_folder(tmp_path)
    with_search(folder, SPACE)
    # The toy train step saves no search: the record is put where the model's train step writes it.
    steps = tmp_path / "src" / "toy" / "train.py"
    saved = json.dumps(record())
    steps.write_text(steps.read_text() + f"(pathlib.Path(a.model_output) / 'search.json').write_text({saved!r})\n")
    run = run_pipeline(load_model_folder(folder), tmp_path, tmp_path / "out", uri=mlflow_uri, quiet=True)

    client = MlflowClient(mlflow_uri)
    parent = client.get_run(run.run_id)
    assert parent.data.params["params.depth"] == "11"  # the best trial's, not train.yaml's 2
    assert parent.data.params["search.trials"] == "12"  # the search block itself is kept
    assert parent.data.tags["search.best_trial"] == "9"
    assert parent.data.metrics["search.best_validation_roc_auc"] == pytest.approx(0.59)
    children = client.search_runs([run.experiment_id], f"tags.mlflow.parentRunId = '{run.run_id}'")
    assert len(children) == 10
    assert {c.data.params["params.depth"] for c in children} == {str(n + 2) for n in range(10)}
    assert all("validation_roc_auc" in c.data.metrics and c.info.status == "FINISHED" for c in children)
    artifacts = {a.path for a in client.list_artifacts(run.run_id, "search")}
    assert artifacts == {"search/search.json", "search/trials.md"}


def test_a_declared_search_whose_train_step_saves_none_fails_the_run_naming_the_fix(
    tmp_path: Path, make_model_folder, mlflow_uri: str
) -> None:
    from mlops.pipeline.runner import run_pipeline
    from mlops.pipeline.steps import StepFailed

    folder = make_model_folder(tmp_path)
    with_search(folder, SPACE)  # the toy train step predates searches: it ignores the block
    with pytest.raises(StepFailed, match=r"train.yaml: search: is declared, but the train step saved no search.json"):
        run_pipeline(load_model_folder(folder), tmp_path, tmp_path / "out", uri=mlflow_uri, quiet=True)
