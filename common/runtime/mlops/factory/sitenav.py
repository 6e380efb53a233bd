"""MkDocs hook of the factory's site: every slot's page, docs/models/<model>.md, joins the Models section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SECTION = "Models"
INDEX = "models/README.md"


def on_config(config: Any) -> Any:
    """Put each model page under the Models section of the nav, after its index, in name order."""
    docs = Path(config["docs_dir"])
    pages = sorted(page.relative_to(docs).as_posix() for page in (docs / "models").glob("*.md"))
    for entry in config["nav"] or []:
        if isinstance(entry, dict) and SECTION in entry:
            entry[SECTION] = [INDEX, *(page for page in pages if page != INDEX)]
    return config
