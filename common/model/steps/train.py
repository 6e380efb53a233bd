"""Train step: fit the preprocessing + estimator pipeline and save it as an MLflow model."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from .data import TRAIN_FILE, features_and_target, read_table, save_model
from .estimators import ESTIMATORS, TRUSTED_TYPES
from .schema import CATEGORICAL, NUMERIC
from .search import (
    SEARCH_KEY,
    log_trial,
    run_search,
    save_search,
    trial_record,
    typed,
    validation_scores,
    with_values,
)


def build_model(params: dict[str, Any]) -> Pipeline:
    """Scale numbers, one-hot encode categories, then the estimator named in the params."""
    name = params.get("estimator")
    if name not in ESTIMATORS:
        raise ValueError(f"estimator {name!r} is unknown; choose one of {sorted(ESTIMATORS)}")
    preprocess = ColumnTransformer(
        [
            ("numeric", StandardScaler(), NUMERIC),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ]
    )
    estimator = ESTIMATORS[name](**(params.get("params") or {}))
    if "random_state" in estimator.get_params():
        estimator.set_params(random_state=params.get("seed", 42))
    return Pipeline([("preprocess", preprocess), ("estimator", estimator)])


def train(frame: pd.DataFrame, params: dict[str, Any]) -> Pipeline:
    """Fit a fresh model on a training table."""
    features, target = features_and_target(frame)
    return build_model(params).fit(features, target)


def main(argv: list[str] | None = None) -> None:
    """Read --training_data and --params, write the MLflow model into --model_output.

    With a `search:` block in the params, the search's trials run first and the model is trained with the best
    values; `--set path=value` runs one trial of it instead (an Azure ML sweep trial) and trains with those values.
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--training_data", type=Path, required=True, help="prep output folder (train.csv)")
    parser.add_argument("--params", type=Path, required=True, help="hyperparameter YAML file")
    parser.add_argument("--model_output", type=Path, required=True, help="output folder for the MLflow model")
    parser.add_argument("--set", action="append", default=[], help="path=value of the search block: one trial")
    args = parser.parse_args(argv)

    params = yaml.safe_load(args.params.read_text(encoding="utf-8")) or {}
    frame = read_table(args.training_data / TRAIN_FILE)
    record = None
    if args.set:  # one trial of a sweep: its validation metrics are what the sweep compares
        space, chosen = params[SEARCH_KEY], typed(params[SEARCH_KEY], args.set)
        params = with_values(params, chosen)
        scores = validation_scores(frame, params, space, train)
        log_trial(scores)
        record = trial_record(chosen, params, scores)
    elif SEARCH_KEY in params:
        record = run_search(frame, params, args.params, train)
        best = f"{record['metric']}={record['best_value']:.4f} with {record['best']}"
        print(f"search: best of {len(record['trials'])} trials on a validation split: {best}")
        params = record["params"]
    model = train(frame, params)
    trusted = TRUSTED_TYPES.get(params["estimator"], [])
    save_model(model, features_and_target(frame)[0].head(50), args.model_output, trusted)
    if record is not None:
        save_search(record, args.model_output)
    print(f"train: {params.get('estimator')} fitted on {len(frame)} rows -> {args.model_output}")


if __name__ == "__main__":
    main()
