"""`factory update`: roll a template release out to the factory base and every slot, one commit each.

Applications are updated in order (the base, then slots by name) with `copier update`. Each clean
update is committed on its own; the first conflict stops the rollout with a report naming the
application and the files. Resolve the markers, commit, and run the command again: applications
already at the target version are no-ops, so it continues where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mlops.factory.gitrepo import RepoError, git, git_bytes, require_clean
from mlops.factory.slot import Slot, model_of, slot_names
from mlops.factory.templating import pristine
from mlops.pipeline.tracking import ANSWERS_FILE
from mlops.updates import release
from mlops.updates.release import Applied, version_of


@dataclass
class Rollout:
    """What a fleet update did: applications updated, already current, and where it stopped."""

    updated: list[str] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    stopped_at: str | None = None
    conflicts: list[str] = field(default_factory=list)


def applications(factory: Path, only: str | None = None) -> list[tuple[str, str]]:
    """(label, answers file) of the base and each slot, in rollout order; `only` keeps one slot."""
    slots = slot_names(factory, ANSWERS_FILE)
    if only is not None:
        if only not in slots:
            raise RepoError(f"no model slot {only!r}; slots: {slots or 'none'}")
        return [(f"slot {only}", Slot(only).answers)]
    return [("factory base", ANSWERS_FILE)] + [(f"slot {s}", Slot(s).answers) for s in slots]


def protect_work(repo: Path, answers_file: str, before: str, echo: Callable[[str], None] = print) -> list[str]:
    """Undo what an update would lose; returns the changed files a release removed (restored: stop on them).

    Model-owned files the user deleted and the update brought back are deleted again.
    """
    import tempfile

    model = model_of(answers_file)
    returned = [
        path
        for path in filter(None, git(repo, "ls-files", "-z", "--others", "--exclude-standard").split("\0"))
        if model
        and Slot(model).model_owned(path)
        and git(repo, "log", "-1", "--format=%H", "--diff-filter=D", "--", path).strip()
    ]
    for path in returned:
        (repo / path).unlink()
        echo(f"  kept deleted: {path} (you deleted it; the template still renders it)")
    deleted = list(filter(None, git(repo, "ls-files", "-z", "--deleted").split("\0")))
    if not deleted:
        return []
    with tempfile.TemporaryDirectory() as scratch:
        rendered = pristine(repo, answers_file, before, Path(scratch))
        changed = [
            path
            for path in deleted
            if not (rendered / path).is_file() or (rendered / path).read_bytes() != git_bytes(repo, f"HEAD:{path}")
        ]
    if changed:
        git(repo, "checkout", "HEAD", "--", *changed)
    return changed


def apply_release(
    factory: Path, answers_file: str, vcs_ref: str | None = None, echo: Callable[[str], None] = print
) -> Applied:
    """`copier update` one application of the factory, keeping files a user deleted or changed (protect_work)."""
    return release.apply_release(factory, answers_file, vcs_ref, echo, protect=protect_work)


def update_fleet(
    factory: Path, only: str | None = None, vcs_ref: str | None = None, echo: Callable[[str], None] = print
) -> Rollout:
    """Update each application in turn; stop at the first conflict."""
    require_clean(factory, "factory")
    rollout = Rollout()
    planned = applications(factory, only)
    for number, (label, answers_file) in enumerate(planned, start=1):
        echo(f"[{number}/{len(planned)}] {label}: updating from {version_of(factory, answers_file)} ...")
        applied = apply_release(factory, answers_file, vcs_ref, echo)
        before, after = applied.before, applied.after
        if applied.kept:
            rollout.stopped_at, rollout.conflicts = label, applied.kept
            kept = ", ".join(applied.kept)
            echo(f"{label}: {before} -> {after} STOPPED: the release removes files you changed: {kept}")
            echo("They are restored. Keep them or delete them yourself, commit, then run `factory update` again.")
            return rollout
        if applied.conflicts:
            rollout.stopped_at, rollout.conflicts = label, applied.conflicts
            echo(f"{label}: {before} -> {after} STOPPED on conflicts in: {', '.join(applied.conflicts)}")
            echo("Resolve the markers (keep what is right from both sides), commit, then run `factory update` again.")
            return rollout
        if applied.changed:
            git(factory, "add", "-A")
            git(factory, "commit", "-q", "-m", f"Update {label} to template {after}")  # the repo's hooks run
            rollout.updated.append(label)
            echo(f"{label}: {before} -> {after} (committed)")
        else:
            rollout.current.append(label)
            echo(f"{label}: at {after}, nothing to do")
    return rollout
