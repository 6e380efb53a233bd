"""The MLflow model registry of a factory: register with lineage, aliases, promote and roll back.

Aliases, not stages: `challenger` is the latest version that passed the gate, `champion` the one
in production. A factory with no champion takes its first gated version as champion; after that
only `promote-champion` (an approval) or `rollback` moves it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mlops.factory.gate import Verdict
from mlops.pipeline.lineage import EVALUATION_TAGS
from mlops.pipeline.steps import PipelineRun
from mlops.pipeline.tracking import mlflow_client

CHAMPION = "champion"
CHALLENGER = "challenger"
LINEAGE_TAGS = (
    "dataset.name",
    "dataset.version",
    "dataset.digest",
    "dataset.path",
    "mlflow.source.git.commit",
    "git.dirty",
    "git.diff_digest",
    "promotion.source",
    "promotion.source_remote",
    "promotion.source_commit",
    "template.version",
    *EVALUATION_TAGS,
)


class RegistryError(RuntimeError):
    """A registry operation cannot be done as asked; the message says why and what to do."""


@dataclass(frozen=True)
class AliasChange:
    """Which version an alias pointed to before and after an operation."""

    alias: str
    before: str | None
    after: str

    def __str__(self) -> str:
        return f"@{self.alias}: v{self.before or '-'} -> v{self.after}"


def client() -> Any:
    """An MLflow client on the factory's tracking and registry store, without its start-up chatter."""
    return mlflow_client()


def version_by_alias(client: Any, name: str, alias: str) -> Any | None:
    """The model version behind an alias, or None if the model or the alias does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def lineage(run: PipelineRun, params: dict[str, Any], verdict: Verdict) -> dict[str, str]:
    """Tags that tie a model version to its data, code, template, params, metrics and test predictions."""
    tags = {key: run.tags[key] for key in LINEAGE_TAGS if key in run.tags}
    tags.update({f"metric.{key}": repr(value) for key, value in run.metrics.items()})
    tags["params"] = json.dumps(params, sort_keys=True, default=str)[:5000]
    tags["predictions_uri"] = f"runs:/{run.run_id}/predictions/predictions.csv"  # portable, unlike a local path
    tags["gate.verdict"] = "passed" if verdict.passed else "rejected"
    tags["gate.checks"] = "; ".join(f"{c.name}: {c.candidate:.6g} vs {c.bar:.6g}" for c in verdict.checks)
    return tags


def register(
    client: Any, name: str, run: PipelineRun, params: dict[str, Any], verdict: Verdict
) -> tuple[Any, list[AliasChange]]:
    """Register the run's model as a new version, alias it challenger (and champion if there is none)."""
    from mlflow.exceptions import MlflowException

    if not verdict.passed:
        raise RegistryError(f"{name}: the gate rejected run {run.run_id}; nothing is registered")
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description=f"Model factory slot {name}")
    artifact_uri = client.get_run(run.run_id).info.artifact_uri
    version = client.create_model_version(
        name, source=f"{artifact_uri}/model", run_id=run.run_id, tags=lineage(run, params, verdict)
    )
    changes = [_set_alias(client, name, CHALLENGER, version.version)]
    if version_by_alias(client, name, CHAMPION) is None:
        changes.append(_set_alias(client, name, CHAMPION, version.version))
    return version, changes


def promote_champion(client: Any, name: str) -> AliasChange:
    """Approval: the current challenger becomes champion."""
    challenger = version_by_alias(client, name, CHALLENGER)
    if challenger is None:
        raise RegistryError(f"{name} has no @{CHALLENGER}: run the slot's pipeline and gate first")
    champion = version_by_alias(client, name, CHAMPION)
    if champion is not None and str(champion.version) == str(challenger.version):
        raise RegistryError(f"{name} v{challenger.version} is already @{CHAMPION}")
    return _set_alias(client, name, CHAMPION, challenger.version)


def rollback(client: Any, name: str, version: str) -> AliasChange:
    """Point champion back at an earlier registered version."""
    from mlflow.exceptions import MlflowException

    try:
        target = client.get_model_version(name, str(version))
    except MlflowException as error:
        raise RegistryError(f"{name} has no version {version}; see `factory status {name}`") from error
    if target.tags.get("gate.verdict") != "passed":
        raise RegistryError(f"{name} v{version} never passed the gate; pick a version that did")
    champion = version_by_alias(client, name, CHAMPION)
    if champion is not None and str(champion.version) == str(target.version):
        raise RegistryError(f"{name} v{version} is already @{CHAMPION}")
    return _set_alias(client, name, CHAMPION, target.version)


def versions(client: Any, name: str) -> list[Any]:
    """Every registered version of a model, newest first."""
    found = client.search_model_versions(f"name = '{name}'")
    return sorted(found, key=lambda v: int(v.version), reverse=True)


def _set_alias(client: Any, name: str, alias: str, version: str) -> AliasChange:
    """Move an alias and report where it was."""
    before = version_by_alias(client, name, alias)
    client.set_registered_model_alias(name, alias, str(version))
    return AliasChange(alias, str(before.version) if before is not None else None, str(version))
