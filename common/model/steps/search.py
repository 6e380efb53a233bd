"""Hyperparameter search of the train step: trials scored on a validation split carved from the training rows.

With a `search:` block in train.yaml, train.py runs its trials with Optuna (TPE, seeded: the same seed gives the same
trials) and trains the model on every training row with the best values. The trials are saved beside the model
(search.json), and the pipeline logs each one as a nested MLflow run. On Azure ML each trial is one run of train.py
with `--set path=value` flags (a sweep node), which logs its validation metrics to the job's MLflow run.
The test split is never seen here: it stays for the evaluate step and the gate.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from sklearn.model_selection import train_test_split

from .data import features_and_target
from .evaluate import predict
from .metrics import score
from .schema import STRATIFY, TARGET

SEARCH_KEY = "search"
SEARCH_FILE = "search.json"
CONFIG_FILE = "config.yaml"  # beside train.yaml: the primary metric a search optimises unless it names one
VALIDATION_PREFIX = "validation_"  # a trial's metrics, as the Azure ML sweep reads them
Fit = Callable[[pd.DataFrame, dict[str, Any]], Any]


def with_values(params: Mapping[str, Any], chosen: Mapping[str, Any]) -> dict[str, Any]:
    """train.yaml's content with the chosen values set at their dotted paths and the search block left out."""
    result = {key: value for key, value in params.items() if key != SEARCH_KEY}
    for path, value in chosen.items():
        *parents, last = path.split(".")
        node = result
        for part in parents:
            child = node.get(part)
            node[part] = dict(child) if isinstance(child, Mapping) else {}
            node = node[part]
        node[last] = value
    return result


def objective(space: Mapping[str, Any], params_file: Path) -> tuple[str, str]:
    """The metric a search optimises and its direction: the search block's, else config.yaml's primary metric."""
    metric, direction = space.get("metric"), space.get("direction")
    if metric and direction:
        return str(metric), str(direction)
    config_file = params_file.parent / CONFIG_FILE
    if not config_file.is_file():
        raise ValueError(f"{params_file}: search.metric and search.direction are needed (no {CONFIG_FILE} beside it)")
    config = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
    return (
        str(metric or config["primary_metric"]),
        str(direction or ("maximize" if config["greater_is_better"] else "minimize")),
    )


def typed(space: Mapping[str, Any], given: list[str]) -> dict[str, Any]:
    """`--set path=value` flags as values of their distribution's type (Azure ML passes every value as text)."""
    chosen: dict[str, Any] = {}
    for item in given:
        path, found, text = item.partition("=")
        if not found or path not in space["params"]:
            raise ValueError(f"--set {item}: expected path=value with a path of search.params {list(space['params'])}")
        dist = space["params"][path]
        if dist["type"] == "categorical":  # the declared choice written as this text, whatever its type
            matches = [choice for choice in dist["choices"] if str(choice) == text]
            if not matches:
                raise ValueError(f"--set {item}: not one of the choices {dist['choices']}")
            chosen[path] = matches[0]
        else:
            chosen[path] = int(round(float(text))) if dist["type"] == "int" else float(text)
    return chosen


def validation_scores(frame: pd.DataFrame, params: dict[str, Any], space: Mapping[str, Any], fit: Fit) -> dict:
    """Fit on the training rows less a validation split (seeded, stratified for classifiers), score on that split."""
    fitted, held_out = train_test_split(
        frame,
        test_size=space.get("validation_size", 0.2),
        random_state=space.get("seed", 0),
        stratify=frame[TARGET] if STRATIFY else None,
    )
    features, target = features_and_target(held_out)
    return score(target, predict(fit(fitted, params), features))


def run_search(frame: pd.DataFrame, params: dict[str, Any], params_file: Path, fit: Fit) -> dict[str, Any]:
    """Run the search block's trials with Optuna; the best values, the params they give and every trial."""
    import optuna  # heavy: imported only when a search runs

    space = params[SEARCH_KEY]
    metric, direction = objective(space, params_file)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=space.get("seed", 0))
    study = optuna.create_study(direction=optuna.study.StudyDirection[direction.upper()], sampler=sampler)

    def trial_value(trial: optuna.Trial) -> float:
        chosen = {path: suggest(trial, path, dist) for path, dist in space["params"].items()}
        scores = validation_scores(frame, with_values(params, chosen), space, fit)
        if metric not in scores:
            raise ValueError(f"{params_file}: search.metric: {metric!r} is not one of the metrics {sorted(scores)}")
        trial.set_user_attr("scores", scores)
        return float(scores[metric])

    study.optimize(trial_value, n_trials=int(space.get("trials", 20)))
    best = study.best_trial
    return {
        "metric": metric,
        "direction": direction,
        "seed": space.get("seed", 0),
        "best_trial": best.number,
        "best_value": best.value,
        "best": best.params,
        "params": with_values(params, best.params),
        "trials": [
            {"number": t.number, "params": t.params, "value": t.value, "scores": t.user_attrs.get("scores", {})}
            for t in study.trials
        ],
    }


def suggest(trial: Any, path: str, dist: Mapping[str, Any]) -> Any:
    """One value of a distribution of the search block, drawn by an Optuna trial."""
    if dist["type"] == "categorical":
        return trial.suggest_categorical(path, dist["choices"])
    if dist["type"] == "int":
        return trial.suggest_int(path, dist["low"], dist["high"], step=dist.get("step", 1), log=dist.get("log", False))
    return trial.suggest_float(path, dist["low"], dist["high"], step=dist.get("step"), log=dist.get("log", False))


def trial_record(chosen: Mapping[str, Any], params: dict[str, Any], scores: Mapping[str, float]) -> dict[str, Any]:
    """The record of one sweep trial, saved beside its model: the values it trained with are the best it knows."""
    trial = {"number": 0, "params": dict(chosen), "value": None, "scores": dict(scores)}
    return {"best_trial": 0, "best": dict(chosen), "params": params, "trials": [trial]}


def save_search(record: Mapping[str, Any], model_output: Path) -> None:
    """The search's record beside the model, where the pipeline finds it to log the trials."""
    (model_output / SEARCH_FILE).write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")


def log_trial(scores: Mapping[str, float]) -> None:
    """A sweep trial's validation metrics, to the MLflow run its job runs in (Azure ML sets MLFLOW_RUN_ID)."""
    print("validation: " + ", ".join(f"{key}={value:.4f}" for key, value in scores.items()))
    run_id = os.environ.get("MLFLOW_RUN_ID")
    if run_id:
        import time

        from mlflow import MlflowClient
        from mlflow.entities import Metric

        # The client, not mlflow.log_metrics: the job owns its run, this step must not leave one active.
        now = int(time.time() * 1000)
        metrics = [Metric(VALIDATION_PREFIX + key, float(value), now, 0) for key, value in scores.items()]
        MlflowClient().log_batch(run_id, metrics=metrics)
