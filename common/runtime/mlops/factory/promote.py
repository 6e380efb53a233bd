"""`factory promote`: bring a prototype's model into its factory slot in one command, with no hand edits.

Promotion is a template update plus a file copy into a known shape:
1. the factory is a clean git work tree, and the prototype has no uncommitted change in what promotion reads;
2. the slot is created (`copier copy`) or brought to the factory's template version (`copier update`);
3. the files git tracks are copied by MAPPING (the dataset manifest's `path` is pointed at the slot's data);
4. the model's own dependencies (the prototype's, beyond the factory's) become the dependency group
   named after the model, in pyproject.toml and uv.lock (`uv add --group`);
5. the contract is checked: pipeline steps are modules of the model with the flags they are given,
   the manifest is complete, the prototype's template is not newer than the factory's;
6. provenance is written to `mlops/<model>/promotion.yaml`;
7. the slot's tests and its local pipeline with the gate run.
Every write is staged as it happens, so the result is one staged, commit-ready change (review with
`git diff --cached`, then commit), and an interrupted promotion is undone by `git checkout -f HEAD`.
A gate rejection exits 2 with the change staged: committing it integrates the code, the registry is untouched.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from mlops.factory import fleet, gitrepo
from mlops.factory.contract import check_steps
from mlops.factory.gitrepo import RepoError, git
from mlops.factory.slot import Slot
from mlops.pipeline.config import ConfigError, DatasetManifest, parse
from mlops.pipeline.spec import PipelineSpec, SpecError
from mlops.pipeline.tables import render_table
from mlops.pipeline.tracking import ANSWERS_FILE, content_digest, git_commit, template_version

# The slot's shape with `{model}` for the model's name, as the mapping and the docs show it.
SHAPE = Slot("{model}")
# Prototype path -> factory path; `{model}` is the model name. The single source of truth of the
# promotion's "known shape", also rendered into the docs.
MAPPING: tuple[tuple[str, str], ...] = (
    ("src/{model}/", f"{SHAPE.package}/"),
    ("tests/{model}/", f"{SHAPE.tests}/"),
    ("configs/pipeline.yaml", SHAPE.pipeline),
    ("configs/train.yaml", SHAPE.params),
    ("configs/dataset.yaml", SHAPE.dataset),
    ("<path in configs/dataset.yaml>", f"{SHAPE.data}/<same file name>"),
)
# Digests in promotion.yaml say what they are; the secrets scan's baseline knows this exact shape.
DIGEST_PREFIX = "sha256:"
# Where the model's own dependencies went before they became a dependency group; removed on promotion.
LEGACY_REQUIREMENTS = "requirements.txt"
# What promotion reads from the prototype besides MAPPING: uncommitted changes there are refused.
PROTOTYPE_INPUTS = ("configs/", "pyproject.toml", "uv.lock")
EXIT_REJECTED = 2  # as `factory run`: the gate said no


class PromotionError(RepoError):
    """Promotion cannot go on; the message names the files and the fix."""


class GateRejected(PromotionError):
    """The promoted model did not pass the gate; the code is staged, the registry untouched."""


@dataclass
class Plan:
    """Which factory files promotion adds, changes and removes, with their new contents."""

    files: dict[str, bytes] = field(default_factory=dict)
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0

    def table(self) -> str:
        """The plan for people."""
        rows = [("add", p) for p in self.added] + [("change", p) for p in self.changed]
        rows += [("remove", p) for p in self.removed]
        summary = f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed, "
        return (render_table(["action", "file"], rows) + "\n" if rows else "") + summary + f"{self.unchanged} unchanged"


def require_clean(repo: Path, role: str) -> None:
    """Refuse a repository that is not a clean git work tree, as a promotion refusal."""
    gitrepo.require_clean(repo, role, PromotionError)


def prototype_paths(model: str, manifest: DatasetManifest) -> list[str]:
    """Every prototype path promotion reads."""
    return [source.format(model=model) for source, _ in MAPPING[:-1]] + [*PROTOTYPE_INPUTS, manifest.path]


def require_committed(prototype: Path, paths: list[str]) -> None:
    """Refuse uncommitted changes in what promotion reads: only committed work is promoted and recorded."""
    if not (prototype / ".git").exists():
        raise PromotionError(f"the prototype {prototype} is not a git work tree: `git init` and commit it first")
    dirty = git(prototype, "status", "--porcelain", "--", *paths).splitlines()
    if dirty:
        listed = ", ".join(line[3:] for line in dirty[:10]) + (
            f" and {len(dirty) - 10} more" if len(dirty) > 10 else ""
        )
        raise PromotionError(
            f"the prototype {prototype} has uncommitted changes in what promotion reads: {listed}. "
            "Commit them there first (only committed files are promoted)."
        )


def tracked(repo: Path, folder: str) -> list[str]:
    """The files git tracks under a path of the repository (ignored and untracked files never promote)."""
    return sorted(filter(None, git(repo, "ls-files", "-z", "--", folder).split("\0")))


def source_files(prototype: Path, model: str, manifest: DatasetManifest) -> dict[str, bytes]:
    """Factory path -> bytes of every file promotion brings: the files git tracks in the prototype."""
    files: dict[str, bytes] = {}
    for source, target in MAPPING[:-1]:
        source_rel = source.format(model=model)
        source_path = prototype / source_rel
        target_path = target.format(model=model)
        if source.endswith("/"):
            listed = tracked(prototype, source_rel)
            if not listed:
                raise PromotionError(
                    f"{source_path} has no committed files: the prototype's model package must be there and committed"
                )
            for name in listed:
                files[target_path + name[len(source_rel) :]] = (prototype / name).read_bytes()
        else:
            if not tracked(prototype, source_rel):
                raise PromotionError(
                    f"{source_path} is missing or not committed: the prototype must have it to promote"
                )
            files[target_path] = source_path.read_bytes()
    data = prototype / manifest.path
    if not data.is_file() or not tracked(prototype, manifest.path):
        raise PromotionError(
            f"{prototype / 'configs/dataset.yaml'}: path {manifest.path} is not a committed file in the prototype "
            "(promotion brings the dev sample the manifest names; commit it, or point `path` at one)"
        )
    data_target = f"{Slot(model).data}/{data.name}"
    files[data_target] = data.read_bytes()
    manifest_key = Slot(model).dataset
    files[manifest_key] = repoint_manifest(files[manifest_key].decode("utf-8"), data_target).encode("utf-8")
    return files


def repoint_manifest(text: str, data_path: str) -> str:
    """The manifest with its `path` pointed at the slot's data file; comments and order kept."""
    new, count = re.subn(r"(?m)^path:.*$", f"path: {data_path}", text)
    if count != 1:
        raise PromotionError("configs/dataset.yaml must have exactly one top-level `path:` line")
    return new


def plan(factory: Path, model: str, files: dict[str, bytes]) -> Plan:
    """Compare the files to bring with the slot's current model files."""
    result = Plan(files=files)
    for path, content in files.items():
        current = factory / path
        if not current.exists():
            result.added.append(path)
        elif current.read_bytes() != content:
            result.changed.append(path)
        else:
            result.unchanged += 1
    for folder in (f"{Slot(model).package}/", f"{Slot(model).tests}/"):
        if (factory / ".git").exists():
            result.removed += [path for path in tracked(factory, folder) if path not in files]
    return result


def edited_since_last_promotion(factory: Path, model: str, planned: Plan) -> list[str]:
    """Slot files that promotion would overwrite although the factory changed them since they were last written.

    A promoted slot records each file's digest in promotion.yaml; a slot never promoted compares with
    the commit that created it.
    """
    touched = planned.changed + planned.removed
    provenance = factory / Slot(model).provenance
    if provenance.is_file():
        recorded = (yaml.safe_load(provenance.read_text(encoding="utf-8")) or {}).get("files", {})
        return [
            path
            for path in touched
            if str(recorded.get(path, "")).removeprefix(DIGEST_PREFIX) != content_digest(factory / path)
        ]
    answers = Slot(model).answers
    created = git(factory, "log", "--format=%H", "--diff-filter=A", "--", answers).split()
    if not created or not touched:
        return touched if not created else []
    return sorted(set(git(factory, "diff", "--name-only", created[-1], "HEAD", "--", *touched).split()))


def check_contract(factory: Path, model: str, files: dict[str, bytes]) -> None:
    """Every step is a module of the model's package that accepts the flags the pipeline gives it."""
    spec_path = factory / Slot(model).pipeline
    try:
        spec = PipelineSpec.parse(yaml.safe_load(files[Slot(model).pipeline]), spec_path)
        check_steps(spec, model, files.get)
    except SpecError as error:
        raise PromotionError(str(error)) from error


def comparable_version(version: str | None) -> tuple[int, ...] | None:
    """A template version (`v1.2.0`, `1.2.0-3-gabc`) as a tuple, or None if it is a bare commit."""
    match = re.fullmatch(r"v?(\d+(?:\.\d+)+)(?:-(\d+)-g[0-9a-f]+)?", version or "")
    if not match:
        return None
    return (*(int(p) for p in match.group(1).split(".")), int(match.group(2) or 0))


def check_template_versions(prototype: Path, factory: Path) -> tuple[str | None, str | None]:
    """Refuse a prototype generated from a newer template than the factory's."""
    proto, fact = template_version(prototype / ANSWERS_FILE), template_version(factory / ANSWERS_FILE)
    left, right = comparable_version(proto), comparable_version(fact)
    if left and right and left > right:
        raise PromotionError(
            f"the prototype uses template {proto}, newer than the factory's {fact}: update the factory first "
            "(`copier update --defaults` in the factory, then its slots)"
        )
    return proto, fact


def requirement_name(requirement: str) -> str:
    """The normalised distribution name of a requirement string (`Scikit_Learn>=1` -> `scikit-learn`)."""
    return re.split(r"[<>=!~\[; @]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-").replace(".", "-")


def model_dependencies(prototype: Path, factory: Path) -> list[str]:
    """Dependencies the prototype declares that the factory does not: the model's own requirements."""

    def declared(pyproject: Path) -> dict[str, str]:
        deps = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {}).get("dependencies", [])
        return {requirement_name(dep): dep for dep in deps}

    ours = declared(factory / "pyproject.toml")
    return sorted(dep for name, dep in declared(prototype / "pyproject.toml").items() if name not in ours)


def dependency_group(factory: Path, model: str) -> list[str]:
    """The factory's dependency group of a model (its own libraries), empty if it has none."""
    data = tomllib.loads((factory / "pyproject.toml").read_text(encoding="utf-8"))
    group: list[str] = data.get("dependency-groups", {}).get(model, [])
    return group


def sync_dependency_group(factory: Path, model: str, wanted: list[str], echo: Callable[[str], None]) -> None:
    """Make the model's dependency group hold exactly `wanted`, in pyproject.toml and uv.lock (`uv add/remove`)."""
    current = {requirement_name(dep): dep for dep in dependency_group(factory, model)}
    targets = {requirement_name(dep): dep for dep in wanted}
    stale = sorted(name for name in current if name not in targets)
    changed = sorted(dep for name, dep in targets.items() if current.get(name) != dep)
    for command in (
        ["uv", "remove", "--no-sync", "--group", model, *stale] if stale else None,
        ["uv", "add", "--no-sync", "--group", model, *changed] if changed else None,
    ):
        if command:
            echo(f"== dependencies: {' '.join(command)}")
            done = subprocess.run(command, cwd=factory, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise PromotionError(f"{' '.join(command)} failed:\n{done.stderr.strip()[-3000:]}")
    git(factory, "add", "--", "pyproject.toml", *(["uv.lock"] if (factory / "uv.lock").exists() else []))


def ensure_slot(factory: Path, model: str, prototype_config: dict[str, Any]) -> str:
    """Create the slot, or bring it to the factory base's template version; says which it did."""
    base_version = template_version(factory / ANSWERS_FILE)
    answers = factory / Slot(model).answers
    if answers.is_file():
        answers_file = str(answers.relative_to(factory))
        before = template_version(answers)
        fleet.copier_update(factory, answers_file, base_version)
        kept = fleet.protect_work(factory, answers_file, before, print) if before and before != base_version else []
        if kept:
            raise PromotionError(
                f"the template release {base_version} removes slot files you changed: {', '.join(kept)} (restored). "
                f"Update the slot first (`uv run factory update --only {model}`), decide about them, then promote"
            )
        done = f"slot {model} brought to template {base_version} (copier update)"
    else:
        data = {"problem_type": prototype_config.get("problem_type")}
        if prototype_config.get("primary_metric"):
            data["primary_metric"] = prototype_config["primary_metric"]
            data["greater_is_better"] = prototype_config.get("greater_is_better", True)
        done = fleet.add_slot(factory, model, data)
    stage(factory, model)
    return done


def stage(factory: Path, model: str) -> None:
    """Stage the slot's files, so `git checkout -f HEAD` alone undoes an interrupted promotion."""
    paths = Slot(model).paths
    # A path git knows but the work tree lost is staged too: that stages its removal.
    git(factory, "add", "-A", "--", *[p for p in paths if (factory / p).exists() or tracked(factory, p)])


def write(factory: Path, planned: Plan) -> None:
    """Apply a plan to the factory's work tree."""
    for path in planned.removed:
        (factory / path).unlink()
    for path, content in planned.files.items():
        target = factory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def run_checks(factory: Path, model: str, echo: Callable[[str], None]) -> None:
    """The slot's tests, then its local pipeline with the gate, in the factory's (locked) environment."""
    for title, command in (
        ("tests", ["uv", "run", "pytest", "-q", "-p", "no:cacheprovider", Slot(model).tests]),
        ("pipeline + gate", ["uv", "run", "factory", "run", model]),
    ):
        echo(f"== {title}: {' '.join(command)}")
        sys.stdout.flush()
        done = subprocess.run(command, cwd=factory, check=False)  # output streams to the person running it
        if done.returncode == EXIT_REJECTED and title == "pipeline + gate":
            raise GateRejected(
                f"the gate rejected the promoted {model} (verdict above): nothing was registered and "
                f"{model} @champion is unchanged. The promoted files are staged: commit them to integrate the "
                "code without a new model version, or drop them with `git checkout -f HEAD`"
            )
        if done.returncode != 0:
            raise PromotionError(f"{title} failed ({' '.join(command)} exited {done.returncode}; output above)")


def promote(
    prototype: Path,
    factory: Path,
    model: str,
    *,
    dry_run: bool = False,
    force: bool = False,
    run_slot_checks: bool = True,
    echo: Callable[[str], None] = print,
) -> Plan:
    """The whole promotion; see the module docstring."""
    prototype, factory = prototype.resolve(), factory.resolve()
    config_file = prototype / "configs" / "config.yaml"
    if not config_file.is_file():
        raise PromotionError(f"{config_file} is missing: --from must point at a prototyping repo")
    config = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
    if config.get("model_name") != model:
        raise PromotionError(f"{config_file} is for model {config.get('model_name')!r}, not {model!r}")
    try:
        manifest = parse(prototype / "configs" / "dataset.yaml", DatasetManifest)
    except ConfigError as error:
        raise PromotionError(f"the dataset manifest is incomplete: {error}") from error
    try:
        require_committed(prototype, prototype_paths(model, manifest))
        require_clean(factory, "factory")
    except PromotionError as refusal:
        if not dry_run:
            raise
        echo(f"note: a real promotion would stop here: {refusal}")
    proto_version, factory_version = check_template_versions(prototype, factory)
    files = source_files(prototype, model, manifest)
    check_contract(factory, model, files)
    dependencies = model_dependencies(prototype, factory)
    slot_exists = (factory / Slot(model).answers).is_file()
    planned = plan(factory, model, files)
    if slot_exists and not force:
        overwritten = edited_since_last_promotion(factory, model, planned)
        if overwritten:
            raise PromotionError(
                f"these slot files changed in the factory since the last promotion and would be overwritten: "
                f"{', '.join(overwritten)}. Bring those changes to the prototype, or re-run with --force."
            )
    dependency_change = sorted(dependencies) != sorted(dependency_group(factory, model))
    echo(("Dry run: nothing is written.\n" if dry_run else "") + planned.table())
    if dependency_change:
        echo(f"dependency group {model}: {', '.join(dependencies) or '(none)'}")
    source_commit = git_commit(prototype)
    if slot_exists and not (planned.added or planned.changed or planned.removed or dependency_change):
        if recorded_source_commit(factory, model) == source_commit:
            echo(f"Nothing to promote: slot {model} already holds {prototype.name} @ {str(source_commit)[:12]}.")
            return planned
    if dry_run:
        return planned
    echo("Every change is staged as it is made: if this is interrupted, `git checkout -f HEAD` restores the factory.")
    echo(ensure_slot(factory, model, config))
    planned = plan(factory, model, files)  # the slot may be new: compare again
    write(factory, planned)
    legacy = factory / Slot(model).folder / LEGACY_REQUIREMENTS
    if legacy.exists():
        legacy.unlink()
    sync_dependency_group(factory, model, dependencies, echo)
    provenance = {
        "model": model,
        # The prototype by name and remote only: absolute local paths mean nothing on another machine.
        "source": prototype.name,
        "source_remote": remote_url(prototype),
        "source_commit": source_commit,
        "source_template_version": proto_version,
        "factory_template_version": factory_version,
        "factory_commit": git_commit(factory),
        "dataset": {
            "name": manifest.name,
            "version": manifest.version,
            "digest": DIGEST_PREFIX + content_digest(prototype / manifest.path),
        },
        "dependencies": dependencies,
        "promoted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": {path: DIGEST_PREFIX + content_digest(factory / path) for path in sorted(files)},
    }
    (factory / Slot(model).provenance).write_text(
        "# Written by `factory promote`; the next promotion compares the slot's files against these digests.\n"
        + yaml.safe_dump(provenance, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    stage(factory, model)
    if run_slot_checks:
        run_checks(factory, model, echo)
    echo(f"Promoted {model} from {prototype.name} @ {source_commit}. Review with `git diff --cached`, then:")
    echo(f"  git commit -m 'Promote {model} from {prototype.name} {str(source_commit)[:12]}'")
    return planned


def recorded_source_commit(factory: Path, model: str) -> str | None:
    """The prototype commit the slot was last promoted from, if it ever was."""
    provenance = factory / Slot(model).provenance
    if not provenance.is_file():
        return None
    commit = (yaml.safe_load(provenance.read_text(encoding="utf-8")) or {}).get("source_commit")
    return str(commit) if commit else None


def remote_url(repo: Path) -> str | None:
    """The repository's `origin` URL without any credentials in it, if it has one."""
    done = subprocess.run(
        ["git", "config", "--get", "remote.origin.url"], cwd=repo, capture_output=True, text=True, check=False
    )
    return re.sub(r"(?<=://)[^/@]+@", "", done.stdout.strip()) or None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `factory promote`."""
    parser.add_argument("--from", dest="prototype", type=Path, required=True, help="path to the prototype repo")
    parser.add_argument("--model", required=True, help="the model name (the package under src/)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and write nothing")
    parser.add_argument("--force", action="store_true", help="overwrite slot files changed since the last promotion")
    parser.add_argument("--skip-checks", action="store_true", help="do not run the slot's tests and pipeline")


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m mlops.factory.promote` (also `factory promote`)."""
    parser = argparse.ArgumentParser(prog="promote", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run(args)


def run(args: Any) -> int:
    """Promote with parsed arguments, reporting refusals as one clear line."""
    try:
        promote(
            args.prototype,
            Path.cwd(),
            args.model,
            dry_run=args.dry_run,
            force=args.force,
            run_slot_checks=not args.skip_checks,
        )
    except GateRejected as rejection:
        print(f"rejected: {rejection}", file=sys.stderr)
        return EXIT_REJECTED
    except PromotionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
