"""Compare-and-set for a slot's aliases: a run that was gated against one registry state never aliases another.

MLflow has no atomic compare-and-set on aliases, so the guard combines two facts the registry does make atomic:
the aliases read just before writing, and version numbers, which the server hands out one at a time.

1. The gate reads a `Snapshot` (where @champion and @challenger point, and the newest version number).
2. Before registering, the aliases are read again: if either moved (another run, an approval, a rollback),
   the run refuses and registers nothing.
3. After registering version N, every version created since the snapshot is listed: if one below N exists,
   a concurrent run of the same slot registered first, so this run deletes its version and refuses.
   Of two runs gated at the same time, only the lower version is ever aliased.
4. Just before each alias write the aliases are read once more (step 2's check); approvals and rollbacks
   (`registry.promote_champion`, `registry.rollback`) read, decide and check again the same way.

A first deployment writes @champion before @challenger, so a server that stops between the two writes leaves a
champion the next run's gate judges against, never a challenger that the next run would replace unjudged.
The window left is the one between the last read and the write itself, which MLflow cannot close.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CHAMPION = "champion"
CHALLENGER = "challenger"
NOT_FOUND = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")  # no such model, no such alias


class AliasConflict(RuntimeError):
    """The registry changed between the gate's read and the alias write; nothing was aliased."""


@dataclass(frozen=True)
class Snapshot:
    """What the gate saw: the versions behind @champion and @challenger, and the newest version number."""

    champion: str | None
    challenger: str | None
    newest: int

    def describe(self) -> str:
        """The aliases for a message."""
        return f"@{CHAMPION} v{self.champion or '-'}, @{CHALLENGER} v{self.challenger or '-'}"


def _alias(client: Any, name: str, alias: str) -> str | None:
    """The version an alias points to, or None when the model or the alias does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException as error:
        if error.error_code in NOT_FOUND:
            return None
        raise  # an unreachable or failing server is not "no alias"


def _version_numbers(client: Any, name: str) -> list[int]:
    """The numbers of the model's live versions (deleted ones excluded)."""
    return [int(version.version) for version in client.search_model_versions(f"name = '{name}'")]


def snapshot(client: Any, name: str) -> Snapshot:
    """Read the aliases and the newest version number, as the gate judges against them."""
    return Snapshot(
        _alias(client, name, CHAMPION), _alias(client, name, CHALLENGER), max(_version_numbers(client, name), default=0)
    )


GATED = "this run was gated"
RERUN = "Re-run the release so the gate judges against the current champion."


def check_aliases_unchanged(client: Any, name: str, seen: Snapshot, *, during: str = GATED, then: str = RERUN) -> None:
    """Refuse when @champion or @challenger moved since they were read (`during` what, and what to do `then`)."""
    now = snapshot(client, name)
    if (now.champion, now.challenger) != (seen.champion, seen.challenger):
        raise AliasConflict(
            f"{name}: the registry changed while {during} (it saw {seen.describe()}, now {now.describe()}: another "
            f"run, an approval or a rollback); nothing was aliased. {then}"
        )


def check_first_of_concurrent(client: Any, name: str, seen: Snapshot, mine: int) -> None:
    """Refuse when another run registered a version of this slot after the snapshot and before `mine`."""
    earlier = sorted(number for number in _version_numbers(client, name) if seen.newest < number < mine)
    if earlier:
        client.delete_model_version(name, str(mine))
        raise AliasConflict(
            f"{name}: v{earlier[0]} was registered by another run gated at the same time as this one; this run's "
            f"v{mine} is deleted and nothing was aliased. Re-run the release so the gate judges against the "
            "registry as it is now."
        )
