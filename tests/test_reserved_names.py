"""The reserved model names in copier.yml are complete against their sources, and model_name refuses each with why."""

from __future__ import annotations

import keyword
import re
import sys
import tomllib
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

import pytest
import reserved_names
import yaml
from packaging.requirements import Requirement
from projects import ROOT, copy_work_tree, render

RESERVED: dict[str, list[str]] = yaml.safe_load((ROOT / "copier.yml").read_text(encoding="utf-8"))["reserved_names"][
    "default"
]
ALL = set().union(*RESERVED.values())
# model_name's pattern: a name outside it is refused anyway, so the list holds only names inside it.
CHOOSABLE = re.compile(r"[a-z][a-z0-9_]{0,39}")


def choosable(names: Iterable[str]) -> set[str]:
    """The names model_name's pattern accepts."""
    return {name for name in names if CHOOSABLE.fullmatch(name)}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template as plain files (rendered without a clone)."""
    return copy_work_tree(tmp_path_factory.mktemp("reserved") / "template")


@pytest.fixture(scope="module")
def renders(source: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A prototype and a factory with slot churn, rendered with the defaults."""
    out = tmp_path_factory.mktemp("renders")
    factory = render(out / "factory", "factory", vcs_ref=None, src=source)
    render(factory, "model", vcs_ref=None, src=source, model_name="churn")
    return {"prototype": render(out / "prototype", "prototype", vcs_ref=None, src=source), "factory": factory}


def test_copier_yml_holds_what_the_tool_derives() -> None:
    assert reserved_names.main(["--check"]) == 0


def test_every_keyword_and_standard_library_module_is_reserved() -> None:
    sources = {*keyword.kwlist, *keyword.softkwlist, *sys.stdlib_module_names}
    assert choosable(sources) - ALL == set()


def test_every_folder_of_the_generated_repos_is_reserved(renders: dict[str, Path]) -> None:
    folders = set()
    for root in renders.values():
        folders |= {path.name for path in root.iterdir() if path.is_dir()}
        # Beside the model's own folders (src/churn/, tests/churn/ and in the factory mlops/churn/, data/churn/).
        parents = {path.parent for path in root.rglob("churn") if path.is_dir()}
        folders |= {path.name for parent in parents for path in parent.iterdir() if path.is_dir()}
        ignored = (root / ".gitignore").read_text(encoding="utf-8")
        folders |= {match[1] for match in re.finditer(r"(?m)^/?([\w.-]+)/$", ignored)}
    assert {"pipeline", "factory", "outputs"} <= folders
    assert choosable(folders - {"churn"}) - ALL == set()


def requirements(pyproject: Path) -> set[str]:
    """Every distribution a generated pyproject.toml asks for: dependencies, extras and dependency groups."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    listed = [*project["project"].get("dependencies", [])]
    listed += [r for extra in project["project"].get("optional-dependencies", {}).values() for r in extra]
    listed += [r for group in project.get("dependency-groups", {}).values() for r in group if isinstance(r, str)]
    return {Requirement(r).name for r in listed}


def installed_closure(names: set[str]) -> list[metadata.Distribution]:
    """The distributions installed here that `names` need, transitively (those not installed here are skipped)."""
    seen: dict[str, metadata.Distribution] = {}
    todo = list(names)
    while todo:
        name = reserved_names.normalized(todo.pop())
        if name in seen:
            continue
        try:
            seen[name] = dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return list(seen.values())


def test_every_package_installed_here_that_the_generated_repos_need_is_reserved(renders: dict[str, Path]) -> None:
    wanted = set().union(*(requirements(root / "pyproject.toml") for root in renders.values()))
    closure = installed_closure(wanted)
    assert len(closure) > 100  # mlflow, pandas, scikit-learn, azure-ai-ml... and what they pull in
    missing = {dist.metadata["Name"]: choosable(reserved_names.import_names(dist)) - ALL for dist in closure}
    assert {name: names for name, names in missing.items() if names} == {}


@pytest.mark.slow
def test_every_distribution_the_generated_repos_lock_is_reserved(tmp_path: Path) -> None:
    imports = reserved_names.dependencies(tmp_path)  # uv lock of fresh renders, every locked wheel's RECORD
    assert {dist: choosable(names) - ALL for dist, names in imports.items() if choosable(names) - ALL} == {}


def test_windows_device_names_and_yaml_booleans_are_reserved() -> None:
    assert {"con", "prn", "aux", "nul", "com0", "com9", "lpt0", "lpt9"} <= ALL
    assert {"yes", "no", "on", "off", "true", "false", "null", "y", "n"} <= ALL


REFUSED = [
    ("match", "a Python keyword"),
    ("statistics", "a module of the Python standard library"),
    ("scipy", "the import name of a package the generated repos install"),
    ("pipeline", "a folder of the generated repos"),
    ("off", "a word YAML reads as a boolean or null"),
    ("com1", "a Windows device name"),
]


@pytest.mark.parametrize(("name", "reason"), REFUSED, ids=[name for name, _ in REFUSED])
def test_model_name_refuses_a_reserved_name_and_says_why(source: Path, tmp_path: Path, name: str, reason: str) -> None:
    dest = tmp_path / "repo"
    with pytest.raises(ValueError, match=re.escape(f"model_name {name} is reserved: {reason}")):
        render(dest, "prototype", vcs_ref=None, src=source, model_name=name)
    assert not dest.exists()
