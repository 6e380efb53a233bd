"""Apply a template release to one application of a repository: `copier update`, then what it left to resolve.

A factory applies it to its base and each slot (mlops.factory.fleet), a prototype to its one answers file.
"""

from __future__ import annotations

import re
import subprocess
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlops.pipeline.tracking import template_version
from mlops.updates.git import RepoError, dirty_files

MARKERS = re.compile(r"^(<<<<<<< |=======$|>>>>>>> )", re.MULTILINE)
# Restores what an update would lose (repo, answers file, version before, echo); returns the files a person decides.
Protect = Callable[[Path, str, str, Callable[[str], None]], list[str]]


@dataclass(frozen=True)
class Applied:
    """What one application's `copier update` left in the work tree, not yet committed."""

    before: str
    after: str
    kept: list[str]  # changed files the release removes, restored: the user decides
    conflicts: list[str]  # files with conflict markers, and *.rej files
    changed: bool  # whether the work tree differs from HEAD

    @property
    def clean(self) -> bool:
        """Nothing left for a person to resolve."""
        return not self.kept and not self.conflicts


def copier_update(repo: Path, answers_file: str | None = None, vcs_ref: str | None = None) -> None:
    """`copier update --defaults` of one application, conflicts left inline as users get them."""
    import copier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # optional external data is absent from copier's scratch copies
        copier.run_update(
            str(repo),
            answers_file=answers_file,
            defaults=True,
            overwrite=True,
            conflict="inline",
            vcs_ref=vcs_ref,
            quiet=True,
        )


def conflicted(repo: Path) -> list[str]:
    """Changed files holding conflict markers, and rejected hunks (*.rej)."""
    found = []
    for path in dirty_files(repo):
        file = repo / path.strip('"')
        if path.endswith(".rej") or (
            file.is_file() and MARKERS.search(file.read_text(encoding="utf-8", errors="ignore"))
        ):
            found.append(path)
    return sorted(found)


def version_of(repo: Path, answers_file: str) -> str:
    """The template version an application records."""
    return template_version(repo / answers_file) or "?"


def relock(repo: Path, echo: Callable[[str], None] = print) -> None:
    """After an update changed pyproject.toml, bring uv.lock along, so `uv sync --locked` keeps passing."""
    if not (repo / "uv.lock").is_file() or "pyproject.toml" not in dirty_files(repo, "pyproject.toml"):
        return
    done = subprocess.run(["uv", "lock", "--quiet"], cwd=repo, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RepoError(f"{repo / 'uv.lock'}: `uv lock` failed after the update changed pyproject.toml:\n{done.stderr}")
    echo("  uv.lock updated for the new pyproject.toml")


def apply_release(
    repo: Path,
    answers_file: str,
    vcs_ref: str | None = None,
    echo: Callable[[str], None] = print,
    protect: Protect | None = None,
) -> Applied:
    """`copier update` one application in place, keep the user's work and, when clean, bring uv.lock along."""
    before = version_of(repo, answers_file)
    copier_update(repo, answers_file, vcs_ref)
    after = version_of(repo, answers_file)
    kept = protect(repo, answers_file, before, echo) if protect and before != after else []
    conflicts = [] if kept else conflicted(repo)
    changed = bool(dirty_files(repo))
    if changed and not kept and not conflicts:
        relock(repo, echo)
    return Applied(before, after, kept, conflicts, changed)
