"""Slow tier: a factory with three slots passes its own CI, and each slot's gate guards its champion."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
import yaml
from projects import git_commit_all, render, run, run_ci_job, tool_env, uv

pytestmark = pytest.mark.slow

SLOTS = {"churn": "classification", "fares": "regression", "fraud": "classification"}
# Hyperparameters whose quality order on the bundled samples is known: weaker < default < stronger.
WEAKER = {"classification": {"max_depth": 6}, "regression": {"max_depth": 3}}
STRONGER = {"classification": {"max_depth": 2}, "regression": {"max_depth": 8}}
CRIPPLED = {"n_estimators": 1, "max_depth": 1}
REJECTED = 2


@dataclass
class Story:
    """What happened to one slot over a sequence of factory commands."""

    exits: dict[str, int] = field(default_factory=dict)
    champions: dict[str, str | None] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def factory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synced factory with three committed slots."""
    root = render(tmp_path_factory.mktemp("factory") / "factory", "factory")
    git_commit_all(root, "Factory base")
    for model, problem_type in SLOTS.items():
        render(root, "model", model_name=model, problem_type=problem_type)
        git_commit_all(root, f"Slot {model}")
    run([uv(), "sync", "--quiet"], root)  # bytecode is cached as modules are imported, not all of it up front
    return root


def factory_command(root: Path, *args: str) -> tuple[int, str]:
    """Run `factory ...` in the factory and return its exit code and output."""
    done = subprocess.run(
        [uv(), "run", "factory", *args], cwd=root, env=tool_env(), capture_output=True, text=True, check=False
    )
    return done.returncode, done.stdout + done.stderr


def set_params(root: Path, model: str, **params: object) -> None:
    """Change some hyperparameters of a slot's train.yaml."""
    path = root / "mlops" / model / "train.yaml"
    config = yaml.safe_load(path.read_text())
    config["params"].update(params)
    path.write_text(yaml.safe_dump(config))


def champion(root: Path, model: str) -> str | None:
    """The version behind @champion, read through MLflow's registry API."""
    code = (
        "import os; os.environ['MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR'] = 'false'  # the path alone on stdout\n"
        "from mlflow import MlflowClient; c = MlflowClient('sqlite:///mlflow.db')\n"
        f"print(c.get_registered_model({model!r}).aliases.get('champion'))"
    )
    value = run([uv(), "run", "python", "-c", code], root).strip().splitlines()[-1]
    return None if value == "None" else value


def status_champion(root: Path, model: str) -> str | None:
    """The version `factory status` shows with @champion: a person's way to look, 0.2 s against MLflow's 3 s import.

    Its direct read of the store is checked against MLflow's client in tests/mlops/test_factory.py, and each story
    ends with a read through MLflow's own API (`champion`).
    """
    table = run([uv(), "run", "factory", "status", model], root)
    found = [line.split("|")[1].strip().removeprefix("v") for line in table.splitlines() if "@champion" in line]
    assert len(found) <= 1, table
    return found[0] if found else None


@pytest.fixture(scope="module", params=sorted(SLOTS))
def story(request: pytest.FixtureRequest, factory: Path) -> tuple[str, Story]:
    """weaker run -> champion v1; crippled run -> rejected; stronger run -> challenger v2; promote; rollback."""
    model, kind = request.param, SLOTS[request.param]
    told = Story()
    defaults = (factory / "mlops" / model / "train.yaml").read_text()
    set_params(factory, model, **WEAKER[kind])
    for name, params, command in (
        ("first", {}, ("run", model)),
        ("crippled", CRIPPLED, ("run", model)),
        ("stronger", STRONGER[kind], ("run", model)),
        ("promote", None, ("promote-champion", model)),
        ("rollback", None, ("rollback", model, "--to", "1")),
    ):
        if params is not None:
            (factory / "mlops" / model / "train.yaml").write_text(defaults)
            set_params(factory, model, **(params or WEAKER[kind]))
        told.exits[name], told.outputs[name] = factory_command(factory, *command)
        told.champions[name] = status_champion(factory, model)
    told.champions["mlflow"] = champion(factory, model)  # the end of the story, read through MLflow's own API
    (factory / "mlops" / model / "train.yaml").write_text(defaults)
    return model, told


@pytest.mark.parametrize("job", ["checks", "docs"])
def test_the_factorys_shared_ci_passes_as_its_workflow_runs_it(factory: Path, job: str, tmp_path: Path) -> None:
    commands = run_ci_job(factory, "common.yml", job, tmp_path)
    assert "uv sync --locked" in commands  # the job installs the committed lock, as CI does


def test_every_slots_tests_pass_in_the_factory(factory: Path) -> None:
    # The runtime's tests (tests/mlops) ran in the checks job above; the docs chain runs the whole `uv run pytest`.
    slots = [f"tests/{model}" for model in SLOTS]
    output = run([uv(), "run", "pytest", "-q", "-p", "no:cacheprovider", *slots], factory)
    assert " passed" in output and "failed" not in output


def test_the_first_run_registers_a_first_champion(story: tuple[str, Story]) -> None:
    model, told = story
    assert told.exits["first"] == 0, told.outputs["first"]
    assert told.champions["first"] == "1"
    for step in ("prep", "train", "evaluate"):
        assert f"step {step}" in told.outputs["first"]
    assert f"Gate for {model}: PASSED" in told.outputs["first"]


def test_a_crippled_model_is_rejected_and_the_champion_is_unchanged(story: tuple[str, Story]) -> None:
    _, told = story
    assert told.exits["crippled"] == REJECTED, told.outputs["crippled"]
    assert "REJECTED" in told.outputs["crippled"] and "Nothing registered" in told.outputs["crippled"]
    assert told.champions["crippled"] == "1"


def test_a_stronger_model_becomes_challenger_and_champion_only_on_approval(story: tuple[str, Story]) -> None:
    _, told = story
    assert told.exits["stronger"] == 0, told.outputs["stronger"]
    assert told.champions["stronger"] == "1"
    assert told.exits["promote"] == 0 and told.champions["promote"] == "2"


def test_rollback_restores_the_previous_champion(story: tuple[str, Story]) -> None:
    _, told = story
    assert told.exits["rollback"] == 0, told.outputs["rollback"]
    assert told.champions["rollback"] == "1" and told.champions["mlflow"] == "1"


def test_a_first_run_below_the_business_threshold_registers_nothing(factory: Path, story: tuple[str, Story]) -> None:
    model = story[0]
    config = yaml.safe_load((factory / "mlops" / model / "config.yaml").read_text())
    strict = f"{model}_strict"
    # A slot never registered before: the same code and data, an unreachable business threshold.
    folder = factory / "mlops" / strict
    shutil.copytree(factory / "mlops" / model, folder, ignore=shutil.ignore_patterns(".copier-answers.yml"))
    unreachable = 0.999 if config["greater_is_better"] else 0.001
    config.update(model_name=strict, experiment_name=strict, business_threshold=unreachable)
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    try:
        code, output = factory_command(factory, "run", strict)
        assert code == REJECTED, output
        assert champion_versions(factory, strict) == 0
    finally:
        shutil.rmtree(folder)


def champion_versions(root: Path, name: str) -> int:
    """How many versions of a registered model exist (0 if it was never registered)."""
    code = (
        "import os; os.environ['MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR'] = 'false'  # the path alone on stdout\n"
        "from mlflow import MlflowClient; c = MlflowClient('sqlite:///mlflow.db')\n"
        f"print(len(c.search_model_versions(\"name = '{name}'\")))"
    )
    return int(run([uv(), "run", "python", "-c", code], root).strip().splitlines()[-1])


def test_drift_against_the_champions_logged_test_rows_names_what_shifted(
    factory: Path, story: tuple[str, Story], tmp_path: Path
) -> None:
    model = story[0]
    code = (
        "import os; os.environ['MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR'] = 'false'  # the path alone on stdout\n"
        "from mlflow import MlflowClient; c = MlflowClient('sqlite:///mlflow.db')\n"
        f"v = c.get_model_version_by_alias({model!r}, 'champion')\n"
        f"print(c.download_artifacts(v.run_id, 'predictions/predictions.csv', {str(tmp_path)!r}))"
    )
    reference = Path(run([uv(), "run", "python", "-c", code], factory).strip().splitlines()[-1])
    frame = pd.read_csv(reference)  # the champion's logged test rows with its predictions
    frame.sample(frac=1.0, random_state=3).to_csv(tmp_path / "like-test.csv", index=False)
    code, output = factory_command(factory, "drift", model, "--predictions", str(tmp_path / "like-test.csv"))
    assert code == 0, output
    # Production rows alone: the champion scores them itself, and the shifted input is named.
    target = yaml.safe_load((factory / "mlops" / model / "dataset.yaml").read_text())["target"]
    feature = [name for name in frame.select_dtypes("number") if name not in (target, "prediction", "score")][1]
    rows = frame.drop(columns=[name for name in ("prediction", "score") if name in frame])
    rows.assign(**{feature: rows[feature] * 2 + rows[feature].std()}).to_csv(tmp_path / "rows.csv", index=False)
    report = tmp_path / "report"
    code, output = factory_command(factory, "drift", model, "--data", str(tmp_path / "rows.csv"), "--out", str(report))
    assert code == REJECTED, output
    assert feature in json.loads((report / "drift.json").read_text())["drifted_columns"]
    assert (report / "drift.png").stat().st_size > 10_000


def test_raw_data_that_breaks_the_contract_stops_the_run_at_prep_and_registers_nothing(factory: Path) -> None:
    model, broken = "fares", "fares_broken_data"
    manifest = yaml.safe_load((factory / "mlops" / model / "dataset.yaml").read_text())
    header, first, *rest = (factory / manifest["path"]).read_text().splitlines()
    column = header.split(",")[0]
    data = factory / "data" / broken / "trips.csv"
    data.parent.mkdir(parents=True)
    data.write_text("\n".join([header, "far," + first.split(",", 1)[1], *rest]) + "\n")
    # A slot never registered before: the same code, raw data with text in a number column.
    folder = factory / "mlops" / broken
    shutil.copytree(factory / "mlops" / model, folder, ignore=shutil.ignore_patterns(".copier-answers.yml"))
    config = yaml.safe_load((folder / "config.yaml").read_text())
    config.update(model_name=broken, experiment_name=broken)
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    (folder / "dataset.yaml").write_text(yaml.safe_dump({**manifest, "path": f"data/{broken}/trips.csv"}))
    try:
        code, output = factory_command(factory, "run", broken)
        assert code == 1, output
        assert f"column {column!r}: 1 row fails dtype('float64'), e.g. 'far'" in output
        assert "Traceback" not in output and "step train" not in output
        assert champion_versions(factory, broken) == 0
    finally:
        shutil.rmtree(folder)
        shutil.rmtree(data.parent)
