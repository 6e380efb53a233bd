"""Fast tier: the runtime package's import rules ([tool.importlinter] in pyproject.toml) hold, and catch a break.

`mlops.pipeline` and `mlops.updates` ship to prototypes too, so they never import `mlops.factory`; and no import
cycle runs through `mlops`. Each rule is shown failing on a copy of the package with a violation planted in it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from projects import ROOT

RUNTIME = ROOT / "common" / "runtime"


def lint_imports(package_parent: Path, config: Path = ROOT / "pyproject.toml") -> subprocess.CompletedProcess[str]:
    """import-linter's verdict on the `mlops` package found in `package_parent`, with the contracts of `config`."""
    command = [str(Path(sys.executable).with_name("lint-imports")), "--config", str(config), "--no-cache", "--no-logo"]
    env = {"PYTHONPATH": str(package_parent), "PATH": str(Path(sys.executable).parent), "NO_COLOR": "1"}
    return subprocess.run(command, cwd=package_parent, env=env, capture_output=True, text=True, check=False)  # noqa: S603


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    """A copy of the runtime package to plant violations in; returns the folder that holds `mlops/`."""
    shutil.copytree(RUNTIME / "mlops", tmp_path / "mlops", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def plant(module: Path, line: str) -> None:
    """Add an import at the end of a module."""
    module.write_text(module.read_text(encoding="utf-8") + line + "\n", encoding="utf-8")


def test_the_runtime_package_keeps_its_import_rules() -> None:
    verdict = lint_imports(RUNTIME)
    assert verdict.returncode == 0, verdict.stdout + verdict.stderr
    assert "Contracts: 3 kept, 0 broken." in verdict.stdout


# A package prototypes ship, the module a violation is planted in, and the contract that must break.
SHIPPED_TO_PROTOTYPES = {
    "pipeline": ("tables", "gate", "mlops.pipeline (shipped to prototypes alone) never imports mlops.factory"),
    "updates": ("proposals", "fleet", "mlops.updates (shipped to prototypes too) never imports mlops.factory"),
}


@pytest.mark.parametrize("package", SHIPPED_TO_PROTOTYPES)
def test_a_package_prototypes_ship_importing_the_factory_breaks_the_rules(package_copy: Path, package: str) -> None:
    module, factory_module, contract = SHIPPED_TO_PROTOTYPES[package]
    plant(package_copy / f"mlops/{package}/{module}.py", f"from mlops.factory import {factory_module}")
    verdict = lint_imports(package_copy)
    assert verdict.returncode == 1
    assert f"{contract} BROKEN" in verdict.stdout
    assert f"mlops.{package}.{module} -> mlops.factory.{factory_module}" in verdict.stdout


def test_an_import_cycle_breaks_the_rules(package_copy: Path) -> None:
    plant(package_copy / "mlops/pipeline/tracking.py", "from mlops.pipeline import runner")  # runner imports tracking
    verdict = lint_imports(package_copy)
    assert verdict.returncode == 1
    assert "No cycles are allowed in mlops.pipeline." in verdict.stdout
