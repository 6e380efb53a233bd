"""Shared fixtures: the shared-source package on sys.path and the caches of generated projects."""

from __future__ import annotations

import sys

from helpers import ROOT

# The template repo tests `common/` directly: the same code every generated repo ships.
sys.path.insert(0, str(ROOT / "common"))
