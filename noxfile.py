"""Every developer and CI task of the template repo: `python -m nox -s <session>`."""

from __future__ import annotations

import getpass
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nox

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv"
nox.options.sessions = ["lint", "tests"]
nox.options.reuse_venv = "yes"

PYPROJECT = nox.project.load_toml("pyproject.toml")
TEST_DEPS = [*nox.project.dependency_groups(PYPROJECT, "test"), "uv", "ruff"]
# Generated projects use the machine's Python; uv must never download one. Python caches bytecode, as on a person's
# machine: with PYTHONDONTWRITEBYTECODE (set on some CI and sandbox machines) every process the suite starts compiles
# pandas, scikit-learn and MLflow from source again, about three times the CPU of an import from cached bytecode.
ENV: dict[str, str | None] = {"UV_PYTHON_DOWNLOADS": "never", "PYTHONDONTWRITEBYTECODE": None}  # None: unset
NO_TESTS_COLLECTED = 5  # a tier whose marker selects nothing is not a failure
DURATIONS = "--durations=15"  # slow tests stay visible in every CI log
# One worker per core; a module's tests share a worker, so a project a module renders once is rendered once. Modules
# go out in the order conftest.py sorts them (longest first), not reordered by their number of tests.
PARALLEL = ("-n", "auto", "--dist", "loadscope", "--no-loadscope-reorder")
FAST = "not slow and not hardening"
RAM_DISK = Path("/dev/shm")  # noqa: S108  (Linux's memory-backed folder; scratch is a private mkdtemp in it)
# docs_tables.py renders the templates to list their files and imports the generated commands for their --help.
DOCS_DEPS = ["pyyaml", "pydantic", "copier>=9.15.2,<10", "pandas>=2.2,<4", "scipy>=1.11,<2"]
# The site's figures and example tables are made at build time by the factory's code (tools/docs_site.py).
SITE_DEPS = [
    *nox.project.dependency_groups(PYPROJECT, "lint"),
    *DOCS_DEPS,
    "matplotlib>=3.8,<4",
    "scikit-learn>=1.6,<2",
]
SITE_ENV = {"NO_MKDOCS_2_WARNING": "1"}  # Material's notice about MkDocs 2.0, printed on every build


def shipped_runtime_tests() -> list[str]:
    """The runtime's test modules every factory ships as tests/mlops (each a one-line include of its source)."""
    shipped = sorted(Path("factory-template/base/tests/mlops").glob("test_*.py.jinja"))
    return [f"common/runtime/tests/{path.name.removesuffix('.jinja')}" for path in shipped]


@contextmanager
def scratch_in_memory(session: nox.Session) -> Iterator[list[str]]:
    """Scratch files in memory, test folders on disk; yields the pytest options that keep them apart.

    Copier clones the whole template repository into a scratch folder for every version it reads (five clones per
    `copier update`) and deletes each clone after use: on a disk where making a file costs a millisecond of system
    time, that is about half of an update's time. Where the user chose no TMPDIR and the machine has a RAM disk,
    scratch goes there; the generated projects, whose environments uv links from its cache on disk, stay on disk
    under pytest's --basetemp.
    """
    if "TMPDIR" in os.environ or not (RAM_DISK.is_dir() and os.access(RAM_DISK, os.W_OK)):
        yield []
        return
    on_disk = Path(tempfile.gettempdir()) / f"pytest-of-{getpass.getuser()}" / f"nox-{session.name}"
    on_disk.parent.mkdir(parents=True, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix="model-factory-templates-", dir=RAM_DISK)
    session.env["TMPDIR"] = scratch
    try:
        yield [f"--basetemp={on_disk}"]
    finally:
        del session.env["TMPDIR"]  # nothing after this run points at the removed folder
        shutil.rmtree(scratch, ignore_errors=True)


def run_tier(session: nox.Session, marker: str | None = None, *skipped: str) -> None:
    """One tier (the whole suite without a marker) on every core, slowest tests listed; a tier may select none."""
    selection, allowed = (["-m", marker], [0, NO_TESTS_COLLECTED]) if marker else ([], [0])
    ignored = [f"--ignore={path}" for path in skipped]
    with scratch_in_memory(session) as apart:
        options = [*selection, *ignored, *apart, *PARALLEL, DURATIONS, *session.posargs]
        session.run("pytest", *options, success_codes=allowed)


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite in one run: fast tier, slow tier (generated projects end to end) and the hardening families.

    One run, not one per tier: the long modules start first (conftest.py) and the fast tier's short ones fill both
    workers to the end, instead of each tier waiting for its own last module. The runtime's tests that a factory
    ships (tests/mlops) run here inside generated factories, as a person runs them, twice: the factory's CI checks
    job (test_factory_e2e.py) and its README's `uv run pytest` (test_docs_e2e.py). They do not run a third time from
    source; the fast tier runs them so, for quick feedback.
    """
    session.install(*TEST_DEPS)
    session.env.update(ENV)
    run_tier(session, None, *shipped_runtime_tests())


@nox.session
def tests_fast(session: nox.Session) -> None:
    """Run only the fast tier: renders, validators and the shared pipeline code."""
    session.install(*TEST_DEPS)
    session.env.update(ENV)
    run_tier(session, FAST)


@nox.session
def hardening(session: nox.Session) -> None:
    """Run only the measured adversarial families, one summary line each (answers, names, updates, gate, secrets)."""
    session.install(*TEST_DEPS)
    session.env.update(ENV)
    run_tier(session, "hardening")


@nox.session
def lint(session: nox.Session) -> None:
    """Lint and format-check the repo's Python, type-check the shared code, check its import rules and the docs."""
    session.install(*SITE_DEPS)
    session.env.update(SITE_ENV)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")
    session.run("lint-imports", "--no-cache", "--no-logo", env={"PYTHONPATH": "common/runtime"})
    session.run("python", "tools/docs_tables.py", "--check")
    # Built outside the work tree: CI checks that the suite leaves it exactly as it was.
    session.run("mkdocs", "build", "--strict", "--site-dir", session.create_tmp() + "/site")


@nox.session
def docs_tables(session: nox.Session) -> None:
    """Regenerate the docs tables derived from copier.yml."""
    session.install(*DOCS_DEPS)
    session.run("python", "tools/docs_tables.py")


@nox.session(default=False)
def docs(session: nox.Session) -> None:
    """Build the templates' site into site/ (`nox -s docs -- serve` to preview it at http://127.0.0.1:8000)."""
    session.install(*SITE_DEPS)
    session.env.update(SITE_ENV)
    session.run("mkdocs", *(session.posargs or ["build", "--strict"]))


@nox.session
def demo(session: nox.Session) -> None:
    """The main job on embedded defaults: generate a prototype, run its pipeline, show the results."""
    session.install("copier>=9.15.2,<10", "uv")
    session.env.update(ENV)
    session.run("python", "tools/demo.py", *session.posargs)


@nox.session(default=False)
def matrix(session: nox.Session) -> None:
    """Render every option combination at two refs and compare them: `nox -s matrix -- compare main HEAD`."""
    session.install("copier>=9.15.2,<10")
    session.env.update(ENV)
    session.run("python", "tools/render_matrix.py", *(session.posargs or ["compare", "HEAD~1", "HEAD"]))


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Time what users wait for against same-run references (`-- --only pipeline,copier --repeat 5` to iterate)."""
    session.install("copier>=9.15.2,<10", "uv")
    session.env.update(ENV)
    # Outside the work tree's tracked files: the projects in nox's temp folder, the results beside the session's venv.
    projects = f"{session.create_tmp()}/projects"
    results = f"{session.virtualenv.location}/results.json"
    session.run("python", "tools/bench.py", "--workdir", projects, "--results", results, *session.posargs)
