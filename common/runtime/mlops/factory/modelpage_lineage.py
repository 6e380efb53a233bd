"""The lineage section of a slot's page: the champion and the newest version, with the tags the registry keeps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.factory.modelpage_sections import table
from mlops.pipeline.tracking import tracking_uri

LINEAGE = "## Latest lineage"
SQLITE = "sqlite:///"
# Lineage rows of a model version, in reading order (the registry's tags of the same names).
LINEAGE_ROWS = (
    ("dataset.name", "dataset"),
    ("dataset.version", "dataset version"),
    ("dataset.digest", "dataset digest (sha256)"),
    ("dataset.mlflow_digest", "MLflow dataset digest (first 10,000 rows)"),
    ("mlflow.source.git.commit", "factory commit"),
    ("git.dirty", "uncommitted changes when trained"),
    ("promotion.source", "promoted from"),
    ("promotion.source_commit", "prototype commit"),
    ("template.version", "template version"),
    ("gate.checks", "gate checks"),
)


@dataclass(frozen=True)
class RegisteredVersion:
    """One registered version of a model: its number, aliases and lineage tags."""

    version: str
    aliases: tuple[str, ...]
    tags: Mapping[str, str]


def metric_value(tag: str) -> str:
    """A metric tag (its repr) to four decimals, as the gate's verdict shows metrics."""
    try:
        return f"{float(tag):.4f}"
    except ValueError:
        return tag


def lineage_section(model: str, versions: Sequence[RegisteredVersion] | None) -> str:
    """The champion and the newest registered version, with the lineage the registry keeps for each."""
    heading = LINEAGE
    if versions is None:
        return f"{heading}\n\nNo model registry in this checkout (no `mlflow.db`, no `MLFLOW_TRACKING_URI`)."
    if not versions:
        return f"{heading}\n\nNo registered version of `{model}` yet: `uv run factory run {model}` registers one."
    headers = ["", *(f"v{v.version} " + " ".join(f"@{alias}" for alias in v.aliases) for v in versions)]
    metrics = sorted({key for v in versions for key in v.tags if key.startswith("metric.")})
    rows = [
        (label, *(metric_value(v.tags.get(key, "")) if key in metrics else v.tags.get(key, "") for v in versions))
        for key, label in (*LINEAGE_ROWS, *((metric, metric[7:]) for metric in metrics))
        if any(key in v.tags for v in versions)
    ]
    return "\n\n".join(
        [
            heading,
            "From the model registry: the version `@champion` serves and the newest one, with the tags every "
            "registered version carries (digests and commits shortened to 12 characters).",
            table([header.strip() for header in headers], rows),
        ]
    )


def registered_versions(model: str) -> list[RegisteredVersion] | None:
    """The champion and the newest version of a model; None when there is no registry to read."""
    uri = tracking_uri()
    if uri.startswith(SQLITE) and not Path(uri.removeprefix(SQLITE)).is_file():
        return None  # reading would create an empty store: there is nothing registered here
    from mlops.factory import registry

    mlflow = registry.client()
    found = registry.versions(mlflow, model)
    if not found:
        return []
    by_version: dict[str, list[str]] = {}
    for alias, number in mlflow.get_registered_model(model).aliases.items():
        by_version.setdefault(str(number), []).append(alias)
    champion = next((v for v in found if registry.CHAMPION in by_version.get(str(v.version), [])), None)
    chosen = [v for v in (champion, found[0]) if v is not None]
    unique = list({str(v.version): v for v in chosen}.values())
    return [
        RegisteredVersion(str(v.version), tuple(sorted(by_version.get(str(v.version), []))), _with_metrics(mlflow, v))
        for v in unique
    ]


def _with_metrics(client: Any, version: Any) -> dict[str, str]:
    """A version's tags with its metrics as `metric.` entries, wherever the registry keeps them."""
    from mlops.factory import registry

    metrics = registry.version_metrics(client, version)
    return {**version.tags, **{f"{registry.METRIC_TAG}{key}": repr(value) for key, value in metrics.items()}}
