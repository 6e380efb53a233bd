"""The one-process reference of a pipeline run: the same work as `pipeline` / `factory run`, in one plain script.

Run by the bench with a generated project's own interpreter, from its root, so the libraries are the ones the
product uses: `.venv/bin/python bench_reference.py CONFIG_FOLDER`. It reads the CSV, cleans and splits it, fits the
same estimator with the same params (the model package's own prep and train code: same work, not a lighter model),
scores the test rows, and logs params, metrics, the dataset and the model with a signature to the same kind of
sqlite MLflow store (MLFLOW_TRACKING_URI, else sqlite:///mlflow.db), registers a version and sets an alias.
What it leaves out is what the orchestration adds: step processes, streamed logs, plots, digests, lineage tags.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from typing import Any

import yaml


def read_yaml(path: Path) -> dict[str, Any]:
    """A config file as a mapping."""
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def main(argv: list[str] | None = None) -> int:
    """Train, log, register and alias the model of a config folder, in this one process."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path, help="the model's config folder (configs/ or mlops/<model>/)")
    args = parser.parse_args(argv)
    config, manifest = read_yaml(args.config / "config.yaml"), read_yaml(args.config / "dataset.yaml")
    params = read_yaml(args.config / "train.yaml")
    steps = read_yaml(args.config / "pipeline.yaml")["steps"]
    split = next(step.get("args", {}) for step in steps if step["name"] == "prep")  # test_size and seed
    name = config["model_name"]
    sys.path.insert(0, str(Path.cwd() / "src"))
    data, prep, train, metrics, estimators = (
        importlib.import_module(f"{name}.{part}") for part in ("data", "prep", "train", "metrics", "estimators")
    )

    import mlflow
    import mlflow.data
    import mlflow.sklearn
    import pandas as pd
    from mlflow.models import infer_signature

    mlflow.set_tracking_uri(os.environ.get("MLFLOW_TRACKING_URI") or "sqlite:///mlflow.db")
    mlflow.set_experiment(config["experiment_name"])
    with mlflow.start_run(run_name=f"{name}-reference") as run:
        nested = {f"params.{key}": value for key, value in (params.get("params") or {}).items()}
        mlflow.log_params({**{key: value for key, value in params.items() if key != "params"}, **nested})
        frame = data.read_table(Path(manifest["path"]))
        train_rows, test_rows = prep.split(prep.clean(frame), float(split["test_size"]), int(split["seed"]))
        features = data.features_and_target(train_rows)[0]
        model = train.train(train_rows, params)
        test_features, test_target = data.features_and_target(test_rows)
        predicted = pd.DataFrame({"prediction": model.predict(test_features)}, index=test_features.index)
        if hasattr(model, "predict_proba"):
            predicted["score"] = model.predict_proba(test_features)[:, 1]
        mlflow.log_metrics(metrics.score(test_target, predicted))
        dataset = mlflow.data.from_pandas(
            frame, source=manifest["path"], name=f"{manifest['name']}@{manifest['version']}", targets=manifest["target"]
        )
        mlflow.log_input(dataset, context="training")
        sample = features.head(50)
        logged = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(sample, model.predict(sample)),
            input_example=sample.head(3),
            pip_requirements=data.model_requirements(model),
            skops_trusted_types=estimators.TRUSTED_TYPES.get(params["estimator"], []),
            registered_model_name=name,
        )
    version = logged.registered_model_version
    mlflow.MlflowClient().set_registered_model_alias(name, "champion", str(version))
    print(f"reference: {name} v{version} @champion from run {run.info.run_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
