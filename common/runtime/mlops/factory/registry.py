"""The MLflow model registry of a factory: register with lineage, aliases, promote and roll back.

Aliases, not stages: `challenger` is the latest version that passed the gate, `champion` the one
in production. A factory with no champion takes its first gated version as champion; after that
only `promote-champion` (an approval) or `rollback` moves it. Registration is guarded by
`alias_guard`: a run aliases only the registry state its gate judged against.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from mlops.factory import alias_guard
from mlops.factory.gate import Verdict
from mlops.pipeline.lineage import EVALUATION_TAGS
from mlops.pipeline.steps import PipelineRun
from mlops.pipeline.tracking import mlflow_client

CHAMPION = alias_guard.CHAMPION
CHALLENGER = alias_guard.CHALLENGER
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
    except MlflowException as error:
        if error.error_code in alias_guard.NOT_FOUND:
            return None
        raise  # a server that fails is not "no champion": the gate must not judge against the threshold only


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
    client: Any,
    name: str,
    run: PipelineRun,
    params: dict[str, Any],
    verdict: Verdict,
    seen: alias_guard.Snapshot | None = None,
) -> tuple[Any, list[AliasChange]]:
    """Register the run's model as a new version, alias it challenger (and champion if there is none).

    `seen` is the registry as the gate read it; the aliases are written only if it is still so (`alias_guard`).
    """
    from mlflow.exceptions import MlflowException

    if not verdict.passed:
        raise RegistryError(f"{name}: the gate rejected run {run.run_id}; nothing is registered")
    seen = seen or alias_guard.snapshot(client, name)
    try:
        alias_guard.check_aliases_unchanged(client, name, seen)
        _ensure_registered_model(client, name)
        artifact_uri = client.get_run(run.run_id).info.artifact_uri
        version = client.create_model_version(
            name, source=f"{artifact_uri}/model", run_id=run.run_id, tags=lineage(run, params, verdict)
        )
        alias_guard.check_first_of_concurrent(client, name, seen, int(version.version))
    except alias_guard.AliasConflict as error:
        raise RegistryError(str(error)) from error
    except MlflowException as error:
        raise RegistryError(
            f"{name}: the MLflow server failed while registering ({server_failure(error)}); nothing was aliased "
            f"(a version may be registered without an alias). Check `factory status {name}`, then re-run."
        ) from error
    changes: list[AliasChange] = []
    try:
        alias_guard.check_aliases_unchanged(client, name, seen)
        changes.append(_set_alias(client, name, CHALLENGER, version.version))
        if seen.champion is None:
            alias_guard.check_aliases_unchanged(client, name, replace(seen, challenger=str(version.version)))
            changes.append(_set_alias(client, name, CHAMPION, version.version))
    except alias_guard.AliasConflict as error:
        raise RegistryError(f"{error} Aliases written before: {', '.join(map(str, changes)) or 'none'}.") from error
    except MlflowException as error:
        raise RegistryError(
            f"{name}: the MLflow server failed while aliasing v{version.version} ({server_failure(error)}); aliases "
            f"written before the failure: {', '.join(map(str, changes)) or 'none'}. Check `factory status {name}`."
        ) from error
    return version, changes


def server_failure(error: Exception) -> str:
    """The first line of an MLflow client error, short enough for a message."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return first if len(first) <= 300 else first[:297] + "..."


def _ensure_registered_model(client: Any, name: str) -> None:
    """Create the registered model unless it exists (another run may create it at the same moment)."""
    from mlflow.exceptions import MlflowException

    try:
        client.create_registered_model(name, description=f"Model factory slot {name}")
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise


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
