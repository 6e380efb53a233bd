"""A slot's workflows agree with its config: the retraining cron is written in both places.

GitHub reads the schedule from the workflow file and the factory reads it from config.yaml, so
`factory check <model>` (run by every pull request of the slot) fails when the two drift apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops.factory.slot import Slot
from mlops.pipeline.config import CONFIG_FILE, ModelFolder, read_yaml


def retrain_workflow(repo_root: Path, model: str) -> Path:
    """The slot's scheduled retraining workflow."""
    return repo_root / Slot(model).workflow("retrain")


def workflow_crons(path: Path) -> list[str]:
    """The cron expressions of a workflow's `on.schedule` (YAML 1.1 reads the key `on` as true)."""
    data: Any = read_yaml(path) or {}
    triggers = data.get("on", data.get(True)) or {}
    schedule = triggers.get("schedule") if isinstance(triggers, dict) else None
    return [str(item.get("cron")) for item in schedule or [] if isinstance(item, dict)]


def schedule_problems(repo_root: Path, folder: ModelFolder) -> list[str]:
    """How the retraining workflow and config.yaml disagree, if they do."""
    model = folder.config.model_name
    path = retrain_workflow(repo_root, model)
    wanted = folder.config.retraining.schedule
    if not path.is_file():
        return [f"{path.relative_to(repo_root)} is missing: restore it with `copier update` of the slot"]
    crons = workflow_crons(path)
    if crons == ([wanted] if wanted else []):
        return []
    config = folder.path / CONFIG_FILE
    return [
        f"{config}: retraining.schedule is {wanted!r} but {path.relative_to(repo_root)} schedules "
        f"{crons or 'nothing'}; set the same cron in both (or null and no schedule)"
    ]
