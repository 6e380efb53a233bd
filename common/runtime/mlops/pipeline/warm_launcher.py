"""Steps forked from a warm process: the runner's side (start it, ask it for steps, fall back when it fails).

The warm process (warm_process.py) is a fresh interpreter that imported what the steps' source imports, once; each
step is a child forked from it, with its own process, working directory, arguments, environment and exit code.
From the moment the warm process fails to start or stops answering, steps run as plain subprocesses.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from mlops.pipeline import warm_process
from mlops.pipeline.streaming import Line, StartedStep, pump
from mlops.pipeline.subprocess_launcher import SUBPROCESS, Launcher

WARM = "warm"
START_TIMEOUT = 120.0  # seconds the warm process may take to import the steps' libraries before steps run without it
REPLY_TIMEOUT = 30.0  # seconds the warm process may take to fork a step or report a finished step's exit code
# The warm process runs warm_process.py's serve() by path: no package import, no project code on sys.path.
BOOT = "import runpy, sys; sys.exit(runpy.run_path(sys.argv[1], run_name='mlops_warm_process')['serve'](sys.argv[2:]))"
PROCESS_FILE = warm_process.__file__

Notice = Callable[[str], None]


class LaunchError(RuntimeError):
    """The warm process died or stopped answering."""


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
            self.process = subprocess.Popen(  # this interpreter running warm_process.py, no shell
                [sys.executable, "-c", BOOT, PROCESS_FILE, str(theirs.fileno()), plan],
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
        return pump(child, on_line)

    def _fork(self, command: Sequence[str], cwd: Path, env: Mapping[str, str]) -> StartedStep:
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


class _Forked(StartedStep):
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
