"""What a promotion brings: the prototype -> slot mapping, the files it reads, and how the slot would change."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from mlops.factory.gitrepo import tracked
from mlops.factory.promotion import PromotionError
from mlops.factory.slot import Slot
from mlops.pipeline.config import DatasetManifest
from mlops.pipeline.tables import render_table

# The slot's shape with `{model}` for the model's name, as the mapping and the docs show it.
SHAPE = Slot("{model}")
# Prototype path -> factory path; `{model}` is the model name. The single source of truth of the
# promotion's "known shape", also rendered into the docs.
MAPPING: tuple[tuple[str, str], ...] = (
    ("src/{model}/", f"{SHAPE.package}/"),
    # The data contract, inside the package: named so that promotion refuses a package without it.
    ("src/{model}/schema.py", SHAPE.schema),
    ("tests/{model}/", f"{SHAPE.tests}/"),
    ("configs/pipeline.yaml", SHAPE.pipeline),
    ("configs/train.yaml", SHAPE.params),
    ("configs/dataset.yaml", SHAPE.dataset),
    ("<path in configs/dataset.yaml>", f"{SHAPE.data}/<same file name>"),
)
# What promotion reads from the prototype besides MAPPING: uncommitted changes there are refused.
PROTOTYPE_INPUTS = ("configs/", "pyproject.toml", "uv.lock")


@dataclass
class Plan:
    """Which factory files promotion adds, changes and removes, with their new contents."""

    files: dict[str, bytes] = field(default_factory=dict)
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0

    def table(self) -> str:
        """The plan for people."""
        rows = [("add", p) for p in self.added] + [("change", p) for p in self.changed]
        rows += [("remove", p) for p in self.removed]
        summary = f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed, "
        return (render_table(["action", "file"], rows) + "\n" if rows else "") + summary + f"{self.unchanged} unchanged"


def prototype_paths(model: str, manifest: DatasetManifest) -> list[str]:
    """Every prototype path promotion reads."""
    return [source.format(model=model) for source, _ in MAPPING[:-1]] + [*PROTOTYPE_INPUTS, manifest.path]


def source_files(prototype: Path, model: str, manifest: DatasetManifest) -> dict[str, bytes]:
    """Factory path -> bytes of every file promotion brings: the files git tracks in the prototype."""
    files: dict[str, bytes] = {}
    for source, target in MAPPING[:-1]:
        source_rel = source.format(model=model)
        source_path = prototype / source_rel
        target_path = target.format(model=model)
        if source.endswith("/"):
            listed = tracked(prototype, source_rel)
            if not listed:
                raise PromotionError(
                    f"{source_path} has no committed files: the prototype's model package must be there and committed"
                )
            for name in listed:
                files[target_path + name[len(source_rel) :]] = (prototype / name).read_bytes()
        else:
            if not tracked(prototype, source_rel):
                raise PromotionError(
                    f"{source_path} is missing or not committed: the prototype must have it to promote"
                )
            files[target_path] = source_path.read_bytes()
    data = prototype / manifest.path
    if not data.is_file() or not tracked(prototype, manifest.path):
        raise PromotionError(
            f"{prototype / 'configs/dataset.yaml'}: path {manifest.path} is not a committed file in the prototype "
            "(promotion brings the dev sample the manifest names; commit it, or point `path` at one)"
        )
    data_target = f"{Slot(model).data}/{data.name}"
    files[data_target] = data.read_bytes()
    manifest_key = Slot(model).dataset
    files[manifest_key] = repoint_manifest(files[manifest_key].decode("utf-8"), data_target).encode("utf-8")
    return files


def repoint_manifest(text: str, data_path: str) -> str:
    """The manifest with its `path` pointed at the slot's data file; comments and order kept."""
    new, count = re.subn(r"(?m)^path:.*$", f"path: {data_path}", text)
    if count != 1:
        raise PromotionError("configs/dataset.yaml must have exactly one top-level `path:` line")
    return new


def plan(factory: Path, model: str, files: dict[str, bytes]) -> Plan:
    """Compare the files to bring with the slot's current model files."""
    result = Plan(files=files)
    for path, content in files.items():
        current = factory / path
        if not current.exists():
            result.added.append(path)
        elif current.read_bytes() != content:
            result.changed.append(path)
        else:
            result.unchanged += 1
    for folder in (f"{Slot(model).package}/", f"{Slot(model).tests}/"):
        if (factory / ".git").exists():
            result.removed += [path for path in tracked(factory, folder) if path not in files]
    return result
