"""Log a run to MLflow: the run opens on a second thread while the steps run, and is filled in once they end.

MLflow start-up (imports, database migrations) happens on that thread, so a two-core machine spends that time in
parallel with the first steps. The run gets params, metrics, step timings, the dataset, every result folder and
each step's log; the model is a Logged Model linked to the run (logged_model.py); a hyperparameter search's trials
are runs nested under it (sweep_logging.py).
"""

from __future__ import annotations

import json
import threading
import time
import warnings
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from mlops.pipeline.config import ModelFolder
from mlops.pipeline.lineage import DATASET_DIGEST, EVALUATION_TAGS, STEP_RUNNER_TAG, evaluation_tags
from mlops.pipeline.logged_model import MLFLOW_DIGEST, log_trained_model
from mlops.pipeline.steps import Echo, PipelineRun, StepFailed, read_metrics
from mlops.pipeline.sweep_logging import SEARCH_FILE, log_search, read_search_record, trained_params
from mlops.pipeline.tables import render_table
from mlops.pipeline.tracking import mlflow_client, tracking_uri


class _Tracker(threading.Thread):
    """Imports MLflow and opens the run in the background; `join()` then `client` and `run_id`."""

    def __init__(self, uri: str, experiment: str, run_name: str, tags: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.uri, self.experiment, self.run_name, self.tags = uri, experiment, run_name, tags
        self.client: Any = None
        self.run_id = ""
        self.experiment_id = ""
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.client = mlflow_client(self.uri)
            self.experiment_id, self.run_id = open_run(self.client, self.experiment, self.run_name, self.tags)
        except BaseException as error:  # re-raised on the main thread by ready()
            self.error = error

    def log(self, folder: ModelFolder, result: PipelineRun, data: Path | None) -> tuple[str, str]:
        """Log the finished run; its run and experiment ids."""
        _log_run(self.ready(), self.run_id, folder, result, data)
        return self.run_id, self.experiment_id

    def fail(self, logs: Mapping[str, Path] | None = None) -> None:
        """Mark the run FAILED once it exists, with the logs of the steps that ran (the failing one's too)."""
        client = self.ready()
        _log_step_logs(client, self.run_id, logs or {})
        client.set_terminated(self.run_id, status="FAILED")

    def ready(self) -> Any:
        """Wait for start-up and return the client, re-raising any start-up error."""
        self.join()
        if self.error is not None:
            raise self.error
        return self.client


class Tracker(Protocol):
    """Where a run is logged: this module's thread, or a program forked from the warm process (forked_logging.py)."""

    uri: str

    def log(self, folder: ModelFolder, result: PipelineRun, data: Path | None) -> tuple[str, str]: ...

    def fail(self, logs: Mapping[str, Path] | None = None) -> None: ...


def open_run(
    client: Any, experiment: str, run_name: str, tags: dict[str, str], start_time: int | None = None
) -> tuple[str, str]:
    """Create the run (and its experiment, the first time); its experiment and run ids."""
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(experiment)
    run = client.create_run(experiment_id, start_time=start_time, run_name=run_name, tags=tags)
    return experiment_id, run.info.run_id


def start_tracking(
    folder: ModelFolder, tags: dict[str, str], *, uri: str | None = None, run_name: str | None = None
) -> _Tracker:
    """Open the MLflow run on a second thread while the caller runs the steps."""
    tracker = _Tracker(uri or tracking_uri(), **describe_run(folder, tags, run_name))
    tracker.start()
    return tracker


def describe_run(folder: ModelFolder, tags: dict[str, str], run_name: str | None = None) -> dict[str, Any]:
    """The run's experiment, name (the model and a UTC time stamp unless given) and tags."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    name = run_name or f"{folder.config.model_name}-{stamp}"
    return {"experiment": folder.config.experiment_name, "run_name": name, "tags": tags}


def finish_tracking(
    tracker: Tracker,
    folder: ModelFolder,
    result: PipelineRun,
    data: Path | None,
    echo: Echo = print,
    *,
    repo_root: Path | None = None,
) -> PipelineRun:
    """Read the metrics of finished steps and log the whole run (the dataset too, when it is local)."""
    try:
        result.metrics = read_metrics(result.result(folder, "score_report"))
        model = result.result(folder, "model")
        if folder.search is not None and read_search_record(model) is None:
            raise StepFailed(
                f"{folder.params_file}: search: is declared, but the train step saved no {SEARCH_FILE} in {model}: "
                "its train.py predates hyperparameter searches (the templates' how-to 'Search hyperparameters' "
                "says what to copy), or remove the search block"
            )
        evaluation = evaluation_tags(folder, result.outputs, result.dataset_digest, repo_root or Path.cwd())
        result.tags = {**result.tags, **evaluation}  # a new dict: the tracker thread may still read the old one
    except BaseException:
        tracker.fail()
        raise
    echo(render_table(["metric", "value"], sorted(result.metrics.items())))
    result.run_id, result.experiment_id = tracker.log(folder, result, data)
    echo(f"MLflow run {result.run_id} in experiment {folder.config.experiment_name!r} at {tracker.uri}")
    return result


def _log_run(client: Any, run_id: str, folder: ModelFolder, result: PipelineRun, data: Path | None) -> None:
    """Log params, metrics, step timings, the dataset and every result folder to the run."""
    from mlflow.entities import DatasetInput, InputTag, Metric, Param, RunTag

    now = int(time.time() * 1000)
    metrics = [Metric(k, v, now, 0) for k, v in result.metrics.items()]
    metrics += [Metric(f"step_seconds.{name}", round(s, 3), now, 0) for name, s in result.timings.items()]
    search = read_search_record(result.result(folder, "model"))
    params = [Param(k, v[:6000]) for k, v in flatten(trained_params(folder.params, search)).items()]
    tags = [RunTag(key, result.tags[key]) for key in (*EVALUATION_TAGS, STEP_RUNNER_TAG) if key in result.tags]
    client.log_batch(run_id, metrics=metrics, params=params, tags=tags)
    dataset = None if data is None else _dataset_input(folder, data, result.dataset_digest, DatasetInput, InputTag)
    if dataset is not None:
        client.log_inputs(run_id, datasets=[dataset])
        result.tags = {**result.tags, MLFLOW_DIGEST: dataset.dataset.digest}
        client.set_tag(run_id, MLFLOW_DIGEST, dataset.dataset.digest)
    if search is not None and folder.search is not None:
        log_search(client, run_id, search, str(folder.search.metric))
    log_trained_model(client, run_id, folder, result, dataset)
    for key in ("score_report", "predictions"):
        client.log_artifacts(run_id, str(result.result(folder, key)), key)
    _log_step_logs(client, run_id, result.logs)
    client.set_terminated(run_id, status="FINISHED")


def _log_step_logs(client: Any, run_id: str, logs: Mapping[str, Path]) -> None:
    """Each step's saved output as the run's `logs/<step>.log`."""
    for path in logs.values():
        client.log_artifact(run_id, str(path), "logs")


def _dataset_input(folder: ModelFolder, data: Path, digest: str, dataset_input: Any, input_tag: Any) -> Any:
    """The dataset as an MLflow input: name, version, source path, MLflow's digest and the full-content one beside it.

    MLflow's pandas digest hashes only the first 10,000 rows; `digest` is the sha256 of every byte of the data.
    """
    import mlflow.data
    import pandas as pd
    from mlflow.entities import Dataset

    frame = pd.concat([pd.read_csv(f) for f in sorted(data.glob("*.csv"))]) if data.is_dir() else pd.read_csv(data)
    with warnings.catch_warnings():  # MLflow registers the local source twice and warns about it
        warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted")
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")  # not a model schema
        dataset = mlflow.data.from_pandas(
            frame,
            source=folder.dataset.path,  # as the manifest names it: no local absolute path
            name=f"{folder.dataset.name}@{folder.dataset.version}",
            targets=folder.dataset.target,
        )
        fields = dataset.to_dict()  # public: name, digest, source, source_type, schema, profile
    keys = ("name", "digest", "source_type", "source", "schema", "profile")
    entity = Dataset(**{key: fields.get(key) for key in keys})
    return dataset_input(entity, tags=[input_tag("mlflow.data.context", "training"), input_tag(DATASET_DIGEST, digest)])


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested hyperparameters as MLflow params: {"model": {"depth": 3}} -> {"model.depth": "3"}."""
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = json.dumps(value) if isinstance(value, list | dict) else str(value)
    return flat
