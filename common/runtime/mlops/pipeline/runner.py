"""Run a model's pipeline locally: each step as its own process, all of it in one MLflow run.

Steps are forked from a warm process that imported their libraries once (see launcher.py), and their output is
streamed with the step's name and saved beside their outputs. MLflow start-up (imports, database migrations) happens
on a second thread while the steps run, so a two-core machine spends that time in parallel with the first steps.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import shutil
import sys
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops.pipeline.config import ConfigError, ModelFolder, load_model_folder
from mlops.pipeline.launcher import MODE_VARIABLE, Launcher, LaunchError, open_launcher
from mlops.pipeline.spec import Reference, SpecError, Step
from mlops.pipeline.tables import render_table
from mlops.pipeline.tracking import (
    ANSWERS_FILE,
    content_digest,
    git_commit,
    git_state,
    quiet_mlflow_logs,
    source_digest,
    template_version,
    tracking_uri,
)

Echo = Callable[[str], None]
STDERR_TAIL_LINES = 40
# What the evaluate step scored and how, recorded on every run: the gate reuses a champion's logged score only
# when the champion's evaluation digest equals the candidate's (same rows, same evaluate code and args, same metric).
EVALUATION_DIGEST = "evaluation.digest"
EVALUATION_ROWS = "evaluation.rows_digest"
EVALUATION_STEP = "evaluation.step_digest"
EVALUATION_METRIC = "evaluation.metric"
EVALUATION_TAGS = (EVALUATION_DIGEST, EVALUATION_ROWS, EVALUATION_STEP, EVALUATION_METRIC)
STEP_RUNNER_TAG = "pipeline.step_runner"  # warm or subprocess: how the steps were started (timings depend on it)


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
            from mlflow import MlflowClient

            quiet_mlflow_logs()

            self.client = MlflowClient(tracking_uri=self.uri)
            found = self.client.get_experiment_by_name(self.experiment)
            self.experiment_id = found.experiment_id if found else self.client.create_experiment(self.experiment)
            run = self.client.create_run(self.experiment_id, run_name=self.run_name, tags=self.tags)
            self.run_id = run.info.run_id
        except BaseException as error:  # re-raised on the main thread by ready()
            self.error = error

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


def open_steps(folder: ModelFolder, repo_root: Path, echo: Echo) -> Launcher:
    """The launcher of a run's steps (MLOPS_STEP_RUNNER): a warm process starts importing their libraries now."""
    try:
        return open_launcher(repo_root, [step.module for step in folder.pipeline.steps], echo)
    except ValueError as error:
        raise ConfigError(str(error)) from error


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
) -> PipelineRun:
    """Run every step of the folder's pipeline and log the whole run to MLflow.

    Each step's output is streamed as `[step] line` (not when `quiet`: then only step timings and the results);
    `verbose` also shows each step's command and log file, and how the steps are started.
    """
    data = repo_root / folder.dataset.path
    if not data.exists():
        raise ConfigError(
            f"{folder.path / 'dataset.yaml'}: path: {folder.dataset.path} does not exist under {repo_root}"
        )
    launcher = open_steps(folder, repo_root, echo)  # first: its imports overlap the digest, git and MLflow start-up
    try:
        digest = content_digest(data)
        tags = run_tags(folder, repo_root, digest, folder.dataset.path, workdir, extra_tags)
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
        except BaseException:
            launcher.close()  # before waiting for MLflow: no step or warm process outlives a failure
            tracker.fail({name: path for name, path in logs.items() if path.is_file()})
            raise
    finally:
        launcher.close()
    result = PipelineRun("", "", {}, outputs, timings, digest, {**tags, STEP_RUNNER_TAG: launcher.mode}, logs)
    return finish_tracking(tracker, folder, result, data, echo, repo_root=repo_root)


def run_tags(
    folder: ModelFolder,
    repo_root: Path,
    digest: str,
    data: str,
    workdir: Path,
    extra_tags: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """A run's lineage tags: model, dataset name, version, digest and location, git commit, template version."""
    tags = {
        "model_name": folder.config.model_name,
        "dataset.name": folder.dataset.name,
        "dataset.version": folder.dataset.version,
        "dataset.digest": digest,
        "dataset.path": data,
        "pipeline.workdir": relative(workdir, repo_root),
    }
    commit = git_commit(repo_root)
    if commit:
        tags["mlflow.source.git.commit"] = commit
    tags.update(git_state(repo_root))
    tags.update(promotion_tags(folder.path / "promotion.yaml"))
    version = template_version(folder.path / ANSWERS_FILE) or template_version(repo_root / ANSWERS_FILE)
    if version:
        tags["template.version"] = version
    tags.update(extra_tags or {})
    return tags


def relative(path: Path, root: Path) -> str:
    """A path as people share it: relative to the repository when inside it (no local absolute paths)."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def promotion_tags(provenance: Path) -> dict[str, str]:
    """Which prototype commit a factory slot's code came from (its promotion.yaml), as run tags."""
    if not provenance.is_file():
        return {}
    import yaml

    recorded = yaml.safe_load(provenance.read_text(encoding="utf-8")) or {}
    keys = ("source", "source_remote", "source_commit")
    return {f"promotion.{key}": str(recorded[key]) for key in keys if recorded.get(key)}


def start_tracking(
    folder: ModelFolder, tags: dict[str, str], *, uri: str | None = None, run_name: str | None = None
) -> _Tracker:
    """Open the MLflow run on a second thread while the caller runs the steps."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    tracker = _Tracker(
        uri or tracking_uri(), folder.config.experiment_name, run_name or f"{folder.config.model_name}-{stamp}", tags
    )
    tracker.start()
    return tracker


def finish_tracking(
    tracker: _Tracker,
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
        evaluation = evaluation_tags(folder, result.outputs, result.dataset_digest, repo_root or Path.cwd())
        result.tags = {**result.tags, **evaluation}  # a new dict: the tracker thread may still read the old one
    except BaseException:
        tracker.fail()
        raise
    client = tracker.ready()
    _log_run(client, tracker.run_id, folder, result, data)
    result.run_id, result.experiment_id = tracker.run_id, tracker.experiment_id
    echo(render_table(["metric", "value"], sorted(result.metrics.items())))
    echo(f"MLflow run {result.run_id} in experiment {folder.config.experiment_name!r} at {tracker.uri}")
    return result


def _log_run(client: Any, run_id: str, folder: ModelFolder, result: PipelineRun, data: Path | None) -> None:
    """Log params, metrics, step timings, the dataset and every result folder to the run."""
    from mlflow.entities import DatasetInput, InputTag, Metric, Param, RunTag

    now = int(time.time() * 1000)
    metrics = [Metric(k, v, now, 0) for k, v in result.metrics.items()]
    metrics += [Metric(f"step_seconds.{name}", round(s, 3), now, 0) for name, s in result.timings.items()]
    params = [Param(k, v[:6000]) for k, v in flatten(folder.params).items()]
    tags = [RunTag(key, result.tags[key]) for key in (*EVALUATION_TAGS, STEP_RUNNER_TAG) if key in result.tags]
    client.log_batch(run_id, metrics=metrics, params=params, tags=tags)
    if data is not None:
        client.log_inputs(run_id, datasets=[_dataset_input(folder, data, DatasetInput, InputTag)])
    for key in ("model", "score_report", "predictions"):
        client.log_artifacts(run_id, str(result.result(folder, key)), key)
    _log_step_logs(client, run_id, result.logs)
    client.set_terminated(run_id, status="FINISHED")


def _log_step_logs(client: Any, run_id: str, logs: Mapping[str, Path]) -> None:
    """Each step's saved output as the run's `logs/<step>.log`."""
    for path in logs.values():
        client.log_artifact(run_id, str(path), "logs")


def _dataset_input(folder: ModelFolder, data: Path, dataset_input: Any, input_tag: Any) -> Any:
    """The dataset as an MLflow input: name, version, source path and MLflow's content digest."""
    import mlflow.data
    import pandas as pd

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
        entity = dataset._to_mlflow_entity()
    return dataset_input(entity, tags=[input_tag("mlflow.data.context", "training")])


def evaluation_tags(
    folder: ModelFolder, outputs: Mapping[str, Mapping[str, Path]], dataset_digest: str, repo_root: Path
) -> dict[str, str]:
    """Digests of what the evaluate step scored (its inputs but the model) and how (module, args, code, metric).

    Empty when a part cannot be read: the gate then re-scores the champion rather than trust a logged score.
    """
    step = folder.pipeline.step(folder.pipeline.results["score_report"].source)
    model = folder.pipeline.results["model"]
    paths = resolve_inputs(step, bindings(folder, repo_root), outputs, repo_root)
    rows: dict[str, str] = {}
    for flag, value in sorted(step.inputs.items()):
        if value == model:
            continue
        if value == Reference("dataset"):  # the digest the run was given: on Azure ML the data is not local
            rows[flag] = dataset_digest
        elif paths[flag].exists():
            rows[flag] = content_digest(paths[flag])
        else:
            return {}
    code = step_package(step, repo_root)
    if code is None:
        return {}
    direction = "higher" if folder.config.greater_is_better else "lower"
    parts = {
        EVALUATION_ROWS: _json_digest(rows),
        EVALUATION_STEP: _json_digest({"module": step.module, "args": step.args, "code": source_digest(code)}),
        EVALUATION_METRIC: f"{folder.config.primary_metric} ({direction} is better)",
    }
    return {EVALUATION_DIGEST: _json_digest(parts), **parts}


def step_package(step: Step, repo_root: Path) -> Path | None:
    """The model package a step's module lives in (src/<package>/ by the step contract), or None if elsewhere."""
    top = step.module.split(".")[0]
    found = [path for path in (repo_root / "src" / top, repo_root / "src" / f"{top}.py") if path.exists()]
    return found[0] if found else None


def _json_digest(value: Any) -> str:
    """sha256 of a value's canonical JSON."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def rescore(folder: ModelFolder, run: PipelineRun, model_dir: Path, workdir: Path, repo_root: Path) -> dict[str, float]:
    """Metrics of another model (e.g. the champion) from this run's evaluate step on this run's test data."""
    report = folder.pipeline.results["score_report"]
    step = folder.pipeline.step(report.source)
    model_result = folder.pipeline.results["model"]
    outputs = step_outputs(step, workdir)
    inputs = resolve_inputs(step, bindings(folder, repo_root), run.outputs, repo_root)
    for flag, value in step.inputs.items():
        if value == model_result:
            inputs[flag] = model_dir
    run_step(step, {**inputs, **outputs}, repo_root, log=step_log(step, workdir))
    return read_metrics(outputs[str(report.output)])


def step_env(repo_root: Path) -> dict[str, str]:
    """The environment of step subprocesses: the repo's src/ first on the import path."""
    path = os.pathsep.join(filter(None, [str(repo_root / "src"), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def copy_figures(score_report: Path, figures: Path) -> list[Path]:
    """Copy the evaluation plots where people look for them (e.g. reports/figures/)."""
    figures.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy2(png, figures / png.name)) for png in sorted(score_report.glob("*.png"))]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags of the local runner."""
    parser = argparse.ArgumentParser(prog="pipeline", description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, nargs="?", default=Path("configs"), help="the model's config folder")
    parser.add_argument("--workdir", type=Path, help="where step outputs go (default: outputs/<model>/<timestamp>)")
    parser.add_argument("--figures", type=Path, help="also copy the evaluation plots into this folder")
    output = parser.add_mutually_exclusive_group()  # how much people see; each step's log holds all of its output
    output.add_argument(
        "-q", "--quiet", action="store_true", help="show only step timings and results, not step output"
    )
    output.add_argument("-v", "--verbose", action="store_true", help="also show each step's command and log file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the pipeline of a config folder from the repository root."""
    args = parse_args(argv)
    repo_root = Path.cwd()
    try:
        folder = load_model_folder(args.folder)
        workdir = args.workdir or default_workdir(repo_root, folder.config.model_name)
        started = time.perf_counter()
        run = run_pipeline(folder, repo_root, workdir.resolve(), quiet=args.quiet, verbose=args.verbose)
    except (ConfigError, SpecError, StepFailed) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # the steps and the warm process are already stopped
        print("interrupted", file=sys.stderr)
        return 130
    if args.figures:
        for png in copy_figures(run.result(folder, "score_report"), args.figures):
            print(f"  plot {png}")
    print(f"Done in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
