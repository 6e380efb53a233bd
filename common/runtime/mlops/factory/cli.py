"""`factory`: run a slot end to end (pipeline -> gate -> register), manage aliases, check drift."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from mlops.factory import drift_command, fleet, promote, registry, scoring, serving, templating, update_prs, workflows
from mlops.factory import status as version_status
from mlops.factory.gate import EXIT_REJECTED
from mlops.factory.gitrepo import RepoError
from mlops.factory.slot import Slot, slot_folder
from mlops.factory.slot_run import run_slot
from mlops.pipeline.config import ConfigError, load_model_folder
from mlops.pipeline.spec import SpecError
from mlops.pipeline.steps import StepFailed


def status(model: str) -> str:
    """Registered versions of a model with their aliases, metrics and data."""
    slot_folder(model)
    return version_status.report(model)


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
    approve = commands.add_parser("promote-champion", help="approve: @challenger becomes @champion")
    approve.add_argument("model")
    approve.add_argument("--version", help="the version approved: refuse if @challenger is another one")
    rollback = commands.add_parser("rollback", help="point @champion at an earlier version")
    rollback.add_argument("model")
    rollback.add_argument("--to", required=True, dest="version", help="the version number to restore")
    commands.add_parser("status", help="registered versions and aliases of a model").add_argument("model")
    commands.add_parser("check", help="the slot's workflows agree with its config (retraining cron)").add_argument(
        "model"
    )
    drift_command.add_arguments(commands.add_parser("drift", help="production data against the champion's test rows"))
    serve = commands.add_parser("serve", help="serve a registered model locally through MLflow's scoring server")
    serve.add_argument("model")
    serve.add_argument("--alias", default=registry.CHAMPION, help="the registry alias to serve (default: champion)")
    serve.add_argument("--port", type=int, default=serving.DEFAULT_PORT, help="the port on 127.0.0.1 (default: 5000)")
    serve.add_argument("--host", default=serving.LOCALHOST, help="the address to bind (default: 127.0.0.1)")
    score = commands.add_parser("score", help="score a CSV file of rows with a registered model, input checked")
    score.add_argument("model")
    score.add_argument("--alias", default=registry.CHAMPION, help="the registry alias to use (default: champion)")
    score.add_argument("--input", type=Path, required=True, help="CSV file with the model's input columns")
    score.add_argument("--output", type=Path, required=True, help="CSV file to write: the rows with their predictions")
    promote.add_arguments(commands.add_parser("promote", help="bring a prototype's model into its slot"))
    update = commands.add_parser("update", help="copier update the base and every slot, one commit each")
    update.add_argument("--only", metavar="MODEL", help="update only this slot")
    update.add_argument("--vcs-ref", help="template version to update to (default: the latest release)")
    prs = commands.add_parser("update-prs", help="push one template-update branch per application, for pull requests")
    prs.add_argument("--remote", default="origin", help="where the branches go (never the default branch)")
    prs.add_argument("--only", metavar="MODEL", help="propose only this slot's update")
    prs.add_argument("--vcs-ref", help="template version to update to (default: the latest release)")
    prs.add_argument("--plan", type=Path, help="write the pull requests to open (JSON: branch, title, body, labels)")
    from mlops.factory import modelpage  # imported with its subcommand, like aml below

    page = Slot("<model>").page
    modelpage.add_arguments(commands.add_parser("docs", help=f"write the generated part of {page}"))
    from mlops.factory.aml import commands as aml  # imported with its subcommand: Azure ML is an extra

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
            print(templating.add_slot(Path.cwd(), args.model, {"problem_type": args.problem_type, **answers}))
            print(f"Commit it: git add -A && git commit -m 'Add the {args.model} slot'")
        elif args.command == "promote-champion":
            print(f"{args.model} {registry.promote_champion(registry.client(), args.model, args.version)}")
        elif args.command == "rollback":
            print(f"{args.model} {registry.rollback(registry.client(), args.model, args.version)}")
        elif args.command == "status":
            print(status(args.model))
        elif args.command == "check":
            problems = workflows.schedule_problems(Path.cwd(), load_model_folder(slot_folder(args.model)))
            print("\n".join(problems) or f"{args.model}: workflows agree with {Slot(args.model).config}")
            return 1 if problems else 0
        elif args.command == "serve":
            slot_folder(args.model)
            return serving.serve(args.model, args.alias, args.port, args.host)
        elif args.command == "score":
            slot_folder(args.model)
            print(scoring.score_file(args.model, args.alias, args.input, args.output))
        elif args.command == "promote":
            return promote.run(args)
        elif args.command == "aml":
            from mlops.factory.aml import commands as aml

            return aml.run(args)
        elif args.command == "docs":
            from mlops.factory import modelpage

            return modelpage.run(args)
        elif args.command == "update":
            return 1 if fleet.update_fleet(Path.cwd(), args.only, args.vcs_ref).stopped_at else 0
        elif args.command == "update-prs":
            plan = update_prs.propose(Path.cwd(), args.remote, args.vcs_ref, args.only)
            if args.plan:
                plan.write(args.plan)
            print(f"{len(plan.proposals)} update branch(es) pushed to {args.remote}")
        elif args.command == "drift":
            return drift_command.run(args)
    except (ConfigError, SpecError, StepFailed, registry.RegistryError, RepoError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
