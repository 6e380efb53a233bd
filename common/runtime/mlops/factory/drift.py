"""Drift check: are production predictions distributed like the champion's test predictions?"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from scipy.stats import ks_2samp

from mlops.pipeline.tables import render_table

# Scores carry more information than labels; regression models only have `prediction`.
COLUMNS = ("score", "prediction")


@dataclass(frozen=True)
class DriftReport:
    """A two-sample Kolmogorov-Smirnov test of one prediction column."""

    column: str
    reference_rows: int
    production_rows: int
    statistic: float
    p_value: float
    threshold: float

    @property
    def drifted(self) -> bool:
        """Drift when the distributions differ more than chance explains at the threshold."""
        return self.p_value < self.threshold

    def table(self) -> str:
        """The report for people."""
        verdict = "DRIFT" if self.drifted else "no drift"
        rows = [(self.column, self.reference_rows, self.production_rows, self.statistic, self.p_value, verdict)]
        header = ["column", "reference rows", "production rows", "KS statistic", "p-value", "verdict"]
        return render_table(header, rows) + f"\n(drift when p-value < {self.threshold})"


def compare(reference: pd.DataFrame, production: pd.DataFrame, threshold: float) -> DriftReport:
    """Test the first prediction column both tables share."""
    column = next((c for c in COLUMNS if c in reference.columns and c in production.columns), None)
    if column is None:
        raise ValueError(f"production predictions need a column named one of {list(COLUMNS)}")
    ref, prod = reference[column].dropna(), production[column].dropna()
    if len(prod) < 2:
        raise ValueError(f"production predictions have {len(prod)} usable rows in {column!r}; need at least 2")
    result = ks_2samp(ref, prod)
    return DriftReport(column, len(ref), len(prod), float(result.statistic), float(result.pvalue), threshold)


def check_file(reference: Path, production: Path, threshold: float) -> DriftReport:
    """Compare two prediction CSV files."""
    return compare(pd.read_csv(reference), pd.read_csv(production), threshold)
