"""`factory status`: a model's registered versions with their aliases, metrics and data, as one table.

On the embedded store (`sqlite:///...`, the default) the registry is read straight from its tables with Python's
own sqlite3, read-only: importing MLflow and opening its SQL store cost about 3 s, the read itself milliseconds.
The tables are MLflow's, not a public contract, so the direct read is used only where every table and column it
reads is there and a single workspace is in use; anything else (a server, another database,
a schema this code was not written against) goes through MLflow's client, which gives the same rows.
`tests/mlops/test_factory.py` checks the two readers agree on a store MLflow itself wrote.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.factory import registry
from mlops.pipeline.tables import render_table
from mlops.pipeline.tracking import mlflow_client, tracking_uri

SQLITE_PREFIX = "sqlite:///"
DELETED_STAGE = "Deleted_Internal"  # MLflow's mark on a deleted version; its searches leave such rows out
# Every column the direct read uses, by table: a store without one of them is read through MLflow instead.
READ_COLUMNS = {
    "model_versions": {"name", "version", "source", "run_id", "current_stage"},
    "model_version_tags": {"name", "version", "key", "value"},
    "registered_model_aliases": {"name", "alias", "version"},
    "logged_model_metrics": {"model_id", "metric_name", "metric_value", "metric_timestamp_ms", "metric_step"},
}


@dataclass(frozen=True)
class VersionSummary:
    """One registered version as `factory status` shows it."""

    version: int
    aliases: tuple[str, ...]  # sorted
    metrics: dict[str, float]
    dataset: str
    run_id: str

    def row(self) -> tuple[str, str, str, str, str]:
        """The version's cells in the status table."""
        metrics = ", ".join(f"{k}={v:.4f}" for k, v in sorted(self.metrics.items()))
        aliases = ", ".join(f"@{alias}" for alias in self.aliases)
        return (f"v{self.version}", aliases, metrics, self.dataset, self.run_id)


def report(model: str) -> str:
    """The status table of a model, or a line saying it has no registered versions yet."""
    found = summaries(model)
    if not found:
        return f"{model}: no registered versions yet (run `factory run {model}`)"
    return render_table(["version", "aliases", "metrics", "dataset", "run"], [v.row() for v in found])


def summaries(model: str) -> list[VersionSummary]:
    """Every registered version of `model`, newest first, read the fastest way the store allows."""
    uri = tracking_uri()
    database = sqlite_path(uri)
    if database is not None:
        direct = read_sqlite(database, model)
        if direct is not None:
            return direct
    return read_client(mlflow_client(uri), model)


def sqlite_path(uri: str) -> Path | None:
    """The database file of a plain `sqlite:///<path>` URI; None for anything else (servers, URI options)."""
    if not uri.startswith(SQLITE_PREFIX) or "?" in uri:
        return None
    return Path(uri.removeprefix(SQLITE_PREFIX))


def read_client(client: Any, model: str) -> list[VersionSummary]:
    """The versions through MLflow's client: any store MLflow can open."""
    found = registry.versions(client, model)
    aliases = client.get_registered_model(model).aliases if found else {}
    return [
        VersionSummary(
            version=int(version.version),
            aliases=tuple(sorted(alias for alias, number in aliases.items() if str(number) == str(version.version))),
            metrics=registry.version_metrics(client, version),
            dataset=_dataset(dict(version.tags)),
            run_id=str(version.run_id),
        )
        for version in found
    ]


def read_sqlite(database: Path, model: str) -> list[VersionSummary] | None:
    """The versions straight from an embedded store's tables; None where that store must be read through MLflow."""
    if not database.is_file():
        return []  # nothing tracked here yet: MLflow would only create an empty store
    try:
        with sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True) as connection:
            if not _schema_is_known(connection):
                return None
            return _read_versions(connection, model)
    except sqlite3.Error:
        return None  # locked mid-migration, not a database MLflow wrote...: MLflow's client says what is wrong


def _schema_is_known(connection: sqlite3.Connection) -> bool:
    """Every table and column the direct read uses exists, and one workspace holds every row."""
    for table, columns in READ_COLUMNS.items():
        found = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}  # noqa: S608  (fixed names)
        if not columns <= found:
            return False
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "workspaces" in tables and connection.execute("SELECT COUNT(*) FROM workspaces").fetchone()[0] > 1:
        return False  # several workspaces: which one this command means is MLflow's to resolve
    return True


def _read_versions(connection: sqlite3.Connection, model: str) -> list[VersionSummary]:
    """The rows of one model, newest version first, as MLflow's client would return them."""
    versions = connection.execute(
        "SELECT version, source, run_id FROM model_versions WHERE name = ? AND current_stage IS NOT ?",
        (model, DELETED_STAGE),
    ).fetchall()
    aliases: dict[int, list[str]] = {}
    for alias, version in connection.execute(
        "SELECT alias, version FROM registered_model_aliases WHERE name = ?", (model,)
    ):
        aliases.setdefault(int(version), []).append(str(alias))
    found = []
    for version, source, run_id in sorted(versions, key=lambda row: int(row[0]), reverse=True):
        tags = dict(
            connection.execute(
                "SELECT key, value FROM model_version_tags WHERE name = ? AND version = ?", (model, version)
            ).fetchall()
        )
        found.append(
            VersionSummary(
                version=int(version),
                aliases=tuple(sorted(aliases.get(int(version), []))),
                metrics=_metrics(connection, source, tags),
                dataset=_dataset(tags),
                run_id=str(run_id),
            )
        )
    return found


def _metrics(connection: sqlite3.Connection, source: str | None, tags: dict[str, str]) -> dict[str, float]:
    """A version's metrics, as `registry.version_metrics` reads them: its Logged Model's, else its metric tags."""
    model_id = registry.source_model_id(source)
    if model_id is None:
        return registry.tag_metrics(tags)
    rows = connection.execute(
        "SELECT metric_name, metric_value FROM logged_model_metrics WHERE model_id = ? "
        "ORDER BY metric_timestamp_ms, metric_step",
        (model_id,),
    )
    return {str(name): float(value) for name, value in rows}  # the latest value of each metric


def _dataset(tags: dict[str, str]) -> str:
    """The data a version was trained on, from its lineage tags."""
    return f"{tags.get('dataset.name', '?')} v{tags.get('dataset.version', '?')}"
