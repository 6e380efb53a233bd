"""The plain way to start steps: each one a fresh subprocess (the fallback, and the base of the warm launcher)."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from mlops.pipeline.streaming import Line, StartedStep, pump

SUBPROCESS = "subprocess"


class Launcher:
    """Runs step commands one at a time; use it as a context manager so that nothing outlives the run."""

    mode = SUBPROCESS

    def run(self, command: Sequence[str], cwd: Path, env: Mapping[str, str], on_line: Line) -> int:
        """Run a command to its end, passing each line it prints to `on_line` as it comes; return its exit code."""
        return pump(self._start(command, cwd, env), on_line)

    def _start(self, command: Sequence[str], cwd: Path, env: Mapping[str, str]) -> StartedStep:
        return _Subprocess(command, cwd, env)

    def describe(self) -> str:
        """How the steps were started, for people."""
        return "as plain subprocesses"

    def close(self) -> None:
        """Release what the launcher holds (idempotent)."""

    def __enter__(self) -> Launcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Subprocess(StartedStep):
    """A step started as a plain subprocess."""

    def __init__(self, command: Sequence[str], cwd: Path, env: Mapping[str, str]) -> None:
        self.process = subprocess.Popen(  # the pipeline's own step argv, no shell
            list(command),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        if self.process.stdout is None or self.process.stderr is None:  # never: both are pipes
            raise RuntimeError("a step subprocess started without its output pipes")
        self.stdout, self.stderr = self.process.stdout, self.process.stderr

    def wait(self) -> int:
        return self.process.wait()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
