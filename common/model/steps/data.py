"""Reading and writing the step's tables and models: the only file-format knowledge of the package."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path
from typing import Any

import pandas as pd

from .schema import CATEGORICAL, NUMERIC, TARGET

TRAIN_FILE = "train.csv"
TEST_FILE = "test.csv"
# What a saved model needs to load and predict; pinned to this environment. Listing them
# spares MLflow its slow requirement inference (a subprocess that imports the model).
MODEL_REQUIREMENTS = ("scikit-learn", "skops", "pandas", "numpy")


def read_table(path: Path) -> pd.DataFrame:
    """A CSV file, or every CSV file of a folder stacked in name order."""
    files = sorted(path.glob("*.csv")) if path.is_dir() else [path]
    if not files:
        raise FileNotFoundError(f"no CSV file found at {path}")
    return pd.concat([pd.read_csv(file) for file in files], ignore_index=True)


def features_and_target(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """The model's input columns (in schema order, numbers as floats) and its target.

    Numbers are floats so that the model's signature accepts missing values at inference time.
    """
    return frame[NUMERIC].astype("float64").join(frame[CATEGORICAL]), frame[TARGET]


def save_model(model: Any, sample: pd.DataFrame, folder: Path, trusted_types: list[str]) -> None:
    """Save a fitted estimator as an MLflow model (safe skops format) with a signature and an input example."""
    import mlflow.sklearn
    from mlflow.models import infer_signature

    signature = infer_signature(sample, model.predict(sample))
    mlflow.sklearn.save_model(
        model,
        str(folder),
        signature=signature,
        input_example=sample.head(3),
        pip_requirements=[f"{name}=={version(name)}" for name in MODEL_REQUIREMENTS],
        skops_trusted_types=trusted_types,
    )


def load_model(folder: Path) -> Any:
    """Load an MLflow model folder through the generic pyfunc interface every model shares."""
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model(str(folder))
