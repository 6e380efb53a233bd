"""Commands people wait on that do not train: the factory CLI's start, the prototype's test collection and CI."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from bench_projects import Workspace, venv_python
from bench_stats import Row, absolute, interleaved
from projects import run, uv

START_TARGET = 0.6  # seconds for `factory --help` and any command that does not train
COLLECT_TARGET = 3.0
CI_TARGET = 10.0
INTERPRETER = "`python -c pass`"


def factory_start(space: Workspace, repeat: int) -> list[Row]:
    """Figure 4: the factory's entry point on commands that do not train, against the bare interpreter of its venv."""
    repo = space.factory
    factory = str(repo / ".venv" / "bin" / "factory")
    commands = {
        "`factory --help`": [factory, "--help"],
        "`factory check churn`": [factory, "check", "churn"],
        "`factory status churn`": [factory, "status", "churn"],
        INTERPRETER: [str(venv_python(repo)), "-c", "pass"],
    }
    timings = interleaved({name: partial(run, argv, repo, space.env) for name, argv in commands.items()}, repeat)
    return absolute(timings, INTERPRETER, dict.fromkeys(list(commands)[:-1], START_TARGET))


def prototype_ci(space: Workspace, repeat: int) -> list[Row]:
    """Figure 5: the prototype's test collection and its basic CI, warm."""
    repo, env = space.prototype, space.env
    collect = "prototype `uv run pytest --collect-only -q`"
    ci = "prototype basic CI (`uv run pre-commit run --all-files` + `uv run pytest`)"
    commands = {
        collect: [[uv(), "run", "pytest", "--collect-only", "-q"]],
        ci: [[uv(), "run", "pre-commit", "run", "--all-files"], [uv(), "run", "pytest"]],
        INTERPRETER: [[str(venv_python(repo)), "-c", "pass"]],
    }
    timings = interleaved({name: partial(run_all, argvs, repo, env) for name, argvs in commands.items()}, repeat)
    return absolute(timings, INTERPRETER, {collect: COLLECT_TARGET, ci: CI_TARGET})


def run_all(commands: list[list[str]], repo: Path, env: dict[str, str]) -> None:
    """Run commands in order, stopping at the first failure."""
    for command in commands:
        run(command, repo, env)
