"""The trained model as an MLflow 3 Logged Model: its files, params, metrics and dataset, linked to the run.

A tracking server that does not serve the Logged Model API (Azure ML workspaces at present, azure-sdk-for-python
issue 44896, answer 404 on `/api/2.0/mlflow/logged-models`) gets the model as the run's `model` artifact instead,
as before MLflow 3, with a note saying so: the registry then registers it from the run's path.
"""

from __future__ import annotations

import time
from typing import Any

from mlops.pipeline.config import ModelFolder
from mlops.pipeline.steps import Echo, PipelineRun

MODEL_ARTIFACT = "model"  # the run artifact the model is logged as where Logged Models are not served
MLFLOW_DIGEST = "dataset.mlflow_digest"  # MLflow's own dataset digest: of the first 10,000 rows only
LINEAGE_PREFIXES = ("dataset.", "template.", "git.", "mlflow.source.git.", "promotion.")  # run tags the model keeps
# The MLflow error codes of a server without the Logged Model endpoints (a 404 maps to ENDPOINT_NOT_FOUND).
UNSUPPORTED = frozenset({"ENDPOINT_NOT_FOUND", "NOT_IMPLEMENTED"})


def log_trained_model(
    client: Any, run_id: str, folder: ModelFolder, result: PipelineRun, dataset: Any | None, echo: Echo = print
) -> str | None:
    """Log the run's model as a Logged Model and return its id; None when the server has no Logged Models.

    `dataset` is the run's MLflow dataset input (or None): the model's metrics are linked to it by name and digest.
    """
    from mlflow.entities import LoggedModelOutput, Metric
    from mlflow.exceptions import MlflowException

    model_dir = str(result.result(folder, MODEL_ARTIFACT))
    logged = client.get_run(run_id)
    lineage = {key: value for key, value in result.tags.items() if key.startswith(LINEAGE_PREFIXES)}
    try:
        model = client.create_logged_model(
            logged.info.experiment_id,
            name=folder.config.model_name,
            source_run_id=run_id,
            params=dict(logged.data.params),
            tags=lineage,
            model_type=folder.config.problem_type,
        )
    except MlflowException as error:
        if error.error_code not in UNSUPPORTED:
            raise
        echo(
            f"Note: the tracking server does not serve MLflow Logged Models ({error.error_code}); the model is "
            f"logged as the run's `{MODEL_ARTIFACT}` artifact and registered from the run, as before MLflow 3."
        )
        client.log_artifacts(run_id, model_dir, MODEL_ARTIFACT)
        return None
    client.log_outputs(run_id, [LoggedModelOutput(model.model_id, step=0)])
    client.log_model_artifacts(model.model_id, model_dir)
    now = int(time.time() * 1000)
    linked = {} if dataset is None else {"dataset_name": dataset.dataset.name, "dataset_digest": dataset.dataset.digest}
    metrics = [
        Metric(k, v, now, 0, run_id=run_id, model_id=model.model_id, **linked) for k, v in result.metrics.items()
    ]
    client.log_batch(run_id, metrics=metrics)
    client.finalize_logged_model(model.model_id, "READY")
    return str(model.model_id)


def logged_model_id(client: Any, run_id: str) -> str | None:
    """The Logged Model a run produced (the newest, if several), or None for a run that logged its model as a file."""
    outputs = client.get_run(run_id).outputs
    found = sorted(outputs.model_outputs if outputs else [], key=lambda output: output.step)
    return str(found[-1].model_id) if found else None
