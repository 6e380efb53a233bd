"""`factory serve` and `factory score`: a registered model served over HTTP and scored in batch agree row for row."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

import mlops
from mlops.factory import cli, registry
from mlops.factory.serving import LOCALHOST

MakeSlot = Callable[..., Path]
NUMERIC = ["tenure", "charges"]
STARTUP_SECONDS = 90  # the server imports MLflow and loads the model; a loaded two-core runner is slow at it


def rows(count: int, seed: int = 0) -> pd.DataFrame:
    """Customer-like rows: two numbers and a category, whole numbers in `tenure` as a CSV file has them."""
    import numpy as np

    generator = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "tenure": generator.integers(1, 72, count),
            "charges": generator.normal(70, 20, count).round(2),
            "contract": generator.choice(["monthly", "yearly"], count),
        }
    )


@pytest.fixture
def factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_model_folder: MakeSlot, mlflow_uri: str) -> Path:
    """A factory root with a `toy` slot whose @champion is a real scikit-learn classifier in a private registry."""
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_uri)
    make_model_folder(tmp_path, folder_name="mlops/toy")
    train = rows(200).astype({"tenure": "float64"})  # as the model's train step casts numbers
    churned = (train["tenure"] < 24) & (train["contract"] == "monthly")
    preprocess = ColumnTransformer(
        [("numeric", StandardScaler(), NUMERIC), ("categorical", OneHotEncoder(handle_unknown="ignore"), ["contract"])]
    )
    model = Pipeline([("preprocess", preprocess), ("estimator", LogisticRegression())]).fit(train, churned)
    client = registry.client()
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", client.create_experiment("toy"))  # no process-wide experiment
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(train.head(20), model.predict(train.head(20))),
            pip_requirements=["scikit-learn", "pandas"],  # given: MLflow's inference of them takes seconds
        )
    client.create_registered_model("toy")
    version = client.create_model_version("toy", info.model_uri, model_id=info.model_id)
    client.set_registered_model_alias("toy", registry.CHAMPION, version.version)
    return tmp_path


def free_port() -> int:
    """A port nothing listens on now, on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind((LOCALHOST, 0))
        return int(probe.getsockname()[1])


def stop(process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """Stop a process started in its own session, and anything it started, within bounded waits."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout)


def post(port: int, payload: dict) -> tuple[int, str]:
    """POST a scoring request; the status and the body, whatever the status."""
    request = urllib.request.Request(  # noqa: S310  (http://127.0.0.1 only)
        f"http://{LOCALHOST}:{port}/invocations",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def split(frame: pd.DataFrame) -> dict:
    """Rows as MLflow's `dataframe_split` request."""
    return {"dataframe_split": json.loads(frame.to_json(orient="split", index=False))}


@pytest.fixture
def server(factory: Path) -> Iterator[int]:
    """`factory serve toy` on a free port of 127.0.0.1, stopped after the test whatever happened; yields the port."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(mlops.__file__).parent.parent)}
    command = [sys.executable, "-m", "mlops.factory.cli", "serve", "toy", "--port", str(port)]
    log = (factory / "serve.log").open("w")
    process = subprocess.Popen(  # noqa: S603  (this interpreter, fixed arguments)
        command, cwd=factory, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                with urllib.request.urlopen(f"http://{LOCALHOST}:{port}/ping", timeout=2):  # noqa: S310
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the server did not answer /ping: {(factory / 'serve.log').read_text()[-2000:]}")
                time.sleep(0.3)
        yield port
    finally:
        stop(process)
        log.close()


def test_served_answers_equal_batch_scores_and_invalid_rows_get_a_4xx_with_the_reason(
    server: int, factory: Path
) -> None:
    sample = rows(12, seed=1)
    sample.to_csv(factory / "rows.csv", index=False)
    assert cli.main(["score", "toy", "--input", "rows.csv", "--output", "out/preds.csv"]) == 0
    batch = pd.read_csv(factory / "out/preds.csv")
    assert list(batch.columns) == [*sample.columns, "prediction", "score"]

    status, body = post(server, split(sample))
    assert status == 200, body
    assert json.loads(body)["predictions"] == batch["prediction"].tolist()

    status, body = post(server, split(sample.drop(columns=["charges"])))
    assert 400 <= status < 500 and "charges" in body
    status, body = post(server, split(sample.assign(tenure=["twelve", *sample["tenure"][1:]])))
    assert 400 <= status < 500 and "tenure" in body


def test_scoring_errors_are_one_line_naming_the_file_the_column_or_the_alias(
    factory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows(5).drop(columns=["contract"]).to_csv(factory / "partial.csv", index=False)
    rows(5).assign(charges="unknown").to_csv(factory / "text.csv", index=False)
    rows(5).assign(charges=None).to_csv(factory / "empty.csv", index=False)
    cases = {
        "missing.csv": ("missing.csv: no such file", "--input"),
        "partial.csv": ("partial.csv: breaks the model's signature", "contract"),
        "text.csv": ("text.csv: breaks the model's signature", "charges"),
        "empty.csv": ("empty.csv: the model cannot score these rows", "NaN"),
    }
    for source, (start, named) in cases.items():
        assert cli.main(["score", "toy", "--input", source, "--output", "preds.csv"]) == 1
        error = capsys.readouterr().err
        assert error.startswith(f"error: {start}") and named in error and "Traceback" not in error
        assert error.count("\n") == 1, error
    assert cli.main(["score", "toy", "--alias", "shadow", "--input", "partial.csv", "--output", "p.csv"]) == 1
    assert "toy has no @shadow" in capsys.readouterr().err
    assert not (factory / "preds.csv").exists()


def test_scoring_checks_rows_with_the_model_packages_data_contract_when_it_has_one(
    factory: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (factory / "src/toy/schema.py").write_text(
        "class SchemaError(ValueError):\n"
        "    pass\n\n"
        "def validate_inference(frame):\n"
        "    bad = int((frame['tenure'] < 0).sum())\n"
        "    if bad:\n"
        "        raise SchemaError(f'column tenure: in_range(0, 100) fails for {bad} rows')\n"
        "    return frame\n"
    )
    monkeypatch.syspath_prepend(str(factory / "src"))
    for name in [name for name in sys.modules if name == "toy" or name.startswith("toy.")]:
        monkeypatch.delitem(sys.modules, name)
    rows(6).assign(tenure=[-1, -2, 3, 4, 5, 6]).to_csv(factory / "negative.csv", index=False)
    assert cli.main(["score", "toy", "--input", "negative.csv", "--output", "preds.csv"]) == 1
    assert "negative.csv: column tenure: in_range(0, 100) fails for 2 rows" in capsys.readouterr().err
    rows(6).to_csv(factory / "valid.csv", index=False)
    assert cli.main(["score", "toy", "--input", "valid.csv", "--output", "preds.csv"]) == 0
    assert "checked by toy.schema.validate_inference" in capsys.readouterr().out
