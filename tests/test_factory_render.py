"""Fast tier: a factory base and model slots render into one repo, each slot touching only its own files."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pathspec
import pytest
import yaml
from projects import ROOT, git_commit_all, load_workflow, model_files, render, run, text_files

from mlops.factory.slot import SHARED_CODE, Slot

SLOTS = {"churn": "classification", "fraud": "classification", "fares": "regression"}


def slot_files(model: str, problem_type: str) -> set[str]:
    """The exact files one slot adds."""
    dataset = "taxi_trips.csv" if problem_type == "regression" else "customer_churn.csv"
    return {
        f"mlops/{model}/.copier-answers.yml",
        *(f"mlops/{model}/{name}.yaml" for name in ("config", "dataset", "pipeline", "train")),
        *model_files(model),
        f"data/{model}/{dataset}",
        f"docs/models/{model}.md",
        *(f".github/workflows/{model}-{kind}.yml" for kind in ("pr", "cd", "retrain")),
    }


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file of the repo with its bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in text_files(root)}


@pytest.fixture(scope="module")
def factory(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, bytes]]]:
    """A factory base plus three slots, committed after each application; returns snapshots in between."""
    root = render(tmp_path_factory.mktemp("factory") / "factory", "factory", org="acme-ml", python_version="3.12")
    git_commit_all(root, "Factory base")
    snapshots = {"base": snapshot(root)}
    for model, problem_type in SLOTS.items():
        render(root, "model", model_name=model, problem_type=problem_type)
        git_commit_all(root, f"Slot {model}")
        snapshots[model] = snapshot(root)
    return root, snapshots


def test_each_slot_adds_only_its_own_files_and_changes_none(factory: tuple[Path, dict]) -> None:
    _, snapshots = factory
    previous = snapshots["base"]
    for model, problem_type in SLOTS.items():
        current = snapshots[model]
        assert set(current) - set(previous) == slot_files(model, problem_type)
        assert {path: current[path] for path in previous} == previous
        previous = current


def test_a_duplicate_slot_is_refused_and_nothing_is_written(factory: tuple[Path, dict]) -> None:
    root, snapshots = factory
    with pytest.raises(ValueError, match="model slot churn already exists"):
        render(root, "model", model_name="churn")
    assert run(["git", "status", "--porcelain"], root) == ""
    assert snapshot(root) == snapshots["fares"]


def test_slot_questions_default_from_the_factory_base(factory: tuple[Path, dict]) -> None:
    root, _ = factory
    answers = yaml.safe_load((root / "mlops/churn/.copier-answers.yml").read_text())
    assert answers["org"] == "acme-ml"
    assert "python_version" not in answers  # taken from the base, never asked again
    assert yaml.safe_load((root / ".copier-answers.yml").read_text())["template"] == "factory"


def test_slot_config_carries_the_gate_answers(factory: tuple[Path, dict]) -> None:
    root, _ = factory
    churn = yaml.safe_load((root / "mlops/churn/config.yaml").read_text())
    fares = yaml.safe_load((root / "mlops/fares/config.yaml").read_text())
    assert (churn["primary_metric"], churn["greater_is_better"], churn["business_threshold"]) == ("roc_auc", True, 0.7)
    assert (fares["primary_metric"], fares["greater_is_better"], fares["business_threshold"]) == ("rmse", False, 4.0)


def test_slots_hold_only_model_specific_code(factory: tuple[Path, dict]) -> None:
    root, _ = factory
    factory_logic = {p.name for p in (ROOT / "common/runtime/mlops").rglob("*.py")} - {"__init__.py"}
    for model in SLOTS:
        assert not factory_logic & {p.name for p in (root / "src" / model).glob("*.py")}
        assert all(p.suffix == ".yaml" for p in (root / "mlops" / model).iterdir() if p.name != ".copier-answers.yml")
    assert (root / "mlops/factory/gate.py").read_bytes() == (ROOT / "common/runtime/mlops/factory/gate.py").read_bytes()


def test_factory_files_parse_and_are_lint_clean(factory: tuple[Path, dict]) -> None:
    root, _ = factory
    for path in text_files(root):
        text = path.read_text(encoding="utf-8")
        # `{= =}` are the templates' variables (copier.yml `_envops`); GitHub Actions' `${{ }}` are meant to stay.
        assert not re.search(r"\{=|=\}|\{\{|\{%|\{#", re.sub(r"\$\{\{.*?\}\}", "", text)), f"Jinja left in {path}"
        if path.suffix in {".yml", ".yaml"}:
            yaml.safe_load(text)
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    for command in ([ruff, "check", "--no-cache", "."], [ruff, "format", "--check", "--no-cache", "."]):
        done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr


BAD_SLOT_ANSWERS = [
    ({"problem_type": "regression", "primary_metric": "roc_auc"}, "Invalid choice"),
    ({"problem_type": "classification", "primary_metric": "rmse"}, "Invalid choice"),
    ({"primary_metric": "rmse", "problem_type": "regression", "greater_is_better": True}, "lower is better"),
    ({"primary_metric": "roc_auc", "business_threshold": 1.5}, "between 0 and 1"),
    ({"primary_metric": "rmse", "problem_type": "regression", "business_threshold": -1.0}, "must be positive"),
    ({"model_name": "Bad-Name"}, "lowercase Python identifier"),
    ({"org": "bad org!"}, "GitHub owner name"),
    ({"retraining_schedule": "every monday"}, "cron expression of five fields"),
]


@pytest.mark.parametrize(("answers", "message"), BAD_SLOT_ANSWERS, ids=[repr(a) for a, _ in BAD_SLOT_ANSWERS])
def test_bad_slot_answers_are_rejected_before_anything_is_written(tmp_path: Path, answers: dict, message: str) -> None:
    root = render(tmp_path / "factory", "factory")
    git_commit_all(root, "Factory base")
    before = snapshot(root)
    with pytest.raises(ValueError, match=re.escape(message)):
        render(root, "model", **{"model_name": "churn", **answers})
    assert snapshot(root) == before


BAD_FACTORY_ANSWERS = [
    ({"environments": "Dev,prod"}, "environments must be 2-10 lowercase letters"),
    ({"environments": "dev,dev"}, "must not repeat a name"),
    ({"azure_subscription_id": "xyz"}, "must be a GUID"),
    ({"compute_cluster": "1bad"}, "compute_cluster must be 3-16"),
    ({"azure_workspace": "a"}, "azure_workspace must be 3-22"),
    ({"azure_resource_group": "rg."}, "not ending with a dot"),
    ({"ci_platform": "azure-devops", "azure_service_connection": "-x"}, "azure_service_connection must be 1-51"),
]


@pytest.mark.parametrize(("answers", "message"), BAD_FACTORY_ANSWERS, ids=[m for _, m in BAD_FACTORY_ANSWERS])
def test_bad_factory_answers_are_rejected_and_nothing_is_written(tmp_path: Path, answers: dict, message: str) -> None:
    dest = tmp_path / "factory"
    with pytest.raises(ValueError, match=re.escape(message)):
        render(dest, "factory", **answers)
    assert not dest.exists()


METRICS = {
    "roc_auc": "classification",
    "accuracy": "classification",
    "f1": "classification",
    "precision": "classification",
    "recall": "classification",
    "rmse": "regression",
    "mae": "regression",
    "r2": "regression",
}


def test_every_primary_metric_renders_a_slot_config_the_factory_accepts(tmp_path: Path) -> None:
    from mlops.pipeline.config import load_model_folder

    root = render(tmp_path / "factory", "factory")
    for metric, problem_type in METRICS.items():
        render(root, "model", model_name=f"m_{metric}", problem_type=problem_type, primary_metric=metric)
    for metric, problem_type in METRICS.items():
        folder = load_model_folder(root / "mlops" / f"m_{metric}")
        assert (folder.config.primary_metric, folder.config.problem_type) == (metric, problem_type)
        assert folder.config.greater_is_better == (metric not in {"rmse", "mae"})
        assert folder.config.business_threshold is not None
        assert folder.pipeline.step("train").module == f"m_{metric}.train"


def added_files(snapshots: dict[str, dict[str, bytes]], model: str) -> list[str]:
    """The files one slot's application added to the factory."""
    order = ["base", *SLOTS]
    return sorted(set(snapshots[model]) - set(snapshots[order[order.index(model) - 1]]))


def test_the_slot_value_names_every_file_a_rendered_slot_holds(factory: tuple[Path, dict]) -> None:
    root, snapshots = factory
    for model in SLOTS:
        slot = Slot(model)
        for path in added_files(snapshots, model):
            assert any(path == p or path.startswith(f"{p}/") for p in slot.paths), path
        named = [slot.config, slot.dataset, slot.pipeline, slot.params, slot.answers, slot.page, *slot.workflows]
        assert all((root / path).is_file() for path in named), model
        assert (root / slot.package / "__init__.py").is_file() and (root / slot.tests).is_dir()
        assert (root / slot.data).is_dir()


def test_the_slot_value_owns_exactly_what_copier_skips_if_it_exists(factory: tuple[Path, dict]) -> None:
    _, snapshots = factory
    patterns = yaml.safe_load((ROOT / "copier.yml").read_text())["_skip_if_exists"]
    for model in SLOTS:
        skipped = pathspec.PathSpec.from_lines("gitwildmatch", [p.replace("{= model_name =}", model) for p in patterns])
        slot = Slot(model)
        for path in [*added_files(snapshots, model), slot.provenance]:
            assert slot.model_owned(path) == skipped.match_file(path), path


@pytest.mark.parametrize("kind", ["pr", "cd"])
def test_the_slot_workflows_filter_on_the_paths_the_slot_value_names(factory: tuple[Path, dict], kind: str) -> None:
    root, _ = factory
    for model in SLOTS:
        slot = Slot(model)
        on = load_workflow(root / slot.workflow(kind))["on"]
        paths = on["pull_request" if kind == "pr" else "push"]["paths"]
        assert [path for path in paths if not path.startswith(".github/")] == list(slot.trigger_paths)
        assert slot.workflow(kind) in paths


def test_the_shared_slot_checks_lint_and_test_the_folders_the_slot_value_names(factory: tuple[Path, dict]) -> None:
    root, _ = factory
    checks = (root / ".github/workflows/slot-checks.yml").read_text()
    slot = Slot("$MODEL")  # the reusable workflow gets the model's name in $MODEL
    folders = " ".join(f'"{folder}"' for folder in (slot.package, slot.tests, slot.folder, *SHARED_CODE))
    assert f"git ls-files -z -- {folders}" in checks
    assert f'uv run pytest "{slot.tests}" tests/mlops' in checks
