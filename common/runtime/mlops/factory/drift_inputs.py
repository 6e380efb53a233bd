"""What the drift check compares: the champion's logged test rows and predictions, and production's tables."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.factory.drift import PREDICTION_COLUMNS
from mlops.factory.drift_stats import Kind
from mlops.factory.registry import CHAMPION, RegistryError, download_version, version_by_alias

if TYPE_CHECKING:
    import pandas as pd

PREDICTIONS_ARTIFACT = "predictions/predictions.csv"  # the evaluate step's test rows with their predictions
SIGNATURE_FILE = "MLmodel"  # in the model folder: the model's input columns and their types
NUMERIC_TYPES = {"double", "float", "long", "integer"}  # MLflow signature types tested as numbers


@dataclass(frozen=True)
class Reference:
    """The champion's test rows with its predictions, its input columns by kind, and where they came from."""

    rows: pd.DataFrame
    kinds: dict[str, Kind]
    version: str
    run_id: str
    model: Path | None  # the champion's MLflow model folder, downloaded (None when its version has no model)


def read_table(path: Path, flag: str) -> pd.DataFrame:
    """A CSV file or a folder of CSV files; a missing or unreadable one is a one-line error naming it and the fix."""
    import pandas as pd

    files = sorted(path.glob("*.csv")) if path.is_dir() else [path]
    if not path.exists() or not files:
        raise ValueError(f"{path}: no such CSV file or folder of CSV files; pass the production table as {flag} PATH")
    try:
        frame = pd.concat([pd.read_csv(file) for file in files], ignore_index=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        reason = str(error).strip().splitlines()[0]
        raise ValueError(f"{path}: not a CSV table ({reason}); write it comma-separated with a header row") from error
    if frame.empty:
        raise ValueError(f"{path}: the table has no rows; {flag} needs the production rows to compare")
    return frame


def signature_kinds(mlmodel: Path) -> dict[str, Kind]:
    """The model's input columns as numeric or categorical, from its MLflow signature (empty without one)."""
    import yaml

    signature = (yaml.safe_load(mlmodel.read_text(encoding="utf-8")) or {}).get("signature") or {}
    inputs = json.loads(signature.get("inputs") or "[]")
    return {
        item["name"]: "numeric" if item.get("type") in NUMERIC_TYPES else "categorical"
        for item in inputs
        if item.get("name")
    }


def frame_kinds(frame: pd.DataFrame, target: str) -> dict[str, Kind]:
    """Every column but the target and the predictions, by its dtype: for models logged without a signature."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    return {
        str(name): "numeric" if is_numeric_dtype(frame[name]) and not is_bool_dtype(frame[name]) else "categorical"
        for name in frame.columns
        if name != target and name not in PREDICTION_COLUMNS
    }


def champion_reference(client: Any, model_name: str, target: str, folder: Path) -> Reference:
    """Download the champion's logged test predictions (with the test rows) and read its input columns."""
    import pandas as pd
    from mlflow.exceptions import MlflowException

    champion = version_by_alias(client, model_name, CHAMPION)
    if champion is None:
        raise RegistryError(
            f"{model_name} has no @champion yet: nothing to compare with (run `factory run {model_name}`)"
        )
    try:
        rows = pd.read_csv(client.download_artifacts(champion.run_id, PREDICTIONS_ARTIFACT, str(folder)))
    except (MlflowException, OSError) as error:
        raise RegistryError(
            f"{model_name} v{champion.version}: its run {champion.run_id} logged no {PREDICTIONS_ARTIFACT}; "
            "retrain it with an evaluate step that writes its test predictions"
        ) from error
    model: Path | None
    try:  # wherever the registry keeps it: a Logged Model or the run's artifact
        model = download_version(client, model_name, str(champion.version), folder / "model")
        kinds = signature_kinds(model / SIGNATURE_FILE)
    except (MlflowException, OSError):
        model, kinds = None, {}
    return Reference(rows, kinds or frame_kinds(rows, target), str(champion.version), champion.run_id, model)


def missing_columns(frame: pd.DataFrame, reference: Reference, path: Path) -> None:
    """Fail when a production table lacks some of the champion's input columns, naming them and the file."""
    missing = [name for name in reference.kinds if name not in frame.columns]
    if missing:
        raise ValueError(
            f"{path}: missing the champion's input columns {', '.join(missing)}; export every model input column"
        )


def champion_predictions(reference: Reference, features: pd.DataFrame) -> pd.DataFrame:
    """The champion's predictions for production rows, and its positive-class score where it has one."""
    import mlflow.pyfunc
    import pandas as pd

    if reference.model is None:
        raise RegistryError(
            f"v{reference.version}: its registered model could not be downloaded to score --data; pass the "
            "production predictions with --predictions"
        )
    model = mlflow.pyfunc.load_model(str(reference.model))
    inputs = pd.DataFrame({name: features[name] for name in reference.kinds})
    numeric = [name for name, kind in reference.kinds.items() if kind == "numeric"]
    try:  # numbers as floats, as the pipeline's steps hand them to the model
        inputs[numeric] = inputs[numeric].astype("float64")
    except ValueError as error:
        raise ValueError(
            f"production rows: the champion's numeric inputs {numeric} should hold numbers: {error}"
        ) from error
    result = pd.DataFrame({"prediction": model.predict(inputs)})
    try:
        raw = model.get_raw_model()
    except NotImplementedError:  # a pyfunc model without an underlying estimator
        raw = None
    if hasattr(raw, "predict_proba") and "score" in reference.rows.columns:
        result["score"] = raw.predict_proba(inputs)[:, 1]  # the column the evaluate step logs for classifiers
    return result
