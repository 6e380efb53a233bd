"""The main job on embedded defaults: prototype -> train -> factory -> promote -> gate -> champion."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

from projects import ROOT, git_commit_all, render, run, snapshot_template, tool_env, uv

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
    prototype, factory = workdir / "churn-experiments", workdir / "model-factory"
    env = tool_env()
    story = Story()
    template = workdir / "template"

    def generate() -> str:
        snapshot_template(template, tag="v0.1.0")  # copier records a real template version
        render(prototype, "prototype", src=template)
        git_commit_all(prototype, "Start the churn experiment from the template")
        return f"copier copy {template} {prototype} --data template=prototype --defaults"

    story.chapter("Generate a prototyping repo", generate)

    def install() -> str:
        output = run([uv(), "sync", "--quiet", "--compile-bytecode"], prototype, env)
        git_commit_all(prototype, "Lock the environment")
        return output

    story.chapter("Install it (uv sync) and commit uv.lock", install)
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

    def create_factory() -> str:
        render(factory, "factory", src=template)
        git_commit_all(factory, "Create the factory")
        run([uv(), "sync", "--quiet", "--compile-bytecode"], factory, env)
        git_commit_all(factory, "Lock the factory's environment")
        return f"copier copy {template} {factory} --data template=factory --defaults && uv sync"

    story.chapter("Create a model factory", create_factory)
    story.chapter(
        "Promote: slot created by the template, files copied by the mapping, tests + pipeline + gate run",
        lambda: run([uv(), "run", "factory", "promote", "--from", str(prototype), "--model", "churn"], factory, env),
    )

    def commit_and_show() -> str:
        run(["git", "commit", "-q", "-m", "Promote churn from churn-experiments"], factory, env)
        return run([uv(), "run", "factory", "status", "churn"], factory, env)

    story.chapter("Commit the promotion and show the champion", commit_and_show)
    crippled = factory / "mlops" / "churn" / "train.yaml"
    story.chapter(
        "Retrain with crippled hyperparameters: the gate must reject it and keep the champion",
        lambda: (
            crippled.write_text(crippled.read_text().replace("n_estimators: 100", "n_estimators: 1")),
            run([uv(), "run", "factory", "run", "churn"], factory, env, check=False),
        )[1],
    )
    story.chapter("The champion is unchanged", lambda: run([uv(), "run", "factory", "status", "churn"], factory, env))
    story.end()
    print(f"Browse the runs: cd {factory} && uv run mlflow ui --backend-store-uri sqlite:///mlflow.db")
    return 0


if __name__ == "__main__":
    sys.exit(main())
