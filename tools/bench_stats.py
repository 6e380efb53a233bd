"""Timing commands A B A B ... and the figures made of them: min/median/max, ratios pair by pair, a target."""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Action = Callable[[], object]


def say(line: str) -> None:
    """Print a progress line at once, also into a pipe."""
    print(line, flush=True)


def children_cpu() -> float:
    """CPU seconds (user + system) of every finished, reaped descendant of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Timing:
    """Wall and CPU seconds of each counted run of one action (CPU: its reaped subprocesses, not this process)."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def interleaved(
    actions: Mapping[str, Action],
    repeat: int,
    *,
    warmup: int = 1,
    after: Mapping[str, Action] | None = None,
    echo: Callable[[str], None] = say,
) -> dict[str, Timing]:
    """Run the actions in turn (A B A B ...) so that machine load hits all alike; `after` resets, untimed.

    Time an action that runs commands as subprocesses: its CPU is what those subprocesses used. Each run is
    echoed as it ends, so a long figure does not keep the person waiting in silence.
    """
    timings = {name: Timing() for name in actions}
    for round_number in range(warmup + repeat):
        for name, action in actions.items():
            cpu, started = children_cpu(), time.perf_counter()
            action()
            wall, cpu = time.perf_counter() - started, children_cpu() - cpu
            if round_number >= warmup:
                timings[name].wall.append(wall)
                timings[name].cpu.append(cpu)
            label = "warm-up" if round_number < warmup else f"run {round_number - warmup + 1}/{repeat}"
            echo(f"    {label:<9} {wall:7.2f} s wall {cpu:7.2f} s cpu  {name}")
            if after and name in after:
                after[name]()
    return timings


def spread(values: list[float]) -> tuple[float, float, float]:
    """(min, median, max)."""
    return min(values), statistics.median(values), max(values)


@dataclass(frozen=True)
class Row:
    """One figure of the results table: a command's seconds per run, optionally against a reference's, and a target.

    With a reference, the ratio is taken pair by pair (run i of each, measured back to back) and its median is the
    figure to quote. `target` bounds the median ratio when `target_is_ratio`, else the median seconds.
    """

    figure: str
    seconds: list[float]
    target: float | None = None
    target_is_ratio: bool = True
    reference: str = ""
    reference_seconds: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def ratios(self) -> list[float]:
        """This figure over its reference, run by run."""
        if not self.reference_seconds:
            return []
        return [a / b for a, b in zip(self.seconds, self.reference_seconds, strict=True) if b > 0]

    @property
    def ratio(self) -> float | None:
        """The median of the pairwise ratios, if there is a reference."""
        return statistics.median(self.ratios) if self.ratios else None

    @property
    def passed(self) -> bool | None:
        """Whether the target is met (None: no target)."""
        if self.target is None:
            return None
        value = self.ratio if self.target_is_ratio else statistics.median(self.seconds)
        return value is not None and value <= self.target

    def cells(self) -> tuple[str, ...]:
        """The row as the markdown table shows it."""
        low, mid, high = spread(self.seconds)
        reference = f"{self.reference} {statistics.median(self.reference_seconds):.2f}" if self.reference else "-"
        ratio = "-" if self.ratio is None else "{:.2f}x ({:.2f}-{:.2f})".format(self.ratio, *spread(self.ratios)[::2])
        target = "-" if self.target is None else f"<= {self.target:g}{'x' if self.target_is_ratio else ' s'}"
        verdict = {None: "-", True: "pass", False: "FAIL"}[self.passed]
        return (self.figure, f"{low:.2f} / {mid:.2f} / {high:.2f}", reference, ratio, target, verdict)

    def record(self) -> dict[str, Any]:
        """The row as results.json keeps it: every sample, the summary and the verdict."""
        return {
            "figure": self.figure,
            "seconds": self.seconds,
            "min_median_max": spread(self.seconds),
            "reference": self.reference or None,
            "reference_seconds": self.reference_seconds or None,
            "ratios": self.ratios or None,
            "ratio_median": self.ratio,
            "target": self.target,
            "target_is_ratio": self.target_is_ratio,
            "passed": self.passed,
            "note": self.note or None,
        }


COLUMNS = ["figure", "min / median / max (s)", "reference (median s)", "ratio (min-max)", "target", "verdict"]


def cpu_and_wall(
    figure: str, timings: Mapping[str, Timing], name: str, reference: str, target: float | None, note: str = ""
) -> list[Row]:
    """Two rows, CPU first (the primary figure on a shared machine), then wall, of `name` against `reference`."""
    measured, against = timings[name], timings[reference]
    return [
        Row(f"{figure}, cpu", measured.cpu, target, reference=reference, reference_seconds=against.cpu, note=note),
        Row(f"{figure}, wall", measured.wall, target, reference=reference, reference_seconds=against.wall),
    ]


def absolute(timings: Mapping[str, Timing], reference: str, targets: Mapping[str, float | None]) -> list[Row]:
    """Rows of wall seconds bounded in seconds, each shown against `reference` (e.g. the interpreter's own start)."""
    floor = timings[reference].wall
    return [
        Row(name, timings[name].wall, target, target_is_ratio=False, reference=reference, reference_seconds=floor)
        for name, target in targets.items()
    ]
