"""Fast tier: the templates' site and a generated factory's site (two slots) build with `mkdocs build --strict`.

The factory's site is built the way its CI job builds it (the job's own commands, read from common.yml), and
every `factory` command the pages show must parse with the factory's real argument parser.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import pytest
import yaml
from doc_commands import commands
from projects import ROOT, load_workflow, render, run, tool, tool_env

from mlops.factory import cli

SITE_ENV = {"NO_MKDOCS_2_WARNING": "1"}  # Material's notice about MkDocs 2.0, printed on every build
FACTORIES = {
    "trunk-dev-staging-prod": {},
    "gitflow-qa-prod-teams": {"branching_strategy": "gitflow", "environments": "qa,prod", "notifications": "teams"},
}
SLOTS = {"churn": "classification", "fares": "regression"}


def build(project: Path, site: Path, env: dict[str, str] | None = None) -> str:
    """`mkdocs build --strict` of a project into `site`; fails on any warning (broken link, page left out)."""
    return run([tool("mkdocs"), "build", "--strict", "--site-dir", site], project, {**(env or tool_env()), **SITE_ENV})


@pytest.fixture(scope="module", params=list(FACTORIES))
def factory(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A factory with two slots, its model pages written and its site built as its CI does; (repo, site)."""
    root = render(tmp_path_factory.mktemp(request.param) / "factory", "factory", **FACTORIES[request.param])
    for model, problem_type in SLOTS.items():
        render(root, "model", model_name=model, problem_type=problem_type)
    job = load_workflow(root / ".github/workflows/common.yml")["jobs"]["docs"]
    steps = [step["run"] for step in job["steps"] if "run" in step]
    assert steps[0] == "uv sync --locked"
    env = {**tool_env(), "PYTHONPATH": os.pathsep.join([str(root), str(root / "src")]), "RUNNER_TEMP": str(root.parent)}
    for command in steps[1:]:  # what `uv run` runs, in this test environment (it has the factory's packages)
        argv = shlex.split(command.replace('"$RUNNER_TEMP/site"', str(root.parent / "site")))
        assert argv[:2] == ["uv", "run"], command
        program = [sys.executable, "-m", "mlops.factory.cli"] if argv[2] == "factory" else [tool(argv[2])]
        run([*program, *argv[3:]], root, {**env, **SITE_ENV})
    return root, root.parent / "site"


def test_the_templates_site_builds_strictly_with_its_figures_and_example_tables(tmp_path: Path) -> None:
    build(ROOT, tmp_path / "site")
    assert (tmp_path / "site/images/gate-verdicts.png").stat().st_size > 10_000
    assert (tmp_path / "site/images/drift.png").stat().st_size > 10_000
    gate = (tmp_path / "site/concepts/gate/index.html").read_text()
    assert "Gate for churn: PASSED" in gate and "Gate for churn: REJECTED" in gate and "<!-- site:" not in gate
    assert "DRIFT" in (tmp_path / "site/how-to/check-drift/index.html").read_text()


def test_a_factory_site_builds_strictly_with_a_page_per_slot_in_its_nav(factory: tuple[Path, Path]) -> None:
    root, site = factory
    index = (site / "index.html").read_text()
    for model in SLOTS:
        assert f'href="models/{model}/"' in index  # each slot's page joins the nav by itself
    churn, fares = ((site / "models" / model / "index.html").read_text() for model in SLOTS)
    assert "tenure_months" in churn and "roc_auc" in churn and "churn.evaluate" in churn
    assert "trip_distance_km" in fares and "rmse" in fares and "lower is better" in fares
    assert "No model registry in this checkout" in churn and not (root / "mlflow.db").exists()


def test_the_factory_pages_pass_its_own_file_hooks(factory: tuple[Path, Path]) -> None:
    """What its pre-commit runs on a commit of the pages `factory docs` wrote: secrets scan, end of file, whitespace."""
    root, _ = factory
    pages = [str(page.relative_to(root)) for page in sorted((root / "docs").rglob("*.md"))] + ["mkdocs.yml"]
    for hook in (
        [tool("detect-secrets-hook"), "--baseline", ".secrets.baseline"],
        [tool("end-of-file-fixer")],
        [tool("trailing-whitespace-fixer")],
    ):
        run([*hook, *pages], root)


def test_a_factory_site_is_written_for_its_environments_and_branching(factory: tuple[Path, Path]) -> None:
    root, site = factory
    answers = yaml.safe_load((root / ".copier-answers.yml").read_text())
    environments = [name.strip() for name in answers["environments"].split(",")]
    ci_cd = (root / "docs/ci-cd.md").read_text()
    assert f"**{answers['branching_strategy']}** branching" in ci_cd
    assert " -> ".join(environments) in ci_cd and f"deploy to {environments[-1]} (approval)" in ci_cd
    assert ("Teams message" in ci_cd) == (answers["notifications"] == "teams")
    assert (site / "ci-cd/index.html").is_file() and (site / "datasets/index.html").is_file()


def test_the_factory_ci_builds_its_site_on_changes_to_the_docs(factory: tuple[Path, Path]) -> None:
    root, _ = factory
    workflow = load_workflow(root / ".github/workflows/common.yml")
    assert {"docs/**", "mkdocs.yml"} <= set(workflow["on"]["pull_request"]["paths"])
    assert workflow["on"]["push"] == {"branches": ["main"]}  # every push to main builds it, whatever changed
    runs = [step.get("run", "") for step in workflow["jobs"]["docs"]["steps"]]
    assert any(command.startswith("uv run mkdocs build --strict") for command in runs)


def shown_factory_commands(page: Path, source: str) -> list[list[str]]:
    """The `uv run factory ...` invocations in a page's bash blocks, as argv after `factory` (synopses skipped)."""
    found = []
    for command in commands(page.read_text(encoding="utf-8"), source):
        if "[" in command.text:  # a usage synopsis such as `[--tier dev|prod]`, not a command to type
            continue
        words = shlex.split(command.text, comments=True)
        for start in (i for i in range(len(words) - 2) if words[i : i + 3] == ["uv", "run", "factory"]):
            rest = words[start + 3 :]
            end = next((i for i, word in enumerate(rest) if word in {"&&", "||", ";", "|"}), len(rest))
            found.append(rest[:end])
    return found


def test_every_factory_command_the_sites_show_exists_with_those_flags(factory: tuple[Path, Path]) -> None:
    root, _ = factory
    pages = [(page, page.relative_to(ROOT).as_posix()) for page in sorted((ROOT / "docs").rglob("*.md"))]
    pages += [(page, page.relative_to(root).as_posix()) for page in sorted((root / "docs").rglob("*.md"))]
    shown = [(source, argv) for page, source in pages for argv in shown_factory_commands(page, source)]
    assert len(shown) > 30
    for source, argv in shown:
        try:
            cli.parse_args(argv)
        except SystemExit:
            pytest.fail(f"{source}: `factory {' '.join(argv)}` is not a valid factory command")
