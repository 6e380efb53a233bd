"""The factory's Azure ML environments (mlops/environments.yaml) and the names derived from them."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from mlops.pipeline.config import ConfigError, Strict, parse

ENVIRONMENTS_FILE = Path("mlops") / "environments.yaml"
GUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
EXPERIMENT_MAX = 64
ENDPOINT_MAX = 32


class Workspace(Strict):
    """One environment's Azure ML workspace coordinates (not secrets)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9]{1,9}$")
    subscription_id: str = ""
    resource_group: str = Field(pattern=r"^[A-Za-z0-9_.()-]{1,90}$")
    workspace: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{2,32}$")

    @field_validator("subscription_id")
    @classmethod
    def _guid_or_empty(cls, value: str) -> str:
        if value and not re.fullmatch(GUID, value):
            raise ValueError("must be a GUID such as 00000000-0000-0000-0000-000000000000, or empty")
        return value


class Environments(Strict):
    """mlops/environments.yaml: the default compute and the workspaces in promotion order."""

    compute: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9-]{1,14}[A-Za-z0-9]$")
    environments: list[Workspace] = Field(min_length=1)

    def get(self, name: str) -> Workspace:
        """The environment called `name`, or a ConfigError listing the known ones."""
        for environment in self.environments:
            if environment.name == name:
                return environment
        known = [e.name for e in self.environments]
        raise ConfigError(f"{ENVIRONMENTS_FILE}: no environment {name!r}; environments here: {known}")


def load_environments(repo_root: Path) -> Environments:
    """Read and validate mlops/environments.yaml."""
    return parse(repo_root / ENVIRONMENTS_FILE, Environments)


def ml_client(environment: Workspace) -> Any:
    """An MLClient on the environment's workspace, signed in with DefaultAzureCredential.

    In GitHub Actions, `azure/login` (OIDC) leaves an Azure CLI session that the credential picks up; the
    credentials that cannot apply on a runner are skipped so a misconfiguration fails fast and clearly.
    """
    if not environment.subscription_id:
        raise ConfigError(
            f"{ENVIRONMENTS_FILE}: environment {environment.name!r} has no subscription_id; set it before "
            "talking to Azure (--dry-run works without it)"
        )
    from azure.ai.ml import MLClient  # `factory aml` checked the azure extra is installed
    from azure.identity import DefaultAzureCredential

    return MLClient(
        DefaultAzureCredential(
            exclude_interactive_browser_credential=True,
            exclude_managed_identity_credential=True,
            exclude_workload_identity_credential=True,
        ),
        subscription_id=environment.subscription_id,
        resource_group_name=environment.resource_group,
        workspace_name=environment.workspace,
    )


def workspace_tracking_uri(client: Any, environment: Workspace) -> str:
    """The workspace's MLflow tracking URI (azureml://...), which also serves its model registry."""
    return str(client.workspaces.get(environment.workspace).mlflow_tracking_uri)


def slug(text: str) -> str:
    """Lowercase letters, digits, `-` and `_` only, with every other run of characters as one `-`."""
    return re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-_")


def _shorten(text: str, limit: int, seed: str) -> str:
    """`text` cut to `limit` characters, ending in a hash of `seed` when cut, so distinct long names stay distinct."""
    if len(text) <= limit:
        return text
    suffix = hashlib.sha1(seed.encode(), usedforsecurity=False).hexdigest()[:8]
    return text[: limit - len(suffix) - 1].rstrip("-_") + "-" + suffix


def experiment_name(model: str, branch: str) -> str:
    """`<model>-<branch>` as an Azure ML experiment name: `feature/ABC#12` -> `churn-feature-abc-12`."""
    branch = branch.removeprefix("refs/heads/")
    return _shorten(f"{model}-{slug(branch) or 'detached'}", EXPERIMENT_MAX, branch)


def endpoint_name(model: str, environment: Workspace, kind: str = "") -> str:
    """An endpoint name, unique per Azure region: model, environment, kind and a hash of the workspace.

    Endpoint names are 3-32 letters, digits and dashes starting with a letter, and unique in a region
    across all subscriptions, hence the short workspace hash.
    """
    seed = f"{environment.subscription_id}/{environment.resource_group}/{environment.workspace}"
    suffix = hashlib.sha1(seed.encode(), usedforsecurity=False).hexdigest()[:6]
    tail = "-".join(filter(None, [environment.name, kind, suffix]))
    head = model.replace("_", "-")[: ENDPOINT_MAX - len(tail) - 1].rstrip("-")
    return f"{head}-{tail}"
