"""Stream a started step's output: each line to a callback as it is printed, stdout and stderr apart."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import IO, Protocol

Line = Callable[[str, str], None]  # (stream: "stdout" or "stderr", the line without its newline)


class StartedStep(Protocol):
    """A started step: its output streams, its exit code and how to stop it."""

    stdout: IO[bytes]
    stderr: IO[bytes]

    def wait(self) -> int:
        """The exit code, once the step's output has ended."""
        ...

    def kill(self) -> None:
        """Stop the step now."""
        ...


def pump(child: StartedStep, on_line: Line) -> int:
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
