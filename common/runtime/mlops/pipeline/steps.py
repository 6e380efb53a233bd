"""Run a pipeline's steps: each one its own program (`python -m <module> --flag value ...`) on local paths.

A step's output is streamed as `[step] line` and saved beside its outputs; a failing step raises StepFailed with the
tail of its stderr.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from mlops.pipeline.config import ConfigError, ModelFolder
from mlops.pipeline.launcher import open_launcher
from mlops.pipeline.spec import Reference, Step
from mlops.pipeline.subprocess_launcher import Launcher
from mlops.pipeline.warm_launcher import LaunchError

Echo = Callable[[str], None]
STDERR_TAIL_LINES = 40


class StepFailed(RuntimeError):
    """A pipeline step exited non-zero; the message carries the tail of its stderr."""


@dataclass
class PipelineRun:
    """What a finished local run produced: its MLflow run, metrics and output folders."""

    run_id: str
    experiment_id: str
    metrics: dict[str, float]
    outputs: dict[str, dict[str, Path]]
    timings: dict[str, float]
    dataset_digest: str
    tags: dict[str, str] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)

    def result(self, folder: ModelFolder, key: str) -> Path:
        """The folder of a declared result (`model`, `score_report` or `predictions`)."""
        reference = folder.pipeline.results[key]
        return self.outputs[reference.source][str(reference.output)]


def step_command(step: Step, values: Mapping[str, Path | str]) -> list[str]:
    """The argv of one step: `python -m module --flag value ...` (inputs, outputs, then args)."""
    command = [sys.executable, "-m", step.module]
    for flag, value in values.items():
        command += [f"--{flag}", str(value)]
    for flag, arg in step.args.items():
        command += [f"--{flag}", str(arg).lower() if isinstance(arg, bool) else str(arg)]
    return command


def resolve_inputs(
    step: Step, bindings: Mapping[str, Path], outputs: Mapping[str, Mapping[str, Path]], repo_root: Path
) -> dict[str, Path]:
    """Turn a step's declared inputs into concrete local paths."""
    resolved = {}
    for flag, value in step.inputs.items():
        if isinstance(value, Reference):
            resolved[flag] = bindings[value.source] if value.output is None else outputs[value.source][value.output]
        else:
            resolved[flag] = repo_root / value
    return resolved


def read_metrics(score_report: Path) -> dict[str, float]:
    """The numeric entries of score_report/metrics.json."""
    path = score_report / "metrics.json"
    if not path.is_file():
        raise StepFailed(f"{path} is missing: the evaluate step must write its metrics there")
    data = json.loads(path.read_text(encoding="utf-8"))
    return {k: float(v) for k, v in data.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def default_workdir(repo_root: Path, model: str) -> Path:
    """Where a run's step outputs go unless told otherwise: outputs/<model>/<UTC timestamp>."""
    return repo_root / "outputs" / model / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


def bindings(folder: ModelFolder, repo_root: Path) -> dict[str, Path]:
    """What `${dataset}` and `${params}` stand for in the folder's pipeline spec."""
    return {"dataset": repo_root / folder.dataset.path, "params": folder.params_file}


def step_outputs(step: Step, workdir: Path) -> dict[str, Path]:
    """Fresh, empty output folders of a step under the run's work folder."""
    outputs = {name: workdir / step.name / name for name in step.outputs}
    for path in outputs.values():
        path.mkdir(parents=True, exist_ok=True)
    return outputs


def step_log(step: Step, workdir: Path) -> Path:
    """Where a step's output (stdout and stderr) is saved: beside its output folders."""
    return workdir / step.name / f"{step.name}.log"


def say(line: str) -> None:
    """Print a progress line at once, also when stdout is a pipe (CI logs)."""
    print(line, flush=True)


def run_step(
    step: Step,
    values: Mapping[str, Path],
    repo_root: Path,
    *,
    log: Path,
    launcher: Launcher | None = None,
    echo: Echo = say,
    quiet: bool = False,
    verbose: bool = False,
) -> float:
    """Run one step as its own process, streaming its output as `[step] line` and saving it to `log`.

    Returns its duration, or raises StepFailed with the tail of its stderr. Without a launcher the step is a plain
    subprocess (one step alone gains nothing from a warm process).
    """
    command = step_command(step, values)
    shown = " ".join(command[1:])
    if verbose:
        echo(f"[{step.name}] $ {shlex.join(['python', *command[1:]])}")
    tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with log.open("w", encoding="utf-8", buffering=1) as saved:

        def on_line(stream: str, text: str) -> None:
            saved.write(text + "\n")
            if stream == "stderr":
                tail.append(text)
            if not quiet:
                echo(f"[{step.name}] {text}")

        env = {**step_env(repo_root), "PYTHONUNBUFFERED": "1"}  # its output streams as it is printed
        try:
            code = (launcher or Launcher()).run(command, repo_root, env, on_line)
        except LaunchError as error:
            raise StepFailed(f"step {step.name} ({shown}): {error} (log: {log})") from error
    if code != 0:
        while tail and not tail[-1].strip():
            tail.pop()
        raise StepFailed(f"step {step.name} ({shown}) exited {code} (log: {log}):\n" + "\n".join(tail))
    if verbose:
        echo(f"[{step.name}] log: {log}")
    return time.perf_counter() - started


def open_steps(steps: Sequence[Step], repo_root: Path, echo: Echo, also: Sequence[str] = ()) -> Launcher:
    """The launcher of a run's steps (MLOPS_STEP_RUNNER): a warm process starts importing their libraries now.

    `also` names further programs the launcher will run, whose libraries the warm process imports too.
    """
    try:
        return open_launcher(repo_root, [*(step.module for step in steps), *also], echo)
    except ValueError as error:
        raise ConfigError(str(error)) from error


def step_env(repo_root: Path) -> dict[str, str]:
    """The environment of step subprocesses: the repo's src/ first on the import path."""
    path = os.pathsep.join(filter(None, [str(repo_root / "src"), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}
