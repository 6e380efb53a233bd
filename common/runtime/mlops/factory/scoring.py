"""`factory score`: score a CSV file of rows with a registered model, its input checked first, as the server would.

The rows are checked by the model's own data contract when its package has one (`<model>.schema.validate_inference`),
then by the model's MLflow signature (the contract `factory serve` enforces). The output has the columns of the
evaluate step's predictions: the input rows, `prediction`, and `score` (the positive class's probability) for
classifiers.
"""

from __future__ import annotations

import importlib
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.factory import registry
from mlops.factory.serving import fetch_model

if TYPE_CHECKING:
    import pandas as pd

CONTRACT_MODULE = "schema"  # <model>/schema.py: where a model declares its columns and its data contract
CONTRACT_CHECK = "validate_inference"


class ScoringError(ValueError):
    """Rows that cannot be scored; the message names the file, the column or check, and the fix."""


def score_file(name: str, alias: str, source: Path, target: Path) -> str:
    """Score every row of `source` with `name@alias`, write them with their predictions to `target`; a summary."""
    frame = read_rows(source)
    check = contract_check(name)
    if check is not None:
        try:
            frame = check(frame)
        except ValueError as error:
            raise ScoringError(f"{source}: {error}; fix or drop those rows and score again") from error
    import mlflow.pyfunc

    with tempfile.TemporaryDirectory(prefix="factory-score-") as work:
        version, folder = fetch_model(registry.client(), name, alias, Path(work))
        scored = predict(mlflow.pyfunc.load_model(str(folder)), frame, source)
    target.parent.mkdir(parents=True, exist_ok=True)
    scored.to_csv(target, index=False)
    checked = f"{name}.{CONTRACT_MODULE}.{CONTRACT_CHECK}" if check is not None else "the model's signature"
    used = f"{name} v{version.version} (@{alias})"
    return f"Scored {len(scored)} rows of {source} with {used}, checked by {checked} -> {target}"


def read_rows(source: Path) -> pd.DataFrame:
    """The rows to score, or a one-line error naming the file."""
    import pandas as pd

    if not source.is_file():
        raise ScoringError(f"{source}: no such file; pass --input a CSV file with the model's input columns")
    try:
        frame = pd.read_csv(source)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ScoringError(f"{source}: not a readable CSV file ({error}); write it with a header row") from error
    if frame.empty:
        raise ScoringError(f"{source}: no rows to score; the file has only its header")
    return frame


def contract_check(name: str) -> Callable[[pd.DataFrame], pd.DataFrame] | None:
    """The model package's inference check, `<model>.schema.validate_inference`, when it declares one."""
    module_name = f"{name}.{CONTRACT_MODULE}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name in (name, module_name):  # no package or no schema module: the signature is the contract
            return None
        raise
    check = getattr(module, CONTRACT_CHECK, None)
    return check if callable(check) else None


def predict(model: Any, frame: pd.DataFrame, source: Path) -> pd.DataFrame:
    """The rows with the model's `prediction` (and `score` where it has class probabilities), as evaluate writes."""
    from mlflow.exceptions import MlflowException

    features = signature_types(model, frame)
    try:
        predictions = model.predict(features)
    except MlflowException as error:
        raise ScoringError(f"{source}: {signature_reason(error)}; fix those columns and score again") from error
    except (ValueError, TypeError) as error:  # rows the signature allows but the model refuses (missing values)
        reason = " ".join(str(error).split("\n")[0].split())
        raise ScoringError(f"{source}: the model cannot score these rows: {reason}; fix those rows") from error
    result = frame.assign(prediction=list(predictions))
    raw = _raw_model(model)
    if hasattr(raw, "predict_proba"):
        schema = model.metadata.get_input_schema()
        columns = schema.input_names() if schema is not None and schema.has_input_names() else list(features)
        result["score"] = raw.predict_proba(features[columns])[:, 1]
    return result


def signature_types(model: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """Whole-number columns as floats where the signature asks for floats: CSV reads 3.0 back as the integer 3."""
    from mlflow.types import DataType
    from pandas.api.types import is_integer_dtype

    schema = model.metadata.get_input_schema()
    if schema is None or not schema.has_input_names():
        return frame
    floats = [
        spec.name
        for spec in schema.inputs
        if spec.type in (DataType.double, DataType.float) and spec.name in frame and is_integer_dtype(frame[spec.name])
    ]
    return frame.astype(dict.fromkeys(floats, "float64")) if floats else frame


def signature_reason(error: Exception) -> str:
    """MLflow's schema error without the dump of the data it was given: the part that names the column."""
    message = str(getattr(error, "message", error))
    reason = message.rsplit("Error: ", 1)[-1].strip()
    return f"breaks the model's signature: {' '.join(reason.split())}"


def _raw_model(model: Any) -> Any:
    """The framework's own model under the pyfunc wrapper, or None for flavors that do not expose one."""
    try:
        return model.get_raw_model()
    except Exception:  # flavors without a raw model raise errors of their own: then there is no score
        return None
