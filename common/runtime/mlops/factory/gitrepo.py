"""The git operations factory commands need: run git, list and read files, refuse uncommitted changes."""

from __future__ import annotations

import re
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


def git_bytes(repo: Path, spec: str) -> bytes:
    """The bytes of `git show <spec>` (a file at a commit), or a RepoError naming the repository."""
    done = subprocess.run(["git", "show", spec], cwd=repo, capture_output=True, check=False)
    if done.returncode != 0:
        raise RepoError(f"{repo}: git show {spec} failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def tracked(repo: Path, folder: str) -> list[str]:
    """The files git tracks under a path of the repository (ignored and untracked files never promote)."""
    return sorted(filter(None, git(repo, "ls-files", "-z", "--", folder).split("\0")))


def remote_url(repo: Path) -> str | None:
    """The repository's `origin` URL without any credentials in it, if it has one."""
    done = subprocess.run(
        ["git", "config", "--get", "remote.origin.url"], cwd=repo, capture_output=True, text=True, check=False
    )
    return re.sub(r"(?<=://)[^/@]+@", "", done.stdout.strip()) or None


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
