"""Template rollout in a factory: one slot's update with 1 vs 20 slots, and `factory update` of a 20-slot fleet."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from bench_projects import Workspace, head, reset
from bench_stats import Row, cpu_and_wall, interleaved, say
from projects import git_commit_all, render, run, snapshot_template, uv

FLAT_TARGET = 1.1  # one slot's update may cost at most this much more in a large factory than in a small one
PER_SLOT_TARGET = 3.0  # seconds of a fleet rollout per slot
SLOTS = 20
RELEASE = "v0.2.0"


def release(template: Path) -> None:
    """Tag v0.1.0, change a workflow and a slot page, tag v0.2.0."""
    run(["git", "tag", "v0.1.0"], template)
    workflows = 'factory-template/base/{% if ci_platform == "github" %}.github{% endif %}/workflows'
    workflow = template / workflows / "common.yml.jinja"
    workflow.write_text(workflow.read_text().replace("timeout-minutes: 20", "timeout-minutes: 25"))
    page = template / "factory-template/slot/docs/models/{= model_name =}.md.jinja"
    page.write_text(page.read_text().replace("## Run it", "## Run it locally"))
    git_commit_all(template, "Release 0.2.0")
    run(["git", "tag", RELEASE], template)


def factory_with(slots: int, template: Path, dest: Path, env: dict[str, str]) -> Path:
    """A factory at v0.1.0 with `slots` slots and its locked environment, committed (no hooks: copier's cost)."""
    render(dest, "factory", vcs_ref="v0.1.0", src=template)
    for index in range(slots):
        render(dest, "model", vcs_ref="v0.1.0", src=template, model_name=f"model_{index:02d}")
    run([uv(), "sync", "--quiet"], dest, env)
    git_commit_all(dest, f"Factory with {slots} slots")
    return dest


def update(factory: Path, env: dict[str, str], *only: str) -> None:
    """`factory update` to the release, as a person runs it: every application, or `--only` one slot."""
    run([uv(), "run", "factory", "update", "--vcs-ref", RELEASE, *(["--only", *only] if only else [])], factory, env)


def measure(space: Workspace, repeat: int) -> list[Row]:
    """Figure 7: the slot update's cost against the fleet's size, and the rollout's cost per slot."""
    template = snapshot_template(space.root / "fleet-template")
    release(template)
    say(f"  setting up factories with 1 and {SLOTS} slots")
    small = factory_with(1, template, space.root / "fleet-1-slot", space.env)
    large = factory_with(SLOTS, template, space.root / f"fleet-{SLOTS}-slots", space.env)
    one, many, fleet = (
        "update one slot, factory with 1 slot",
        f"update one slot, factory with {SLOTS} slots",
        f"`factory update` of base + {SLOTS} slots",
    )
    actions = {
        one: partial(update, small, space.env, "model_00"),
        many: partial(update, large, space.env, "model_00"),
        fleet: partial(update, large, space.env),
    }
    after = {one: partial(reset, small, head(small)), many: partial(reset, large, head(large))}
    after[fleet] = after[many]
    timings = interleaved(actions, repeat, after=after)
    per_slot = [
        Row(
            f"fleet rollout per slot ({fleet} / {SLOTS}), {kind}",
            [seconds / SLOTS for seconds in getattr(timings[fleet], kind)],
            PER_SLOT_TARGET,
            target_is_ratio=False,
            reference=one,
            reference_seconds=getattr(timings[one], kind),
        )
        for kind in ("cpu", "wall")
    ]
    return [*cpu_and_wall(many, timings, many, one, FLAT_TARGET), *per_slot]
