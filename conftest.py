"""Import paths for the template repo's tests: the shared sources and the project tooling."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# `common/` is tested directly: the same code every generated repo ships.
sys.path.insert(0, str(ROOT / "common" / "runtime"))
# tools/projects.py renders templates and runs generated projects for tests, the demo and benchmarks.
sys.path.insert(0, str(ROOT / "tools"))

# Hypothesis keeps caches (constants, unicode data) in ./.hypothesis by default: keep them out of the work tree.
os.environ.setdefault(
    "HYPOTHESIS_STORAGE_DIRECTORY", str(Path(tempfile.gettempdir()) / "model-factory-templates-hypothesis")
)
