"""Executable docs: the commands of a Markdown page's bash blocks, run in order exactly as a person types them.

A fenced block tagged ```bash, ```sh or ```shell holds commands; a command is what bash reads as one
(continuation lines, multi-line loops, open quotes). HTML comments on the lines directly before a block
change how its commands are run, and are invisible on the rendered page:

    <!-- docs-test: skip reason="needs an Azure subscription" -->
    <!-- docs-test: skip match="factory aml train" reason="needs an Azure subscription" -->
    <!-- docs-test: server match="mlflow ui" url="http://127.0.0.1:5000/" timeout="120" -->

`skip` shows a command without running it (`reason` is required; without `match` it covers the whole block).
`server` marks a command that runs until stopped: it is started, awaited until `url` answers below HTTP 500,
then stopped with its whole process group. An unknown action or key, a `match` that matches nothing, or a
command marked twice is an error, so a doc edit cannot silently un-mark or over-mark a command.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

SHELL_LANGUAGES = {"bash", "sh", "shell"}
SERVER_TIMEOUT = 120.0  # seconds a server marker waits for its URL unless it says `timeout="..."`
STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL when stopping a process group
OUTPUT_TAIL = 6000  # characters of output a failure shows
BASH_CHECK_TIMEOUT = 10.0  # `bash -n` parses a few lines in milliseconds; this only guards against a hang
RUN = ["bash", "-e", "-o", "pipefail", "-c"]

FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
MARKER_START = re.compile(r"^\s*<!--\s*docs-test\b")
MARKER = re.compile(r'^\s*<!--\s*docs-test:\s*(?P<action>[\w-]+)(?P<attrs>(?:\s+[\w-]+="[^"]*")*)\s*-->\s*$')
ATTRIBUTE = re.compile(r'([\w-]+)="([^"]*)"')
# Which keys each marker action takes, and which of them it needs.
MARKER_KEYS = {"skip": {"match", "reason"}, "server": {"match", "url", "timeout"}}
MARKER_REQUIRED = {"skip": {"reason"}, "server": {"match", "url"}}
# What bash says when the text so far is a command that goes on (not a command that is wrong).
INCOMPLETE = ("unexpected end of file", "unexpected EOF", "delimited by end-of-file")


class DocMarkupError(ValueError):
    """A document's bash blocks or docs-test markers cannot be read; the message names the file and line."""


class DocCommandFailed(AssertionError):
    """A documented command failed; the message names the document, line, command, exit code and output tail."""


@dataclass(frozen=True)
class DocCommand:
    """One shell command of a document, as bash reads it, with how the docs-test markers say to run it."""

    text: str
    source: str
    line: int
    skip_reason: str | None = None
    server_url: str | None = None
    server_timeout: float = SERVER_TIMEOUT


@dataclass(frozen=True)
class DocResult:
    """What running (or skipping) one documented command did; `exit_code` is None when it was skipped."""

    command: DocCommand
    ran_text: str
    exit_code: int | None
    output: str
    seconds: float
    skipped: bool


@dataclass(frozen=True)
class _Marker:
    """One parsed `<!-- docs-test: ... -->` comment and the Markdown line it is on."""

    action: str
    attributes: dict[str, str]
    line: int


def commands(markdown: str, source: str) -> list[DocCommand]:
    """The commands of every bash/sh/shell fenced block of `markdown`, in order, with their markers applied."""
    lines = markdown.splitlines()
    found: list[DocCommand] = []
    pending: list[_Marker] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        opening = FENCE.match(line)
        if MARKER_START.match(line):
            pending.append(_parse_marker(line, source, index + 1))
            index += 1
            continue
        if opening is None:
            if pending:
                raise DocMarkupError(f"{source}:{pending[-1].line}: a docs-test marker must directly precede a fence")
            index += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        info = opening["info"].strip().lstrip("{.").split()
        language = info[0].rstrip("}").lower() if info else ""
        end = _closing_fence(lines, index, fence)
        if end is None:
            raise DocMarkupError(f"{source}:{index + 1}: the fenced block is never closed")
        if language in SHELL_LANGUAGES:
            body = [(number + 1, _dedent(lines[number], indent)) for number in range(index + 1, end)]
            found += _apply_markers(_split_commands(body, source), pending, source)
        elif pending:
            raise DocMarkupError(f"{source}:{pending[-1].line}: docs-test markers apply to bash blocks only")
        pending = []
        index = end + 1
    if pending:
        raise DocMarkupError(f"{source}:{pending[-1].line}: a docs-test marker must directly precede a fence")
    return found


def _closing_fence(lines: Sequence[str], opening: int, fence: str) -> int | None:
    """The index of the line that closes the fence opened at `opening` (same character, at least as long)."""
    closing = re.compile(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$")
    return next((number for number in range(opening + 1, len(lines)) if closing.match(lines[number])), None)


def _dedent(line: str, indent: int) -> str:
    """A block line without the indentation of its fence (blocks inside list items are indented)."""
    return line[min(indent, len(line) - len(line.lstrip(" "))) :]


def _parse_marker(line: str, source: str, number: int) -> _Marker:
    """A docs-test marker comment, checked against the actions and keys the harness knows."""
    parsed = MARKER.match(line)
    if parsed is None:
        raise DocMarkupError(f'{source}:{number}: unreadable docs-test marker (<!-- docs-test: ACTION key="value" -->)')
    action = parsed["action"]
    if action not in MARKER_KEYS:
        raise DocMarkupError(f"{source}:{number}: unknown docs-test action {action!r} (known: {sorted(MARKER_KEYS)})")
    pairs = ATTRIBUTE.findall(parsed["attrs"])
    attributes = dict(pairs)
    if len(attributes) != len(pairs):
        raise DocMarkupError(f"{source}:{number}: a docs-test marker key is given twice")
    if unknown := set(attributes) - MARKER_KEYS[action]:
        raise DocMarkupError(f"{source}:{number}: docs-test {action} takes no {sorted(unknown)}")
    if missing := {key for key in MARKER_REQUIRED[action] if not attributes.get(key, "").strip()}:
        raise DocMarkupError(f"{source}:{number}: docs-test {action} needs {' and '.join(sorted(missing))}")
    if action == "server":
        if not attributes["url"].startswith(("http://", "https://")):
            raise DocMarkupError(f"{source}:{number}: a server url must be http:// or https://")
        try:
            if float(attributes.get("timeout", SERVER_TIMEOUT)) <= 0:
                raise ValueError
        except ValueError:
            raise DocMarkupError(f"{source}:{number}: a server timeout is a positive number of seconds") from None
    return _Marker(action, attributes, number)


def _split_commands(body: Sequence[tuple[int, str]], source: str) -> list[DocCommand]:
    """Join a block's lines into the commands bash reads, dropping blank and comment-only lines between them."""
    found: list[DocCommand] = []
    pending: list[str] = []
    first = 0
    for number, line in body:
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if not pending:
            first = number
        pending.append(line)
        if _complete("\n".join(pending)):
            found.append(DocCommand(text="\n".join(pending).strip(), source=source, line=first))
            pending = []
    if pending:
        raise DocMarkupError(f"{source}:{first}: the command is incomplete at the end of its block")
    return found


def _complete(text: str) -> bool:
    """Whether bash reads `text` as whole commands rather than the start of one that goes on."""
    if not _bash_parses(text):
        return False
    # `bash -n` accepts a trailing backslash as if the next line were empty; a line joined to it shows
    # whether the backslash continues the command (`&&` then ends too early) or sits in a comment.
    return not text.endswith("\\") or _bash_parses(text + "\n&&")


def _bash_parses(text: str) -> bool:
    """False when `bash -n` reports the text ending inside a command (other syntax errors fail when run)."""
    checked = subprocess.run(
        ["bash", "-n"], input=text + "\n", capture_output=True, text=True, timeout=BASH_CHECK_TIMEOUT, check=False
    )
    return not any(sign in checked.stderr for sign in INCOMPLETE)


def _apply_markers(block: list[DocCommand], markers: Sequence[_Marker], source: str) -> list[DocCommand]:
    """The block's commands with each marker applied to the commands it matches (each command at most once)."""
    marked: dict[int, int] = {}
    for marker in markers:
        match = marker.attributes.get("match")
        chosen = [index for index, command in enumerate(block) if match is None or match in command.text]
        if not chosen:
            what = f"match={match!r} matches" if match is not None else "the block has"
            raise DocMarkupError(f"{source}:{marker.line}: docs-test {marker.action}: {what} no command of the block")
        for index in chosen:
            if index in marked:
                raise DocMarkupError(
                    f"{source}:{marker.line}: the command on line {block[index].line} "
                    f"is already marked on line {marked[index]}"
                )
            marked[index] = marker.line
            if marker.action == "skip":
                block[index] = replace(block[index], skip_reason=marker.attributes["reason"])
            else:
                timeout = float(marker.attributes.get("timeout", SERVER_TIMEOUT))
                block[index] = replace(block[index], server_url=marker.attributes["url"], server_timeout=timeout)
    return block


class DocRunner:
    """Runs documented commands like one person's terminal: in order, with `cd` carrying over, stdin closed.

    Each command runs as `bash -e -o pipefail -c TEXT` in its own process group; whatever it leaves running
    is stopped when it returns. `substitutions` replace literal text before a command runs (recorded in the
    result); `timeout` bounds each command (None: no bound). Environment variables do not carry over.
    """

    def __init__(
        self,
        cwd: Path,
        env: Mapping[str, str],
        substitutions: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> None:
        self.cwd = Path(cwd)
        self.env = dict(env)
        self.substitutions = dict(substitutions or {})
        self.timeout = timeout

    def run_all(self, commands: Iterable[DocCommand]) -> list[DocResult]:
        """Run commands in order, stopping at the first failure (raised as DocCommandFailed)."""
        return [self.run(command) for command in commands]

    def run(self, command: DocCommand) -> DocResult:
        """Run one command (or record its skip); a failure raises DocCommandFailed."""
        ran_text = self._substitute(command.text)
        if command.skip_reason is not None:
            return DocResult(command, ran_text, exit_code=None, output="", seconds=0.0, skipped=True)
        if command.server_url is not None:
            return self._serve(command, ran_text, command.server_url)
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="doc-commands-") as state, tempfile.TemporaryFile() as output:
            where = Path(state) / "pwd"
            # The directory is recorded only when the command succeeded, as a terminal would stay where it failed.
            process = self._start(f"{ran_text}\npwd > {shlex.quote(str(where))}\n", output)
            try:
                exit_code: int | None = process.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                exit_code = None
            _stop_group(process)
            text = _read(output)
            if exit_code is None:
                raise DocCommandFailed(_failure(command, ran_text, self.cwd, f"timed out after {self.timeout} s", text))
            if exit_code != 0:
                raise DocCommandFailed(_failure(command, ran_text, self.cwd, f"exited {exit_code}", text))
            if where.exists():
                self.cwd = Path(where.read_text(encoding="utf-8").strip())
        return DocResult(command, ran_text, exit_code, text, time.monotonic() - started, skipped=False)

    def _substitute(self, text: str) -> str:
        """The command with every substitution applied, in the order given."""
        for old, new in self.substitutions.items():
            text = text.replace(old, new)
        return text

    def _start(self, script: str, output: IO[bytes]) -> subprocess.Popen[bytes]:
        """Start `script` under bash in the current directory, in a new session so its whole group can be stopped."""
        return subprocess.Popen(
            [*RUN, script],
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=output,  # a file, not a pipe: a background child holding it open cannot block us
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _serve(self, command: DocCommand, ran_text: str, url: str) -> DocResult:
        """Start a server command, wait until `url` answers, then stop its process group."""
        started = time.monotonic()
        with tempfile.TemporaryFile() as output:
            process = self._start(ran_text, output)
            problem = _await_url(process, url, command.server_timeout)
            exit_code = _stop_group(process)
            text = _read(output)
        if problem:
            raise DocCommandFailed(_failure(command, ran_text, self.cwd, problem, text))
        return DocResult(command, ran_text, exit_code, text, time.monotonic() - started, skipped=False)


def _await_url(process: subprocess.Popen[bytes], url: str, timeout: float) -> str | None:
    """None once `url` answers with a status below 500; otherwise why it never did."""
    # Servers under test listen locally: a proxy from the environment must not intercept the probe.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"the server exited {process.returncode} before {url} answered"
        try:
            with opener.open(url, timeout=2):  # noqa: S310  (marker urls are checked to be http or https)
                return None
        except urllib.error.HTTPError as error:
            if error.code < 500:  # any answer short of a server error means it is up
                return None
            last = f"HTTP {error.code}"
        except (urllib.error.URLError, OSError) as error:
            last = str(getattr(error, "reason", error))
        time.sleep(0.5)
    return f"{url} did not answer below HTTP 500 within {timeout:g} s (last: {last})"


def _stop_group(process: subprocess.Popen[bytes]) -> int:
    """Stop every process of the command's group (SIGTERM, then SIGKILL) and return the command's exit code."""
    group = process.pid  # the session leader: its pid is the group id
    if _group_alive(group):
        _signal_group(group, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        while _group_alive(group) and time.monotonic() < deadline:
            if process.poll() is None:
                try:
                    process.wait(timeout=0.1)
                except subprocess.TimeoutExpired:
                    pass
            else:
                time.sleep(0.1)
        if _group_alive(group):
            _signal_group(group, signal.SIGKILL)
    return process.wait()


def _group_alive(group: int) -> bool:
    """Whether any process of the group still exists."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal_group(group: int, signum: signal.Signals) -> None:
    """Send a signal to a process group that may have just ended."""
    try:
        os.killpg(group, signum)
    except ProcessLookupError:
        pass


def _read(output: IO[bytes]) -> str:
    """The combined output a command wrote to its file."""
    output.seek(0)
    return output.read().decode("utf-8", errors="replace")


def _failure(command: DocCommand, ran_text: str, cwd: Path, problem: str, output: str) -> str:
    """The message of a failed documented command: where it is documented, what ran, and how it ended."""
    lines = [f"{command.source}:{command.line}: documented command {problem}", f"  documented: {command.text}"]
    if ran_text != command.text:
        lines.append(f"  ran:        {ran_text}")
    lines += [f"  in:         {cwd}", f"--- last {OUTPUT_TAIL} characters of its output ---", output[-OUTPUT_TAIL:]]
    return "\n".join(lines)


def summary(results: Iterable[DocResult]) -> str:
    """Counts of executed and skipped commands (with each skip reason) per source document, then in total."""
    by_source: dict[str, list[DocResult]] = {}
    for result in results:
        by_source.setdefault(result.command.source, []).append(result)
    lines: list[str] = []
    executed = skipped = 0
    for source, group in by_source.items():
        reasons = Counter(result.command.skip_reason for result in group if result.skipped)
        ran = len(group) - reasons.total()
        lines.append(f"{source}: {ran} executed, {reasons.total()} skipped")
        lines += [f"  skipped {count}: {reason}" for reason, count in reasons.items()]
        executed, skipped = executed + ran, skipped + reasons.total()
    lines.append(f"all documents: {executed} executed, {skipped} skipped")
    return "\n".join(lines)
