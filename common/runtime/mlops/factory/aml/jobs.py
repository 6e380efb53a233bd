"""A slot's pipeline on Azure ML: built and validated offline, submitted and streamed; `train` then logs the job
in the factory's MLflow and hands it to the gate and the registry like a local run.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from mlops.factory.aml import assets, pipeline
from mlops.factory.aml.workspace import Environments, Workspace, experiment_name, ml_client
from mlops.factory.gate import EXIT_REJECTED
from mlops.factory.slot_run import gate_and_register
from mlops.pipeline.config import ConfigError, ModelFolder
from mlops.pipeline.lineage import run_tags
from mlops.pipeline.mlflow_logging import finish_tracking, start_tracking
from mlops.pipeline.spec import SpecError
from mlops.pipeline.steps import PipelineRun, default_workdir
from mlops.pipeline.tables import render_table


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
