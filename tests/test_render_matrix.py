"""Fast tier: the render matrix derives its combinations from copier.yml and finds a ref identical to itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from render_matrix import Combination, combinations, compare, export, render_matrix


@pytest.fixture(scope="module")
def head(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This repository's files at HEAD, as the matrix renders them."""
    return export("HEAD", tmp_path_factory.mktemp("head") / "template")


@pytest.fixture(scope="module")
def matrix(head: Path) -> list[Combination]:
    """Every combination derived from copier.yml at HEAD."""
    return combinations(head)


def every_choice(template: Path) -> set[tuple[str, Any]]:
    """(question, value) for each choice of each asked question, read straight from copier.yml."""
    config = yaml.safe_load((template / "copier.yml").read_text(encoding="utf-8"))
    found = set()
    for name, question in config.items():
        if name.startswith("_") or not isinstance(question, dict) or question.get("when") is False:
            continue
        raw = question.get("choices") or []
        for choice in raw.values() if isinstance(raw, dict) else raw:
            found.add((name, choice["value"] if isinstance(choice, dict) else choice))
    return found


def test_every_choice_of_copier_yml_appears_in_some_combination(head: Path, matrix: list[Combination]) -> None:
    chosen = {("template", c.application) for c in matrix} | {pair for c in matrix for pair in c.answers}
    assert every_choice(head) <= chosen
    assert {pair[0] for pair in every_choice(head)} >= {"template", "license", "primary_metric", "ci_platform"}


def test_a_slot_is_rendered_into_every_factory_combination(matrix: list[Combination]) -> None:
    factories = {c for c in matrix if c.application == "factory"}
    slots = [c for c in matrix if c.base]
    assert slots and {c.base for c in slots} == factories
    assert len(slots) % len(factories) == 0


def test_combination_names_are_unique_folder_names(matrix: list[Combination]) -> None:
    names = [c.name for c in matrix]
    assert len(set(names)) == len(names)
    assert all("/" not in name and " " not in name for name in names)


def test_a_ref_renders_byte_identical_to_itself_for_one_combination_of_each_application(
    matrix: list[Combination], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chosen = list({c.application: c for c in reversed(matrix)}.values())  # the first of each application
    for side in "AB":
        render_matrix("HEAD", tmp_path / side, chosen)
    assert {p.name for p in (tmp_path / "A").iterdir()} == {c.name for c in chosen}
    assert compare(tmp_path / "A", tmp_path / "B", allow=[])
    report = capsys.readouterr().out
    assert f"combinations compared: {len(chosen)} (only in A: none; only in B: none)" in report
    assert "files differing: 0" in report
    assert "files identical: 0" not in report
