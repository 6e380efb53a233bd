"""A slot's dataset manifest as Azure ML data assets: a dev and a prod version, each with its content digest.

Asset versions are immutable in Azure ML. Registering a version that exists is a no-op when its recorded
digest matches and an error when it does not, so changed data always needs a new manifest version.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mlops.factory.aml.entities import as_dict
from mlops.factory.aml.pipeline import path_type
from mlops.pipeline.config import ConfigError, ModelFolder
from mlops.pipeline.tracking import content_digest

Tier = Literal["dev", "prod"]
TIERS: tuple[Tier, ...] = ("dev", "prod")
REMOTE = ("azureml://", "https://", "http://", "abfss://", "wasbs://")
NOT_COMPUTED = "not computed: remote data"


@dataclass(frozen=True)
class DataAsset:
    """One tier's data asset, built offline, and how the pipeline refers to it."""

    tier: Tier
    entity: Any
    digest: str

    @property
    def reference(self) -> str:
        """`azureml:<name>:<version>`, the pipeline's `${dataset}` input."""
        return f"azureml:{self.entity.name}:{self.entity.version}"


def asset_name(folder: ModelFolder, tier: Tier) -> str:
    """`<dataset name>-dev` for the dev tier, the dataset name itself for prod."""
    return f"{folder.dataset.name}-dev" if tier == "dev" else folder.dataset.name


def tier_path(folder: ModelFolder, tier: Tier) -> str:
    """Dev data is the manifest's `path`; prod data its `prod_path`, or `path` when the bundled data is all."""
    return folder.dataset.prod_path if tier == "prod" and folder.dataset.prod_path else folder.dataset.path


def data_asset(folder: ModelFolder, repo_root: Path, tier: Tier) -> DataAsset:
    """The data asset of one tier, with its content digest in the tags (computed for local data)."""
    from azure.ai.ml.entities import Data

    manifest, where = folder.dataset, folder.path / "dataset.yaml"
    path = tier_path(folder, tier)
    remote = path.startswith(REMOTE)
    local = repo_root / path
    if not remote and not local.exists():
        raise ConfigError(f"{where}: {tier} data {path} does not exist under {repo_root}")
    kind: str
    if manifest.asset_type:
        kind = manifest.asset_type
    elif remote:
        kind = "uri_folder" if path.endswith("/") else "uri_file"
    else:
        kind = path_type(local)
    if kind == "mltable" and not remote and not (local / "MLTable").is_file():
        raise ConfigError(f"{where}: asset_type mltable needs a folder with an MLTable file; {path} has none")
    if kind == "uri_file" and not remote and local.is_dir():
        raise ConfigError(f"{where}: asset_type uri_file needs a file; {path} is a folder (use uri_folder)")
    digest = NOT_COMPUTED if remote else content_digest(local)
    entity = Data(
        name=asset_name(folder, tier),
        version=manifest.version,
        type=kind,
        path=path if remote else str(local),
        description=manifest.description or f"{tier} data of model {folder.config.model_name}",
        tags={
            "digest": digest,
            "tier": tier,
            "model": folder.config.model_name,
            "source": manifest.source or path,
            "manifest": f"{folder.path.as_posix()}/dataset.yaml",
        },
    )
    return DataAsset(tier, entity, digest)


def describe(asset: DataAsset) -> dict[str, Any]:
    """The entity as Azure ML would receive it, for `--dry-run`."""
    return as_dict(asset.entity)


def register(client: Any, asset: DataAsset) -> Any:
    """Create the asset version, or reuse it when it exists with the same digest."""
    from azure.core.exceptions import ResourceNotFoundError

    name, version = asset.entity.name, asset.entity.version
    try:
        existing = client.data.get(name=name, version=version)
    except ResourceNotFoundError:
        return client.data.create_or_update(asset.entity)
    recorded = (existing.tags or {}).get("digest")
    if asset.digest != NOT_COMPUTED and recorded != asset.digest:
        raise ConfigError(
            f"data asset {name}:{version} exists with digest {recorded}, but the data now has {asset.digest}: "
            "bump `version` in dataset.yaml to register the changed data"
        )
    return existing
