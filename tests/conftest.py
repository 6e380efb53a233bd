"""Fixtures shared by the template tests, and the tally the hardening families report their counts to."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from projects import snapshot_template

# The same examples on every run, so CI is deterministic; HYPOTHESIS_PROFILE=explore draws new ones.
settings.register_profile("fixed", derandomize=True, database=None, deadline=None)
settings.register_profile("explore", database=None, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fixed"))

# family -> count name -> total, printed as one line per family at the end of the run.
_TALLY: defaultdict[str, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This template repo as a clean, committed and tagged git repo (copier records real versions from it)."""
    return snapshot_template(tmp_path_factory.mktemp("template") / "model-factory-templates", tag="v0.1.0")


class Tally:
    """Counts of one hardening family (`tally.add("answers", rendered=1)`), summed over the whole run."""

    def add(self, family: str, **counts: int) -> None:
        """Add counts to a family."""
        for name, value in counts.items():
            _TALLY[family][name] += value


@pytest.fixture(scope="session")
def tally() -> Tally:
    """Where the hardening families (marker `hardening`) report what they tried and how it ended."""
    return Tally()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On a pytest-xdist worker: hand this worker's counts to the controller, which prints the summary."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["tally"] = {family: dict(counts) for family, counts in _TALLY.items()}


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: without xdist (-p no:xdist) it is never called
def pytest_testnodedown(node: Any, error: object) -> None:
    """On the pytest-xdist controller: add a finished worker's counts to the run's."""
    for family, counts in getattr(node, "workeroutput", {}).get("tally", {}).items():
        for name, value in counts.items():
            _TALLY[family][name] += value


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per hardening family with its counts, for people and for the closing notes of a change."""
    if _TALLY:
        terminalreporter.section("hardening families")
        for family, counts in sorted(_TALLY.items()):
            terminalreporter.write_line(f"{family}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
