"""Start pipeline steps as separate programs and stream their output: forked from a warm process, or plain subprocesses.

A step is `python -m <module> --flag value ...`, exactly what Azure ML runs. The warm launcher (warm_launcher.py)
starts one fresh interpreter, the warm process (warm_process.py), that imports what the steps' source imports
(step_imports.py), once; each step is then a child forked from it, with its own process, working directory,
arguments, environment and exit code, that does not pay those imports again. Plain subprocesses
(subprocess_launcher.py, the behaviour before this) are used with MLOPS_STEP_RUNNER=subprocess, where fork is
unavailable (Windows), by default where fork after native imports is not known safe (macOS: opt in with
MLOPS_STEP_RUNNER=warm), and from the moment the warm process fails to start or stops answering. Either way each
step's output is streamed line by line as it is printed (streaming.py).
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from mlops.pipeline.subprocess_launcher import SUBPROCESS, Launcher
from mlops.pipeline.warm_launcher import WARM, Notice, WarmLauncher

MODE_VARIABLE = "MLOPS_STEP_RUNNER"


def open_launcher(repo_root: Path, modules: Sequence[str], notice: Notice) -> Launcher:
    """The launcher MLOPS_STEP_RUNNER asks for: warm (default on Linux) or subprocess (elsewhere, or without fork)."""
    mode = os.environ.get(MODE_VARIABLE, "").strip().lower() or (WARM if sys.platform == "linux" else SUBPROCESS)
    if mode not in (WARM, SUBPROCESS):
        raise ValueError(f"{MODE_VARIABLE}={os.environ[MODE_VARIABLE]!r}: expected {WARM!r} or {SUBPROCESS!r}")
    if mode == WARM and warm_supported():
        try:
            return WarmLauncher(repo_root, modules, notice)
        except OSError as error:  # no socket pair or temporary file (out of descriptors): steps still run
            notice(f"warm step runner unavailable ({error}); running steps as plain subprocesses")
    return Launcher()


def warm_supported() -> bool:
    """Whether this platform can fork a warm process and pass it file descriptors (not Windows)."""
    return all(hasattr(os, name) for name in ("fork", "killpg", "pipe")) and hasattr(socket, "send_fds")
