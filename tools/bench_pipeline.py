"""A pipeline run (prototype `uv run pipeline`, factory `factory run`) against the one-process reference script."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path

from bench_projects import REFERENCE, Registry, Workspace, venv_python
from bench_stats import Row, cpu_and_wall, interleaved
from projects import run, uv

TARGET = 1.2  # the bound on what orchestration may add to the work itself
REFERENCE_NAME = "one-process reference"


def against_reference(
    space: Workspace, repo: Path, config: str, command: Sequence[str], figure: str, repeat: int
) -> list[Row]:
    """`command` and the reference script on the same config folder, interleaved, each from the same store state."""
    registry = Registry(repo, config, space.env)
    actions = {
        figure: partial(run, command, repo, registry.env),
        REFERENCE_NAME: partial(run, [venv_python(repo), REFERENCE, config], repo, registry.env),
    }
    timings = interleaved(actions, repeat, after=dict.fromkeys(actions, registry.reset))
    note = "reference: same data, split, estimator and params; logs, registers and sets an alias in one process"
    return cpu_and_wall(figure, timings, figure, REFERENCE_NAME, TARGET, note)


def prototype_pipeline(space: Workspace, repeat: int) -> list[Row]:
    """Figure 1: the prototype's `uv run pipeline`, warm."""
    return against_reference(
        space, space.prototype, "configs", [uv(), "run", "pipeline"], "prototype `uv run pipeline` (warm)", repeat
    )


def factory_run(space: Workspace, repeat: int) -> list[Row]:
    """Figure 2: the factory's `uv run factory run churn` (pipeline, gate, register), warm."""
    command = [uv(), "run", "factory", "run", "churn"]
    return against_reference(space, space.factory, "mlops/churn", command, "factory `factory run churn`", repeat)
