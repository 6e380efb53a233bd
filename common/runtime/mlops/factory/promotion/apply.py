"""Promotion's writes: the slot created or brought to the factory's template version, the plan written, all staged.

Every write is staged as it happens, so an interrupted promotion is undone by `git checkout -f HEAD`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops.factory import fleet, templating
from mlops.factory.gitrepo import git, tracked
from mlops.factory.promotion import PromotionError
from mlops.factory.promotion.plan import Plan
from mlops.factory.slot import Slot
from mlops.pipeline.tracking import ANSWERS_FILE, template_version

# Where the model's own dependencies went before they became a dependency group; removed on promotion.
LEGACY_REQUIREMENTS = "requirements.txt"


def ensure_slot(factory: Path, model: str, prototype_config: dict[str, Any]) -> str:
    """Create the slot, or bring it to the factory base's template version; says which it did."""
    base_version = template_version(factory / ANSWERS_FILE)
    answers = factory / Slot(model).answers
    if answers.is_file():
        answers_file = str(answers.relative_to(factory))
        before = template_version(answers)
        if before and before == base_version:
            # Already at the base's version: `copier update` would re-render the template only to change nothing.
            done = f"slot {model} already at template {base_version}"
        else:
            done = bring_to(factory, model, answers_file, before, base_version)
    else:
        data = {"problem_type": prototype_config.get("problem_type")}
        if prototype_config.get("primary_metric"):
            data["primary_metric"] = prototype_config["primary_metric"]
            data["greater_is_better"] = prototype_config.get("greater_is_better", True)
        done = templating.add_slot(factory, model, data)
    stage(factory, model)
    return done


def bring_to(factory: Path, model: str, answers_file: str, before: str | None, version: str | None) -> str:
    """`copier update` of the slot to the base's version, stopping if it removes slot files the user changed."""
    templating.copier_update(factory, answers_file, version)
    kept = fleet.protect_work(factory, answers_file, before, print) if before and before != version else []
    if kept:
        raise PromotionError(
            f"the template release {version} removes slot files you changed: {', '.join(kept)} (restored). "
            f"Update the slot first (`uv run factory update --only {model}`), decide about them, then promote"
        )
    return f"slot {model} brought to template {version} (copier update)"


def stage(factory: Path, model: str) -> None:
    """Stage the slot's files, so `git checkout -f HEAD` alone undoes an interrupted promotion."""
    paths = Slot(model).paths
    # A path git knows but the work tree lost is staged too: that stages its removal.
    git(factory, "add", "-A", "--", *[p for p in paths if (factory / p).exists() or tracked(factory, p)])


def write(factory: Path, model: str, planned: Plan) -> None:
    """Apply a plan to the factory's work tree, and drop the slot's requirements file of old releases."""
    for path in planned.removed:
        (factory / path).unlink()
    for path, content in planned.files.items():
        target = factory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    legacy = factory / Slot(model).folder / LEGACY_REQUIREMENTS
    if legacy.exists():
        legacy.unlink()
