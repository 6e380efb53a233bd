"""The MLflow model registry of a factory: register with lineage, aliases, promote and roll back.

Aliases, not stages: `challenger` is the latest version that passed the gate, `champion` the one
in production. A factory with no champion takes its first gated version as champion; after that
only `promote-champion` (an approval) or `rollback` moves it. Registration is guarded by
`alias_guard`: a run aliases only the registry state its gate judged against.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mlops.factory import alias_guard
from mlops.factory.gate import Verdict
from mlops.pipeline.lineage import EVALUATION_TAGS
from mlops.pipeline.logged_model import MLFLOW_DIGEST, MODEL_ARTIFACT, logged_model_id
from mlops.pipeline.steps import PipelineRun
from mlops.pipeline.tracking import mlflow_client, tracking_uri

CHAMPION = alias_guard.CHAMPION
CHALLENGER = alias_guard.CHALLENGER
LOGGED_MODEL_URI = "models:/"  # + a Logged Model's id (m-...): the source of a version that is a Logged Model
METRIC_TAG = "metric."  # a version's metric, as a tag, where its model is not a Logged Model
LINEAGE_TAGS = (
    "dataset.name",
    "dataset.version",
    "dataset.digest",
    MLFLOW_DIGEST,
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


def lineage(
    run: PipelineRun, params: dict[str, Any], verdict: Verdict, *, metrics_in_tags: bool = True
) -> dict[str, str]:
    """Tags that tie a model version to its data, code, template, params, test predictions (and metrics if asked).

    A version of a Logged Model reads its metrics from that model; one registered from a run path keeps them here.
    """
    tags = {key: run.tags[key] for key in LINEAGE_TAGS if key in run.tags}
    if metrics_in_tags:
        tags.update({f"{METRIC_TAG}{key}": repr(value) for key, value in run.metrics.items()})
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
        model_id = logged_model_id(client, run.run_id)
        tags = lineage(run, params, verdict, metrics_in_tags=model_id is None)
        if model_id is not None:
            source = f"{LOGGED_MODEL_URI}{model_id}"
        else:  # a server without Logged Models: the model is the run's artifact
            source = f"{client.get_run(run.run_id).info.artifact_uri}/{MODEL_ARTIFACT}"
        version = client.create_model_version(name, source=source, run_id=run.run_id, tags=tags, model_id=model_id)
        alias_guard.check_first_of_concurrent(client, name, seen, int(version.version))
        if model_id is not None:
            _list_version_on_model(client, model_id, name, str(version.version))
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
        if seen.champion is None:  # champion first: a failure before the second write leaves a champion to judge by
            changes.append(_set_alias(client, name, CHAMPION, version.version))
            seen = replace(seen, champion=str(version.version))
            alias_guard.check_aliases_unchanged(client, name, seen)
        changes.append(_set_alias(client, name, CHALLENGER, version.version))
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


def promote_champion(client: Any, name: str, version: str | None = None) -> AliasChange:
    """Approval: the current challenger (which must be `version` when given) becomes champion.

    A deployment approves the version it deployed: if another release moved @challenger since, nothing changes.
    """
    seen = alias_guard.snapshot(client, name)
    if seen.challenger is None:
        raise RegistryError(f"{name} has no @{CHALLENGER}: run the slot's pipeline and gate first")
    if version is not None and seen.challenger != str(version):
        raise RegistryError(
            f"{name}: @{CHALLENGER} is v{seen.challenger}, not the approved v{version} (a later release registered "
            f"it); @{CHAMPION} is unchanged. Deploy and approve v{seen.challenger}, or `factory rollback {name} "
            f"--to {version}`."
        )
    if seen.champion == seen.challenger:
        raise RegistryError(f"{name} v{seen.challenger} is already @{CHAMPION}")
    return _guarded_champion(client, name, seen, seen.challenger)


def rollback(client: Any, name: str, version: str) -> AliasChange:
    """Point champion back at an earlier registered version."""
    from mlflow.exceptions import MlflowException

    seen = alias_guard.snapshot(client, name)
    try:
        target = client.get_model_version(name, str(version))
    except MlflowException as error:
        raise RegistryError(f"{name} has no version {version}; see `factory status {name}`") from error
    if target.tags.get("gate.verdict") != "passed":
        raise RegistryError(f"{name} v{version} never passed the gate; pick a version that did")
    if seen.champion == str(target.version):
        raise RegistryError(f"{name} v{version} is already @{CHAMPION}")
    return _guarded_champion(client, name, seen, str(target.version))


def _guarded_champion(client: Any, name: str, seen: alias_guard.Snapshot, version: str) -> AliasChange:
    """Move @champion to `version` only if the aliases are still as `seen` (another approval or run may race)."""
    try:
        alias_guard.check_aliases_unchanged(
            client,
            name,
            seen,
            during="this change was decided",
            then=f"Check `factory status {name}`, then decide again.",
        )
    except alias_guard.AliasConflict as error:
        raise RegistryError(str(error)) from error
    client.set_registered_model_alias(name, CHAMPION, version)
    return AliasChange(CHAMPION, seen.champion, version)


def version_model_id(version: Any) -> str | None:
    """The Logged Model a registered version is, or None for a version registered from a run path.

    MLflow's SQL registry (3.17) does not store a version's `model_id`; the source `models:/<model_id>` it keeps is
    the same link, and the one read when the field is empty.
    """
    if getattr(version, "model_id", None):
        return str(version.model_id)
    return source_model_id(version.source)


def source_model_id(source: str | None) -> str | None:
    """The Logged Model a version's source `models:/<model_id>` names, or None for a run path."""
    text = str(source or "")
    found = text.removeprefix(LOGGED_MODEL_URI)
    return found if text.startswith(LOGGED_MODEL_URI) and found.startswith("m-") and "/" not in found else None


def version_metrics(client: Any, version: Any) -> dict[str, float]:
    """A version's metrics: its Logged Model's, or the `metric.` tags of a version registered from a run path."""
    model_id = version_model_id(version)
    if model_id is not None:
        return {metric.key: float(metric.value) for metric in client.get_logged_model(model_id).metrics or []}
    return tag_metrics(version.tags)


def tag_metrics(tags: dict[str, str]) -> dict[str, float]:
    """The metrics a version registered from a run path keeps in its `metric.` tags."""
    return {key[len(METRIC_TAG) :]: float(value) for key, value in tags.items() if key.startswith(METRIC_TAG)}


def download_version(client: Any, name: str, version: str, target: Path) -> Path:
    """A registered version's MLflow model folder, downloaded under `target`, wherever the registry keeps it."""
    import os

    import mlflow.artifacts

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one summary line, not a bar per file
    source, store = client.get_model_version_download_uri(name, str(version)), tracking_uri()
    folder = mlflow.artifacts.download_artifacts(
        artifact_uri=source, dst_path=str(target), tracking_uri=store, registry_uri=store
    )
    return Path(folder)


def versions(client: Any, name: str) -> list[Any]:
    """Every registered version of a model, newest first."""
    found = client.search_model_versions(f"name = '{name}'")
    return sorted(found, key=lambda v: int(v.version), reverse=True)


def _list_version_on_model(client: Any, model_id: str, name: str, version: str) -> None:
    """Name the new version on its Logged Model, as `mlflow.register_model` does (MLflow's UI lists it there)."""
    from mlflow.utils.mlflow_tags import MLFLOW_MODEL_VERSIONS

    listed = json.loads(client.get_logged_model(model_id).tags.get(MLFLOW_MODEL_VERSIONS) or "[]")
    listed.append({"name": name, "version": version})
    client.set_logged_model_tags(model_id, {MLFLOW_MODEL_VERSIONS: json.dumps(listed)})


def _set_alias(client: Any, name: str, alias: str, version: str) -> AliasChange:
    """Move an alias and report where it was."""
    before = version_by_alias(client, name, alias)
    client.set_registered_model_alias(name, alias, str(version))
    return AliasChange(alias, str(before.version) if before is not None else None, str(version))
