"""The data contract of the customer churn data: each column's role, dtype and checks, declared once.

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
    "tenure_months": {"role": "numeric", "dtype": "int64", "min": 0, "max": 240},
    "monthly_charges": {"role": "numeric", "dtype": "float64", "min": 0.0, "max": 1000.0},
    "support_calls": {"role": "numeric", "dtype": "int64", "min": 0, "max": 100},
    "data_usage_gb": {"role": "numeric", "dtype": "float64", "min": 0.0, "max": 1000.0},
    "contract": {"role": "categorical", "dtype": "str", "allowed": ["month-to-month", "one-year", "two-year"]},
    "payment_method": {"role": "categorical", "dtype": "str", "allowed": ["bank-transfer", "card", "invoice"]},
    "churned": {"role": "target", "dtype": "int64", "allowed": [0, 1]},
}
TARGET = names(COLUMNS, "target")[0]
NUMERIC = names(COLUMNS, "numeric")
CATEGORICAL = names(COLUMNS, "categorical")
STRATIFY = True  # split train/test keeping the share of each class


def validate_training(frame: pd.DataFrame) -> pd.DataFrame:
    """A table with its target checked against the contract: its columns, coerced; DataContractError otherwise."""
    return validate(frame, COLUMNS, target=True, what="the data", module=__name__)


def validate_inference(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows to score (features only; other columns are ignored) checked: the model's input, or DataContractError."""
    return features(validate(frame, COLUMNS, target=False, what="the input to score", module=__name__), COLUMNS)
