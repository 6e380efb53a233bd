"""A slot's CI agrees with its config: the retraining cron is written in both places.

GitHub Actions reads the schedule from the slot's retraining workflow, Azure Pipelines from its retraining pipeline
(a factory has one or the other), and the factory reads it from config.yaml, so `factory check <model>` (run by every
pull request of the slot) fails when the two drift apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops.factory.slot import Slot
from mlops.pipeline.config import CONFIG_FILE, ModelFolder, read_yaml


def retrain_workflow(repo_root: Path, model: str) -> Path:
    """The slot's scheduled retraining workflow: GitHub Actions', or else Azure Pipelines' when only that exists."""
    slot = Slot(model)
    github, azure = repo_root / slot.workflow("retrain"), repo_root / slot.azure_pipeline("retrain")
    return azure if azure.is_file() and not github.is_file() else github


def workflow_crons(path: Path) -> list[str]:
    """The cron expressions of a workflow's `on.schedule`, or of an Azure Pipeline's `schedules`."""
    data: Any = read_yaml(path) or {}
    if not isinstance(data, dict):
        return []
    if "schedules" in data:  # Azure Pipelines: top-level `schedules`, each with a `cron`
        schedule = data["schedules"]
    else:  # GitHub Actions: `on.schedule` (YAML 1.1 reads the key `on` as true)
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
