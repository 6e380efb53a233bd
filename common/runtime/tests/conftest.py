"""A toy model whose steps only move files: the factory machinery tested without ML library cost."""

from __future__ import annotations

import copy
import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops.pipeline.config import ModelConfig


@pytest.fixture(autouse=True)
def work_in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs in its own folder: MLflow writes ./mlruns and ./mlflow.db, never into the repository."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def steps_as_plain_subprocesses(monkeypatch: pytest.MonkeyPatch) -> None:
    """The toy's steps start as plain subprocesses unless a test asks for the warm runner (MLOPS_STEP_RUNNER=warm).

    A warm process imports MLflow to log the run (seconds of CPU per run); plain subprocesses log from this process,
    which has MLflow imported already. The warm runner's tests set the variable themselves.
    """
    monkeypatch.setenv("MLOPS_STEP_RUNNER", "subprocess")


SPEC = {
    "steps": [
        {"name": "prep", "module": "toy.prep", "inputs": {"raw_data": "${dataset}"}, "outputs": ["prep_data"]},
        {
            "name": "train",
            "module": "toy.train",
            "inputs": {"training_data": "${prep.prep_data}", "params": "${params}"},
            "outputs": ["model_output"],
            "args": {"fast": True},
        },
        {
            "name": "evaluate",
            "module": "toy.evaluate",
            "inputs": {"model_input": "${train.model_output}", "test_data": "${prep.prep_data}"},
            "outputs": ["predictions", "score_report"],
        },
    ],
    "results": {
        "model": "${train.model_output}",
        "score_report": "${evaluate.score_report}",
        "predictions": "${evaluate.predictions}",
    },
}

# A toy model whose steps only move files: the runner's behaviour without any ML library cost.
TOY_STEPS = {
    "__init__.py": "",
    "prep.py": """
        import argparse, math, pathlib
        p = argparse.ArgumentParser(); p.add_argument("--raw_data"); p.add_argument("--prep_data")
        p.add_argument("--test_size", type=float, default=1.0); p.add_argument("--seed", type=int, default=0)
        a = p.parse_args()
        header, *rows = pathlib.Path(a.raw_data).read_text().splitlines()
        start = a.seed % len(rows)  # the split: rows rotated by the seed, the first test_size of them to test
        rows = rows[start:] + rows[:start]
        cut = max(1, math.ceil(len(rows) * a.test_size))
        for name, part in (("train.csv", rows[cut:] or rows), ("test.csv", rows[:cut])):
            (pathlib.Path(a.prep_data) / name).write_text("\\n".join([header, *part]) + "\\n")
    """,
    "train.py": """
        import argparse, pathlib, sys, yaml
        p = argparse.ArgumentParser()
        for flag in ("--training_data", "--params", "--model_output", "--fast"): p.add_argument(flag)
        a = p.parse_args()
        params = yaml.safe_load(pathlib.Path(a.params).read_text())
        if params["estimator"] == "fail":
            sys.exit("train: refusing params that say fail")
        (pathlib.Path(a.model_output) / "MLmodel").write_text("flavors: {}\\n")
        (pathlib.Path(a.model_output) / "quality.txt").write_text(str(params.get("quality", 0.8)))
    """,
    "evaluate.py": """
        import argparse, csv, json, pathlib
        p = argparse.ArgumentParser()
        for flag in ("--model_input", "--test_data", "--predictions", "--score_report"): p.add_argument(flag)
        a = p.parse_args()
        quality = float((pathlib.Path(a.model_input) / "quality.txt").read_text())
        rows = "\\n".join(str(round(quality * (i % 10) / 10, 3)) for i in range(200))
        (pathlib.Path(a.predictions) / "predictions.csv").write_text("score\\n" + rows + "\\n")
        # Test rows may carry an `ease` column: easier rows score every model higher.
        test = list(csv.DictReader((pathlib.Path(a.test_data) / "test.csv").read_text().splitlines()))
        ease = sum(float(row.get("ease") or 0) for row in test) / len(test)
        metrics = {"roc_auc": round(quality + ease, 6), "accuracy": round(quality - 0.1 + ease, 6), "note": "x"}
        (pathlib.Path(a.score_report) / "metrics.json").write_text(json.dumps(metrics))
    """,
}


def _write_model_folder(
    root: Path, spec: dict | None = None, folder_name: str = "configs", **config_overrides: object
) -> Path:
    """A repo with the toy model and its config folder (configs/ or mlops/toy/); returns the config folder."""
    package = root / "src" / "toy"
    package.mkdir(parents=True)
    for name, code in TOY_STEPS.items():
        (package / name).write_text(textwrap.dedent(code))
    (root / "data").mkdir()
    (root / "data" / "toy.csv").write_text("x,y\n1,0\n2,1\n")
    folder = root / folder_name
    folder.mkdir(parents=True)
    config = {
        "model_name": "toy",
        "problem_type": "classification",
        "experiment_name": "toy",
        "primary_metric": "roc_auc",
        "greater_is_better": True,
        "business_threshold": 0.7,
        **config_overrides,
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    (folder / "dataset.yaml").write_text(
        yaml.safe_dump({"name": "toy", "version": "3", "path": "data/toy.csv", "target": "y"})
    )
    (folder / "train.yaml").write_text(yaml.safe_dump({"estimator": "toy", "params": {"depth": 2, "tags": [1, 2]}}))
    (folder / "pipeline.yaml").write_text(yaml.safe_dump(spec or SPEC))
    return folder


MakeSlot = Callable[..., Path]


@pytest.fixture(scope="session")
def migrated_mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow sqlite store, created once: creating one (its migrations) takes seconds, copying it does not."""
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def mlflow_uri(tmp_path: Path, migrated_mlflow_db: Path) -> str:
    """A private, ready MLflow sqlite store for one test."""
    path = tmp_path / "mlflow.db"
    shutil.copyfile(migrated_mlflow_db, path)
    return f"sqlite:///{path}"


@pytest.fixture
def spec_data() -> dict[str, Any]:
    """A fresh copy of the toy pipeline spec, free to mutate."""
    return copy.deepcopy(SPEC)


@pytest.fixture
def make_model_folder() -> MakeSlot:
    """Write the toy model and its config folder under a root; returns the config folder."""
    return _write_model_folder


@pytest.fixture
def auc_config() -> ModelConfig:
    """The toy slot's config: ROC AUC, higher is better, business threshold 0.7."""
    return ModelConfig(
        model_name="toy",
        problem_type="classification",
        experiment_name="toy",
        primary_metric="roc_auc",
        greater_is_better=True,
        business_threshold=0.7,
    )
