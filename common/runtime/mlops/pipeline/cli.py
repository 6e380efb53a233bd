"""Run a model's pipeline locally: each step as its own process, all of it in one MLflow run.

The `pipeline` command of both repos: `uv run pipeline [configs] [--workdir ...] [--figures ...] [-q | -v]`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from mlops.pipeline.config import ConfigError, load_model_folder
from mlops.pipeline.figures import copy_figures
from mlops.pipeline.runner import run_pipeline
from mlops.pipeline.spec import SpecError
from mlops.pipeline.steps import StepFailed, default_workdir


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags of the local runner."""
    parser = argparse.ArgumentParser(prog="pipeline", description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, nargs="?", default=Path("configs"), help="the model's config folder")
    parser.add_argument("--workdir", type=Path, help="where step outputs go (default: outputs/<model>/<timestamp>)")
    parser.add_argument("--figures", type=Path, help="also copy the evaluation plots into this folder")
    output = parser.add_mutually_exclusive_group()  # how much people see; each step's log holds all of its output
    output.add_argument(
        "-q", "--quiet", action="store_true", help="show only step timings and results, not step output"
    )
    output.add_argument("-v", "--verbose", action="store_true", help="also show each step's command and log file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the pipeline of a config folder from the repository root."""
    args = parse_args(argv)
    repo_root = Path.cwd()
    try:
        folder = load_model_folder(args.folder)
        workdir = args.workdir or default_workdir(repo_root, folder.config.model_name)
        started = time.perf_counter()
        run = run_pipeline(folder, repo_root, workdir.resolve(), quiet=args.quiet, verbose=args.verbose)
    except (ConfigError, SpecError, StepFailed) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # the steps and the warm process are already stopped
        print("interrupted", file=sys.stderr)
        return 130
    if args.figures:
        for png in copy_figures(run.result(folder, "score_report"), args.figures):
            print(f"  plot {png}")
    print(f"Done in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
