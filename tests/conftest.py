"""Fixtures shared by the template tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from projects import snapshot_template


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This template repo as a clean, committed and tagged git repo (copier records real versions from it)."""
    return snapshot_template(tmp_path_factory.mktemp("template") / "model-factory-templates", tag="v0.1.0")
