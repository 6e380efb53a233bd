"""`copier copy` of the prototype against Copier's own floor: a one-file template copied by the same Copier.

A second reference, the prototype's rendered files as a plain template (no question, no Jinja), shows how much of
the gap is Copier's own work per file (a `git config` process for each file it writes, for one) and how much is the
template's questions and Jinja.
"""

from __future__ import annotations

import shutil
import sys
from functools import partial
from pathlib import Path

from bench_projects import Workspace
from bench_stats import Row, cpu_and_wall, interleaved
from projects import git_commit_all, run

TARGET = 1.15
FLOOR = "one-file template"
SAME_FILES = "the prototype's files as a plain template"


def floor_template(dest: Path) -> Path:
    """The smallest template Copier copies: no question, one file, a tagged git repository like the real one."""
    dest.mkdir(parents=True)
    (dest / "copier.yml").write_text("_min_copier_version: '9.15.2'\n", encoding="utf-8")
    (dest / "README.md").write_text("# A project\n", encoding="utf-8")
    git_commit_all(dest, "A one-file template")
    run(["git", "tag", "v0.1.0"], dest)
    return dest


def same_files_template(dest: Path, rendered: Path) -> Path:
    """A template of every file a prototype render holds, each one line of plain text: no question, no Jinja."""
    for path in rendered.rglob("*"):
        relative = path.relative_to(rendered)
        if path.is_file() and relative.parts[0] != ".git" and relative.name != ".copier-answers.yml":
            (dest / relative).parent.mkdir(parents=True, exist_ok=True)
            (dest / relative).write_text(f"{relative.as_posix()}\n", encoding="utf-8")
    (dest / "copier.yml").write_text("_min_copier_version: '9.15.2'\n", encoding="utf-8")
    git_commit_all(dest, "The prototype's files as a plain template")
    run(["git", "tag", "v0.1.0"], dest)
    return dest


def copier_copy(env: dict[str, str], template: Path, dest: Path, *data: str) -> None:
    """The Copier CLI of this environment, as a person runs it: defaults for every question."""
    answers = [part for answer in data for part in ("--data", answer)]
    run([sys.executable, "-m", "copier", "copy", "--quiet", "--defaults", *answers, template, dest], dest.parent, env)


def measure(space: Workspace, repeat: int) -> list[Row]:
    """Figure 3: the prototype's copy over the floor's, pair by pair."""
    floor = floor_template(space.root / "floor-template")
    figure = "`copier copy` of the prototype"
    copies = {name: space.root / f"copy-{index}" for index, name in enumerate((figure, FLOOR, SAME_FILES))}
    copier_copy(space.env, space.template, copies[figure], "template=prototype")
    same = same_files_template(space.root / "same-files-template", copies[figure])
    shutil.rmtree(copies[figure])
    actions = {
        figure: partial(copier_copy, space.env, space.template, copies[figure], "template=prototype"),
        FLOOR: partial(copier_copy, space.env, floor, copies[FLOOR]),
        SAME_FILES: partial(copier_copy, space.env, same, copies[SAME_FILES]),
    }
    timings = interleaved(actions, repeat, after={name: partial(shutil.rmtree, copies[name]) for name in actions})
    return [
        *cpu_and_wall(figure, timings, figure, FLOOR, TARGET, "both from a tagged local git repository"),
        *cpu_and_wall(f"{figure} vs its files plain", timings, figure, SAME_FILES, None, "Copier's per-file share"),
    ]
