"""Run a model's pipeline locally: each step as its own process, all of it in one MLflow run.

Steps are forked from a warm process that imported their libraries once (see launcher.py), and their output is
streamed with the step's name and saved beside their outputs (steps.py). The run is logged to MLflow by a child of
that warm process once the steps end (forked_logging.py), or, with plain subprocesses, on a second thread of this
process while they run (mlflow_logging.py); it carries the lineage tags of lineage.py. The `pipeline` command is
cli.py.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlops.pipeline.config import ConfigError, ModelFolder
from mlops.pipeline.forked_logging import FORKED_LOGGING, ForkedTracker
from mlops.pipeline.launcher import MODE_VARIABLE
from mlops.pipeline.lineage import STEP_RUNNER_TAG, run_tags
from mlops.pipeline.mlflow_logging import Tracker, describe_run, finish_tracking, start_tracking
from mlops.pipeline.steps import (
    Echo,
    PipelineRun,
    StepFailed,
    bindings,
    open_steps,
    resolve_inputs,
    run_step,
    say,
    step_log,
    step_outputs,
)
from mlops.pipeline.tracking import content_digest, tracking_uri
from mlops.pipeline.warm_launcher import WARM


def run_pipeline(
    folder: ModelFolder,
    repo_root: Path,
    workdir: Path,
    *,
    uri: str | None = None,
    run_name: str | None = None,
    extra_tags: Mapping[str, str] | None = None,
    echo: Echo = say,
    quiet: bool = False,
    verbose: bool = False,
    fork_logging: bool = True,
    logging_program: str = FORKED_LOGGING,
    program_request: Mapping[str, Any] | None = None,
) -> PipelineRun:
    """Run every step of the folder's pipeline and log the whole run to MLflow.

    Each step's output is streamed as `[step] line` (not when `quiet`: then only step timings and the results);
    `verbose` also shows each step's command and log file, and how the steps are started. With `fork_logging` (and
    the warm step runner) the run is logged by a child of the warm process, which has imported MLflow already; a
    caller that needs MLflow itself afterwards logs on a thread of its own process instead, or names a
    `logging_program` that calls forked_logging.log_request and goes on (the factory's gate), with `program_request`
    added to the request it reads.
    """
    data = repo_root / folder.dataset.path
    if not data.exists():
        raise ConfigError(
            f"{folder.path / 'dataset.yaml'}: path: {folder.dataset.path} does not exist under {repo_root}"
        )
    # First: the warm process's imports overlap the digest, git and MLflow start-up.
    launcher = open_steps(folder.pipeline.steps, repo_root, echo, also=[logging_program] if fork_logging else [])
    try:
        digest = content_digest(data)
        tags = run_tags(folder, repo_root, digest, folder.dataset.path, workdir, extra_tags)
        tracker: Tracker
        if fork_logging and launcher.mode == WARM:  # logged by a child of the warm process, which has MLflow
            described = {**describe_run(folder, tags, run_name), **(program_request or {})}
            tracker = ForkedTracker(launcher, repo_root, uri or tracking_uri(), described, echo, logging_program)
        else:  # MLflow starts on a thread of this process while the steps run
            tracker = start_tracking(folder, tags, uri=uri, run_name=run_name)
        named = bindings(folder, repo_root)
        outputs: dict[str, dict[str, Path]] = {}
        timings: dict[str, float] = {}
        logs: dict[str, Path] = {}
        echo(f"Pipeline {folder.pipeline.source} -> {workdir}")
        try:
            for step in folder.pipeline.steps:
                outputs[step.name] = step_outputs(step, workdir)
                logs[step.name] = step_log(step, workdir)
                values = {**resolve_inputs(step, named, outputs, repo_root), **outputs[step.name]}
                timings[step.name] = run_step(
                    step,
                    values,
                    repo_root,
                    log=logs[step.name],
                    launcher=launcher,
                    echo=echo,
                    quiet=quiet,
                    verbose=verbose,
                )
                echo(f"  step {step.name:<12} {timings[step.name]:6.2f} s")
            if verbose:
                echo(f"  steps ran {launcher.describe()} ({MODE_VARIABLE}={os.environ.get(MODE_VARIABLE) or 'unset'})")
        except BaseException as error:
            # A step that exited with an error has ended: the warm process may still log the failure. Anything else
            # (Ctrl+C, the runner's own error) stops every step and the warm process before waiting for MLflow.
            if not isinstance(error, StepFailed):
                launcher.close()
            tracker.fail({name: path for name, path in logs.items() if path.is_file()})
            raise
        result = PipelineRun("", "", {}, outputs, timings, digest, {**tags, STEP_RUNNER_TAG: launcher.mode}, logs)
        return finish_tracking(tracker, folder, result, data, echo, repo_root=repo_root)  # the warm process still up
    finally:
        launcher.close()
