"""`factory update`: roll a template release out to the factory base and every slot, one commit each.

Applications are updated in order (the base, then slots by name) with `copier update`. Each clean
update is committed on its own; the first conflict stops the rollout with a report naming the
application and the files. Resolve the markers, commit, and run the command again: applications
already at the target version are no-ops, so it continues where it stopped.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mlops.common.gitrepo import RepoError, dirty_files, git, require_clean
from mlops.common.tracking import ANSWERS_FILE, template_version

MARKERS = re.compile(r"^(<<<<<<< |=======$|>>>>>>> )", re.MULTILINE)


@dataclass
class Rollout:
    """What a fleet update did: applications updated, already current, and where it stopped."""

    updated: list[str] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    stopped_at: str | None = None
    conflicts: list[str] = field(default_factory=list)


def applications(factory: Path, only: str | None = None) -> list[tuple[str, str]]:
    """(label, answers file) of the base and each slot, in rollout order; `only` keeps one slot."""
    slots = sorted(p.parent.name for p in (factory / "mlops").glob(f"*/{ANSWERS_FILE}"))
    if only is not None:
        if only not in slots:
            raise RepoError(f"no model slot {only!r}; slots: {slots or 'none'}")
        return [(f"slot {only}", f"mlops/{only}/{ANSWERS_FILE}")]
    return [("factory base", ANSWERS_FILE)] + [(f"slot {s}", f"mlops/{s}/{ANSWERS_FILE}") for s in slots]


def conflicted(factory: Path) -> list[str]:
    """Changed files holding conflict markers, and rejected hunks (*.rej)."""
    found = []
    for path in dirty_files(factory):
        file = factory / path.strip('"')
        if path.endswith(".rej") or (
            file.is_file() and MARKERS.search(file.read_text(encoding="utf-8", errors="ignore"))
        ):
            found.append(path)
    return sorted(found)


def version_of(factory: Path, answers_file: str) -> str:
    """The template version an application records."""
    return template_version(factory / answers_file) or "?"


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


def update_fleet(
    factory: Path, only: str | None = None, vcs_ref: str | None = None, echo: Callable[[str], None] = print
) -> Rollout:
    """Update each application in turn; stop at the first conflict."""
    require_clean(factory, "factory")
    rollout = Rollout()
    for label, answers_file in applications(factory, only):
        before = version_of(factory, answers_file)
        copier_update(factory, answers_file, vcs_ref)
        after = version_of(factory, answers_file)
        conflicts = conflicted(factory)
        if conflicts:
            rollout.stopped_at, rollout.conflicts = label, conflicts
            echo(f"{label}: {before} -> {after} STOPPED on conflicts in: {', '.join(conflicts)}")
            echo("Resolve the markers (keep what is right from both sides), commit, then run `factory update` again.")
            return rollout
        if dirty_files(factory):
            git(factory, "add", "-A")
            git(factory, "commit", "-q", "-m", f"Update {label} to template {after}", "--no-verify")
            rollout.updated.append(label)
            echo(f"{label}: {before} -> {after} (committed)")
        else:
            rollout.current.append(label)
            echo(f"{label}: at {after}, nothing to do")
    return rollout
