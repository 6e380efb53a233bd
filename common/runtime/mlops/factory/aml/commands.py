"""`factory aml ...`: run a slot on Azure ML, register its data, deploy its models; `--dry-run` stays offline.

factory aml submit MODEL --env dev [--tier dev] [--dry-run]   build, validate, submit, stream
factory aml train MODEL --env prod [--tier prod] [--dry-run]  submit, then gate and register (MLFLOW_TRACKING_URI)
factory aml data MODEL --env dev [--tier dev|prod] [--dry-run]
factory aml deploy MODEL --env staging --version 3 [--batch] [--canary 10] [--dry-run]
factory aml tracking-uri --env prod                           the workspace's MLflow URI
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from mlops.factory.aml import assets, deploy, pipeline
from mlops.factory.aml.workspace import (
    Environments,
    Workspace,
    endpoint_name,
    experiment_name,
    load_environments,
    ml_client,
    workspace_tracking_uri,
)
from mlops.factory.cli import EXIT_REJECTED, gate_and_register
from mlops.factory.gitrepo import RepoError, git
from mlops.pipeline.config import ConfigError, ModelFolder, load_model_folder
from mlops.pipeline.lineage import run_tags
from mlops.pipeline.mlflow_logging import finish_tracking, start_tracking
from mlops.pipeline.spec import SpecError
from mlops.pipeline.steps import PipelineRun, default_workdir
from mlops.pipeline.tables import render_table

EXTRA_HINT = "the Azure ML commands need the azure extra: run `uv sync --extra azure`"


def current_branch(repo_root: Path) -> str:
    """The branch being built: GitHub's head or ref name in Actions, else git's current branch."""
    for variable in ("GITHUB_HEAD_REF", "GITHUB_REF_NAME"):
        if os.environ.get(variable):
            return os.environ[variable]
    try:
        return git(repo_root, "rev-parse", "--abbrev-ref", "HEAD").strip() or "detached"
    except RepoError:
        return "detached"


def require_azure() -> None:
    """Fail with the install hint when the azure extra is missing."""
    try:
        import azure.ai.ml  # noqa: F401
    except ImportError as error:
        raise ConfigError(EXTRA_HINT) from error


def build(
    folder: ModelFolder, repo_root: Path, environments: Environments, tier: assets.Tier, branch: str
) -> tuple[pipeline.AmlPipeline, assets.DataAsset]:
    """The data asset of the tier and the pipeline reading it, validated offline (SpecError on any problem)."""
    asset = assets.data_asset(folder, repo_root, tier)
    compute = folder.config.azure.compute or environments.compute
    built = pipeline.build_pipeline(
        folder,
        repo_root,
        compute=compute,
        experiment=experiment_name(folder.config.model_name, branch),
        dataset=asset.reference,
        dataset_type=asset.entity.type,
    )
    problems = pipeline.validate(built)
    if problems:
        raise SpecError(f"{folder.pipeline.source}: Azure ML validation failed:\n  " + "\n  ".join(problems))
    return built, asset


def summary(built: pipeline.AmlPipeline, asset: assets.DataAsset, env: Workspace) -> str:
    """What would run where: steps with their commands, compute, environment, experiment and data."""
    rows = [(name, component.command) for name, component in built.components.items()]
    facts = [
        ("workspace", f"{env.name}: {env.workspace} ({env.resource_group})"),
        ("experiment", built.experiment),
        ("compute", built.compute),
        ("environment", f"{built.environment.name}:{built.environment.version} on {built.environment.image}"),
        ("data", f"{asset.reference} (digest {asset.digest})"),
    ]
    return render_table(["step", "command"], rows) + "\n" + render_table(["", ""], facts)


def submit(client: Any, built: pipeline.AmlPipeline, *, wait: bool = True) -> Any:
    """Create the environment version if new, submit the job and stream its logs until it ends."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        client.environments.get(built.environment.name, version=built.environment.version)
    except ResourceNotFoundError:
        client.environments.create_or_update(built.environment)
    job = client.jobs.create_or_update(built.job, experiment_name=built.experiment)
    print(f"Submitted {job.name}: {job.studio_url}")
    if wait:
        client.jobs.stream(job.name)
        job = client.jobs.get(job.name)
        if job.status != "Completed":
            raise ConfigError(f"Azure ML job {job.name} ended {job.status}: {job.studio_url}")
    return job


def download_outputs(client: Any, job: Any, folder: ModelFolder, workdir: Path) -> dict[str, dict[str, Path]]:
    """Every step output of a finished job, in the layout of a local run's outputs."""
    client.jobs.download(job.name, download_path=str(workdir), all=True)
    named = workdir / "named-outputs"
    return {
        step.name: {output: named / pipeline.pipeline_output(step.name, output) for output in step.outputs}
        for step in folder.pipeline.steps
    }


def train(
    args: argparse.Namespace, env: Workspace, folder: ModelFolder, built: pipeline.AmlPipeline, asset: Any
) -> int:
    """Train on Azure ML, then log, gate and register in the factory's MLflow registry (MLFLOW_TRACKING_URI).

    The registry is not the workspace's MLflow: see docs/azure.md (azureml-mlflow cannot upload artifacts
    with MLflow 3.17, and Azure ML's registry has no aliases).
    """
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if not uri or uri.startswith("sqlite"):
        raise ConfigError(
            "set MLFLOW_TRACKING_URI to the factory's MLflow server before `factory aml train`: the gate and the "
            "registry must be shared by every run (docs/azure.md)"
        )
    client = ml_client(env)
    job = submit(client, built)
    workdir = (args.workdir or default_workdir(Path.cwd(), folder.config.model_name)).resolve()
    outputs = download_outputs(client, job, folder, workdir)
    extra = {"factory.slot": folder.config.model_name, "azureml.job": job.name, "azureml.workspace": env.workspace}
    tags = run_tags(folder, Path.cwd(), asset.digest, asset.reference, workdir, extra)
    run = finish_tracking(
        start_tracking(folder, tags, uri=uri), folder, PipelineRun("", "", {}, outputs, {}, asset.digest, tags), None
    )
    return 0 if gate_and_register(folder, run, workdir).passed else EXIT_REJECTED


def deploy_model(args: argparse.Namespace, folder: ModelFolder, environments: Environments) -> int:
    """Build (and unless --dry-run, apply) the endpoint entities of a registered version."""
    env = environments.get(args.env)
    compute = folder.config.azure.compute or environments.compute
    client: Any = None if args.dry_run else ml_client(env)
    if args.batch:
        entities = deploy.batch_entities(folder, env, args.version, compute)
        plan: list[dict[str, int]] = []
    else:
        live = None if client is None else _live_traffic(client, endpoint_name(folder.config.model_name, env))
        rollout = deploy.online_rollout(folder, env, args.version, live, args.canary)
        entities, plan = (rollout.endpoint, rollout.deployment), rollout.traffic
    problems = deploy.validate(*entities)
    if problems:
        raise ConfigError("deployment entities are invalid:\n  " + "\n  ".join(problems))
    if args.dry_run:
        print(yaml.safe_dump(deploy.describe(*entities), sort_keys=False))
        if plan:
            print("traffic steps: " + " -> ".join(str(step) for step in plan))
        return 0
    deploy.ensure_model(client, folder.config.model_name, args.version, lambda: _download_model(args))
    if args.batch:
        endpoint, deployment = entities
        client.batch_endpoints.begin_create_or_update(endpoint).result()
        client.batch_deployments.begin_create_or_update(deployment).result()
        print(f"Batch endpoint {endpoint.name}: deployment {deployment.name} ready")
        return 0
    with tempfile.TemporaryDirectory() as work:
        deploy.roll_out(client, rollout, deploy.sample_request(folder, Path.cwd()), Path(work))
    return 0


def _live_traffic(client: Any, name: str) -> dict[str, int] | None:
    """The endpoint's traffic split, or None when the endpoint does not exist yet."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return dict(client.online_endpoints.get(name).traffic or {})
    except ResourceNotFoundError:
        return None


def _download_model(args: argparse.Namespace) -> Path:
    """The model version's files from the factory's MLflow registry."""
    import mlflow.artifacts

    target = Path(tempfile.mkdtemp(prefix="model-"))
    uri = f"models:/{args.model}/{args.version}"
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(target)))


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


def run(args: argparse.Namespace, folder_of: Any) -> int:
    """Run one `factory aml` subcommand; `folder_of(model)` is the slot's config folder."""
    require_azure()
    repo_root = Path.cwd()
    environments = load_environments(repo_root)
    if args.aml_command == "tracking-uri":
        env = environments.get(args.env)
        print(workspace_tracking_uri(ml_client(env), env))
        return 0
    folder = load_model_folder(folder_of(args.model))
    if args.aml_command == "deploy":
        return deploy_model(args, folder, environments)
    env = environments.get(args.env)
    if args.aml_command == "data":
        asset = assets.data_asset(folder, repo_root, args.tier)
        if args.dry_run:
            print(yaml.safe_dump(assets.describe(asset), sort_keys=False))
            return 0
        registered = assets.register(ml_client(env), asset)
        print(f"Data asset {registered.name}:{registered.version} ({asset.digest})")
        return 0
    built, asset = build(folder, repo_root, environments, args.tier, args.branch or current_branch(repo_root))
    print(summary(built, asset, env))
    if args.dry_run:
        target = pipeline.dump_job(built, Path(tempfile.mkdtemp(prefix="aml-job-")) / f"{args.model}.yaml")
        print(f"Valid offline. Job YAML (absolute local paths, do not commit): {target}")
        return 0
    if args.aml_command == "train":
        return train(args, env, folder, built, asset)
    submit(ml_client(env), built)
    return 0
