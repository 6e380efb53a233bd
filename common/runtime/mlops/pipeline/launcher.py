"""Start pipeline steps as separate programs and stream their output: forked from a warm process, or plain subprocesses.

A step is `python -m <module> --flag value ...`, exactly what Azure ML runs. The warm launcher starts one fresh
interpreter (the warm process) that imports what the steps' source imports, once; each step is then a child forked
from it, with its own process, working directory, arguments, environment and exit code, that does not pay those
imports again. Plain subprocesses (the behaviour before this) are used with MLOPS_STEP_RUNNER=subprocess, where fork
is unavailable (Windows), by default where fork after native imports is not known safe (macOS: opt in with
MLOPS_STEP_RUNNER=warm), and from the moment the warm process fails to start or stops answering.

This module imports only the standard library: the warm process runs it by path, before any project code.
"""

from __future__ import annotations

import ast
import gc
import importlib
import io
import json
import os
import queue
import runpy
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, NoReturn, Protocol

MODE_VARIABLE = "MLOPS_STEP_RUNNER"
WARM, SUBPROCESS = "warm", "subprocess"
START_TIMEOUT = 120.0  # seconds the warm process may take to import the steps' libraries before steps run without it
REPLY_TIMEOUT = 30.0  # seconds the warm process may take to fork a step or report a finished step's exit code
# Libraries that import parts of themselves only when called: the warm process imports those parts too.
COMPANIONS = {"mlflow": ("mlflow.models", "mlflow.pyfunc", "mlflow.sklearn", "skops.io")}
# The warm process runs this module's serve() by path: no package import, no project code on sys.path.
BOOT = "import runpy, sys; sys.exit(runpy.run_path(sys.argv[1], run_name='mlops_warm_process')['serve'](sys.argv[2:]))"

Line = Callable[[str, str], None]  # (stream: "stdout" or "stderr", the line without its newline)
Notice = Callable[[str], None]


class LaunchError(RuntimeError):
    """The warm process died or stopped answering."""


class _Child(Protocol):
    """A started step: its output streams, its exit code and how to stop it."""

    stdout: IO[bytes]
    stderr: IO[bytes]

    def wait(self) -> int:
        """The exit code, once the step's output has ended."""
        ...

    def kill(self) -> None:
        """Stop the step now."""
        ...


class Launcher:
    """Runs step commands one at a time; use it as a context manager so that nothing outlives the run."""

    mode = SUBPROCESS

    def run(self, command: Sequence[str], cwd: Path, env: Mapping[str, str], on_line: Line) -> int:
        """Run a command to its end, passing each line it prints to `on_line` as it comes; return its exit code."""
        return _pump(self._start(command, cwd, env), on_line)

    def _start(self, command: Sequence[str], cwd: Path, env: Mapping[str, str]) -> _Child:
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


class _Subprocess(_Child):
    """A step started as a plain subprocess."""

    def __init__(self, command: Sequence[str], cwd: Path, env: Mapping[str, str]) -> None:
        self.process = subprocess.Popen(  # noqa: S603  (the pipeline's own step argv, no shell)
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


class WarmLauncher(Launcher):
    """Forks each `python -m` step from a warm process; falls back to subprocesses when that process fails."""

    mode = WARM

    def __init__(self, repo_root: Path, modules: Sequence[str], notice: Notice) -> None:
        self.notice = notice
        self.started = time.perf_counter()
        self.ready_after: float | None = None
        self.modules = 0  # how many modules the warm process holds once ready
        self.process: subprocess.Popen[bytes] | None = None
        self.errors = tempfile.TemporaryFile()  # the warm process's own stderr, quoted when it fails
        self.socket, theirs = socket.socketpair()
        self.buffer = b""
        plan = json.dumps({"root": str(repo_root), "modules": list(modules)})
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # each step gets its own path
        try:
            self.process = subprocess.Popen(  # noqa: S603  (this interpreter running this file, no shell)
                [sys.executable, "-c", BOOT, __file__, str(theirs.fileno()), plan],
                cwd=repo_root,
                env=env,
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self.errors,
                start_new_session=True,  # its own process group: one signal stops it and every step it forked
            )
        except OSError as error:
            self._give_up(f"the warm process could not start: {error}")
        finally:
            theirs.close()

    def run(self, command: Sequence[str], cwd: Path, env: Mapping[str, str], on_line: Line) -> int:
        """Run a `python -m` command forked from the warm process (anything else, or after a failure: a subprocess)."""
        module_command = len(command) > 2 and command[0] == sys.executable and command[1] == "-m"
        if self.mode != WARM or self.process is None or not module_command:
            return super().run(command, cwd, env, on_line)
        try:
            child = self._fork(command, cwd, env)
        except LaunchError as error:  # nothing of this step has run yet: run it the plain way
            self._give_up(str(error))
            return super().run(command, cwd, env, on_line)
        return _pump(child, on_line)

    def _fork(self, command: Sequence[str], cwd: Path, env: Mapping[str, str]) -> _Child:
        if self.ready_after is None:
            self.modules = int(self.reply(START_TIMEOUT, "ready message")["ready"])
            self.ready_after = time.perf_counter() - self.started
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        request = json.dumps({"module": command[2], "args": list(command[3:]), "cwd": str(cwd), "env": dict(env)})
        payload = request.encode()
        try:
            socket.send_fds(self.socket, [struct.pack("!I", len(payload))], [out_w, err_w])
            self.socket.sendall(payload)
        except OSError as error:
            for fd in (out_r, err_r):
                os.close(fd)
            raise LaunchError(f"the warm process stopped taking requests: {error}") from error
        finally:
            os.close(out_w)
            os.close(err_w)
        child = _Forked(self, os.fdopen(out_r, "rb"), os.fdopen(err_r, "rb"))
        try:
            child.pid = int(self.reply(REPLY_TIMEOUT, "step's process id")["pid"])
        except LaunchError:
            child.stdout.close()
            child.stderr.close()
            raise
        return child

    def describe(self) -> str:
        """How the steps were started, for people: warm, once ready, after how long and with how many modules."""
        if self.mode != WARM:
            return super().describe()
        if self.ready_after is None:
            return "forked from a warm process"
        return f"forked from a warm process, ready after {self.ready_after:.1f} s with {self.modules} modules imported"

    def reply(self, timeout: float, what: str) -> dict[str, Any]:
        """The warm process's next message (one JSON line), or LaunchError when it dies or does not answer in time."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if self.process is None or remaining <= 0:
                raise LaunchError(f"the warm process did not send its {what} within {timeout:g} s")
            self.socket.settimeout(remaining)
            try:
                chunk = self.socket.recv(1 << 16)
            except TimeoutError:
                continue
            except OSError as error:
                raise LaunchError(f"the connection to the warm process failed: {error}") from error
            if not chunk:
                raise LaunchError(f"the warm process exited{self._exit_note()}")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        message: dict[str, Any] = json.loads(line)
        return message

    def _exit_note(self) -> str:
        """`` with code N`` and the last lines of its stderr, when known."""
        if self.process is None:
            return ""
        try:
            code = self.process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            return ""
        self.errors.seek(0)
        tail = self.errors.read().decode(errors="replace").strip().splitlines()[-5:]
        return f" with code {code}" + "".join(f"\n    {line}" for line in tail)

    def _give_up(self, reason: str) -> None:
        """Stop the warm process and run every further step as a plain subprocess."""
        self.kill()
        self.mode = SUBPROCESS
        self.notice(f"warm step runner unavailable ({reason}); running steps as plain subprocesses")

    def kill(self) -> None:
        """Stop the warm process and every step it forked, at once (idempotent)."""
        if self.process is not None:
            if self.process.poll() is None:
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except OSError:
                    self.process.kill()
            self.process.wait()
            self.process = None
        self.socket.close()

    def close(self) -> None:
        """Stop the warm process: it holds nothing to save, and waiting for its interpreter to wind down is waste."""
        self.kill()
        self.errors.close()


class _Forked(_Child):
    """A step forked from the warm process; its exit code comes from that process."""

    def __init__(self, launcher: WarmLauncher, stdout: IO[bytes], stderr: IO[bytes]) -> None:
        self.launcher, self.stdout, self.stderr = launcher, stdout, stderr
        self.pid = 0

    def wait(self) -> int:
        try:
            return int(self.launcher.reply(REPLY_TIMEOUT, "step's exit code")["status"])
        except LaunchError:
            self.launcher.kill()
            raise

    def kill(self) -> None:
        self.launcher.kill()  # the step is the warm process's child: stop both, the run is over anyway


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


def _pump(child: _Child, on_line: Line) -> int:
    """Pass the child's output lines to `on_line` as they come (in this thread), then return its exit code."""
    lines: queue.Queue[tuple[str, str] | None] = queue.Queue()
    readers = [
        threading.Thread(target=_read, args=(stream, name, lines), daemon=True)
        for name, stream in (("stdout", child.stdout), ("stderr", child.stderr))
    ]
    for reader in readers:
        reader.start()
    try:
        open_streams = len(readers)
        while open_streams:
            item = lines.get()
            if item is None:
                open_streams -= 1
            else:
                on_line(*item)
        return child.wait()
    except BaseException:
        child.kill()  # Ctrl+C, or the caller's own failure: nothing keeps running behind its back
        raise
    finally:
        for reader, stream in zip(readers, (child.stdout, child.stderr), strict=True):
            reader.join(timeout=2)
            if not reader.is_alive():  # closing a stream another thread still reads would wait for that read
                stream.close()


def _read(stream: IO[bytes], name: str, lines: queue.Queue[tuple[str, str] | None]) -> None:
    """Queue each line of a stream, then None at its end."""
    try:
        for raw in iter(stream.readline, b""):
            lines.put((name, raw.decode("utf-8", errors="replace").rstrip("\r\n")))
    except (OSError, ValueError):  # the stream was closed under us: the step was stopped
        pass
    finally:
        lines.put(None)


# --- The warm process (runs in a fresh interpreter started by WarmLauncher) ---


def serve(argv: list[str]) -> int:
    """Import what the steps import, then fork one child per request until the runner closes the connection."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the runner decides when steps stop
    connection = socket.socket(fileno=int(argv[0]))
    plan = json.loads(argv[1])
    base_path = sys.path[0 if sys.flags.safe_path else 1 :]  # the interpreter's own path, without -c's ''
    preload(step_imports(Path(plan["root"]), plan["modules"]))
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


def step_imports(root: Path, modules: Sequence[str]) -> list[str]:
    """What the steps' source imports, read (never run) from the step modules and the local code they import.

    Local code (packages under the repository's src/ or root) is followed, never listed: only libraries are.
    """
    bases = [root / "src", root]
    found: dict[str, None] = {}
    todo = list(modules)
    seen: set[Path] = set()
    while todo:
        name = todo.pop()
        for path, package in _module_files(bases, name):
            if path in seen:
                continue
            seen.add(path)
            for imported in _imports(path, package):
                top = imported.split(".")[0]
                if _is_local(bases, top):
                    todo.append(imported)
                elif top != "__future__":
                    found.setdefault(top)
                    found.setdefault(imported)
    return list(found)


def _is_local(bases: list[Path], top: str) -> bool:
    return any((base / top).is_dir() or (base / f"{top}.py").is_file() for base in bases)


def _module_files(bases: list[Path], name: str) -> list[tuple[Path, str]]:
    """The files that importing `name` runs (each package's __init__ on the way), each with its package."""
    parts = name.split(".")
    for base in bases:
        if not _is_local([base], parts[0]):
            continue
        files = []
        for depth in range(1, len(parts) + 1):
            dotted, where = ".".join(parts[:depth]), base.joinpath(*parts[:depth])
            if (where / "__init__.py").is_file():
                files.append((where / "__init__.py", dotted))
            elif where.with_suffix(".py").is_file():
                files.append((where.with_suffix(".py"), ".".join(parts[: depth - 1])))
        if (base.joinpath(*parts) / "__main__.py").is_file():
            files.append((base.joinpath(*parts) / "__main__.py", name))
        return files
    return []


def _imports(path: Path, package: str) -> list[str]:
    """Absolute names of the modules a file imports anywhere in it (`from x import y` also tries `x.y`)."""
    try:
        tree = ast.parse(path.read_bytes(), str(path))
    except (OSError, SyntaxError, ValueError):
        return []
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1] if package else []
                start = ".".join([*parent, node.module] if node.module else parent)
            else:
                start = node.module or ""
            if start:
                names.append(start)
                names += [f"{start}.{alias.name}" for alias in node.names if alias.name != "*"]
    return names
