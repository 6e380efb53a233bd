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
The steps live in `mlops/factory/promotion/`; this module runs them in order.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlops.factory.gate import EXIT_REJECTED
from mlops.factory.gitrepo import require_clean
from mlops.factory.promotion import GateRejected, PromotionError, checks, provenance
from mlops.factory.promotion.apply import ensure_slot, stage, write
from mlops.factory.promotion.dependencies import dependency_group, model_dependencies, sync_dependency_group
from mlops.factory.promotion.plan import Plan, plan, prototype_paths, source_files
from mlops.factory.promotion.slot_checks import run_checks
from mlops.factory.slot import Slot
from mlops.pipeline.tracking import git_commit


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
    config, manifest = checks.read_prototype(prototype, model)
    try:
        checks.require_committed(prototype, prototype_paths(model, manifest))
        require_clean(factory, "factory", PromotionError)
    except PromotionError as refusal:
        if not dry_run:
            raise
        echo(f"note: a real promotion would stop here: {refusal}")
    versions = checks.check_template_versions(prototype, factory)
    files = source_files(prototype, model, manifest)
    checks.check_contract(factory, model, files)
    dependencies = model_dependencies(prototype, factory)
    slot_exists = (factory / Slot(model).answers).is_file()
    planned = plan(factory, model, files)
    if slot_exists and not force:
        checks.refuse_overwrites(factory, model, planned)
    dependency_change = sorted(dependencies) != sorted(dependency_group(factory, model))
    echo(("Dry run: nothing is written.\n" if dry_run else "") + planned.table())
    if dependency_change:
        echo(f"dependency group {model}: {', '.join(dependencies) or '(none)'}")
    source_commit = git_commit(prototype)
    if slot_exists and not (planned.added or planned.changed or planned.removed or dependency_change):
        if provenance.recorded_source_commit(factory, model) == source_commit:
            echo(f"Nothing to promote: slot {model} already holds {prototype.name} @ {str(source_commit)[:12]}.")
            return planned
    if dry_run:
        return planned
    echo("Every change is staged as it is made: if this is interrupted, `git checkout -f HEAD` restores the factory.")
    echo(ensure_slot(factory, model, config))
    planned = plan(factory, model, files)  # the slot may be new: compare again
    write(factory, model, planned)
    sync_dependency_group(factory, model, dependencies, echo)
    record = provenance.record(
        prototype,
        factory,
        model,
        manifest,
        source_commit=source_commit,
        versions=versions,
        dependencies=dependencies,
        files=files,
    )
    provenance.write(factory, record)
    stage(factory, model)
    if run_slot_checks:
        run_checks(factory, model, echo)
    echo(f"Promoted {model} from {prototype.name} @ {source_commit}. Review with `git diff --cached`, then:")
    echo(f"  git commit -m 'Promote {model} from {prototype.name} {str(source_commit)[:12]}'")
    return planned


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
