"""`factory drift`: production rows and predictions against the champion's test rows, reported and logged."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.factory import github_actions, registry
from mlops.factory.drift import EXIT_DRIFT
from mlops.factory.slot import slot_folder
from mlops.pipeline.config import load_model_folder
from mlops.pipeline.steps import default_workdir

if TYPE_CHECKING:
    from mlops.factory.drift import DriftReport

NEEDS = "factory drift needs --data PATH (production rows), --predictions PATH, or both"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `factory drift`."""
    parser.add_argument("model")
    parser.add_argument(
        "--data",
        type=Path,
        metavar="PATH",
        help="production rows with the model's input columns: a CSV file or a folder of them",
    )
    parser.add_argument(
        "--predictions",
        type=Path,
        metavar="PATH",
        help="production predictions (a `score` or `prediction` column); without it the champion scores --data",
    )
    parser.add_argument(
        "--out", type=Path, metavar="DIR", help="report folder (default: outputs/<model>/drift-<timestamp>)"
    )


def run(args: argparse.Namespace) -> int:
    """Compare, write the report folder, log it to MLflow, publish the table; exit 2 on drift."""
    from mlops.factory import drift, drift_inputs, drift_outputs  # pandas, scipy, mlflow: only this command

    # The production files first: a wrong path fails before MLflow starts.
    production = None if args.data is None else drift_inputs.read_table(args.data, "--data")
    predictions = None if args.predictions is None else drift_inputs.read_table(args.predictions, "--predictions")
    if production is None and predictions is None:
        raise ValueError(NEEDS)
    folder = load_model_folder(slot_folder(args.model))
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # the downloads are small: no bars
    client = registry.client()
    with tempfile.TemporaryDirectory() as tmp:
        reference = drift_inputs.champion_reference(client, args.model, folder.dataset.target, Path(tmp))
        if production is not None:
            drift_inputs.missing_columns(production, reference, args.data)
            if predictions is None:
                predictions = drift_inputs.champion_predictions(reference, production)
    production = predictions if production is None else production  # a predictions file may hold the inputs too
    if production is None or predictions is None:  # cannot happen (checked above); tells the type checker so
        raise ValueError(NEEDS)
    report = drift.compare(
        reference.rows,
        production,
        reference.kinds,
        folder.config.drift,
        predictions=predictions,
        labels=folder.config.problem_type == "classification",
        model=args.model,
        champion=reference.version,
    )
    workdir = default_workdir(Path.cwd(), args.model)
    out = drift_outputs.write_report(
        report, reference.rows, production, predictions, args.out or workdir.with_name(f"drift-{workdir.name}")
    )
    logged = log_unless_refused(client, folder.config.experiment_name, report, reference.run_id, out)
    print(github_actions.publish(report.table()))
    print(f"Report and plot in {out}; {logged}")
    return EXIT_DRIFT if report.drifted else 0


def log_unless_refused(client: Any, experiment: str, report: DriftReport, champion_run_id: str, out: Path) -> str:
    """Log the report to MLflow and say where; a read-only identity (a pull request's) is told it was not logged."""
    from mlflow.exceptions import MlflowException

    from mlops.factory import drift_outputs

    try:
        run_id = drift_outputs.log_report(client, experiment, report, champion_run_id, out)
    except MlflowException as error:
        if not refused(error):
            raise
        return f"not logged to MLflow: the server refused this identity a write ({registry.server_failure(error)})"
    return f"MLflow run {run_id} in experiment {experiment!r}"


def refused(error: Exception) -> bool:
    """Whether the MLflow server refused the request for want of permission (HTTP 401/403), not for a fault."""
    code = str(getattr(error, "error_code", ""))
    return code in ("PERMISSION_DENIED", "UNAUTHENTICATED") or any(
        f"error code {status}" in str(error) for status in (401, 403)
    )
