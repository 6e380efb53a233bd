"""The main job on embedded defaults, as the docs tell it: prototype -> train -> factory -> promote -> gate -> champion.

Every command is read from the documentation (this repository's README, then the generated prototype and
factory READMEs) and run literally, hooks on; only the closing retrain with crippled hyperparameters is the
demo's own, to show the gate keeping the champion.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from doc_commands import DocCommand, DocRunner, commands
from projects import ROOT, snapshot_template, tool_env, uv

DEFAULT_WORKDIR = ROOT / "build" / "demo"
TEMPLATE_URL = "gh:ORG/model-factory-templates"
PROTOTYPE, FACTORY = "churn-experiments", "model-factory"


def page(path: Path, keep: Callable[[DocCommand], bool] = lambda _: True) -> list[DocCommand]:
    """The runnable commands of a documentation page (no servers: the demo does not wait on a browser)."""
    return [c for c in commands(path.read_text(encoding="utf-8"), path.name) if c.skip_reason is None and keep(c)]


def until(text: str) -> Callable[[DocCommand], bool]:
    """Keep commands up to and including the first one containing `text`."""
    seen = False

    def keep(command: DocCommand) -> bool:
        nonlocal seen
        if seen:
            return False
        seen = text in command.text
        return True

    return keep


class Story:
    """Prints each demo chapter, its commands and their durations, so a person can follow along."""

    def __init__(self, runner: DocRunner) -> None:
        self.runner = runner
        self.started = time.perf_counter()

    def chapter(self, title: str, steps: list[DocCommand]) -> None:
        """Run one chapter's commands in order, printing each with its output and duration."""
        print(f"\n== {title}", flush=True)
        for step in steps:
            if step.server_url is not None:
                continue
            print(f"$ {step.text.splitlines()[0]}", flush=True)
            result = self.runner.run(step)
            tail = result.output.strip().splitlines()[-25:]
            print("\n".join(f"   {line}" for line in tail))
            print(f"   ({result.seconds:.1f} s)", flush=True)

    def own(self, title: str, command: list[str], cwd: Path) -> None:
        """A command of the demo's own (not from the docs): shown and run the same way, any exit code accepted."""
        print(f"\n== {title}\n$ {' '.join(command)}", flush=True)
        done = subprocess.run(command, cwd=cwd, env=self.runner.env, capture_output=True, text=True, check=False)
        print("\n".join(f"   {line}" for line in (done.stdout + done.stderr).strip().splitlines()[-25:]))
        print(f"   (exit {done.returncode})", flush=True)


def size(folder: Path) -> str:
    """The disk use of a folder as `du` reports it (hard links into the uv cache counted once)."""
    done = subprocess.run(["du", "-sh", str(folder)], capture_output=True, text=True, check=False)
    return done.stdout.split("\t")[0] or "?"


def main(argv: list[str] | None = None) -> int:
    """Run the demo in a fresh work folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="where the demo repos are created")
    args = parser.parse_args(argv)
    workdir = args.workdir.resolve()
    print(f"The demo writes to {workdir} (removed first; `rm -rf {workdir}` removes it afterwards).")
    shutil.rmtree(workdir, ignore_errors=True)
    (workdir / "work").mkdir(parents=True)
    template = snapshot_template(workdir / "model-factory-templates", tag="v0.1.0")  # a real, tagged release
    jupyter = workdir / "jupyter"
    env = tool_env({"JUPYTER_CONFIG_DIR": str(jupyter / "config"), "JUPYTER_DATA_DIR": str(jupyter / "data")})
    runner = DocRunner(workdir / "work", env, {TEMPLATE_URL: str(template)})
    story = Story(runner)
    prototype, factory = workdir / "work" / PROTOTYPE, workdir / "work" / FACTORY

    story.chapter("Start an experiment repo and a factory (README: Everyday use)", page(ROOT / "README.md"))
    runner.cwd = prototype
    story.chapter(
        "The experiment repo, as its README says: git, uv.lock, hooks, first commit, pipeline, tests, notebook",
        page(prototype / "README.md", lambda c: "copier update" not in c.text),
    )
    print("\n   plots for people: " + ", ".join(p.name for p in sorted((prototype / "reports/figures").glob("*.png"))))
    runner.cwd = factory
    story.chapter(
        "The factory, as its README says: git, uv.lock, hooks, then promotion in one command, committed with hooks",
        page(factory / "README.md", until('git commit -m "Promote')),
    )
    story.own("The registered champion", [uv(), "run", "factory", "status", "churn"], factory)
    train = factory / "mlops" / "churn" / "train.yaml"
    train.write_text(
        train.read_text().replace("n_estimators: 100", "n_estimators: 1").replace("max_depth: 6", "max_depth: 1")
    )
    story.own(
        "Retrain with crippled hyperparameters: the gate rejects it (exit 2) and keeps the champion",
        [uv(), "run", "factory", "run", "churn"],
        factory,
    )
    subprocess.run(["git", "checkout", "--", "mlops/churn/train.yaml"], cwd=factory, check=True)
    story.own("The champion is unchanged", [uv(), "run", "factory", "status", "churn"], factory)
    print(f"\nDemo finished in {time.perf_counter() - story.started:.1f} s")
    print(f"Browse the runs: cd {factory} && uv run mlflow ui --backend-store-uri sqlite:///mlflow.db")
    print(f"The demo's repositories use {size(workdir)} in {workdir}; remove them with: rm -rf {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
