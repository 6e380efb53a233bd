"""Benchmark of template rollout in a factory: one slot update with 1 vs 20 slots, and a 20-slot fleet update."""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
import warnings
from pathlib import Path

import copier
from projects import ROOT, git_commit_all, render, run, snapshot_template

sys.path.insert(0, str(ROOT / "common" / "runtime"))
from mlops.factory import fleet  # noqa: E402  (shared source, importable once on the path)
from mlops.pipeline.tables import render_table  # noqa: E402


def release(template: Path) -> None:
    """Tag v0.1.0, change a workflow and a slot page, tag v0.2.0."""
    run(["git", "tag", "v0.1.0"], template)
    workflow = template / "factory-template/base/.github/workflows/common.yml.jinja"
    workflow.write_text(workflow.read_text().replace("timeout-minutes: 20", "timeout-minutes: 25"))
    page = template / "factory-template/slot/docs/models/{= model_name =}.md.jinja"
    page.write_text(page.read_text().replace("## Run it", "## Run it locally"))
    git_commit_all(template, "Release 0.2.0")
    run(["git", "tag", "v0.2.0"], template)


def factory_with(slots: int, template: Path, dest: Path) -> Path:
    """A factory at v0.1.0 with `slots` slots, committed."""
    render(dest, "factory", vcs_ref="v0.1.0", src=template)
    for index in range(slots):
        render(dest, "model", vcs_ref="v0.1.0", src=template, model_name=f"model_{index:02d}")
    git_commit_all(dest, f"Factory with {slots} slots")
    return dest


def update_one_slot(factory: Path) -> float:
    """Seconds to update slot model_00 to v0.2.0 (the change is then discarded)."""
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        copier.run_update(
            str(factory),
            answers_file="mlops/model_00/.copier-answers.yml",
            defaults=True,
            overwrite=True,
            vcs_ref="v0.2.0",
            quiet=True,
        )
    elapsed = time.perf_counter() - started
    run(["git", "checkout", "-q", "-f", "HEAD"], factory)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    """Print the table of medians and the fleet rollout time."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--slots", type=int, default=20)
    default = Path(os.environ.get("MFT_BENCH_DIR", ROOT / "build" / "bench")) / "fleet"
    parser.add_argument("--workdir", type=Path, default=default)
    args = parser.parse_args(argv)
    workdir = args.workdir.resolve()
    shutil.rmtree(workdir, ignore_errors=True)
    template = snapshot_template(workdir / "template")
    release(template)
    small, large = factory_with(1, template, workdir / "one"), factory_with(args.slots, template, workdir / "many")
    one = [update_one_slot(small) for _ in range(args.repeat)]
    many = [update_one_slot(large) for _ in range(args.repeat)]
    started = time.perf_counter()
    rollout = fleet.update_fleet(large, vcs_ref="v0.2.0", echo=lambda _: None)
    total = time.perf_counter() - started
    rows = [
        ("update one slot, factory with 1 slot", statistics.median(one)),
        (f"update one slot, factory with {args.slots} slots", statistics.median(many)),
        ("ratio", statistics.median(many) / statistics.median(one)),
        (f"fleet rollout: base + {args.slots} slots ({len(rollout.updated)} commits)", total),
    ]
    print(render_table(["benchmark", "seconds (median)"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
