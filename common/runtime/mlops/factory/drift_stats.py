"""Drift statistics of one column: KS and PSI for numbers, chi-square and PSI for categories."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

Kind = Literal["numeric", "categorical"]
BINS = 10  # PSI's usual deciles of the reference
SHARE_FLOOR = 1e-4  # an empty bin's share: PSI takes a log of each share ratio
MISSING = "(missing)"  # a category of its own: a feed that starts sending blanks has drifted


@dataclass(frozen=True)
class ColumnDrift:
    """How far one column of production data is from the reference, by a test and by PSI."""

    column: str
    role: str  # "feature" or "prediction"
    test: str
    statistic: float
    p_value: float
    psi: float
    drifted: bool
    note: str = ""


def psi(reference_shares: np.ndarray, production_shares: np.ndarray) -> float:
    """Population stability index of two share vectors over the same bins."""
    import numpy as np

    ref = np.clip(reference_shares, SHARE_FLOOR, None)
    prod = np.clip(production_shares, SHARE_FLOOR, None)
    return float(np.sum((prod - ref) * np.log(prod / ref)))


def numeric_drift(
    column: str, role: str, reference: pd.Series, production: pd.Series, p_value: float, psi_bar: float
) -> ColumnDrift:
    """A two-sample Kolmogorov-Smirnov test, and PSI over the reference's quantile bins."""
    import numpy as np
    from scipy.stats import ks_2samp

    try:
        ref, prod = reference.dropna().to_numpy(float), production.dropna().to_numpy(float)
    except ValueError as error:  # text in a column the champion's signature types as a number
        raise ValueError(f"column {column!r} should hold numbers: {error}") from error
    if len(ref) == 0 or len(prod) == 0:
        side = "reference" if len(ref) == 0 else "production"
        raise ValueError(f"column {column!r} has no values in the {side} rows; drift cannot be measured")
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, BINS + 1)[1:-1]))
    shares = [np.bincount(np.searchsorted(edges, v), minlength=len(edges) + 1) / len(v) for v in (ref, prod)]
    result = ks_2samp(ref, prod)
    stability = psi(shares[0], shares[1])
    drifted = bool(result.pvalue < p_value and stability > psi_bar)
    note = f"mean {ref.mean():.4g} -> {prod.mean():.4g}"
    return ColumnDrift(column, role, "KS", float(result.statistic), float(result.pvalue), stability, drifted, note)


def categorical_drift(
    column: str, role: str, reference: pd.Series, production: pd.Series, p_value: float, psi_bar: float
) -> ColumnDrift:
    """A chi-square test of the category counts, and PSI over the categories; unseen categories count too."""
    import numpy as np
    from scipy.stats import chi2_contingency

    ref, prod = (values.astype(object).where(values.notna(), MISSING).astype(str) for values in (reference, production))
    ref_counts, prod_counts = ref.value_counts(), prod.value_counts()
    categories = list(ref_counts.index) + sorted(set(prod_counts.index) - set(ref_counts.index))
    counts = np.array([ref_counts.reindex(categories, fill_value=0), prod_counts.reindex(categories, fill_value=0)])
    if len(categories) > 1:
        result = chi2_contingency(counts)
        statistic, p = float(result.statistic), float(result.pvalue)
    else:  # one category on both sides: nothing to test, nothing moved
        statistic, p = 0.0, 1.0
    shares = counts / counts.sum(axis=1, keepdims=True)
    stability = psi(shares[0], shares[1])
    drifted = p < p_value and stability > psi_bar
    unseen = [category for category in categories if ref_counts.get(category, 0) == 0]
    moved = int(np.argmax(np.abs(shares[1] - shares[0])))
    note = f"share of {categories[moved]} {shares[0][moved]:.0%} -> {shares[1][moved]:.0%}"
    if unseen:
        note += f"; unseen: {', '.join(unseen[:5])}" + (" ..." if len(unseen) > 5 else "")
    return ColumnDrift(column, role, "chi-square", statistic, p, stability, drifted, note)


def column_drift(
    kind: Kind, column: str, role: str, reference: pd.Series, production: pd.Series, p_value: float, psi_bar: float
) -> ColumnDrift:
    """The test that suits the column's kind."""
    measure = numeric_drift if kind == "numeric" else categorical_drift
    return measure(column, role, reference, production, p_value, psi_bar)
