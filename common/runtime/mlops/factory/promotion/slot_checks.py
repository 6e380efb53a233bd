"""After a promotion: the slot's tests, then its local pipeline with the gate, as its CI would run them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from mlops.factory.gate import EXIT_REJECTED
from mlops.factory.promotion import GateRejected, PromotionError
from mlops.factory.slot import Slot


def run_checks(factory: Path, model: str, echo: Callable[[str], None]) -> None:
    """The slot's tests, then its local pipeline with the gate, in the factory's (locked) environment."""
    for title, command in (
        ("tests", ["uv", "run", "pytest", "-q", "-p", "no:cacheprovider", Slot(model).tests]),
        ("pipeline + gate", ["uv", "run", "factory", "run", model]),
    ):
        echo(f"== {title}: {' '.join(command)}")
        sys.stdout.flush()
        done = subprocess.run(command, cwd=factory, check=False)  # output streams to the person running it
        if done.returncode == EXIT_REJECTED and title == "pipeline + gate":
            raise GateRejected(
                f"the gate rejected the promoted {model} (verdict above): nothing was registered and "
                f"{model} @champion is unchanged. The promoted files are staged: commit them to integrate the "
                "code without a new model version, or drop them with `git checkout -f HEAD`"
            )
        if done.returncode != 0:
            raise PromotionError(f"{title} failed ({' '.join(command)} exited {done.returncode}; output above)")
