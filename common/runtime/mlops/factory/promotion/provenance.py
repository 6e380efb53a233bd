"""The slot's promotion record, mlops/<model>/promotion.yaml: where its model came from and what was written.

The next promotion compares the slot's files with the digests recorded here, and every run of the slot
tags its MLflow run with the source repository and commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import yaml
from pydantic import Field

from mlops.factory.gitrepo import remote_url
from mlops.factory.promotion import PromotionError
from mlops.factory.slot import Slot
from mlops.pipeline.config import ConfigError, DatasetManifest, Strict, parse
from mlops.pipeline.tracking import content_digest, git_commit

# Digests in promotion.yaml say what they are; the secrets scan's baseline knows this exact shape.
DIGEST_PREFIX = "sha256:"
# Records written before the prefix was added hold bare digests: both read.
DIGEST = r"^(sha256:)?[0-9a-f]{64}$"
HEADER = "# Written by `factory promote`; the next promotion compares the slot's files against these digests.\n"


class DatasetRecord(Strict):
    """The dataset the prototype trained on when it was promoted."""

    name: str
    version: str
    digest: str = Field(pattern=DIGEST)


class Provenance(Strict):
    """promotion.yaml: the prototype, both template versions, the data, the dependencies and each file's digest."""

    model: str
    # The prototype by name and remote only: absolute local paths mean nothing on another machine.
    source: str
    source_remote: str | None = None
    source_commit: str | None = None
    source_template_version: str | None = None
    factory_template_version: str | None = None
    factory_commit: str | None = None
    dataset: DatasetRecord
    dependencies: list[str] = Field(default_factory=list)
    promoted_at: str
    files: dict[str, str] = Field(default_factory=dict)  # factory path -> digest of what promotion wrote

    def edited(self, factory: Path, paths: Iterable[str]) -> list[str]:
        """The paths whose content differs from what this promotion wrote."""
        return [
            path
            for path in paths
            if self.files.get(path, "").removeprefix(DIGEST_PREFIX) != content_digest(factory / path)
        ]


def read(factory: Path, model: str) -> Provenance | None:
    """The slot's promotion record, None if it was never promoted; a PromotionError naming the key if it is invalid."""
    path = factory / Slot(model).provenance
    if not path.is_file():
        return None
    try:
        return parse(path, Provenance)
    except ConfigError as error:
        raise PromotionError(
            f"{error}. The file is written by `factory promote`: restore it (`git checkout HEAD -- "
            f"{Slot(model).provenance}`), or delete it to compare the slot with the commit that created it"
        ) from error


def recorded_source_commit(factory: Path, model: str) -> str | None:
    """The prototype commit the slot was last promoted from, if it ever was."""
    record = read(factory, model)
    return record.source_commit if record else None


def record(
    prototype: Path,
    factory: Path,
    model: str,
    manifest: DatasetManifest,
    *,
    source_commit: str | None,
    versions: tuple[str | None, str | None],
    dependencies: list[str],
    files: Iterable[str],
) -> Provenance:
    """The record of a promotion that has just written `files` into the factory."""
    return Provenance(
        model=model,
        source=prototype.name,
        source_remote=remote_url(prototype),
        source_commit=source_commit,
        source_template_version=versions[0],
        factory_template_version=versions[1],
        factory_commit=git_commit(factory),
        dataset=DatasetRecord(
            name=manifest.name,
            version=manifest.version,
            digest=DIGEST_PREFIX + content_digest(prototype / manifest.path),
        ),
        dependencies=dependencies,
        promoted_at=datetime.now(UTC).isoformat(timespec="seconds"),
        files={path: DIGEST_PREFIX + content_digest(factory / path) for path in sorted(files)},
    )


def write(factory: Path, provenance: Provenance) -> None:
    """Write the record into the slot, keys in reading order."""
    text = yaml.safe_dump(provenance.model_dump(), sort_keys=False, allow_unicode=True)
    (factory / Slot(provenance.model).provenance).write_text(HEADER + text, encoding="utf-8")
