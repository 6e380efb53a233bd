"""`factory update-prs`: a template release as one pull-request branch per application, never on the default branch.

For the factory base and each slot behind the release, a branch `template-update/<application>-<version>` is made
from the default branch, the application is updated on it with the same code as `factory update`
(fleet.apply_release), committed and pushed. A conflicted update is committed with its markers (every other hook
still runs) and labelled, so the pull request's checks fail until a person resolves it. The plan written for the
workflow names each branch with its title, body and labels; the workflow opens the pull requests.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mlops.factory.fleet import Applied, applications, apply_release
from mlops.factory.gitrepo import RepoError, current_branch, git, require_clean

BRANCH_PREFIX = "template-update/"
LABEL = "template-update"
CONFLICT_LABEL = "template-conflict"
# The repo's hooks run on the update commit, except the one that refuses the markers a person must resolve.
CONFLICT_HOOK = "check-merge-conflict"


@dataclass(frozen=True)
class Proposal:
    """One pull request to open: a pushed branch with its title, body and labels."""

    application: str
    branch: str
    title: str
    body: str
    labels: list[str]


@dataclass
class Plan:
    """What a run proposed, and the applications it left alone."""

    proposals: list[Proposal] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    already_proposed: list[str] = field(default_factory=list)

    def write(self, path: Path) -> None:
        """The proposals as JSON, for the workflow that opens the pull requests."""
        path.write_text(json.dumps([asdict(p) for p in self.proposals], indent=2) + "\n", encoding="utf-8")


def branch_name(label: str, version: str) -> str:
    """`template-update/slot-churn-v0.2.0`: one branch per application and release."""
    return BRANCH_PREFIX + re.sub(r"[^A-Za-z0-9._-]+", "-", f"{label}-{version}").strip("-")


def remote_has_branch(repo: Path, remote: str, branch: str) -> bool:
    """Whether `remote` already holds the branch (a proposal made by an earlier run)."""
    return bool(git(repo, "ls-remote", "--heads", remote, f"refs/heads/{branch}").strip())


def describe(label: str, applied: Applied, files: list[str]) -> tuple[str, str]:
    """The pull request's title and body."""
    title = f"Update {label} to template {applied.after}"
    lines = [
        f"The template moved from `{applied.before}` to `{applied.after}`; this updates the {label} with "
        "`copier update`, keeping your edits (read the template's CHANGELOG for what changed).",
        "",
        f"Files changed ({len(files)}): " + ", ".join(f"`{f}`" for f in files[:30]) + (" …" if len(files) > 30 else ""),
    ]
    if applied.conflicts:
        lines += [
            "",
            "**Conflicts to resolve** (the checks fail until no marker is left): "
            + ", ".join(f"`{f}`" for f in applied.conflicts),
            "Check out this branch, keep what is right from both sides of each `<<<<<<<`/`>>>>>>>` block, "
            "delete any `.rej` file once applied, commit and push.",
        ]
    if applied.kept:
        lines += [
            "",
            "**The release removes files you changed**; they are kept here for you to decide: "
            + ", ".join(f"`{f}`" for f in applied.kept),
        ]
    lines += ["", "Opened by the `template-updates` workflow (`factory update-prs`)."]
    return title, "\n".join(lines)


def commit(repo: Path, message: str, with_conflicts: bool) -> None:
    """Commit everything with the repo's hooks; a conflicted update skips only the conflict-marker hook."""
    git(repo, "add", "-A")
    env = dict(os.environ)
    if with_conflicts:
        env["SKIP"] = ",".join(filter(None, [env.get("SKIP", ""), CONFLICT_HOOK]))
    git(repo, "commit", "-q", "-m", message, env=env)


def propose(
    factory: Path,
    remote: str = "origin",
    vcs_ref: str | None = None,
    only: str | None = None,
    echo: Callable[[str], None] = print,
) -> Plan:
    """Push one update branch per application behind the release; the default branch is left as it was."""
    require_clean(factory, "factory")
    default = current_branch(factory)
    if default == "detached" or default.startswith(BRANCH_PREFIX):
        raise RepoError(f"{factory}: check out the default branch first (now on {default})")
    start = git(factory, "rev-parse", "HEAD").strip()
    plan = Plan()
    planned = applications(factory, only)
    for number, (label, answers_file) in enumerate(planned, start=1):
        echo(f"[{number}/{len(planned)}] {label} ...")
        git(factory, "checkout", "-q", "-B", f"{BRANCH_PREFIX}work", start)
        try:
            applied = apply_release(factory, answers_file, vcs_ref, echo)
            branch = branch_name(label, applied.after)
            if not applied.changed:
                plan.current.append(label)
                echo(f"{label}: at {applied.after}, nothing to propose")
            elif remote_has_branch(factory, remote, branch):
                plan.already_proposed.append(label)
                echo(f"{label}: {branch} is already on {remote}, left as it is")
            else:
                files = sorted(filter(None, git(factory, "status", "--porcelain", "-uall").splitlines()))
                title, body = describe(label, applied, [line[3:] for line in files])
                commit(factory, title, with_conflicts=not applied.clean)
                git(factory, "push", "-q", remote, f"HEAD:refs/heads/{branch}")
                labels = [LABEL] + ([] if applied.clean else [CONFLICT_LABEL])
                plan.proposals.append(Proposal(label, branch, title, body, labels))
                echo(
                    f"{label}: {applied.before} -> {applied.after} pushed to {branch}"
                    + ("" if applied.clean else " (conflicts left for review)")
                )
        finally:
            git(factory, "reset", "-q", "--hard", start)
            git(factory, "clean", "-q", "-fd")
            git(factory, "checkout", "-q", default)
            git(factory, "branch", "-q", "-D", f"{BRANCH_PREFIX}work")
    return plan
