"""MkDocs hook of the templates' site: figures and example tables made at build time by the factory's own code.

The gate's verdicts and the drift report come from `mlops/factory/gate.py` and `drift.py` judging two models
trained here on the bundled churn sample, so the pictures cannot drift from what the factory prints. A page
asks for a table with a marker comment (`<!-- site: gate-verdicts -->`, `<!-- site: drift-report -->`).
"""

from __future__ import annotations

import io
import sys
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "common" / "runtime"))
from mlops.factory import drift, drift_outputs, gate  # noqa: E402  (the shared source, importable once on the path)
from mlops.pipeline.config import DriftConfig, ModelConfig  # noqa: E402

SAMPLE = ROOT / "common" / "data" / "customer_churn.csv"
TARGET = "churned"
NUMERIC = ["tenure_months", "monthly_charges", "support_calls", "data_usage_gb"]
CATEGORICAL = ["contract", "payment_method"]
CONFIG = ModelConfig(
    model_name="churn",
    problem_type="classification",
    experiment_name="churn",
    primary_metric="roc_auc",
    greater_is_better=True,
    business_threshold=0.7,
)
GATE_IMAGE, DRIFT_IMAGE = "images/gate-verdicts.png", "images/drift.png"


@dataclass(frozen=True)
class Example:
    """Two models of the bundled sample judged by the gate, and a drift check of the champion."""

    champion_auc: float
    candidate_auc: float
    first: gate.Verdict
    retrain: gate.Verdict
    reference: Any  # the champion's test rows with its scores
    production: Any  # the same customers after a price rise, with the champion's scores
    report: drift.DriftReport


@cache
def example() -> Example:
    """Train the champion (every feature) and a weaker retrain (two features) and judge them like the factory."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    data = pd.read_csv(SAMPLE)
    train, test = train_test_split(data, test_size=0.25, random_state=42, stratify=data[TARGET])

    def fit(numeric: list[str], categorical: list[str]) -> Any:
        columns = ColumnTransformer([("n", StandardScaler(), numeric), ("c", OneHotEncoder(), categorical)])
        return make_pipeline(columns, LogisticRegression(max_iter=500)).fit(train, train[TARGET])

    champion, candidate = fit(NUMERIC, CATEGORICAL), fit(["tenure_months"], ["contract"])
    champion_auc = float(roc_auc_score(test[TARGET], champion.predict_proba(test)[:, 1]))
    candidate_auc = float(roc_auc_score(test[TARGET], candidate.predict_proba(test)[:, 1]))
    raised = test.assign(monthly_charges=test["monthly_charges"] * 1.3, support_calls=test["support_calls"] + 2)
    reference = test.assign(score=champion.predict_proba(test)[:, 1])
    production = raised.assign(score=champion.predict_proba(raised)[:, 1])
    kinds: dict[str, Any] = {**dict.fromkeys(NUMERIC, "numeric"), **dict.fromkeys(CATEGORICAL, "categorical")}
    return Example(
        champion_auc,
        candidate_auc,
        gate.judge(CONFIG, champion_auc, None),
        gate.judge(CONFIG, candidate_auc, champion_auc, "v1, scored on the same test rows"),
        reference,
        production,
        drift.compare(reference, production, kinds, DriftConfig(), model="churn", champion="1"),
    )


def gate_figure() -> bytes:
    """The two verdicts as bars: each candidate against the bars it had to beat."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    found = example()
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.2), sharex=True)
    for axis, verdict, title in zip(axes, (found.first, found.retrain), ("first deploy", "retrain"), strict=True):
        labels = ["candidate", *(check.name for check in verdict.checks)]
        values = [verdict.checks[0].candidate, *(check.bar for check in verdict.checks)]
        colours = ["#2e7d32" if verdict.passed else "#c62828", *["#9e9e9e"] * len(verdict.checks)]
        axis.barh(labels[::-1], values[::-1], color=colours[::-1])
        for row, value in enumerate(values[::-1]):
            axis.text(value + 0.005, row, f"{value:.3f}", va="center", fontsize=9)
        axis.set_title(f"{title}: {'PASSED' if verdict.passed else 'REJECTED'}", fontsize=11)
        axis.set_xlim(0.5, 1.0)
        axis.set_xlabel(CONFIG.primary_metric)
    figure.tight_layout()
    return _png(figure)


def drift_figure() -> bytes:
    """The drift check's own plot: each feature and the score, champion's test rows against the price rise."""
    found = example()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / drift_outputs.PLOT_FILE
        drift_outputs.plot(found.report, found.reference, found.production, found.production, path)
        return path.read_bytes()


def _png(figure: Any) -> bytes:
    """A figure as PNG bytes, without the build date in its metadata."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()


def _indented(text: str) -> str:
    """Text as the body of an admonition."""
    return "\n".join(f"    {line}" if line else "" for line in text.splitlines())


def tables() -> dict[str, str]:
    """What each marker comment becomes."""
    found = example()
    verdicts = "\n\n".join(
        f'!!! example "{title}"\n\n{_indented(verdict.table())}'
        for title, verdict in (
            ("The job summary of the first deploy", found.first),
            ("The job summary of the weaker retrain", found.retrain),
        )
    )
    report = f'!!! example "`factory drift churn --data production.csv`"\n\n{_indented(found.report.table())}'
    return {"<!-- site: gate-verdicts -->": verdicts, "<!-- site: drift-report -->": report}


def on_files(files: Any, config: Any) -> Any:
    """Add the figures to the site as if they were files of docs/."""
    from mkdocs.structure.files import File

    for path, draw in ((GATE_IMAGE, gate_figure), (DRIFT_IMAGE, drift_figure)):
        files.append(File.generated(config, path, content=draw()))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Replace the marker comments of a page with their tables."""
    for marker, text in tables().items():
        markdown = markdown.replace(marker, text)
    return markdown
