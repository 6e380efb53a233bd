"""The git operations template updates need: run git, see the branch, refuse uncommitted changes."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path


class RepoError(RuntimeError):
    """A repository is not in the state a command needs; the message names the files and the fix."""


def git(repo: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    """Output of a git command in `repo`, or a RepoError naming the repository."""
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise RepoError(f"{repo}: git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def current_branch(repo: Path) -> str:
    """The branch checked out in `repo`, or `detached` (no branch, or not a git work tree)."""
    try:
        return git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() or "detached"
    except RepoError:
        return "detached"


def dirty_files(repo: Path, *paths: str) -> list[str]:
    """Paths with uncommitted changes (staged, unstaged or untracked and not ignored), under `paths` if given."""
    return [line[3:] for line in git(repo, "status", "--porcelain", "--", *paths).splitlines()]


def listing(paths: list[str], shown: int = 10) -> str:
    """A few paths for a message, and how many more there are."""
    return ", ".join(paths[:shown]) + (f" and {len(paths) - shown} more" if len(paths) > shown else "")


def require_clean(repo: Path, role: str, error: type[RepoError] = RepoError) -> None:
    """Refuse a repository that is not a git work tree or has uncommitted changes, naming the files."""
    if not (repo / ".git").exists():
        raise error(f"the {role} {repo} is not a git work tree")
    dirty = dirty_files(repo)
    if dirty:
        raise error(f"the {role} {repo} has uncommitted changes: {listing(dirty)}. Commit or stash them first.")
