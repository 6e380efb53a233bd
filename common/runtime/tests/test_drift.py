"""`factory drift`: each feature and the prediction against the champion's logged test rows, reported and logged."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlops.factory import cli, drift, registry
from mlops.factory.drift_stats import categorical_drift, numeric_drift
from mlops.pipeline.config import DriftConfig

CONTRACTS = ["monthly", "yearly", "two_year", "weekly"]  # the test rows never have a weekly contract


def customers(rows: int, seed: int, charges_shift: float = 0.0, contracts: list[float] | None = None) -> pd.DataFrame:
    """Synthetic model inputs: two numbers and a category, optionally shifted."""
    generator = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "tenure": generator.normal(30, 10, rows).round(1),
            "charges": generator.uniform(20, 100, rows).round(2) + charges_shift,
            "contract": generator.choice(CONTRACTS, rows, p=contracts or [0.5, 0.3, 0.2, 0.0]),
        }
    )


def churn_score(features: pd.DataFrame) -> np.ndarray:
    """The toy champion's score: churn rises with the monthly charges."""
    return 1 / (1 + np.exp(-(features["charges"].to_numpy(float) - 60) / 15))


class Champion:
    """A pyfunc model scoring with `churn_score`: its predictions are labels, as a classifier's are."""

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.Series:
        return pd.Series((churn_score(model_input) > 0.5).astype(int))


@pytest.fixture(scope="session")
def champion_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The champion saved once as an MLflow model with a signature naming its three inputs."""
    import mlflow.pyfunc
    from mlflow.models import infer_signature

    sample = customers(5, 0).astype({"tenure": "float64", "charges": "float64"})
    path = tmp_path_factory.mktemp("champion") / "model"
    # A PythonModel subclass made here: mlflow is imported only when a test needs it, never at collection.
    python_model = type("ChampionModel", (mlflow.pyfunc.PythonModel,), {"predict": Champion.predict})()
    with warnings.catch_warnings():  # the toy has no input example to log: MLflow's advice about it is noise here
        warnings.filterwarnings("ignore", message=".*An input example was not provided")  # after a colour code
        mlflow.pyfunc.save_model(
            str(path), python_model=python_model, signature=infer_signature(sample), pip_requirements=[]
        )
    return path


@pytest.fixture
def factory(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_model_folder: Callable[..., Path],
    mlflow_uri: str,
    champion_model: Path,
) -> Path:
    """A factory whose toy slot has a registered @champion logged with its test rows and predictions."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_uri)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    make_model_folder(tmp_path, folder_name="mlops/toy")
    test = customers(400, 1)
    score = churn_score(test)
    test = test.assign(churned=(score > 0.5).astype(int), prediction=(score > 0.5).astype(int), score=score)
    (tmp_path / "predictions").mkdir()
    test.to_csv(tmp_path / "predictions" / "predictions.csv", index=False)
    client = registry.client()
    run = client.create_run(client.create_experiment("toy"))
    client.log_artifacts(run.info.run_id, str(tmp_path / "predictions"), "predictions")
    client.log_artifacts(run.info.run_id, str(champion_model), "model")
    client.create_registered_model("toy")
    version = client.create_model_version("toy", f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
    client.set_registered_model_alias("toy", registry.CHAMPION, version.version)
    return tmp_path


def check(factory: Path, rows: pd.DataFrame, *flags: str) -> tuple[int, dict[str, Any]]:
    """Run `factory drift toy --data <rows>` and return its exit code and JSON report."""
    rows.to_csv(factory / "production.csv", index=False)
    code = cli.main(["drift", "toy", "--data", str(factory / "production.csv"), "--out", str(factory / "out"), *flags])
    return code, json.loads((factory / "out" / "drift.json").read_text())


def verdicts(report: dict[str, Any]) -> dict[str, bool]:
    """Whether each tested column drifted."""
    return {column["column"]: column["drifted"] for column in report["columns"]}


def test_unshifted_production_data_passes_with_exit_0(factory: Path) -> None:
    code, report = check(factory, customers(300, 2))
    assert code == 0
    assert verdicts(report) == {"tenure": False, "charges": False, "contract": False, "prediction": False}


def test_a_shifted_numeric_feature_is_named_and_exits_2(factory: Path, capsys: pytest.CaptureFixture) -> None:
    code, report = check(factory, customers(300, 2, charges_shift=40))
    assert code == drift.EXIT_DRIFT == 2
    assert report["drifted_columns"] == ["charges", "prediction"]  # the champion scores the higher charges as churn
    assert "### Drift of toy against @champion v1: DRIFT in charges, prediction" in capsys.readouterr().out


def test_a_shifted_categorical_feature_is_named_with_its_unseen_categories(factory: Path) -> None:
    code, report = check(factory, customers(300, 2, contracts=[0.2, 0.2, 0.3, 0.3]))
    contract = next(column for column in report["columns"] if column["column"] == "contract")
    assert code == 2 and report["drifted_columns"] == ["contract"]
    assert contract["test"] == "chi-square" and "unseen: weekly" in contract["note"]


def test_the_report_and_plot_are_logged_to_mlflow_tagged_with_the_champion(factory: Path, tmp_path: Path) -> None:
    check(factory, customers(300, 2, charges_shift=40))
    client = registry.client()
    experiment = client.get_experiment_by_name("toy")
    [run] = client.search_runs([experiment.experiment_id], "tags.`drift.verdict` = 'drift'")
    assert run.data.tags["drift.champion_version"] == "1" and run.data.tags["drift.columns"] == "charges, prediction"
    assert run.data.metrics["drift.columns_drifted"] == 2
    logged = {Path(item.path).name for item in client.list_artifacts(run.info.run_id, "drift")}
    assert logged == {"drift.json", "drift.md", "drift.png"}
    downloaded = Path(client.download_artifacts(run.info.run_id, "drift/drift.json", str(tmp_path / "download")))
    assert json.loads(downloaded.read_text())["drifted_columns"] == ["charges", "prediction"]
    assert (factory / "out" / "drift.png").read_bytes().startswith(b"\x89PNG")


def test_the_table_goes_to_the_github_job_summary(factory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(factory / "summary.md"))
    check(factory, customers(300, 2))
    summary = (factory / "summary.md").read_text()
    assert summary.startswith("### Drift of toy against @champion v1: no drift")
    assert any(line.startswith("| charges ") and "| KS " in line for line in summary.splitlines())


def test_production_predictions_are_compared_without_rescoring(factory: Path) -> None:
    shifted = customers(300, 2).assign(prediction=1)  # every customer predicted to churn
    shifted[["prediction"]].to_csv(factory / "predictions.csv", index=False)
    code, report = check(factory, customers(300, 2), "--predictions", str(factory / "predictions.csv"))
    assert code == 2 and report["drifted_columns"] == ["prediction"]


def test_predictions_alone_are_enough_as_before(factory: Path, capsys: pytest.CaptureFixture) -> None:
    logged = pd.read_csv(factory / "predictions" / "predictions.csv")
    logged[["score"]].sample(frac=1, random_state=3).to_csv(factory / "same.csv", index=False)
    (logged[["score"]] * 0.5).to_csv(factory / "shifted.csv", index=False)
    assert cli.main(["drift", "toy", "--predictions", str(factory / "same.csv")]) == 0
    assert cli.main(["drift", "toy", "--predictions", str(factory / "shifted.csv")]) == 2
    out = capsys.readouterr().out
    assert (
        "| score  | prediction | KS" in out and "not in the production rows, untested: tenure, charges, contract" in out
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "production.csv: no such CSV file or folder of CSV files; pass the production table as --data PATH"),
        ("", "production.csv: not a CSV table (No columns to parse from file)"),
        ('tenure,charges,contract\n1,"2\n', "production.csv: not a CSV table"),
        ("tenure,charges\n1,2\n", "production.csv: missing the champion's input columns contract"),
    ],
    ids=["missing", "empty", "malformed", "columns missing"],
)
def test_a_missing_or_malformed_file_exits_1_with_one_line(
    factory: Path, capsys: pytest.CaptureFixture, content: str | None, message: str
) -> None:
    if content is not None:
        (factory / "production.csv").write_text(content)
    assert cli.main(["drift", "toy", "--data", str(factory / "production.csv")]) == 1
    error = capsys.readouterr().err
    assert message in error and len(error.strip().splitlines()) == 1 and "Traceback" not in error


def test_the_check_needs_data_or_predictions(factory: Path, capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["drift", "toy"]) == 1
    assert "needs --data PATH" in capsys.readouterr().err


def test_psi_and_ks_agree_on_a_shift_and_on_none() -> None:
    reference = pd.Series(np.random.default_rng(0).normal(0, 1, 2000))
    same = numeric_drift("x", "feature", reference, pd.Series(np.random.default_rng(1).normal(0, 1, 2000)), 0.01, 0.2)
    moved = numeric_drift("x", "feature", reference, reference + 1, 0.01, 0.2)
    assert not same.drifted and same.psi < 0.05 and moved.drifted and moved.psi > 0.2


def test_a_significant_but_negligible_shift_is_not_drift() -> None:
    generator = np.random.default_rng(0)
    reference, production = pd.Series(generator.normal(0, 1, 50_000)), pd.Series(generator.normal(0.05, 1, 50_000))
    found = numeric_drift("x", "feature", reference, production, 0.01, 0.2)
    assert found.p_value < 0.01 and found.psi < 0.2 and not found.drifted


def test_missing_values_are_a_category_of_their_own() -> None:
    reference = pd.Series(["a", "b"] * 100)
    found = categorical_drift("c", "feature", reference, pd.Series(["a", None] * 100), 0.01, 0.2)
    assert found.drifted and "(missing)" in found.note


def test_compare_needs_inputs_or_a_prediction_column() -> None:
    with pytest.raises(ValueError, match="prediction column named one of"):
        drift.compare(pd.DataFrame({"score": [0.1, 0.2]}), pd.DataFrame({"other": [1, 2]}), {}, DriftConfig())
