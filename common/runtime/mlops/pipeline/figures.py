"""The evaluation plots, copied where people look for them (e.g. reports/figures/)."""

from __future__ import annotations

import shutil
from pathlib import Path


def copy_figures(score_report: Path, figures: Path) -> list[Path]:
    """Copy the evaluation plots where people look for them (e.g. reports/figures/)."""
    figures.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy2(png, figures / png.name)) for png in sorted(score_report.glob("*.png"))]
