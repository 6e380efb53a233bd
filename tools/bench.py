"""Benchmarks of what users wait for, each against a reference measured in the same run (issue 12's figures).

Every figure is timed over interleaved runs (A B A B ..., after one warm-up) so that load on a shared machine hits
a command and its reference alike; ratios are taken pair by pair. The table is printed and every sample is written
to a JSON results file. `--only pipeline,copier` runs some figures; `--repeat N` sets the counted runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import bench_commands
import bench_copier
import bench_fleet
import bench_pipeline
import bench_promotion
from bench_projects import Workspace
from bench_stats import COLUMNS, Row
from projects import ROOT

sys.path.insert(0, str(ROOT / "common" / "runtime"))
from mlops.pipeline.tables import render_table  # noqa: E402  (shared source, importable once on the path)

MIN_REPEAT = 5
FIGURES: dict[str, Callable[[Workspace, int], list[Row]]] = {
    "pipeline": bench_pipeline.prototype_pipeline,
    "factory": bench_pipeline.factory_run,
    "copier": bench_copier.measure,
    "start": bench_commands.factory_start,
    "ci": bench_commands.prototype_ci,
    "promotion": bench_promotion.measure,
    "fleet": bench_fleet.measure,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line: how many runs, which figures, where the projects and the results go."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=MIN_REPEAT, help=f"counted runs per figure (>= {MIN_REPEAT})")
    parser.add_argument("--only", default=",".join(FIGURES), help=f"comma-separated figures of: {', '.join(FIGURES)}")
    default_workdir = Path(os.environ.get("MFT_BENCH_DIR", ROOT / "build" / "bench"))
    parser.add_argument("--workdir", type=Path, default=default_workdir, help="where projects are generated (emptied)")
    parser.add_argument("--results", type=Path, help="the JSON results file (default: WORKDIR/results.json)")
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(args.only) - set(FIGURES))
    if unknown:
        parser.error(f"unknown figure(s) {', '.join(unknown)}; choose from {', '.join(FIGURES)}")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def write_results(path: Path, rows: list[Row], repeat: int, seconds: float) -> None:
    """Every sample and verdict, for comparing runs later."""
    path.parent.mkdir(parents=True, exist_ok=True)
    runs = [row.record() for row in rows]
    record = {"repeat": repeat, "cpus": os.cpu_count(), "seconds": round(seconds, 1), "rows": runs}
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Measure the chosen figures, print the table, write the results file; exit 1 if a target is missed."""
    args = parse_args(argv)
    workdir = args.workdir.resolve()
    results = (args.results or workdir / "results.json").resolve()
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    if args.repeat < MIN_REPEAT:
        print(f"note: --repeat {args.repeat} is below {MIN_REPEAT}: figures for iterating, not for quoting")
    space = Workspace(workdir)
    started, rows = time.perf_counter(), []
    for name in args.only:
        print(f"== {name}", flush=True)
        figure_started = time.perf_counter()
        found = FIGURES[name](space, args.repeat)
        print(render_table(COLUMNS, [row.cells() for row in found]))
        print(f"   ({time.perf_counter() - figure_started:.0f} s)", flush=True)
        rows += found
        write_results(results, rows, args.repeat, time.perf_counter() - started)
    print(f"\n== {len(rows)} figures: {args.repeat} interleaved runs each after a warm-up; ratios pair by pair")
    print(render_table(COLUMNS, [row.cells() for row in rows]))
    print(f"Results: {results}\nProjects: {workdir} (removed by the next run; `rm -rf` it to free the space)")
    return 1 if any(row.passed is False for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
