"""Serving a registered model version on Azure ML, as entities built offline: a managed online endpoint with
blue/green deployments and the traffic steps that bring the new one live, or a batch endpoint.

The model is an MLflow model, so Azure ML builds the scoring server itself: no scoring script, no
environment. A new version goes to the idle colour with no traffic; rollout.py smoke-tests it there and only
then moves traffic (optionally a canary share first, smoke-tested through the endpoint).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlops.factory.aml.entities import as_dict, name_problem
from mlops.factory.aml.workspace import Workspace, endpoint_name
from mlops.pipeline.config import ConfigError, ModelFolder

COLOURS = ("blue", "green")


@dataclass(frozen=True)
class OnlineRollout:
    """The entities of an online deployment and the traffic steps that bring it live."""

    endpoint: Any
    deployment: Any
    live: str | None
    traffic: list[dict[str, int]] = field(default_factory=list)


def idle_colour(live: str | None) -> str:
    """The colour that serves no traffic: the new version goes there."""
    return COLOURS[1] if live == COLOURS[0] else COLOURS[0]


def live_colour(traffic: dict[str, int] | None) -> str | None:
    """The colour that serves the most traffic today, if any."""
    serving = {name: share for name, share in (traffic or {}).items() if share > 0}
    return max(serving, key=lambda name: serving[name]) if serving else None


def traffic_steps(new: str, live: str | None, canary: int = 0) -> list[dict[str, int]]:
    """Traffic after each step: the new colour at 0 %, optionally a canary share, then 100 %."""
    if not 0 <= canary < 100:
        raise ConfigError(f"--canary must be a percentage from 0 to 99, got {canary}")
    steps: list[dict[str, int]] = [{new: 0, live: 100}] if live else [{new: 0}]
    if live and canary:
        steps.append({new: canary, live: 100 - canary})
    steps.append({new: 100, live: 0} if live else {new: 100})
    return steps


def model_reference(name: str, version: str) -> str:
    """The registered model as Azure ML refers to it."""
    return f"azureml:{name}:{version}"


def online_rollout(
    folder: ModelFolder, environment: Workspace, version: str, live_traffic: dict[str, int] | None, canary: int = 0
) -> OnlineRollout:
    """The managed online endpoint, the new deployment on the idle colour and the traffic plan."""
    from azure.ai.ml.entities import ManagedOnlineDeployment, ManagedOnlineEndpoint

    model = folder.config.model_name
    name = endpoint_name(model, environment)
    live = live_colour(live_traffic)
    colour = idle_colour(live)
    tags = {"model": model, "version": version, "environment": environment.name}
    endpoint = ManagedOnlineEndpoint(
        name=name, auth_mode="key", description=f"{model} in {environment.name}", tags=tags
    )
    deployment = ManagedOnlineDeployment(
        name=colour,
        endpoint_name=name,
        model=model_reference(model, version),
        instance_type=folder.config.azure.instance_type,
        instance_count=folder.config.azure.instance_count,
        tags=tags,
    )
    return OnlineRollout(endpoint, deployment, live, traffic_steps(colour, live, canary))


def batch_entities(folder: ModelFolder, environment: Workspace, version: str, compute: str) -> tuple[Any, Any]:
    """A batch endpoint and a deployment of the model version on the compute cluster."""
    from azure.ai.ml.entities import BatchEndpoint, ModelBatchDeployment, ModelBatchDeploymentSettings

    model = folder.config.model_name
    name = endpoint_name(model, environment, "batch")
    tags = {"model": model, "version": version, "environment": environment.name}
    endpoint = BatchEndpoint(name=name, description=f"{model} batch scoring in {environment.name}", tags=tags)
    deployment = ModelBatchDeployment(
        name=f"version-{version}",
        endpoint_name=name,
        model=model_reference(model, version),
        compute=compute,
        settings=ModelBatchDeploymentSettings(instance_count=1, mini_batch_size=10, output_file_name="predictions.csv"),
        tags=tags,
    )
    return endpoint, deployment


def describe(*entities: Any) -> list[dict[str, Any]]:
    """The entities as Azure ML would receive them, for `--dry-run`."""
    return [as_dict(entity) for entity in entities]


def validate(*entities: Any) -> list[str]:
    """Offline checks of endpoint and deployment entities (names, scale settings): the problems found."""
    from azure.ai.ml.exceptions import ValidationException

    problems = []
    for entity in entities:
        problem = name_problem(entity.name, is_deployment=hasattr(entity, "endpoint_name"))
        try:
            as_dict(entity)  # dumping runs the entity's schema
        except ValidationException as error:
            problem = problem or str(error)
        if problem:
            problems.append(f"{type(entity).__name__} {entity.name}: {problem}")
    return problems
