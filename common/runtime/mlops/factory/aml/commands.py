"""`factory aml ...`: run a slot on Azure ML, register its data, deploy its models; `--dry-run` stays offline.

factory aml submit MODEL --env dev [--tier dev] [--dry-run]   build, validate, submit, stream
factory aml train MODEL --env prod [--tier prod] [--dry-run]  submit, then gate and register (MLFLOW_TRACKING_URI)
factory aml data MODEL --env dev [--tier dev|prod] [--dry-run]
factory aml deploy MODEL --env staging --version 3 [--batch] [--canary 10] [--dry-run]
factory aml tracking-uri --env prod                           the workspace's MLflow URI
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import yaml

from mlops.factory.aml import assets, jobs, pipeline, rollout
from mlops.factory.aml.workspace import load_environments, ml_client, workspace_tracking_uri
from mlops.factory.github_actions import head_branch
from mlops.factory.gitrepo import current_branch
from mlops.factory.slot import slot_folder
from mlops.pipeline.config import ConfigError, load_model_folder

EXTRA_HINT = "the Azure ML commands need the azure extra: run `uv sync --extra azure`"


def require_azure() -> None:
    """Fail with the install hint when the azure extra is missing."""
    try:
        import azure.ai.ml  # noqa: F401
    except ImportError as error:
        raise ConfigError(EXTRA_HINT) from error


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `factory aml` subcommands."""
    commands = parser.add_subparsers(dest="aml_command", required=True)
    for name, text in (
        ("submit", "build, validate and submit the slot's pipeline (--dry-run: offline, job YAML to a temp file)"),
        ("train", "train on Azure ML, then gate and register in the factory's MLflow registry"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("model")
        sub.add_argument("--env", required=True, help="environment in mlops/environments.yaml")
        sub.add_argument("--tier", choices=assets.TIERS, default="dev" if name == "submit" else "prod")
        sub.add_argument("--branch", help="branch for the experiment name (default: the current branch)")
        sub.add_argument("--workdir", type=Path, help="where the job's outputs are downloaded")
        sub.add_argument("--dry-run", action="store_true", help="build and validate offline; submit nothing")
    data = commands.add_parser("data", help="register the dev or prod data asset of a slot")
    data.add_argument("model")
    data.add_argument("--env", required=True)
    data.add_argument("--tier", choices=assets.TIERS, default="dev")
    data.add_argument("--dry-run", action="store_true", help="print the entity; register nothing")
    serve = commands.add_parser("deploy", help="deploy a registered version: online blue/green or batch")
    serve.add_argument("model")
    serve.add_argument("--env", required=True)
    serve.add_argument("--version", required=True, help="registered model version")
    serve.add_argument("--batch", action="store_true", help="a batch endpoint instead of an online one")
    serve.add_argument("--canary", type=int, default=0, help="percent of traffic to try before 100 (default 0)")
    serve.add_argument("--dry-run", action="store_true", help="print the entities and traffic steps; deploy nothing")
    uri = commands.add_parser("tracking-uri", help="print the workspace's MLflow tracking URI (where its jobs log)")
    uri.add_argument("--env", required=True)


def run(args: argparse.Namespace) -> int:
    """Run one `factory aml` subcommand."""
    require_azure()
    repo_root = Path.cwd()
    environments = load_environments(repo_root)
    if args.aml_command == "tracking-uri":
        env = environments.get(args.env)
        print(workspace_tracking_uri(ml_client(env), env))
        return 0
    folder = load_model_folder(slot_folder(args.model))
    if args.aml_command == "deploy":
        return rollout.deploy_model(args, folder, environments)
    env = environments.get(args.env)
    if args.aml_command == "data":
        asset = assets.data_asset(folder, repo_root, args.tier)
        if args.dry_run:
            print(yaml.safe_dump(assets.describe(asset), sort_keys=False))
            return 0
        registered = assets.register(ml_client(env), asset)
        print(f"Data asset {registered.name}:{registered.version} ({asset.digest})")
        return 0
    branch = args.branch or head_branch() or current_branch(repo_root)
    built, asset = jobs.build(folder, repo_root, environments, args.tier, branch)
    print(jobs.summary(built, asset, env))
    if args.dry_run:
        target = pipeline.dump_job(built, Path(tempfile.mkdtemp(prefix="aml-job-")) / f"{args.model}.yaml")
        print(f"Valid offline. Job YAML (absolute local paths, do not commit): {target}")
        return 0
    if args.aml_command == "train":
        return jobs.train(args, env, folder, built, asset)
    jobs.submit(ml_client(env), built)
    return 0
