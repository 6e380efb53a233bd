"""The model's own libraries: what the prototype declares beyond the factory, kept as the model's dependency group."""

from __future__ import annotations

import re
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path

from mlops.factory.gitrepo import git
from mlops.factory.promotion import PromotionError


def requirement_name(requirement: str) -> str:
    """The normalised distribution name of a requirement string (`Scikit_Learn>=1` -> `scikit-learn`)."""
    return re.split(r"[<>=!~\[; @]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-").replace(".", "-")


def model_dependencies(prototype: Path, factory: Path) -> list[str]:
    """Dependencies the prototype declares that the factory does not: the model's own requirements."""

    def declared(pyproject: Path) -> dict[str, str]:
        deps = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {}).get("dependencies", [])
        return {requirement_name(dep): dep for dep in deps}

    ours = declared(factory / "pyproject.toml")
    return sorted(dep for name, dep in declared(prototype / "pyproject.toml").items() if name not in ours)


def dependency_group(factory: Path, model: str) -> list[str]:
    """The factory's dependency group of a model (its own libraries), empty if it has none."""
    data = tomllib.loads((factory / "pyproject.toml").read_text(encoding="utf-8"))
    group: list[str] = data.get("dependency-groups", {}).get(model, [])
    return group


def sync_dependency_group(factory: Path, model: str, wanted: list[str], echo: Callable[[str], None]) -> None:
    """Make the model's dependency group hold exactly `wanted`, in pyproject.toml and uv.lock (`uv add/remove`)."""
    current = {requirement_name(dep): dep for dep in dependency_group(factory, model)}
    targets = {requirement_name(dep): dep for dep in wanted}
    stale = sorted(name for name in current if name not in targets)
    changed = sorted(dep for name, dep in targets.items() if current.get(name) != dep)
    for command in (
        ["uv", "remove", "--no-sync", "--group", model, *stale] if stale else None,
        ["uv", "add", "--no-sync", "--group", model, *changed] if changed else None,
    ):
        if command:
            echo(f"== dependencies: {' '.join(command)}")
            done = subprocess.run(command, cwd=factory, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise PromotionError(f"{' '.join(command)} failed:\n{done.stderr.strip()[-3000:]}")
    git(factory, "add", "--", "pyproject.toml", *(["uv.lock"] if (factory / "uv.lock").exists() else []))
