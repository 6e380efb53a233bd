"""Reading and writing the step's tables and models: the only file-format knowledge of the package."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib.metadata import packages_distributions, version
from pathlib import Path
from typing import Any

import pandas as pd

from .schema import COLUMNS, TARGET
from .validation import features

TRAIN_FILE = "train.csv"
TEST_FILE = "test.csv"
# Always needed to load a saved model: the format it is saved in and the table type it predicts on.
LOADING_REQUIREMENTS = ("skops", "pandas")


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
    return features(frame, COLUMNS), frame[TARGET]


def model_requirements(model: Any) -> list[str]:
    """What loading the model needs, pinned as this environment has it.

    The distribution of every class and function the fitted object holds is included, so an estimator
    from a new library brings that library. Walking the object is instant, unlike MLflow's own
    inference, which imports the saved model in a subprocess.
    """
    modules: set[str] = set()
    seen: set[int] = set()
    stack: list[Any] = [model]
    while stack:
        item = stack.pop()
        if id(item) in seen or isinstance(item, str | bytes | int | float | bool | None):
            continue
        seen.add(id(item))
        owner = item if isinstance(item, type) or callable(item) else type(item)
        modules.add(str(getattr(owner, "__module__", "") or "").split(".")[0])
        if isinstance(item, dict):
            stack += [*item.keys(), *item.values()]
        elif isinstance(item, list | tuple | set):
            stack += list(item)
        elif hasattr(item, "__dict__") and not isinstance(item, type) and not callable(item):
            stack += list(vars(item).values())
    installed = _installed_distributions()
    distributions = {name for module in modules for name in installed.get(module, [])}
    return sorted(f"{name}=={version(name)}" for name in distributions | set(LOADING_REQUIREMENTS))


@cache
def _installed_distributions() -> Mapping[str, list[str]]:
    """Which distributions provide each top-level module: read once, as it reads every installed package's files."""
    return packages_distributions()


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
        pip_requirements=model_requirements(model),
        skops_trusted_types=trusted_types,
    )


def load_model(folder: Path) -> Any:
    """Load an MLflow model folder through the generic pyfunc interface every model shares."""
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model(str(folder))
