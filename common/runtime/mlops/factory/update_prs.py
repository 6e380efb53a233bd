"""`factory update-prs`: the factory base and each slot behind a release, one pull-request branch each.

The branches are prepared by mlops.updates.proposals (prototypes ship it too) with the factory's own rollout code,
fleet.apply_release, so a proposal is exactly what `factory update` would commit.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mlops.factory.fleet import applications, apply_release
from mlops.updates.proposals import Plan
from mlops.updates.proposals import propose as propose_branches

COMMAND = "factory update-prs"


def propose(
    factory: Path,
    remote: str = "origin",
    vcs_ref: str | None = None,
    only: str | None = None,
    echo: Callable[[str], None] = print,
) -> Plan:
    """Push one update branch per application of the factory behind the release; the default branch stays as it was."""
    planned = applications(factory, only)
    return propose_branches(
        factory, planned, lambda repo, answers, say: apply_release(repo, answers, vcs_ref, say), COMMAND, remote, echo
    )
