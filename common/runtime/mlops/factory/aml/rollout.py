"""Bringing a registered version live on Azure ML: the model in the workspace, the new deployment smoke-tested
with sample rows of the slot's dev data, then traffic moved step by step (back on the live colour if a test fails).
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
from pathlib import Path
from typing import Any

import yaml

from mlops.factory.aml import deploy
from mlops.factory.aml.deploy import OnlineRollout
from mlops.factory.aml.workspace import Environments, endpoint_name, ml_client
from mlops.pipeline.config import ConfigError, ModelFolder

SMOKE_ROWS = 5


class DeployError(RuntimeError):
    """A deployment or its smoke test failed; traffic was not moved to the new version."""


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
    ensure_model(client, folder.config.model_name, args.version, lambda: _download_model(args))
    if args.batch:
        endpoint, deployment = entities
        client.batch_endpoints.begin_create_or_update(endpoint).result()
        client.batch_deployments.begin_create_or_update(deployment).result()
        print(f"Batch endpoint {endpoint.name}: deployment {deployment.name} ready")
        return 0
    with tempfile.TemporaryDirectory() as work:
        roll_out(client, rollout, sample_request(folder, Path.cwd()), Path(work))
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
