"""`factory`: run a slot end to end (pipeline -> gate -> register), manage aliases, check drift."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.factory import fleet, promote, registry, workflows
from mlops.factory.gate import Verdict, judge, publish, rescore_reason, set_outputs
from mlops.factory.gitrepo import RepoError
from mlops.factory.rescore import rescore
from mlops.pipeline.config import ConfigError, ModelFolder, load_model_folder
from mlops.pipeline.lineage import EVALUATION_DIGEST
from mlops.pipeline.runner import run_pipeline
from mlops.pipeline.spec import SpecError
from mlops.pipeline.steps import PipelineRun, StepFailed, default_workdir
from mlops.pipeline.tables import render_table
from mlops.pipeline.tracking import mlflow_client

if TYPE_CHECKING:
    from mlops.factory import drift

SLOTS_DIR = Path("mlops")
EXIT_REJECTED = 2  # the gate said no: distinct from errors (1) so CI can tell them apart


def slot_folder(model: str) -> Path:
    """The config folder of a slot, with a helpful error if the slot does not exist."""
    folder = SLOTS_DIR / model
    if not (folder / "config.yaml").is_file():
        known = sorted(p.parent.name for p in SLOTS_DIR.glob("*/config.yaml"))
        raise ConfigError(
            f"no model slot {model!r} (no {folder / 'config.yaml'}); slots here: {', '.join(known) or 'none'}. "
            f"Add it with `uv run factory add {model}`, or promote a prototype's model into it"
        )
    return folder


def client() -> Any:
    """An MLflow client on the factory's tracking and registry store, without its start-up chatter."""
    return mlflow_client()


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
        return Path(mlflow.download_artifacts(champion.run_id, "model", str(workdir / "champion-download")))

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
    run = run_pipeline(folder, Path.cwd(), workdir, extra_tags=tags, quiet=quiet, verbose=verbose)
    verdict = gate_and_register(folder, run, workdir, quiet=quiet, verbose=verbose)
    print(f"Slot {model} done in {time.perf_counter() - started:.1f} s")
    return run, verdict


def gate_and_register(
    folder: ModelFolder, run: PipelineRun, workdir: Path, *, quiet: bool = False, verbose: bool = False
) -> Verdict:
    """Judge a finished run against the threshold and the champion; register it only if it passes."""
    model, metric = folder.config.model_name, folder.config.primary_metric
    if metric not in run.metrics:
        raise ConfigError(
            f"{folder.path / 'config.yaml'}: primary_metric {metric!r} is not among the metrics the evaluate step "
            f"wrote ({sorted(run.metrics)})"
        )
    mlflow = client()
    bar, note = champion_bar(mlflow, folder, run, workdir, quiet=quiet, verbose=verbose)
    verdict = judge(folder.config, run.metrics[metric], bar, note)
    print(publish(verdict))
    mlflow.set_tag(run.run_id, "gate.verdict", "passed" if verdict.passed else "rejected")
    if verdict.passed:
        version, changes = registry.register(mlflow, model, run, folder.params, verdict)
        print(f"Registered {model} v{version.version}: " + ", ".join(map(str, changes)))
        set_outputs(verdict="passed", version=str(version.version))
    else:
        print(f"Nothing registered: {model} @champion is unchanged.")
        set_outputs(verdict="rejected")
    return verdict


def status(model: str) -> str:
    """Registered versions of a model with their aliases, metrics and data."""
    slot_folder(model)
    mlflow = client()
    found = registry.versions(mlflow, model)
    by_version: dict[str, list[str]] = {}
    for alias, number in (mlflow.get_registered_model(model).aliases if found else {}).items():
        by_version.setdefault(str(number), []).append(alias)
    rows = []
    for version in found:
        metrics = ", ".join(
            f"{k[7:]}={float(v):.4f}" for k, v in sorted(version.tags.items()) if k.startswith("metric.")
        )
        aliases = ", ".join(f"@{alias}" for alias in sorted(by_version.get(str(version.version), [])))
        dataset = f"{version.tags.get('dataset.name', '?')} v{version.tags.get('dataset.version', '?')}"
        rows.append((f"v{version.version}", aliases, metrics, dataset, version.run_id))
    if not rows:
        return f"{model}: no registered versions yet (run `factory run {model}`)"
    return render_table(["version", "aliases", "metrics", "dataset", "run"], rows)


def drift_check(model: str, production: Path) -> drift.DriftReport:
    from mlops.factory import drift  # pandas and scipy: only this command needs them

    """Compare production predictions with the champion's logged test predictions."""
    folder = load_model_folder(slot_folder(model))
    mlflow = client()
    champion = registry.version_by_alias(mlflow, model, registry.CHAMPION)
    if champion is None:
        raise registry.RegistryError(f"{model} has no @champion yet: nothing to compare with")
    with tempfile.TemporaryDirectory() as tmp:
        reference = mlflow.download_artifacts(champion.run_id, "predictions/predictions.csv", tmp)
        return drift.check_file(Path(reference), production, folder.config.drift.p_value_threshold)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line: one subcommand per job."""
    parser = argparse.ArgumentParser(prog="factory", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a slot locally: pipeline, gate, register")
    run.add_argument("model")
    run.add_argument("--workdir", type=Path, help="where step outputs go (default: outputs/<model>/<timestamp>)")
    run.add_argument("-q", "--quiet", action="store_true", help="show only step timings and results, not step output")
    run.add_argument("-v", "--verbose", action="store_true", help="also show each step's command and log file")
    add = commands.add_parser("add", help="add a model slot at the factory's template version (copier copy)")
    add.add_argument("model", help="the model name: a lowercase Python identifier, permanent")
    add.add_argument("--problem-type", choices=["classification", "regression"], default="classification")
    add.add_argument("--data", action="append", default=[], metavar="QUESTION=ANSWER", help="another slot answer")
    commands.add_parser("promote-champion", help="approve: @challenger becomes @champion").add_argument("model")
    rollback = commands.add_parser("rollback", help="point @champion at an earlier version")
    rollback.add_argument("model")
    rollback.add_argument("--to", required=True, dest="version", help="the version number to restore")
    commands.add_parser("status", help="registered versions and aliases of a model").add_argument("model")
    commands.add_parser("check", help="the slot's workflows agree with its config (retraining cron)").add_argument(
        "model"
    )
    check = commands.add_parser("drift", help="compare production predictions with the champion's test predictions")
    check.add_argument("model")
    check.add_argument("--predictions", type=Path, required=True, help="CSV with a `score` or `prediction` column")
    promote.add_arguments(commands.add_parser("promote", help="bring a prototype's model into its slot"))
    update = commands.add_parser("update", help="copier update the base and every slot, one commit each")
    update.add_argument("--only", metavar="MODEL", help="update only this slot")
    update.add_argument("--vcs-ref", help="template version to update to (default: the latest release)")
    from mlops.factory import modelpage  # imported with its subcommand, like aml below

    modelpage.add_arguments(commands.add_parser("docs", help="write the generated part of docs/models/<model>.md"))
    from mlops.factory.aml import commands as aml  # imported here: aml imports this module

    aml.add_arguments(commands.add_parser("aml", help="Azure ML: submit, train, data assets, deploy (azure extra)"))
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `factory` command; run it from the factory's root."""
    args = parse_args(argv)
    try:
        if args.command == "run":
            _, verdict = run_slot(args.model, args.workdir, quiet=args.quiet, verbose=args.verbose)
            return 0 if verdict.passed else EXIT_REJECTED
        if args.command == "add":
            answers = dict(item.split("=", 1) for item in args.data if "=" in item)
            print(fleet.add_slot(Path.cwd(), args.model, {"problem_type": args.problem_type, **answers}))
            print(f"Commit it: git add -A && git commit -m 'Add the {args.model} slot'")
        elif args.command == "promote-champion":
            print(f"{args.model} {registry.promote_champion(client(), args.model)}")
        elif args.command == "rollback":
            print(f"{args.model} {registry.rollback(client(), args.model, args.version)}")
        elif args.command == "status":
            print(status(args.model))
        elif args.command == "check":
            problems = workflows.schedule_problems(Path.cwd(), load_model_folder(slot_folder(args.model)))
            print("\n".join(problems) or f"{args.model}: workflows agree with mlops/{args.model}/config.yaml")
            return 1 if problems else 0
        elif args.command == "promote":
            return promote.run(args)
        elif args.command == "aml":
            from mlops.factory.aml import commands as aml

            return aml.run(args, slot_folder)
        elif args.command == "docs":
            from mlops.factory import modelpage

            return modelpage.run(args, slot_folder, SLOTS_DIR)
        elif args.command == "update":
            return 1 if fleet.update_fleet(Path.cwd(), args.only, args.vcs_ref).stopped_at else 0
        elif args.command == "drift":
            report = drift_check(args.model, args.predictions)
            print(report.table())
            return 1 if report.drifted else 0
    except (ConfigError, SpecError, StepFailed, registry.RegistryError, RepoError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
