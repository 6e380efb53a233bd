"""Score another model (the champion) with this run's evaluate step on this run's test rows.

The evaluate step runs as in the pipeline: forked from a warm process that starts importing its libraries before the
model is fetched (so those imports overlap the download), its output saved beside its outputs and streamed as
`[evaluate] line` unless `quiet`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mlops.pipeline.config import ModelFolder
from mlops.pipeline.steps import (
    Echo,
    PipelineRun,
    bindings,
    open_steps,
    read_metrics,
    resolve_inputs,
    run_step,
    say,
    step_log,
    step_outputs,
)


def rescore(
    folder: ModelFolder,
    run: PipelineRun,
    fetch_model: Callable[[], Path],
    workdir: Path,
    repo_root: Path,
    *,
    echo: Echo = say,
    quiet: bool = False,
    verbose: bool = False,
) -> dict[str, float]:
    """Metrics of the model `fetch_model()` returns (its folder), from this run's evaluate step on this run's data."""
    report = folder.pipeline.results["score_report"]
    step = folder.pipeline.step(report.source)
    model_result = folder.pipeline.results["model"]
    with open_steps([step], repo_root, echo) as launcher:
        model_dir = fetch_model()
        outputs = step_outputs(step, workdir)
        inputs = resolve_inputs(step, bindings(folder, repo_root), run.outputs, repo_root)
        for flag, value in step.inputs.items():
            if value == model_result:
                inputs[flag] = model_dir
        log = step_log(step, workdir)
        seconds = run_step(
            step, {**inputs, **outputs}, repo_root, log=log, launcher=launcher, echo=echo, quiet=quiet, verbose=verbose
        )
        if verbose:
            echo(f"  {step.name} ran {launcher.describe()}")
    echo(f"  step {step.name:<12} {seconds:6.2f} s  (re-scoring the champion)")
    return read_metrics(outputs[str(report.output)])
