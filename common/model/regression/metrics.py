"""Regression metrics and plots of the evaluate step."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sklearn import metrics


def score(target: pd.Series, predicted: pd.DataFrame) -> dict[str, float]:
    """RMSE (the primary metric), MAE and R²."""
    values = predicted["prediction"]
    return {
        "rmse": float(metrics.root_mean_squared_error(target, values)),
        "mae": float(metrics.mean_absolute_error(target, values)),
        "r2": float(metrics.r2_score(target, values)),
    }


def plot(target: pd.Series, predicted: pd.DataFrame, folder: Path) -> None:
    """Predicted-versus-actual and residual plots as PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for kind, name in (("actual_vs_predicted", "predicted_vs_actual.png"), ("residual_vs_predicted", "residuals.png")):
        display = metrics.PredictionErrorDisplay.from_predictions(target, predicted["prediction"], kind=kind)
        display.figure_.savefig(folder / name, dpi=100, bbox_inches="tight")
    plt.close("all")
