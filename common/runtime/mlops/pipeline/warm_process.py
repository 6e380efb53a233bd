"""The warm process: imports what the steps import, once, then forks one child per step and reports its exit.

It runs in a fresh interpreter started by warm_launcher.py, by path (no package import, no project code on sys.path),
so it imports only the standard library, and step_imports.py by path too.
"""

from __future__ import annotations

import gc
import importlib
import io
import json
import os
import runpy
import select
import signal
import socket
import struct
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NoReturn

# Libraries that import parts of themselves only when called: the warm process imports those parts too.
COMPANIONS = {"mlflow": ("mlflow.models", "mlflow.pyfunc", "mlflow.sklearn", "skops.io")}


def serve(argv: list[str]) -> int:
    """Import what the steps import, then fork one child per request until the runner closes the connection."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the runner decides when steps stop
    connection = socket.socket(fileno=int(argv[0]))
    plan = json.loads(argv[1])
    base_path = sys.path[0 if sys.flags.safe_path else 1 :]  # the interpreter's own path, without -c's ''
    preload(_step_imports()(Path(plan["root"]), plan["modules"]))
    gc.collect()
    gc.freeze()  # forked children then do not copy every page the imports touched when they collect garbage
    connection.sendall(json.dumps({"ready": len(sys.modules)}).encode() + b"\n")
    while True:
        request = _receive(connection)
        if request is None:
            return 0
        message, fds = request
        sys.stdout.flush()  # nothing of this process's own output may reach the step's
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            connection.close()
            _become_step(message, fds, base_path)
        for fd in fds:
            os.close(fd)
        connection.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        status = _wait(pid, connection)
        if status is None:
            return 0
        connection.sendall(json.dumps({"status": status}).encode() + b"\n")


def _receive(connection: socket.socket) -> tuple[dict[str, Any], list[int]] | None:
    """The next request and the step's two output pipes, or None when the runner has closed the connection."""
    header, fds, _, _ = socket.recv_fds(connection, 4, 2)
    if not header:
        return None
    while len(header) < 4:
        header += connection.recv(4 - len(header))
    size = struct.unpack("!I", header)[0]
    payload = b""
    while len(payload) < size:
        chunk = connection.recv(size - len(payload))
        if not chunk:
            return None
        payload += chunk
    message: dict[str, Any] = json.loads(payload)
    return message, fds


def _wait(pid: int, connection: socket.socket) -> int | None:
    """The step's exit code; None if the runner went away first (the step is then killed)."""
    try:
        watch = [os.pidfd_open(pid)]  # readable when the child exits (Linux); elsewhere poll below
    except (AttributeError, OSError):
        watch = []
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
            readable, _, _ = select.select([connection.fileno(), *watch], [], [], None if watch else 0.05)
            if connection.fileno() in readable and not connection.recv(1, socket.MSG_PEEK):
                os.killpg(0, signal.SIGKILL)  # the runner is gone: this process, the step and anything it started
                return None
    finally:
        for fd in watch:
            os.close(fd)


def _become_step(message: dict[str, Any], fds: list[int], base_path: list[str]) -> NoReturn:
    """In the forked child: become `python -m module args` in its own directory and environment, then exit."""
    os.dup2(fds[0], 1)
    os.dup2(fds[1], 2)
    for fd in fds:
        os.close(fd)
    for stream in (sys.stdout, sys.stderr):  # output streams line by line, as it is printed
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(line_buffering=True, write_through=True)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    raise SystemExit(_run_module(message["module"], message["args"], message["cwd"], message["env"], base_path))


def _run_module(module: str, args: list[str], cwd: str, env: dict[str, str], base_path: list[str]) -> int:
    """Run a module as `__main__` the way `python -m` would; return the exit code a fresh interpreter would have."""
    try:
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        extra = [entry for entry in env.get("PYTHONPATH", "").split(os.pathsep) if entry]
        sys.path[:] = ([] if sys.flags.safe_path else [os.getcwd()]) + extra + base_path
        importlib.invalidate_caches()
        sys.argv = ["-m", *args]  # run_module puts the module's file in argv[0], as `python -m` does
        sys.orig_argv = [sys.executable, "-m", module, *args]
        _reseed()
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as stop:
        return _exit_code(stop.code)
    except BaseException:
        sys.excepthook(*sys.exc_info())
        return 1
    return 0


def _exit_code(code: object) -> int:
    """What an interpreter exits with for `sys.exit(code)`: None is 0, a message is printed and is 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _reseed() -> None:
    """Fresh random state, as a new interpreter would have (`random` reseeds itself after fork; numpy does not)."""
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        numpy_random.seed()


def preload(modules: Iterable[str]) -> int:
    """Import what is installed among `modules` (and their companions), skipping what fails; return how many."""
    loaded = 0
    for name in modules:
        for module in (name, *COMPANIONS.get(name, ())):
            if module in sys.modules:
                continue
            try:
                importlib.import_module(module)
            except BaseException:  # noqa: S112  (a missing or broken library is the step's business, not the runner's)
                continue
            loaded += 1
    return loaded


def _step_imports() -> Callable[[Path, Sequence[str]], list[str]]:
    """step_imports() of step_imports.py, beside this file, run by path as this file is."""
    found: Callable[[Path, Sequence[str]], list[str]] = runpy.run_path(
        str(Path(__file__).with_name("step_imports.py"))
    )["step_imports"]
    return found
