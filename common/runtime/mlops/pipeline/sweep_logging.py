"""Log a hyperparameter search to MLflow: each trial a nested run, the summary on the pipeline's run.

The train step saves its search beside the model (search.json: the best values, the params they give and every
trial's values and validation metrics); this module reads it once the steps have ended.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlops.pipeline.search_space import SEARCH_KEY
from mlops.pipeline.tables import render_table

SEARCH_FILE = "search.json"
PARENT_TAG = "mlflow.parentRunId"  # MLflow's own tag: the UI nests a run under its parent


def read_search_record(model_folder: Path) -> dict[str, Any] | None:
    """The search the train step ran for this model, or None when it ran none."""
    path = model_folder / SEARCH_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def trained_params(params: Mapping[str, Any], record: Mapping[str, Any] | None) -> dict[str, Any]:
    """The params the model was trained with (the best trial's, after a search), with the search block itself."""
    if record is None:
        return dict(params)
    return {**record["params"], SEARCH_KEY: params.get(SEARCH_KEY)}


def trial_table(record: Mapping[str, Any], metric: str) -> str:
    """Every trial as a row: its number, values and validation metric; the best one marked."""
    paths = list(record["best"])
    rows = [
        [
            trial["number"],
            *(trial["params"].get(path) for path in paths),
            trial["scores"].get(metric),
            "best" if trial["number"] == record["best_trial"] else "",
        ]
        for trial in record["trials"]
    ]
    return render_table(["trial", *paths, f"validation {metric}", ""], rows)


def log_search(client: Any, run_id: str, record: Mapping[str, Any], metric: str) -> None:
    """Each trial as a run nested under `run_id` (its values and validation metrics); the summary on `run_id`.

    A local search records every trial; the model of an Azure ML sweep records only its own (the best) trial.
    """
    from mlflow.entities import Metric, Param, RunTag

    parent = client.get_run(run_id)
    now = int(time.time() * 1000)
    for trial in record["trials"]:
        tags = {PARENT_TAG: run_id, "search.trial": str(trial["number"])}
        child = client.create_run(
            parent.info.experiment_id, run_name=f"{parent.info.run_name}-trial-{trial['number']}", tags=tags
        )
        metrics = [Metric(f"validation_{key}", float(value), now, 0) for key, value in trial["scores"].items()]
        params = [Param(path, str(value)) for path, value in trial["params"].items()]
        client.log_batch(child.info.run_id, metrics=metrics, params=params)
        client.set_terminated(child.info.run_id, status="FINISHED" if trial["scores"] else "FAILED")
    (best_trial,) = [trial for trial in record["trials"] if trial["number"] == record["best_trial"]]
    best = Metric(f"search.best_validation_{metric}", float(best_trial["scores"][metric]), now, 0)
    summary = [
        RunTag("search.best_trial", str(record["best_trial"])),
        RunTag("search.trials", str(len(record["trials"]))),
    ]
    client.log_batch(run_id, metrics=[best], tags=summary)
    client.log_text(run_id, json.dumps(record, indent=2, default=str), f"{SEARCH_KEY}/{SEARCH_FILE}")
    client.log_text(run_id, trial_table(record, metric) + "\n", f"{SEARCH_KEY}/trials.md")
