"""Evaluate step: score the model on the test set, write predictions, metrics and plots."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pandas as pd

from .data import TEST_FILE, load_model, read_table
from .metrics import plot, score
from .schema import TARGET, validate_inference
from .validation import run_step


def predict(model: Any, features: pd.DataFrame) -> pd.DataFrame:
    """Predictions through the pyfunc interface (or of a fitted pipeline), plus the positive-class score if any."""
    result = pd.DataFrame({"prediction": model.predict(features)}, index=features.index)
    raw = model.get_raw_model() if hasattr(model, "get_raw_model") else model
    if hasattr(raw, "predict_proba"):
        result["score"] = raw.predict_proba(features)[:, 1]
    return result


def main(argv: list[str] | None = None) -> None:
    """Read --model_input and --test_data, write --predictions and --score_report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model_input", type=Path, required=True, help="MLflow model folder")
    parser.add_argument("--test_data", type=Path, required=True, help="prep output folder (test.csv)")
    parser.add_argument("--predictions", type=Path, required=True, help="output folder for predictions.csv")
    parser.add_argument("--score_report", type=Path, required=True, help="output folder for metrics and plots")
    args = parser.parse_args(argv)

    test = read_table(args.test_data / TEST_FILE)
    features, target = validate_inference(test), test[TARGET]  # the model's input, checked as any scorer checks it
    predicted = predict(load_model(args.model_input), features)
    metrics = score(target, predicted)

    args.predictions.mkdir(parents=True, exist_ok=True)
    args.score_report.mkdir(parents=True, exist_ok=True)
    test.assign(**{col: predicted[col] for col in predicted}).to_csv(args.predictions / "predictions.csv", index=False)
    (args.score_report / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    plot(target, predicted, args.score_report)
    print(f"evaluate: {len(test)} rows of {TARGET}: " + ", ".join(f"{k}={v:.4f}" for k, v in metrics.items()))


if __name__ == "__main__":
    run_step(main, "evaluate")
