"""The gate's outcome as a file: what `factory run`'s forked gate program (forked_gate.py) writes and `run_slot` reads.

The verdict, or the expected error that stopped the gate, crosses from the program forked from the warm process back
to the runner's process as JSON in the run's work folder, where it also stays for people.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mlops.factory.gate import Check, Verdict
from mlops.factory.registry import RegistryError
from mlops.pipeline.config import ConfigError
from mlops.pipeline.steps import StepFailed

PROGRAM = "mlops.factory.forked_gate"  # python -m PROGRAM REQUEST REPLY: logs, gates and registers the run
OUTCOME_FILE = "gate.json"  # in the run's work folder, beside the steps' outputs
# What the gate raises for people (cli.py prints these without a traceback), by name across the process boundary.
EXPECTED: dict[str, type[Exception]] = {
    error.__name__: error for error in (ConfigError, RegistryError, StepFailed, ValueError)
}


def gate_request(workdir: Path, *, quiet: bool, verbose: bool) -> dict[str, Any]:
    """What the program needs beyond the logging request: where the run's outputs are and how much to print."""
    return {"gate": {"workdir": str(workdir), "quiet": quiet, "verbose": verbose}}


def write_outcome(workdir: Path, verdict: Verdict | None = None, error: Exception | None = None) -> None:
    """Write the verdict, or the expected error that stopped the gate."""
    found = {"verdict": asdict(verdict)} if verdict else {"error": type(error).__name__, "message": str(error)}
    (workdir / OUTCOME_FILE).write_text(json.dumps(found), encoding="utf-8")


def read_outcome(workdir: Path) -> Verdict | None:
    """The verdict written for a run in `workdir` (None if the program did not gate it); raise the error it met."""
    path = workdir / OUTCOME_FILE
    if not path.is_file():
        return None
    outcome = json.loads(path.read_text(encoding="utf-8"))
    if "error" in outcome:
        raise EXPECTED[outcome["error"]](outcome["message"])
    found = outcome["verdict"]
    checks = tuple(Check(**check) for check in found["checks"])
    return Verdict(found["model_name"], found["metric"], checks, tuple(found["notes"]))
