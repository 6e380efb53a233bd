"""The main job on embedded defaults: generate a prototype, train it, and show what MLflow recorded."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

from projects import ROOT, git_commit_all, render, run, tool_env, uv

DEFAULT_WORKDIR = ROOT / "build" / "demo"


class Story:
    """Prints each demo chapter with its duration, so a person can follow along."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def chapter(self, title: str, action: Callable[[], str | None]) -> None:
        """Run one chapter and print its title, output and duration."""
        print(f"\n== {title}", flush=True)
        started = time.perf_counter()
        output = action()
        if output:
            print(output.rstrip())
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)

    def end(self) -> None:
        """Print the total duration."""
        print(f"\nDemo finished in {time.perf_counter() - self.started:.1f} s")


def main(argv: list[str] | None = None) -> int:
    """Run the demo in a fresh work folder."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="where the demo repos are created")
    args = parser.parse_args(argv)
    workdir = args.workdir.resolve()
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    prototype = workdir / "churn-experiments"
    env = tool_env()
    story = Story()

    def generate() -> str:
        render(prototype, "prototype")
        git_commit_all(prototype, "Start the churn experiment from the template")
        return f"copier copy . {prototype} --data template=prototype --defaults"

    story.chapter("Generate a prototyping repo", generate)
    story.chapter("Install it (uv sync)", lambda: run([uv(), "sync", "--quiet", "--compile-bytecode"], prototype, env))
    story.chapter(
        "Run its pipeline: prep -> train -> evaluate, tracked in sqlite:///mlflow.db",
        lambda: run([uv(), "run", "pipeline", "--figures", "reports/figures"], prototype, env),
    )
    story.chapter(
        "Plots for people",
        lambda: "\n".join(
            f"   {p.relative_to(workdir)}" for p in sorted((prototype / "reports/figures").glob("*.png"))
        ),
    )
    story.end()
    print(f"Browse the runs: cd {prototype} && uv run mlflow ui --backend-store-uri sqlite:///mlflow.db")
    return 0


if __name__ == "__main__":
    sys.exit(main())
