"""Benchmarks of what users wait for: copier copy, the local pipeline (warm caches), the generated CI (warm caches)."""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path

from projects import ROOT, git_commit_all, render, run, tool_env, uv

sys.path.insert(0, str(ROOT / "common" / "runtime"))
from mlops.pipeline.tables import render_table  # noqa: E402  (shared source, importable once on the path)


def timed(action: Callable[[], object], repeat: int) -> list[float]:
    """Wall-clock seconds of `repeat` calls of `action`."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return samples


def children_cpu() -> float:
    """CPU seconds (user + system) of every finished, reaped descendant of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def interleaved(actions: Mapping[str, Callable[[], object]], repeat: int) -> dict[str, list[float]]:
    """Wall and CPU seconds of each action, run in turn (A B A B ...) so that machine load hits both alike.

    With two actions, also the ratio A/B of each pair: on a shared machine the ratio is the figure to quote.
    """
    samples: dict[str, list[float]] = {}
    for _ in range(repeat):
        for name, action in actions.items():
            cpu, started = children_cpu(), time.perf_counter()
            action()
            samples.setdefault(f"{name}: wall s", []).append(time.perf_counter() - started)
            samples.setdefault(f"{name}: cpu s", []).append(children_cpu() - cpu)
    if len(actions) == 2:
        first, second = actions
        for figure in ("wall", "cpu"):
            pairs = zip(samples[f"{first}: {figure} s"], samples[f"{second}: {figure} s"], strict=True)
            samples[f"{first} / {second}: {figure} ratio"] = [a / b for a, b in pairs]
    return samples


def main(argv: list[str] | None = None) -> int:
    """Measure and print a table of medians (and write bench.json next to the projects)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=Path(os.environ.get("MFT_BENCH_DIR", ROOT / "build" / "bench")))
    args = parser.parse_args(argv)
    workdir = args.workdir.resolve()
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    env = tool_env()
    results: dict[str, list[float]] = {}

    counter = iter(range(1000))
    results["copier copy prototype (in-process)"] = timed(
        lambda: render(workdir / f"copy-{next(counter)}", "prototype"), args.repeat
    )
    results["copier copy prototype (CLI)"] = timed(
        lambda: run(
            [
                sys.executable,
                "-m",
                "copier",
                "copy",
                "-q",
                "--defaults",
                "-d",
                "template=prototype",
                str(ROOT),
                str(workdir / f"copy-{next(counter)}"),
            ],
            workdir,
            env,
        ),
        args.repeat,
    )

    repo = render(workdir / "experiment", "prototype")
    git_commit_all(repo, "Generated")
    run([uv(), "sync", "--quiet", "--compile-bytecode"], repo, env)
    pipeline = [uv(), "run", "pipeline"]
    ci = [[uv(), "run", "pre-commit", "run", "--all-files"], [uv(), "run", "pytest", "-q", "-p", "no:cacheprovider"]]
    run(pipeline, repo, env)  # warm-up: database created, caches filled
    for command in ci:
        run(command, repo, env)
    # The local pipeline with its steps forked from a warm process (the default) and as plain subprocesses.
    runners = {
        f"uv run pipeline, {name} steps": partial(run, pipeline, repo, {**env, "MLOPS_STEP_RUNNER": name})
        for name in ("warm", "subprocess")
    }
    results.update(interleaved(runners, max(5, args.repeat)))
    repeat = max(1, args.repeat // 2)
    results["generated basic CI, warm (pre-commit all + pytest)"] = timed(
        lambda: [run(command, repo, env) for command in ci], repeat
    )

    rows = [(name, statistics.median(s), min(s), max(s), len(s)) for name, s in results.items()]
    print(render_table(["benchmark (seconds unless a ratio)", "median", "min", "max", "runs"], rows))
    (workdir / "bench.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
