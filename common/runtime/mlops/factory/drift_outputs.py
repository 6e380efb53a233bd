"""Where a drift report goes: a folder (JSON, Markdown, a plot of every column) and an MLflow run."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.factory.drift import DriftReport

if TYPE_CHECKING:
    import pandas as pd

REPORT_FILE, TABLE_FILE, PLOT_FILE = "drift.json", "drift.md", "drift.png"
PLOT_COLUMNS = 3
TOP_CATEGORIES = 12  # more bars than this are unreadable; the rest show as one "other" bar


def write_report(
    report: DriftReport, reference: pd.DataFrame, production: pd.DataFrame, predictions: pd.DataFrame, folder: Path
) -> Path:
    """Write the JSON report, the table and the plot into `folder`; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / REPORT_FILE).write_text(report.to_json(), encoding="utf-8")
    (folder / TABLE_FILE).write_text(report.table() + "\n", encoding="utf-8")
    plot(report, reference, production, predictions, folder / PLOT_FILE)
    return folder


def plot(
    report: DriftReport, reference: pd.DataFrame, production: pd.DataFrame, predictions: pd.DataFrame, path: Path
) -> None:
    """One panel per column: the champion's test rows against production, histograms or category shares."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    count = max(len(report.columns), 1)
    rows = -(-count // PLOT_COLUMNS)
    figure, axes = plt.subplots(rows, PLOT_COLUMNS, figsize=(4.2 * PLOT_COLUMNS, 3.2 * rows), squeeze=False)
    for axis, found in zip(axes.flat, report.columns, strict=False):
        ref = reference[found.column]
        prod = (predictions if found.role == "prediction" else production)[found.column]
        if found.test == "KS":
            values = np.concatenate([ref.dropna().to_numpy(float), prod.dropna().to_numpy(float)])
            bins = np.histogram_bin_edges(values, bins=20)
            axis.hist(ref.dropna(), bins=bins, density=True, alpha=0.55, label="champion's test rows")
            axis.hist(prod.dropna(), bins=bins, density=True, alpha=0.55, label="production")
        else:
            shares = [side.astype(str).value_counts(normalize=True) for side in (ref, prod)]
            names = list(shares[0].add(shares[1], fill_value=0).sort_values(ascending=False).index[:TOP_CATEGORIES])
            places = np.arange(len(names))
            for offset, side, label in ((-0.2, shares[0], "champion's test rows"), (0.2, shares[1], "production")):
                axis.bar(places + offset, side.reindex(names, fill_value=0), width=0.4, label=label)
            axis.set_xticks(places, names, rotation=30, ha="right", fontsize=8)
        verdict = "DRIFT" if found.drifted else "ok"
        axis.set_title(
            f"{found.column}: {verdict} (PSI {found.psi:.2f})", color="#c62828" if found.drifted else "black"
        )
        axis.legend(fontsize=7)
    for axis in list(axes.flat)[count:]:
        axis.set_visible(False)
    figure.tight_layout()
    figure.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(figure)


def metric_key(name: str) -> str:
    """A column name as MLflow accepts it in a metric key."""
    return re.sub(r"[^\w\-. /]", "_", name)


def log_report(client: Any, experiment: str, report: DriftReport, champion_run_id: str, folder: Path) -> str:
    """Log the report folder as a run of the model's experiment, tagged with the champion it compared against."""
    from mlflow.entities import Metric

    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(experiment)
    tags = {
        "model_name": report.model,
        "drift.champion_version": report.champion,
        "drift.champion_run_id": champion_run_id,
        "drift.verdict": "drift" if report.drifted else "no drift",
        "drift.columns": ", ".join(report.drifted_columns),
    }
    run = client.create_run(experiment_id, run_name=f"drift-{report.model}-v{report.champion}", tags=tags)
    now = int(time.time() * 1000)
    metrics = [Metric("drift.columns_drifted", len(report.drifted_columns), now, 0)]
    for column in report.columns:
        metrics += [
            Metric(f"drift.psi.{metric_key(column.column)}", column.psi, now, 0),
            Metric(f"drift.p_value.{metric_key(column.column)}", column.p_value, now, 0),
        ]
    client.log_batch(run.info.run_id, metrics=metrics)
    client.log_artifacts(run.info.run_id, str(folder), "drift")
    client.set_terminated(run.info.run_id, status="FINISHED")
    return str(run.info.run_id)
