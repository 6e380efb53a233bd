"""What a run records so that it can be traced and compared: its lineage tags and what its evaluation scored.

Lineage: model, dataset name, version, digest and location, git commit and state, template version and, in a
factory slot, the prototype commit it was promoted from. The evaluation digest says what the evaluate step scored and
how; the gate reuses a champion's logged score only when the champion's digest equals the candidate's (same rows,
same evaluate code and args, same metric).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlops.pipeline.config import ModelFolder
from mlops.pipeline.spec import Reference, Step
from mlops.pipeline.steps import bindings, resolve_inputs
from mlops.pipeline.tracking import ANSWERS_FILE, content_digest, git_commit, git_state, source_digest, template_version

EVALUATION_DIGEST = "evaluation.digest"
EVALUATION_ROWS = "evaluation.rows_digest"
EVALUATION_STEP = "evaluation.step_digest"
EVALUATION_METRIC = "evaluation.metric"
EVALUATION_TAGS = (EVALUATION_DIGEST, EVALUATION_ROWS, EVALUATION_STEP, EVALUATION_METRIC)
DATASET_DIGEST = "dataset.digest"  # sha256 of every byte of the data, beside MLflow's digest of its first 10,000 rows
STEP_RUNNER_TAG = "pipeline.step_runner"  # warm or subprocess: how the steps were started (timings depend on it)


def run_tags(
    folder: ModelFolder,
    repo_root: Path,
    digest: str,
    data: str,
    workdir: Path,
    extra_tags: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """A run's lineage tags: model, dataset name, version, digest and location, git commit, template version."""
    tags = {
        "model_name": folder.config.model_name,
        "dataset.name": folder.dataset.name,
        "dataset.version": folder.dataset.version,
        DATASET_DIGEST: digest,
        "dataset.path": data,
        "pipeline.workdir": relative(workdir, repo_root),
    }
    commit = git_commit(repo_root)
    if commit:
        tags["mlflow.source.git.commit"] = commit
    tags.update(git_state(repo_root))
    tags.update(promotion_tags(folder.path / "promotion.yaml"))
    version = template_version(folder.path / ANSWERS_FILE) or template_version(repo_root / ANSWERS_FILE)
    if version:
        tags["template.version"] = version
    tags.update(extra_tags or {})
    return tags


def relative(path: Path, root: Path) -> str:
    """A path as people share it: relative to the repository when inside it (no local absolute paths)."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def promotion_tags(provenance: Path) -> dict[str, str]:
    """Which prototype commit a factory slot's code came from (its promotion.yaml), as run tags."""
    if not provenance.is_file():
        return {}
    import yaml

    recorded = yaml.safe_load(provenance.read_text(encoding="utf-8")) or {}
    keys = ("source", "source_remote", "source_commit")
    return {f"promotion.{key}": str(recorded[key]) for key in keys if recorded.get(key)}


def evaluation_tags(
    folder: ModelFolder, outputs: Mapping[str, Mapping[str, Path]], dataset_digest: str, repo_root: Path
) -> dict[str, str]:
    """Digests of what the evaluate step scored (its inputs but the model) and how (module, args, code, metric).

    Empty when a part cannot be read: the gate then re-scores the champion rather than trust a logged score.
    """
    step = folder.pipeline.step(folder.pipeline.results["score_report"].source)
    model = folder.pipeline.results["model"]
    paths = resolve_inputs(step, bindings(folder, repo_root), outputs, repo_root)
    rows: dict[str, str] = {}
    for flag, value in sorted(step.inputs.items()):
        if value == model:
            continue
        if value == Reference("dataset"):  # the digest the run was given: on Azure ML the data is not local
            rows[flag] = dataset_digest
        elif paths[flag].exists():
            rows[flag] = content_digest(paths[flag])
        else:
            return {}
    code = step_package(step, repo_root)
    if code is None:
        return {}
    direction = "higher" if folder.config.greater_is_better else "lower"
    parts = {
        EVALUATION_ROWS: _json_digest(rows),
        EVALUATION_STEP: _json_digest({"module": step.module, "args": step.args, "code": source_digest(code)}),
        EVALUATION_METRIC: f"{folder.config.primary_metric} ({direction} is better)",
    }
    return {EVALUATION_DIGEST: _json_digest(parts), **parts}


def step_package(step: Step, repo_root: Path) -> Path | None:
    """The model package a step's module lives in (src/<package>/ by the step contract), or None if elsewhere."""
    top = step.module.split(".")[0]
    found = [path for path in (repo_root / "src" / top, repo_root / "src" / f"{top}.py") if path.exists()]
    return found[0] if found else None


def _json_digest(value: Any) -> str:
    """sha256 of a value's canonical JSON."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()
