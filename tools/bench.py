"""Benchmarks of what users wait for: copier copy, the local pipeline (warm), the generated CI (warm)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from projects import ROOT, git_commit_all, render, run, tool_env, uv

sys.path.insert(0, str(ROOT / "common"))
from mlops.common.tables import render_table  # noqa: E402  (shared source, importable once on the path)


def timed(action: Callable[[], object], repeat: int) -> list[float]:
    """Wall-clock seconds of `repeat` calls of `action`."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
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
    repeat = max(1, args.repeat // 2)
    results["local pipeline, warm (uv run pipeline)"] = timed(lambda: run(pipeline, repo, env), repeat)
    results["generated basic CI, warm (pre-commit all + pytest)"] = timed(
        lambda: [run(command, repo, env) for command in ci], repeat
    )

    rows = [(name, statistics.median(s), min(s), max(s), len(s)) for name, s in results.items()]
    print(render_table(["benchmark", "median s", "min s", "max s", "runs"], rows))
    (workdir / "bench.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
