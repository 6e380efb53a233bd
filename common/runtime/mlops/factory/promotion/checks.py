"""Promotion's refusals: what must hold before anything is written, each naming the files and the fix."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from mlops.factory.contract import check_schema, check_steps
from mlops.factory.gitrepo import dirty_files, git, listing
from mlops.factory.promotion import PromotionError, provenance
from mlops.factory.promotion.plan import Plan
from mlops.factory.slot import Slot
from mlops.pipeline.config import ConfigError, DatasetManifest, parse
from mlops.pipeline.spec import PipelineSpec, SpecError
from mlops.pipeline.tracking import ANSWERS_FILE, template_version


def read_prototype(prototype: Path, model: str) -> tuple[dict[str, Any], DatasetManifest]:
    """The prototype's config and dataset manifest, refusing a folder that is not the model's prototype."""
    config_file = prototype / "configs" / "config.yaml"
    if not config_file.is_file():
        raise PromotionError(f"{config_file} is missing: --from must point at a prototyping repo")
    config = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
    if config.get("model_name") != model:
        raise PromotionError(f"{config_file} is for model {config.get('model_name')!r}, not {model!r}")
    try:
        manifest = parse(prototype / "configs" / "dataset.yaml", DatasetManifest)
    except ConfigError as error:
        raise PromotionError(f"the dataset manifest is incomplete: {error}") from error
    return config, manifest


def require_committed(prototype: Path, paths: list[str]) -> None:
    """Refuse uncommitted changes in what promotion reads: only committed work is promoted and recorded."""
    if not (prototype / ".git").exists():
        raise PromotionError(f"the prototype {prototype} is not a git work tree: `git init` and commit it first")
    dirty = dirty_files(prototype, *paths)
    if dirty:
        raise PromotionError(
            f"the prototype {prototype} has uncommitted changes in what promotion reads: {listing(dirty)}. "
            "Commit them there first (only committed files are promoted)."
        )


def check_contract(factory: Path, model: str, files: dict[str, bytes]) -> None:
    """Every step is a module of the model's package that accepts the flags the pipeline gives it, and the
    package's schema module declares the target of the dataset manifest."""
    slot = Slot(model)
    try:
        spec = PipelineSpec.parse(yaml.safe_load(files[slot.pipeline]), factory / slot.pipeline)
        check_steps(spec, model, files.get)
        target = str((yaml.safe_load(files[slot.dataset]) or {}).get("target", ""))
        check_schema(model, target, "configs/dataset.yaml", files.get)
    except SpecError as error:
        raise PromotionError(str(error)) from error


def comparable_version(version: str | None) -> tuple[int, ...] | None:
    """A template version (`v1.2.0`, `1.2.0-3-gabc`) as a tuple, or None if it is a bare commit."""
    match = re.fullmatch(r"v?(\d+(?:\.\d+)+)(?:-(\d+)-g[0-9a-f]+)?", version or "")
    if not match:
        return None
    return (*(int(p) for p in match.group(1).split(".")), int(match.group(2) or 0))


def check_template_versions(prototype: Path, factory: Path) -> tuple[str | None, str | None]:
    """Refuse a prototype generated from a newer template than the factory's."""
    proto, fact = template_version(prototype / ANSWERS_FILE), template_version(factory / ANSWERS_FILE)
    left, right = comparable_version(proto), comparable_version(fact)
    if left and right and left > right:
        raise PromotionError(
            f"the prototype uses template {proto}, newer than the factory's {fact}: update the factory first "
            "(`copier update --defaults` in the factory, then its slots)"
        )
    return proto, fact


def edited_since_last_promotion(factory: Path, model: str, planned: Plan) -> list[str]:
    """Slot files that promotion would overwrite although the factory changed them since they were last written.

    A promoted slot records each file's digest in promotion.yaml; a slot never promoted compares with
    the commit that created it.
    """
    touched = planned.changed + planned.removed
    recorded = provenance.read(factory, model)
    if recorded is not None:
        return recorded.edited(factory, touched)
    created = git(factory, "log", "--format=%H", "--diff-filter=A", "--", Slot(model).answers).split()
    if not created or not touched:
        return touched if not created else []
    return sorted(set(git(factory, "diff", "--name-only", created[-1], "HEAD", "--", *touched).split()))


def refuse_overwrites(factory: Path, model: str, planned: Plan) -> None:
    """Refuse to overwrite slot files the factory changed since the last promotion (`--force` skips this)."""
    overwritten = edited_since_last_promotion(factory, model, planned)
    if overwritten:
        raise PromotionError(
            f"these slot files changed in the factory since the last promotion and would be overwritten: "
            f"{', '.join(overwritten)}. Bring those changes to the prototype, or re-run with --force."
        )
