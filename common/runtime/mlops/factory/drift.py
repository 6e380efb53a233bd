"""Drift check: are production rows and predictions distributed like the champion's test rows and predictions?"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from mlops.factory.drift_stats import ColumnDrift, Kind, column_drift
from mlops.pipeline.config import DriftConfig
from mlops.pipeline.tables import render_table

if TYPE_CHECKING:
    import pandas as pd

EXIT_DRIFT = 2  # a finding, like the gate's EXIT_REJECTED: distinct from errors (1) so CI can tell them apart
# Scores carry more information than labels; regression models only have `prediction`.
PREDICTION_COLUMNS = ("score", "prediction")


@dataclass(frozen=True)
class DriftReport:
    """Every column's drift against the champion's test rows, with the thresholds that judged it."""

    model: str
    champion: str  # the registered version compared against ("" outside the factory's registry)
    reference_rows: int
    production_rows: int
    columns: tuple[ColumnDrift, ...]
    p_value_threshold: float
    psi_threshold: float
    notes: tuple[str, ...] = ()

    @property
    def drifted_columns(self) -> list[str]:
        """The columns that drifted, in table order."""
        return [column.column for column in self.columns if column.drifted]

    @property
    def drifted(self) -> bool:
        """Drift when any feature or the prediction drifted."""
        return bool(self.drifted_columns)

    def table(self) -> str:
        """The report for people (terminal and GitHub job summary alike)."""
        found = f"DRIFT in {', '.join(self.drifted_columns)}" if self.drifted else "no drift"
        against = f" against @champion v{self.champion}" if self.champion else ""
        rows = [
            (c.column, c.role, c.test, c.statistic, f"{c.p_value:.3g}", c.psi, "DRIFT" if c.drifted else "ok", c.note)
            for c in self.columns
        ]
        header = ["column", "role", "test", "statistic", "p-value", "PSI", "verdict", "note"]
        lines = [
            f"### Drift of {self.model}{against}: {found}",
            "",
            f"{self.production_rows} production rows against {self.reference_rows} test rows of the champion.",
            "",
            render_table(header, rows),
            "",
            f"A column drifts when its p-value < {self.p_value_threshold} and its PSI > {self.psi_threshold}.",
        ]
        return "\n".join(lines + [f"- {note}" for note in self.notes])

    def to_json(self) -> str:
        """The report for machines: thresholds, verdict and every column's numbers."""
        data = {**asdict(self), "drifted": self.drifted, "drifted_columns": self.drifted_columns}
        return json.dumps(data, indent=2) + "\n"


def compare(
    reference: pd.DataFrame,
    production: pd.DataFrame,
    kinds: Mapping[str, Kind],
    config: DriftConfig,
    *,
    predictions: pd.DataFrame | None = None,
    labels: bool = False,
    model: str = "",
    champion: str = "",
) -> DriftReport:
    """Test each feature in `kinds` that both tables hold, then the first prediction column both hold.

    `predictions` are the production predictions when they are not columns of `production`; `labels` says a
    `prediction` column holds class labels (tested as categories).
    """
    predicted = production if predictions is None else predictions
    if len(production) < 2 or len(predicted) < 2:
        raise ValueError(f"production has {min(len(production), len(predicted))} rows; drift needs at least 2")
    args = (config.p_value_threshold, config.psi_threshold)
    results = [
        column_drift(kind, name, "feature", reference[name], production[name], *args)
        for name, kind in kinds.items()
        if name in reference.columns and name in production.columns
    ]
    notes = [f"{name}: not in the champion's logged test rows" for name in kinds if name not in reference.columns]
    absent = [name for name in kinds if name in reference.columns and name not in production.columns]
    if absent:
        notes.append(f"not in the production rows, untested: {', '.join(absent)}")
    column = next((c for c in PREDICTION_COLUMNS if c in reference.columns and c in predicted.columns), None)
    if column is not None:
        kind: Kind = "categorical" if labels and column == "prediction" else "numeric"
        results.append(column_drift(kind, column, "prediction", reference[column], predicted[column], *args))
    elif not results:
        raise ValueError(
            f"production needs the champion's input columns ({', '.join(kinds) or 'none known'}) "
            f"or a prediction column named one of {list(PREDICTION_COLUMNS)}"
        )
    else:
        notes.append(f"no prediction column ({' or '.join(PREDICTION_COLUMNS)}) on both sides: predictions untested")
    return DriftReport(
        model,
        champion,
        len(reference),
        len(production),
        tuple(results),
        config.p_value_threshold,
        config.psi_threshold,
        tuple(notes),
    )
