"""The data contract of the taxi trip data: each column's role, dtype and checks, declared once.

prep checks the raw data against it and evaluate (like every scorer) checks the model's input; the role
lists below are what the rest of the package reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .validation import Column, DataContractError, features, names, validate

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CATEGORICAL", "COLUMNS", "NUMERIC", "STRATIFY", "TARGET", "DataContractError", "validate_inference"]

# role: numeric, categorical (the features) or target. dtype: what values are coerced to (text in a number
# column fails). min/max: inclusive bounds. allowed: the only values. nullable: empty cells pass (default: no).
COLUMNS: dict[str, Column] = {
    "trip_distance_km": {"role": "numeric", "dtype": "float64", "min": 0.0, "max": 500.0},
    "trip_duration_min": {"role": "numeric", "dtype": "float64", "min": 0.0, "max": 600.0},
    "pickup_hour": {"role": "numeric", "dtype": "int64", "min": 0, "max": 23},
    "passenger_count": {"role": "numeric", "dtype": "int64", "min": 1, "max": 8},
    "pickup_zone": {"role": "categorical", "dtype": "str", "allowed": ["airport", "downtown", "harbour", "suburbs"]},
    "fare_amount": {"role": "target", "dtype": "float64", "min": 0.0},
}
TARGET = names(COLUMNS, "target")[0]
NUMERIC = names(COLUMNS, "numeric")
CATEGORICAL = names(COLUMNS, "categorical")
STRATIFY = False  # a continuous target: a plain random split


def validate_training(frame: pd.DataFrame) -> pd.DataFrame:
    """A table with its target checked against the contract: its columns, coerced; DataContractError otherwise."""
    return validate(frame, COLUMNS, target=True, what="the data", module=__name__)


def validate_inference(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows to score (features only; other columns are ignored) checked: the model's input, or DataContractError."""
    return features(validate(frame, COLUMNS, target=False, what="the input to score", module=__name__), COLUMNS)
