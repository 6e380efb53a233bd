"""Running a slot end to end: its pipeline, the gate against the threshold and the champion, registration.

`factory run` runs all of it locally (with the warm step runner, the gate and registration run in the program
forked from the warm process that logs the run: forked_gate.py); `factory aml train` trains on Azure ML and hands the
finished run to `gate_and_register`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from mlops.factory import alias_guard, github_actions, registry
from mlops.factory.gate import Verdict, judge, rescore_reason
from mlops.factory.gate_outcome import OUTCOME_FILE, PROGRAM, gate_request, read_outcome
from mlops.factory.rescore import rescore
from mlops.factory.slot import slot_folder
from mlops.pipeline.config import CONFIG_FILE, ConfigError, ModelFolder, load_model_folder
from mlops.pipeline.lineage import EVALUATION_DIGEST
from mlops.pipeline.runner import run_pipeline
from mlops.pipeline.steps import PipelineRun, default_workdir
from mlops.pipeline.sweep_logging import read_search_record, trained_params


def champion_bar(
    mlflow: Any, folder: ModelFolder, run: PipelineRun, workdir: Path, *, quiet: bool = False, verbose: bool = False
) -> tuple[float | None, str]:
    """The champion's primary metric on this run's evaluation rows, and how it was obtained.

    The champion's logged score is reused only when its evaluation digest (rows, evaluate step, metric) equals
    this run's; otherwise this run's evaluate step scores the champion on this run's test rows.
    """
    name, metric = folder.config.model_name, folder.config.primary_metric
    champion = registry.version_by_alias(mlflow, name, registry.CHAMPION)
    if champion is None:
        return None, ""
    logged = mlflow.get_run(champion.run_id)
    reason = rescore_reason(logged.data.tags, logged.data.metrics, run.tags, metric)
    if reason is None:
        digest = run.tags[EVALUATION_DIGEST][:12]
        return logged.data.metrics[metric], f"v{champion.version}, same evaluation rows (digest {digest})"

    def download() -> Path:  # called by rescore once the evaluate step's warm process is starting
        return registry.download_version(mlflow, name, champion.version, workdir / "champion-download")

    metrics = rescore(folder, run, download, workdir / "champion", Path.cwd(), quiet=quiet, verbose=verbose)
    if metric not in metrics:
        raise ConfigError(f"re-scoring {name} v{champion.version} wrote no {metric} ({sorted(metrics)})")
    return metrics[metric], f"v{champion.version}, re-scored on this run's test rows: {reason}"


def run_slot(
    model: str, workdir: Path | None = None, *, quiet: bool = False, verbose: bool = False
) -> tuple[PipelineRun, Verdict]:
    """prep -> train -> evaluate -> gate -> register, printing step output and timings and the verdict."""
    started = time.perf_counter()
    folder = load_model_folder(slot_folder(model))
    workdir = (workdir or default_workdir(Path.cwd(), model)).resolve()
    tags = {"factory.slot": model}
    (workdir / OUTCOME_FILE).unlink(missing_ok=True)  # a verdict left by an earlier run in the same folder
    # With the warm step runner, one program forked from it (MLflow imported) logs, gates and registers the run;
    # otherwise the run is logged on a thread of this process and gated here.
    run = run_pipeline(
        folder,
        Path.cwd(),
        workdir,
        extra_tags=tags,
        quiet=quiet,
        verbose=verbose,
        logging_program=PROGRAM,
        program_request=gate_request(workdir, quiet=quiet, verbose=verbose),
    )
    verdict = read_outcome(workdir) or gate_and_register(folder, run, workdir, quiet=quiet, verbose=verbose)
    print(f"Slot {model} done in {time.perf_counter() - started:.1f} s")
    return run, verdict


def gate_and_register(
    folder: ModelFolder,
    run: PipelineRun,
    workdir: Path,
    *,
    quiet: bool = False,
    verbose: bool = False,
    client: Any | None = None,
) -> Verdict:
    """Judge a finished run against the threshold and the champion; register it only if it passes.

    `client` is an MLflow client on the factory's store (default: a new one).
    """
    model, metric = folder.config.model_name, folder.config.primary_metric
    if metric not in run.metrics:
        raise ConfigError(
            f"{folder.path / CONFIG_FILE}: primary_metric {metric!r} is not among the metrics the evaluate step "
            f"wrote ({sorted(run.metrics)})"
        )
    from mlflow.exceptions import MlflowException

    mlflow = client or registry.client()
    try:
        seen = alias_guard.snapshot(mlflow, model)  # the state the gate judges against; registration checks it
        bar, note = champion_bar(mlflow, folder, run, workdir, quiet=quiet, verbose=verbose)
        verdict = judge(folder.config, run.metrics[metric], bar, note)
        print(github_actions.publish(verdict.table()))
        mlflow.set_tag(run.run_id, "gate.verdict", "passed" if verdict.passed else "rejected")
    except MlflowException as error:
        raise registry.RegistryError(
            f"{model}: the MLflow server (MLFLOW_TRACKING_URI) failed during the gate "
            f"({registry.server_failure(error)}); nothing was registered or aliased. Check the server, then re-run."
        ) from error
    if verdict.passed:
        params = trained_params(folder.params, read_search_record(run.result(folder, "model")))  # a search's best
        version, changes = registry.register(mlflow, model, run, params, verdict, seen)
        print(f"Registered {model} v{version.version}: " + ", ".join(map(str, changes)))
        github_actions.set_outputs(verdict="passed", version=str(version.version))
    else:
        print(f"Nothing registered: {model} @champion is unchanged.")
        github_actions.set_outputs(verdict="rejected")
    return verdict
