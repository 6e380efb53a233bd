"""MLflow 3 Logged Models: `factory run` logs the model as one, the registry points at it, and servers without them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from mlops.factory import cli, registry
from mlops.pipeline.config import load_model_folder
from mlops.pipeline.logged_model import MLFLOW_DIGEST
from mlops.pipeline.runner import run_pipeline
from mlops.pipeline.tracking import content_digest

MakeSlot = Callable[..., Path]
# What an MLflow REST client raises for a server without the endpoint (azure-sdk-for-python issue 44896).
AZURE_ML_ANSWER = (
    "API request to endpoint /api/2.0/mlflow/logged-models failed with error code 404 != 200. Response body: ''"
)


@pytest.fixture
def slot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_model_folder: MakeSlot, mlflow_uri: str) -> Path:
    """A factory root with the toy slot (roc_auc 0.8) in mlops/toy/ and a private sqlite MLflow store."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_uri)
    folder = make_model_folder(tmp_path, folder_name="mlops/toy")
    (folder / "train.yaml").write_text(yaml.safe_dump({"estimator": "toy", "quality": 0.8}))
    return folder


def refuse_logged_models(monkeypatch: pytest.MonkeyPatch, error_code: int) -> None:
    """Make every MLflow client answer `create_logged_model` as a server without that endpoint would."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    def refuse(*args: object, **kwargs: object) -> None:
        raise MlflowException(AZURE_ML_ANSWER, error_code=error_code)

    monkeypatch.setattr(MlflowClient, "create_logged_model", refuse)


def test_factory_run_logs_a_logged_model_with_its_metrics_and_the_registered_version_points_at_it(
    slot: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["run", "toy"]) == 0
    client = registry.client()
    version = client.get_model_version("toy", "1")
    (model,) = client.search_logged_models([client.get_experiment_by_name("toy").experiment_id])
    assert registry.version_model_id(version) == model.model_id and version.source == f"models:/{model.model_id}"
    assert str(model.status) == "READY" and model.source_run_id == version.run_id
    assert {m.key: m.value for m in model.metrics} == {"roc_auc": 0.8, "accuracy": 0.7}
    assert {m.dataset_name for m in model.metrics} == {"toy@3"}  # metrics linked to the dataset they came from
    assert model.params == {"estimator": "toy", "quality": "0.8"}
    assert model.tags["dataset.digest"] == version.tags["dataset.digest"] == content_digest(slot / "../../data/toy.csv")
    assert '"version": "1"' in model.tags["mlflow.modelVersions"]
    assert "MLmodel" in {Path(f.path).name for f in client.list_logged_model_artifacts(model.model_id)}
    assert not [tag for tag in version.tags if tag.startswith("metric.")]  # metrics live on the model, not copied
    assert "roc_auc=0.8000" in (capsys.readouterr(), cli.status("toy"))[1]


def test_a_server_without_logged_models_gets_the_model_as_a_run_artifact_and_a_note(
    slot: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlflow.protos.databricks_pb2 import ENDPOINT_NOT_FOUND

    refuse_logged_models(monkeypatch, ENDPOINT_NOT_FOUND)
    # Patched in this process: with plain subprocesses `factory run` logs and gates here, not in a forked child.
    monkeypatch.setenv("MLOPS_STEP_RUNNER", "subprocess")
    assert cli.main(["run", "toy"]) == 0
    assert "does not serve MLflow Logged Models (ENDPOINT_NOT_FOUND)" in capsys.readouterr().out
    client = registry.client()
    version = client.get_model_version("toy", "1")
    assert registry.version_model_id(version) is None and version.source.endswith(f"{version.run_id}/artifacts/model")
    assert registry.version_metrics(client, version) == {"roc_auc": 0.8, "accuracy": 0.7}  # kept in its tags
    assert "MLmodel" in {Path(f.path).name for f in client.list_artifacts(version.run_id, "model")}
    assert "roc_auc=0.8000" in cli.status("toy")


def test_other_logged_model_errors_fail_the_run_instead_of_falling_back(
    slot: Path, monkeypatch: pytest.MonkeyPatch, mlflow_uri: str
) -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import PERMISSION_DENIED

    refuse_logged_models(monkeypatch, PERMISSION_DENIED)  # patched in this process: log here, as `factory run` does
    root = slot.parent.parent
    with pytest.raises(MlflowException, match="logged-models"):
        run_pipeline(
            load_model_folder(slot), root, root / "work", uri=mlflow_uri, echo=lambda line: None, fork_logging=False
        )


def test_the_full_content_digest_tells_apart_large_datasets_that_mlflows_digest_confuses(
    slot: Path, mlflow_uri: str
) -> None:
    from mlflow import MlflowClient

    root = slot.parent.parent
    data = root / "data" / "toy.csv"
    rows = [f"{i},{i % 2}" for i in range(10_050)]
    logged = []
    for changed in ("7", "8"):  # the same first 10,000 rows; row 10,020 differs
        rows[10_020] = f"{changed},0"
        data.write_text("x,y\n" + "\n".join(rows) + "\n")
        run = run_pipeline(load_model_folder(slot), root, root / f"work-{changed}", uri=mlflow_uri, echo=lambda _: None)
        logged.append(MlflowClient(mlflow_uri).get_run(run.run_id))
    inputs = [run.inputs.dataset_inputs[0] for run in logged]
    assert inputs[0].dataset.digest == inputs[1].dataset.digest  # MLflow's digest: the first 10,000 rows only
    assert logged[0].data.tags[MLFLOW_DIGEST] == logged[1].data.tags[MLFLOW_DIGEST]
    full = [{tag.key: tag.value for tag in found.tags}["dataset.digest"] for found in inputs]
    assert full[0] != full[1] and full == [run.data.tags["dataset.digest"] for run in logged]
