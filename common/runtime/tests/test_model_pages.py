"""`factory docs`: a slot's page gets its generated part from the slot's files and the registry (toy slot)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from mlops.factory import cli, modelpage, registry

MakeSlot = Callable[..., Path]


@pytest.fixture
def slot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_model_folder: MakeSlot) -> Path:
    """A factory root with the toy slot in mlops/toy/, its schema module and a private sqlite MLflow store."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    folder = make_model_folder(tmp_path, folder_name="mlops/toy")
    (tmp_path / "src/toy/schema.py").write_text('"""Toy columns."""\n\nTARGET = "y"\nNUMERIC = ["x"]\nSEED = 1 + 1\n')
    return folder


def page() -> str:
    return Path("docs/models/toy.md").read_text(encoding="utf-8")


def test_the_generated_part_is_replaced_and_the_teams_text_is_kept(slot: Path) -> None:
    Path("docs/models").mkdir(parents=True)
    team = "# toy\n\nOur notes on toy.\n\n"
    Path("docs/models/toy.md").write_text(f"{team}{modelpage.BEGIN}\nstale\n{modelpage.END}\n\n## Ours\n")
    assert cli.main(["docs", "toy", "--no-lineage"]) == 0
    text = page()
    assert text.startswith(team + modelpage.BEGIN) and text.endswith(f"{modelpage.END}\n\n## Ours\n")
    assert "stale" not in text and text.count(modelpage.BEGIN) == 1
    assert cli.main(["docs", "--no-lineage"]) == 0 and page() == text  # every slot; nothing changed


def test_the_page_shows_the_config_data_contract_pipeline_and_hyperparameters(slot: Path) -> None:
    assert cli.main(["docs", "--no-lineage"]) == 0
    text = page()
    assert "| business threshold | 0.7 |" in text and "`roc_auc` (higher is better)" in text
    assert "| TARGET | y |" in text and "| NUMERIC | x |" in text and "| SEED | (computed) |" in text
    assert "step_prep -->|prep_data| step_train" in text and "params --> step_train" in text
    assert "| train | `toy.train` |" in text and "`--fast true`" in text
    assert yaml.safe_load(text.split("```yaml\n")[1].split("```")[0]) == yaml.safe_load(
        (slot / "train.yaml").read_text()
    )


def test_without_a_registry_the_page_says_so_and_no_store_is_created(
    slot: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert cli.main(["docs"]) == 0
    assert "No model registry in this checkout" in page() and not Path("mlflow.db").exists()


def test_the_lineage_of_the_champion_and_the_newest_version_is_shown(slot: Path) -> None:
    (slot / "train.yaml").write_text(yaml.safe_dump({"estimator": "toy", "quality": 0.8}))
    assert cli.main(["run", "toy"]) == 0
    assert cli.main(["docs", "toy"]) == 0
    text = page()
    assert "| v1 @challenger @champion |" in text
    digest = registry.client().get_model_version("toy", "1").tags["dataset.digest"]
    assert f"| dataset digest (sha256) | {digest[:12]} |" in text and digest not in text
    assert "| roc_auc | 0.8000 |" in text and "| dataset version | 3 |" in text


def test_without_a_registry_the_lineage_the_page_was_committed_with_is_kept(
    slot: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (slot / "train.yaml").write_text(yaml.safe_dump({"estimator": "toy", "quality": 0.8}))
    assert cli.main(["run", "toy"]) == 0 and cli.main(["docs", "toy"]) == 0
    written = page()
    (slot / "config.yaml").write_text((slot / "config.yaml").read_text().replace("0.7", "0.75"))
    assert cli.main(["docs", "toy", "--no-lineage"]) == 0  # what the factory's CI runs before building the site
    assert "| business threshold | 0.75 |" in page()
    assert page().split(modelpage.LINEAGE)[1] == written.split(modelpage.LINEAGE)[1]
