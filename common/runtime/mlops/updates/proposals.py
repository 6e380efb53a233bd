"""Template releases as pull-request branches: one per application behind the release, never the default branch.

For each application (a prototype's one, a factory's base and slots) a branch `template-update/<application>-<version>`
is made from the default branch, the release is applied on it with the same code as a plain update, committed and
pushed. A conflicted update is committed with its markers (every other hook still runs) and labelled, so the pull
request's checks fail until a person resolves it. The plan written for the pipeline names each branch with its title,
body and labels; the pipeline opens the pull requests.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mlops.updates.git import RepoError, current_branch, git, require_clean
from mlops.updates.release import Applied

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


def describe(label: str, applied: Applied, files: list[str], command: str) -> tuple[str, str]:
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
    lines += ["", f"Opened by the `template-updates` pipeline (`{command}`)."]
    return title, "\n".join(lines)


def commit(repo: Path, message: str, with_conflicts: bool) -> None:
    """Commit everything with the repo's hooks; a conflicted update skips only the conflict-marker hook."""
    git(repo, "add", "-A")
    env = dict(os.environ)
    if with_conflicts:
        env["SKIP"] = ",".join(filter(None, [env.get("SKIP", ""), CONFLICT_HOOK]))
    git(repo, "commit", "-q", "-m", message, env=env)


def propose(
    repo: Path,
    planned: list[tuple[str, str]],
    apply: Callable[[Path, str, Callable[[str], None]], Applied],
    command: str,
    remote: str = "origin",
    echo: Callable[[str], None] = print,
) -> Plan:
    """Push one update branch per (label, answers file) behind the release; the default branch is left as it was."""
    require_clean(repo, "repository")
    default = current_branch(repo)
    if default == "detached" or default.startswith(BRANCH_PREFIX):
        raise RepoError(f"{repo}: check out the default branch first (now on {default})")
    start = git(repo, "rev-parse", "HEAD").strip()
    plan = Plan()
    for number, (label, answers_file) in enumerate(planned, start=1):
        echo(f"[{number}/{len(planned)}] {label} ...")
        git(repo, "checkout", "-q", "-B", f"{BRANCH_PREFIX}work", start)
        try:
            applied = apply(repo, answers_file, echo)
            branch = branch_name(label, applied.after)
            if not applied.changed:
                plan.current.append(label)
                echo(f"{label}: at {applied.after}, nothing to propose")
            elif remote_has_branch(repo, remote, branch):
                plan.already_proposed.append(label)
                echo(f"{label}: {branch} is already on {remote}, left as it is")
            else:
                files = sorted(filter(None, git(repo, "status", "--porcelain", "-uall").splitlines()))
                title, body = describe(label, applied, [line[3:] for line in files], command)
                commit(repo, title, with_conflicts=not applied.clean)
                git(repo, "push", "-q", remote, f"HEAD:refs/heads/{branch}")
                labels = [LABEL] + ([] if applied.clean else [CONFLICT_LABEL])
                plan.proposals.append(Proposal(label, branch, title, body, labels))
                echo(
                    f"{label}: {applied.before} -> {applied.after} pushed to {branch}"
                    + ("" if applied.clean else " (conflicts left for review)")
                )
        finally:
            git(repo, "reset", "-q", "--hard", start)
            git(repo, "clean", "-q", "-fd")
            git(repo, "checkout", "-q", default)
            git(repo, "branch", "-q", "-D", f"{BRANCH_PREFIX}work")
    return plan
