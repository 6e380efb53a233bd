"""Where runs are tracked and the lineage facts recorded with them (digests, commit, template version)."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
ANSWERS_FILE = ".copier-answers.yml"


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI when set, else the embedded sqlite store in the working directory."""
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def quiet_mlflow_logs() -> None:
    """Keep MLflow's start-up chatter (database creation and migrations, logged at INFO) off people's screens."""
    import logging

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def mlflow_client(uri: str | None = None) -> Any:
    """An MLflow client on `uri` (default: the tracking URI above), without MLflow's start-up chatter."""
    from mlflow import MlflowClient

    quiet_mlflow_logs()
    return MlflowClient(tracking_uri=uri or tracking_uri())


def content_digest(path: Path) -> str:
    """sha256 of a file, or of a folder's files (names and bytes, in sorted order)."""
    return _digest(path, sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path])


def source_digest(path: Path) -> str:
    """sha256 of a module file or a package folder, without the bytecode caches Python writes beside it."""
    if not path.is_dir():
        return _digest(path, [path])
    files = [p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.relative_to(path).parts]
    return _digest(path, sorted(files))


def _digest(path: Path, files: list[Path]) -> str:
    """sha256 of files under `path`: each relative name (for a folder) and its bytes."""
    digest = hashlib.sha256()
    for file in files:
        if path.is_dir():
            digest.update(file.relative_to(path).as_posix().encode())
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def git_commit(repo_root: Path) -> str | None:
    """The checked-out commit of the repository, if it is a git work tree with a commit."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo_root, capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def git_state(repo_root: Path) -> dict[str, str]:
    """Whether the work tree differs from its commit, and a digest of the difference when it does.

    A model trained from uncommitted code is marked, and two such runs with the same changes share a digest.
    """
    try:
        status = subprocess.run(["git", "status", "--porcelain", "-z"], cwd=repo_root, capture_output=True, check=False)
    except OSError:
        return {}
    if status.returncode != 0:
        return {}
    if not status.stdout:
        return {"git.dirty": "false"}
    digest = hashlib.sha256(status.stdout)
    diff = subprocess.run(["git", "diff", "HEAD", "--binary"], cwd=repo_root, capture_output=True, check=False)
    digest.update(diff.stdout)
    for entry in status.stdout.split(b"\0"):
        path = repo_root / entry[3:].decode("utf-8", "surrogateescape")
        if entry.startswith(b"??") and path.is_file():  # untracked: the diff does not hold its bytes
            digest.update(path.read_bytes())
    return {"git.dirty": "true", "git.diff_digest": digest.hexdigest()}


def template_version(answers_file: Path) -> str | None:
    """The template version a repository (or slot) was generated or last updated from."""
    if not answers_file.is_file():
        return None
    answers = yaml.safe_load(answers_file.read_text(encoding="utf-8")) or {}
    commit = answers.get("_commit")
    return str(commit) if commit else None
