"""Render every option combination of the three applications at a git ref, and compare the renders of two refs.

    python tools/render_matrix.py render --ref HEAD --out /tmp/matrix
    python tools/render_matrix.py compare HEAD~5 HEAD [--allow 'factory-*/README.md' ...] [--out DIR]

Combinations come from the ref's own copier.yml: each `template` choice is an application, and each question with
`choices` it asks (`when` rendered with the answers so far; `when: false` marks computed values) multiplies them by
the choices allowed (a choice's `validator` may disable one): the full cartesian product, not a pairwise cover (~350
renders since ci_platform doubled the factories). A model slot (model_name=churn) is rendered into a copy of each
factory combination and keeps only the files it adds or changes. All goes through copier.yml: no template folder is
named here. Refs render from a `git archive` export, so there is no `_commit` and `_src_path` is a temporary folder:
lines starting `_commit:`/`_src_path:` are normalised; `.git` and caches are left out (projects.text_files).
"""

from __future__ import annotations

import argparse
import difflib
import fnmatch
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any

import jinja2.sandbox
import yaml
from projects import ROOT, render, text_files

BASE, SLOT, SLOT_ANSWERS = "factory", "model", {"model_name": "churn"}  # a slot renders into a factory base
VARYING_LINES = re.compile(rb"^(_commit|_src_path):.*$", re.MULTILINE)
FALSE_WORDS = {"", "0", "n", "no", "f", "false", "off", "~", "null", "none"}  # as Copier casts `when` to bool


@dataclass(frozen=True)
class Combination:
    """One application with one answer for each choice question it asks (and, for a slot, its factory base)."""

    application: str
    answers: tuple[tuple[str, Any], ...]
    base: Combination | None = None

    @property
    def name(self) -> str:
        """A folder name such as `prototype-classification-3.11-MIT` or `model-regression-rmse-on-factory-...`."""
        name = "-".join([self.application, *(re.sub(r"[^\w.+-]", "_", str(v)) for _, v in self.answers)])
        return f"{name}-on-{self.base.name}" if self.base else name


def export(ref: str, dest: Path) -> Path:
    """The files of this repository at `ref` (a commit: `^{commit}` keeps it from reading as an option), as a folder."""
    archive = subprocess.run(["git", "archive", "--format=tar", f"{ref}^{{commit}}"], cwd=ROOT, capture_output=True)  # noqa: S603, S607
    if archive.returncode:
        raise SystemExit(f"git archive {ref}: {archive.stderr.decode(errors='replace').strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def options(question: dict[str, Any]) -> list[tuple[Any, str]]:
    """A question's choice values, each with the validator that can disable it ('' when none)."""
    raw = question["choices"]
    items = raw.values() if isinstance(raw, dict) else [c[1] if isinstance(c, list) else c for c in raw]
    return [(c["value"], str(c.get("validator", ""))) if isinstance(c, dict) else (c, "") for c in items]


def combinations(template: Path) -> list[Combination]:
    """Every valid combination of choice answers, per application, in copier.yml's order."""
    config: dict[str, Any] = yaml.safe_load((template / "copier.yml").read_text(encoding="utf-8"))
    envops = {key: value for key, value in config.get("_envops", {}).items() if key != "undefined"}
    extensions = ["jinja2_ansible_filters.AnsibleCoreFiltersExtension", *config.get("_jinja_extensions", [])]
    env = jinja2.sandbox.SandboxedEnvironment(extensions=extensions, **envops)

    def rendered(value: Any, answers: dict[str, Any]) -> str:
        return str(value).lower() if isinstance(value, bool) else env.from_string(str(value)).render(**answers).strip()

    found: list[Combination] = []
    for application, _ in options(config["template"]):
        partial: list[dict[str, Any]] = [{"template": application}]
        for name, question in config.items():
            if name == "template" or not isinstance(question, dict) or "choices" not in question:
                continue
            grown: list[dict[str, Any]] = []
            for answers in partial:
                asked = rendered(question.get("when", True), answers).lower() not in FALSE_WORDS
                allowed = [{**answers, name: v} for v, check in options(question) if not rendered(check, answers)]
                grown += allowed if asked else [answers]
            partial = grown
        found += [Combination(application, tuple(answers.items())[1:]) for answers in partial]
    bases = [c for c in found if c.application == BASE]
    return [replace(c, base=base) for c in found for base in (bases if c.application == SLOT else [None])]


def normalised(path: Path) -> bytes:
    """A file's bytes with the answers-file lines that differ between refs made equal."""
    return VARYING_LINES.sub(rb"\1: <normalised>", path.read_bytes())


def render_one(template: Path, work: Path, out: Path, combination: Combination) -> None:
    """Render one combination in work/ (a slot into a copy of its base's render), its files normalised into out/."""
    source, base = work / combination.name, work / combination.base.name if combination.base else None
    if base:
        shutil.copytree(base, source)
    answers = {**dict(combination.answers), **(SLOT_ANSWERS if base else {})}
    render(source, combination.application, vcs_ref=None, src=template, **answers)
    for path in text_files(source):  # a slot keeps only the files it adds to its base or changes
        relative, data = path.relative_to(source), normalised(path)
        if not (base and (base / relative).is_file() and normalised(base / relative) == data):
            (out / combination.name / relative).parent.mkdir(parents=True, exist_ok=True)
            (out / combination.name / relative).write_bytes(data)


def render_matrix(ref: str, out: Path, chosen: list[Combination] | None = None) -> list[Combination]:
    """Render every combination (or the `chosen` ones and their bases) of `ref` into out/<name>/, timed."""
    start = time.perf_counter()
    if out.exists():
        raise SystemExit(f"{out} exists: pick a new folder, so that no old render mixes in")
    with tempfile.TemporaryDirectory(prefix="render-matrix-") as tmp:
        template, work = export(ref, Path(tmp) / "template"), Path(tmp) / "work"
        every = chosen if chosen is not None else combinations(template)
        every = list(dict.fromkeys([*(c.base for c in every if c.base), *every]))
        with ProcessPoolExecutor(os.cpu_count()) as pool:  # slots last: they copy their base's render
            for stage in ([c for c in every if not c.base], [c for c in every if c.base]):
                list(pool.map(partial(render_one, template, work, out), stage))
    print(f"{ref}: {len(every)} combinations rendered in {time.perf_counter() - start:.1f} s")
    return every


def by_path(names: set[str]) -> dict[str, list[str]]:
    """<combination>/<path> names grouped by path: one change to a template often shows in many combinations."""
    pairs = sorted((name.split("/", 1)[1], name.split("/", 1)[0]) for name in names)
    return {path: [combination for _, combination in group] for path, group in groupby(pairs, key=itemgetter(0))}


def compare(a: Path, b: Path, allow: list[str], shown: int = 20, lines: int = 40) -> bool:
    """Print how the renders in `a` and `b` differ; True when an `allow` glob matches every difference."""
    files = [{p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file()} for root in (a, b)]
    combos = [{p.name for p in root.iterdir()} for root in (a, b)]
    only_a, only_b = (", ".join(sorted(x - y)) or "none" for x, y in (combos, combos[::-1]))
    print(f"combinations compared: {len(combos[0] & combos[1])} (only in A: {only_a}; only in B: {only_b})")
    both = files[0].keys() & files[1].keys()
    same = {n for n in both if files[0][n].read_bytes() == files[1][n].read_bytes()}
    print(f"files identical: {len(same)}")
    kinds = {"differing": both - same, "only in A": files[0].keys() - both, "only in B": files[1].keys() - both}
    refused = 0
    for kind, names in kinds.items():
        allowed = {n for n in names if any(fnmatch.fnmatch(n, pattern) for pattern in allow)}
        refused += len(names - allowed)
        groups = by_path(names)
        print(f"files {kind}: {len(names)} at {len(groups)} paths ({len(allowed)} allowed by --allow)")
        for path, where in list(groups.items())[:shown]:
            ok = sum(f"{c}/{path}" in allowed for c in where)
            tag = " (allowed)" if ok == len(where) else f" ({ok} allowed)" if ok else ""
            print(f"  {path}: in {len(where)} combinations, e.g. {where[0]}{tag}")
        print(f"  ... and {len(groups) - shown} more paths\n" if len(groups) > shown else "", end="")
    for path, where in list(by_path(kinds["differing"]).items())[:shown]:  # one diff per path, the first combination
        name = f"{where[0]}/{path}"
        before, after = (f[name].read_text(encoding="utf-8", errors="replace").splitlines() for f in files)
        diff = list(difflib.unified_diff(before, after, f"A/{name}", f"B/{name}", lineterm=""))
        print("\n".join(diff[:lines] + [f"... ({len(diff) - lines} more diff lines)"] * (len(diff) > lines)))
    print(f"verdict: {refused} files differ outside --allow" if refused else "verdict: no difference outside --allow")
    return not refused


def main(argv: list[str] | None = None) -> int:
    """The command line: `render` one ref, or `compare` two."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("render", help="render every combination of one ref into --out")
    one.add_argument("--ref", default="HEAD")
    one.add_argument("--out", type=Path, required=True)
    two = commands.add_parser("compare", help="render two refs (A and B) and show how they differ")
    two.add_argument("refs", nargs=2, metavar="REF")
    two.add_argument("--allow", action="append", default=[], help="glob over <combination>/<path> that may differ")
    two.add_argument("--out", type=Path, help="keep the renders in OUT/A and OUT/B (default: a temporary folder)")
    args = parser.parse_args(argv)
    if args.command == "render":
        render_matrix(args.ref, args.out)
        return 0
    with tempfile.TemporaryDirectory(prefix="render-matrix-compare-") as tmp:
        root = args.out or Path(tmp)
        for side, ref in zip("AB", args.refs, strict=True):
            render_matrix(ref, root / side)
        return 0 if compare(root / "A", root / "B", args.allow) else 1


if __name__ == "__main__":
    sys.exit(main())
