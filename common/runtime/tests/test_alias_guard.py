"""The alias guard on a local store: a run aliases only the registry state its gate read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlops.factory import alias_guard
from mlops.pipeline.tracking import mlflow_client


@pytest.fixture
def client(mlflow_uri: str) -> Any:
    """An MLflow client on a private sqlite store with a registered model `toy` and no versions."""
    client = mlflow_client(mlflow_uri)
    client.create_registered_model("toy")
    return client


def add_version(client: Any) -> str:
    """Register one more version of `toy` (from an empty model folder); its number."""
    source = Path("model")
    source.mkdir(exist_ok=True)  # in the test's own folder
    return str(client.create_model_version("toy", source=str(source.resolve()), run_id=None).version)


def test_a_snapshot_names_the_aliases_and_the_newest_version(client: Any) -> None:
    assert alias_guard.snapshot(client, "toy") == alias_guard.Snapshot(None, None, 0)
    assert alias_guard.snapshot(client, "unknown") == alias_guard.Snapshot(None, None, 0)
    version = add_version(client)
    client.set_registered_model_alias("toy", alias_guard.CHAMPION, version)
    assert alias_guard.snapshot(client, "toy") == alias_guard.Snapshot(version, None, 1)


def test_an_alias_moved_since_the_snapshot_is_refused_with_both_states(client: Any) -> None:
    seen = alias_guard.snapshot(client, "toy")
    alias_guard.check_aliases_unchanged(client, "toy", seen)  # nothing moved: no error
    client.set_registered_model_alias("toy", alias_guard.CHAMPION, add_version(client))
    with pytest.raises(alias_guard.AliasConflict, match=r"saw @champion v-, @challenger v-, now @champion v1"):
        alias_guard.check_aliases_unchanged(client, "toy", seen)


def test_of_two_versions_registered_after_one_snapshot_only_the_lower_goes_on(client: Any) -> None:
    seen = alias_guard.snapshot(client, "toy")
    first, second = add_version(client), add_version(client)
    alias_guard.check_first_of_concurrent(client, "toy", seen, int(first))  # the lower one: no error
    with pytest.raises(alias_guard.AliasConflict, match=r"v1 was registered by another run .* v2 is deleted"):
        alias_guard.check_first_of_concurrent(client, "toy", seen, int(second))
    assert [str(v.version) for v in client.search_model_versions("name = 'toy'")] == [first]
