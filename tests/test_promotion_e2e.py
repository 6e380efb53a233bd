"""Slow tier: a freely changed prototype model is promoted into a factory with one command, no hand edits."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from projects import git_commit_all, render, run, tool_env, uv

pytestmark = pytest.mark.slow

VALIDATE_STEP = '''"""Validate step: check the splits before training and write a small report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import threadpoolctl  # a dependency the factory does not declare: promotion must bring it

from .schema import TARGET


def main(argv: list[str] | None = None) -> None:
    """Read --prep_data, write --validation_report/report.json; fail on an empty or one-class split."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prep_data", type=Path, required=True)
    parser.add_argument("--validation_report", type=Path, required=True)
    args = parser.parse_args(argv)
    train = pd.read_csv(args.prep_data / "train.csv")
    if len(train) == 0 or train[TARGET].nunique() < 2:
        raise SystemExit("validate: the training split is empty or has one class")
    report = {"rows": len(train), "threadpoolctl": threadpoolctl.__version__}
    args.validation_report.mkdir(parents=True, exist_ok=True)
    (args.validation_report / "report.json").write_text(json.dumps(report) + "\\n", encoding="utf-8")


if __name__ == "__main__":
    main()
'''
VALIDATE_TEST = '''"""The validate step accepts the bundled sample."""

import json
from pathlib import Path

from churn import validate


def test_validate_reports_the_training_rows(prep_dir: Path, tmp_path: Path) -> None:
    validate.main(["--prep_data", str(prep_dir), "--validation_report", str(tmp_path)])
    assert json.loads((tmp_path / "report.json").read_text())["rows"] > 100
'''
VALIDATE_SPEC = """  - name: validate
    module: churn.validate
    inputs:
      prep_data: ${prep.prep_data}
    outputs: [validation_report]
  - name: train
"""


def factory_promote(factory: Path, prototype: Path, model: str) -> tuple[int, str]:
    """`uv run factory promote --from <prototype> --model <model>` in the factory."""
    command = [uv(), "run", "factory", "promote", "--from", str(prototype), "--model", model]
    done = subprocess.run(command, cwd=factory, env=tool_env(), capture_output=True, text=True, check=False)
    return done.returncode, done.stdout + done.stderr


def change_train_params(prototype: Path, **changes: object) -> None:
    """Edit configs/train.yaml the way a data scientist would."""
    path = prototype / "configs" / "train.yaml"
    params = yaml.safe_load(path.read_text())
    params.update(changes)
    path.write_text(yaml.safe_dump(params))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, template: Path) -> dict[str, Path]:
    """A churn prototype changed freely (estimator, params, a new step, a new test, a new dependency) and a factory."""
    root = tmp_path_factory.mktemp("promotion")
    churn = render(root / "churn-experiments", "prototype", src=template)
    change_train_params(churn, estimator="logistic_regression", params={"C": 1.0, "max_iter": 500})
    (churn / "src/churn/validate.py").write_text(VALIDATE_STEP)
    (churn / "tests/churn/test_validate.py").write_text(VALIDATE_TEST)
    spec = churn / "configs/pipeline.yaml"
    spec.write_text(spec.read_text().replace("  - name: train\n", VALIDATE_SPEC, 1))
    pyproject = churn / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('    "skops>=0.11,<1",\n', '    "skops>=0.11,<1",\n    "threadpoolctl>=3",\n')
    )
    git_commit_all(churn, "Try logistic regression with a validation step")

    fares = render(root / "fare-experiments", "prototype", src=template, problem_type="regression")
    git_commit_all(fares, "Start the fare experiment")

    factory = render(root / "factory", "factory", src=template)
    git_commit_all(factory, "Factory")
    run([uv(), "sync", "--quiet", "--compile-bytecode"], factory)
    if run(["git", "status", "--porcelain"], factory):
        git_commit_all(factory, "Lock the factory's environment")  # uv sync wrote uv.lock
    return {"churn": churn, "fares": fares, "factory": factory}


def test_a_freely_changed_model_is_promoted_with_its_tests_pipeline_and_gate_green(world: dict[str, Path]) -> None:
    factory = world["factory"]
    code, output = factory_promote(factory, world["churn"], "churn")
    assert code == 0, output
    assert "passed" in output and "Gate for churn: PASSED" in output and "step validate" in output
    assert (factory / "src/churn/validate.py").read_text() == VALIDATE_STEP
    assert (factory / "mlops/churn/requirements.txt").read_text() == "threadpoolctl>=3\n"
    assert yaml.safe_load((factory / "mlops/churn/train.yaml").read_text())["estimator"] == "logistic_regression"
    staged = run(["git", "status", "--porcelain"], factory).splitlines()
    assert staged and all(line[0] in "AM" and line[1] == " " for line in staged), staged
    run(["git", "commit", "-q", "-m", "Promote churn"], factory)


def test_a_second_model_is_promoted_into_the_same_factory(world: dict[str, Path]) -> None:
    factory = world["factory"]
    code, output = factory_promote(factory, world["fares"], "taxi_fare")
    assert code == 0, output
    assert "Gate for taxi_fare: PASSED" in output
    run(["git", "commit", "-q", "-m", "Promote taxi_fare"], factory)
    assert (factory / "mlops/churn/promotion.yaml").is_file() and (factory / "mlops/taxi_fare/promotion.yaml").is_file()


def test_the_first_model_is_re_promoted_after_another_prototype_change(world: dict[str, Path]) -> None:
    factory, churn = world["factory"], world["churn"]
    # A stronger model on the sample: shallow random forest beats the logistic regression champion.
    change_train_params(churn, estimator="random_forest", params={"n_estimators": 100, "max_depth": 2, "n_jobs": 1})
    git_commit_all(churn, "Back to a shallow forest")
    code, output = factory_promote(factory, churn, "churn")
    assert code == 0, output
    assert "Registered churn v2" in output
    provenance = yaml.safe_load((factory / "mlops/churn/promotion.yaml").read_text())
    assert provenance["source_commit"] == run(["git", "rev-parse", "HEAD"], churn).strip()
