"""The git operations factory commands need: the shared ones (mlops.updates.git), tracked files, remote, blobs."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from mlops.updates.git import RepoError, current_branch, dirty_files, git, listing, require_clean

# Factory modules import these from here; they are defined once, in the package prototypes ship too.
__all__ = [
    "RepoError",
    "current_branch",
    "dirty_files",
    "git",
    "git_bytes",
    "listing",
    "remote_url",
    "require_clean",
    "tracked",
]


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
