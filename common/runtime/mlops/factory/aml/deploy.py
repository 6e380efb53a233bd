"""Serving a registered model version on Azure ML: a managed online endpoint with blue/green deployments,
or a batch endpoint, each followed by a smoke test with sample rows of the slot's dev data.

The model is an MLflow model, so Azure ML builds the scoring server itself: no scoring script, no
environment. A new version goes to the idle colour with no traffic, is smoke-tested directly, and only
then receives traffic (optionally a canary share first, smoke-tested through the endpoint).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops.factory.aml.workspace import Workspace, endpoint_name
from mlops.pipeline.config import ConfigError, ModelFolder

COLOURS = ("blue", "green")
SMOKE_ROWS = 5


class DeployError(RuntimeError):
    """A deployment or its smoke test failed; traffic was not moved to the new version."""


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


def sample_request(folder: ModelFolder, repo_root: Path, rows: int = SMOKE_ROWS) -> dict[str, Any]:
    """The first rows of the dev data without the target, as an MLflow scoring request."""
    import pandas as pd

    data = repo_root / folder.dataset.path
    files = sorted(data.glob("*.csv")) if data.is_dir() else [data]
    frame = pd.read_csv(files[0], nrows=rows).drop(columns=[folder.dataset.target], errors="ignore")
    split = json.loads(frame.to_json(orient="split", index=True))
    return {"input_data": split}


def check_predictions(body: str, rows: int) -> list[Any]:
    """The predictions of a smoke-test response, or DeployError saying what was wrong with it."""
    try:
        data = json.loads(body)
    except json.JSONDecodeError as error:
        raise DeployError(f"smoke test: the endpoint did not answer with JSON: {body[:200]!r}") from error
    predictions = data.get("predictions", data) if isinstance(data, dict) else data
    if not isinstance(predictions, list) or len(predictions) != rows:
        raise DeployError(f"smoke test: expected {rows} predictions, got {str(data)[:200]}")
    if any(isinstance(p, float) and not math.isfinite(p) for p in predictions):
        raise DeployError(f"smoke test: non-finite predictions {predictions}")
    return predictions


def describe(*entities: Any) -> list[dict[str, Any]]:
    """The entities as Azure ML would receive them, for `--dry-run`."""
    return [json.loads(json.dumps(entity._to_dict())) for entity in entities]  # plain dicts, no OrderedDict


def validate(*entities: Any) -> list[str]:
    """Offline checks of endpoint and deployment entities (names, scale settings): the problems found."""
    from azure.ai.ml.entities._endpoint._endpoint_helpers import validate_endpoint_or_deployment_name
    from azure.ai.ml.exceptions import ValidationException

    problems = []
    for entity in entities:
        is_deployment = hasattr(entity, "endpoint_name")
        try:
            validate_endpoint_or_deployment_name(entity.name, is_deployment=is_deployment)
            entity._to_dict()
        except ValidationException as error:
            problems.append(f"{type(entity).__name__} {entity.name}: {error}")
    return problems


def ensure_model(client: Any, name: str, version: str, download: Any) -> None:
    """Make the registry's model version exist in this workspace (copied when the registry is elsewhere).

    `download()` returns a local folder with the MLflow model; it is only called when a copy is needed.
    """
    from azure.ai.ml.constants import AssetTypes
    from azure.ai.ml.entities import Model
    from azure.core.exceptions import ResourceNotFoundError

    try:
        client.models.get(name=name, version=version)
    except ResourceNotFoundError:
        client.models.create_or_update(
            Model(name=name, version=version, type=AssetTypes.MLFLOW_MODEL, path=str(download()))
        )


def smoke_test(client: Any, endpoint: str, deployment: str | None, request: dict[str, Any], work: Path) -> list[Any]:
    """Invoke the endpoint (or one deployment of it) with the sample rows and check the answer."""
    work.mkdir(parents=True, exist_ok=True)
    request_file = work / "smoke-request.json"
    request_file.write_text(json.dumps(request), encoding="utf-8")
    body = client.online_endpoints.invoke(
        endpoint_name=endpoint, deployment_name=deployment, request_file=str(request_file)
    )
    return check_predictions(body, len(request["input_data"]["data"]))


def roll_out(client: Any, rollout: OnlineRollout, request: dict[str, Any], work: Path, echo: Any = print) -> None:
    """Create or update the endpoint and the new deployment, smoke-test it, then move traffic step by step."""
    client.online_endpoints.begin_create_or_update(rollout.endpoint).result()
    client.online_deployments.begin_create_or_update(rollout.deployment).result()
    colour = rollout.deployment.name
    echo(f"  {colour}: deployed, smoke test: {smoke_test(client, rollout.endpoint.name, colour, request, work)}")
    try:
        for traffic in rollout.traffic[1:]:
            _set_traffic(client, rollout.endpoint.name, traffic)
            predictions = smoke_test(client, rollout.endpoint.name, None, request, work)
            echo(f"  traffic {traffic}: smoke test {predictions}")
    except DeployError:
        if rollout.live:
            _set_traffic(client, rollout.endpoint.name, rollout.traffic[0])
            echo(f"  smoke test failed: all traffic back on {rollout.live}")
        raise


def _set_traffic(client: Any, endpoint_name: str, traffic: dict[str, int]) -> None:
    """Set the endpoint's traffic split and wait until it applies."""
    endpoint = client.online_endpoints.get(endpoint_name)
    endpoint.traffic = dict(traffic)
    client.online_endpoints.begin_create_or_update(endpoint).result()
