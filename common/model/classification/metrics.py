"""Classification metrics and plots of the evaluate step."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sklearn import metrics


def score(target: pd.Series, predicted: pd.DataFrame) -> dict[str, float]:
    """ROC AUC (the primary metric) from scores, the rest from labels."""
    labels = predicted["prediction"]
    return {
        "roc_auc": float(metrics.roc_auc_score(target, predicted["score"])),
        "accuracy": float(metrics.accuracy_score(target, labels)),
        "f1": float(metrics.f1_score(target, labels, zero_division=0)),
        "precision": float(metrics.precision_score(target, labels, zero_division=0)),
        "recall": float(metrics.recall_score(target, labels, zero_division=0)),
    }


def plot(target: pd.Series, predicted: pd.DataFrame, folder: Path) -> None:
    """Confusion matrix and ROC curve as PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    display = metrics.ConfusionMatrixDisplay.from_predictions(target, predicted["prediction"])
    display.figure_.savefig(folder / "confusion_matrix.png", dpi=100, bbox_inches="tight")
    display = metrics.RocCurveDisplay.from_predictions(target, predicted["score"])
    display.figure_.savefig(folder / "roc_curve.png", dpi=100, bbox_inches="tight")
    plt.close("all")
