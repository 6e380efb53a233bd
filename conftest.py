"""Import paths for the template repo's tests: the shared sources and the project tooling."""

from __future__ import annotations

import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
# `common/` is tested directly: the same code every generated repo ships.
sys.path.insert(0, str(ROOT / "common" / "runtime"))
# tools/projects.py renders templates and runs generated projects for tests, the demo and benchmarks.
sys.path.insert(0, str(ROOT / "tools"))

# Hypothesis keeps caches (constants, unicode data) in ./.hypothesis by default: keep them out of the work tree.
os.environ.setdefault(
    "HYPOTHESIS_STORAGE_DIRECTORY", str(Path(tempfile.gettempdir()) / "model-factory-templates-hypothesis")
)

# `nox -s tests` runs the whole suite as one pytest-xdist run, workers taking whole modules in collection order
# (--no-loadscope-reorder), so this order is the schedule. The docs chain, one ordered module with about a quarter of
# the suite's time, starts first and never ends the run alone; the other end-to-end and hardening modules follow; the
# fast tier's modules come last, those with the most tests first (pytest-xdist's own rule), and fill both workers to
# the end.
FIRST = "tests/test_docs_e2e.py"
LONG = ("slow", "hardening")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Order modules: the docs chain, those with slow or hardening tests, then the rest; each keeps its own order."""

    def module(item: pytest.Item) -> str:
        return item.nodeid.split("::")[0]

    long = {module(item) for item in items if any(item.get_closest_marker(name) for name in LONG)}
    tests = Counter(module(item) for item in items)

    def rank(item: pytest.Item) -> tuple[int, int]:
        name = module(item)
        return (0, 0) if name == FIRST else (1, 0) if name in long else (2, -tests[name])

    items.sort(key=rank)  # stable: tests keep their order within a module
