"""Fast tier: the shared pipeline machinery (spec, config, runner, tracking) that both templates ship."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from mlops.pipeline import cli as pipeline_cli
from mlops.pipeline.config import ConfigError, ModelConfig, load_model_folder
from mlops.pipeline.mlflow_logging import flatten
from mlops.pipeline.runner import run_pipeline
from mlops.pipeline.spec import PipelineSpec, Reference, SpecError
from mlops.pipeline.steps import StepFailed, step_command
from mlops.pipeline.tables import render_table
from mlops.pipeline.tracking import content_digest, source_digest

MakeSlot = Callable[..., Path]


def test_spec_parses_references_and_args(tmp_path: Path, spec_data: dict) -> None:
    spec = PipelineSpec.parse(spec_data, tmp_path / "pipeline.yaml")
    assert [step.name for step in spec.steps] == ["prep", "train", "evaluate"]
    assert spec.step("train").inputs["training_data"] == Reference("prep", "prep_data")
    assert spec.step("train").args == {"fast": True}
    assert str(spec.results["model"]) == "${train.model_output}"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda s: s["steps"][1]["inputs"].update(training_data="${prepp.prep_data}"),
            "unknown reference ${prepp.prep_data}",
        ),
        (
            lambda s: s["steps"][2]["inputs"].update(test_data="${evaluate.predictions}"),
            "an earlier step must produce it",
        ),
        (lambda s: s["steps"][0].update(module="prep"), "must be a dotted module path"),
        (lambda s: s["steps"][1].update(name="prep"), "defined twice"),
        (lambda s: s["steps"][0].update(inputs={"raw_data": "${dataset}"}, outputs=["raw_data"]), "more than once"),
        (lambda s: s["steps"][0].update(typo=1), "unknown keys ['typo']"),
        (lambda s: s["results"].pop("model"), "results: expected exactly the keys"),
        (lambda s: s.update(steps=[]), "non-empty `steps` list"),
    ],
    ids=[
        "unknown-step",
        "forward-reference",
        "bare-module",
        "duplicate-step",
        "flag-clash",
        "typo",
        "no-model",
        "empty",
    ],
)
def test_spec_errors_name_the_file_the_key_and_the_fix(tmp_path: Path, mutate, message: str, spec_data: dict) -> None:
    mutate(spec_data)
    with pytest.raises(SpecError, match=r"pipeline\.yaml") as caught:
        PipelineSpec.parse(spec_data, tmp_path / "pipeline.yaml")
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("mutate", "field", "message"),
    [
        (
            lambda s: s["steps"][2]["inputs"].update(test_data="${tune.prep_data}"),
            "steps[2] (evaluate).inputs.test_data",
            "unknown reference ${tune.prep_data}; an earlier step must produce it. Known: ${dataset}, ${params}, "
            "${prep.prep_data}, ${train.model_output}",
        ),
        (lambda s: s["steps"][1].pop("module"), "steps[1] (train).module", "Field required"),
        (
            lambda s: s["steps"][1]["args"].update(fast=["yes"]),
            "steps[1] (train).args.fast",
            "expected a string, number or boolean",
        ),
        (
            lambda s: s["steps"][0].update(outputs="prep_data"),
            "steps[0] (prep).outputs",
            "expected a list of lowercase identifiers",
        ),
        (
            lambda s: s["results"].update(model="${dataset}"),
            "results.model",
            "expected a step output like ${train.model_output}",
        ),
        (lambda s: s.update(stages=[]), "(top level)", "unknown keys ['stages']; allowed: steps, results"),
    ],
    ids=[
        "unknown-step-reference",
        "missing-module",
        "wrong-arg-type",
        "outputs-not-a-list",
        "result-not-an-output",
        "typo",
    ],
)
def test_a_bad_spec_is_refused_naming_the_file_and_the_field(
    tmp_path: Path, spec_data: dict, mutate, field: str, message: str
) -> None:
    mutate(spec_data)
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(spec_data))
    with pytest.raises(SpecError) as caught:
        PipelineSpec.load(path)
    assert str(caught.value) == f"{path}: {field}: {message}"


def test_a_bad_spec_stops_the_pipeline_command_with_one_line_and_no_traceback(
    tmp_path: Path, make_model_folder: MakeSlot, capsys: pytest.CaptureFixture
) -> None:
    folder = make_model_folder(tmp_path)
    spec = yaml.safe_load((folder / "pipeline.yaml").read_text())
    spec["steps"][1]["inputs"]["training_data"] = "${prepp.prep_data}"
    (folder / "pipeline.yaml").write_text(yaml.safe_dump(spec))
    assert pipeline_cli.main([str(folder)]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"error: {folder / 'pipeline.yaml'}: steps[1] (train).inputs.training_data: unknown")
    assert "Traceback" not in error and len(error.splitlines()) == 1


def test_config_error_names_the_file_and_each_bad_key(tmp_path: Path, make_model_folder: MakeSlot) -> None:
    folder = make_model_folder(tmp_path, business_threshold="high", problem_type="clustering")
    with pytest.raises(ConfigError) as caught:
        load_model_folder(folder)
    assert str(folder / "config.yaml") in str(caught.value)
    assert "business_threshold" in str(caught.value) and "problem_type" in str(caught.value)


def test_config_rejects_unknown_keys_as_typos(tmp_path: Path, make_model_folder: MakeSlot) -> None:
    folder = make_model_folder(tmp_path, primary_metirc="auc")
    with pytest.raises(ConfigError, match="primary_metirc"):
        load_model_folder(folder)


def test_config_reports_missing_and_malformed_files(tmp_path: Path, make_model_folder: MakeSlot) -> None:
    folder = make_model_folder(tmp_path)
    (folder / "train.yaml").write_text("estimator: [unclosed")
    with pytest.raises(ConfigError, match=r"train\.yaml: not valid YAML"):
        load_model_folder(folder)
    (folder / "train.yaml").write_text("estimator: toy\n")
    (folder / "dataset.yaml").unlink()
    with pytest.raises(ConfigError, match=r"dataset\.yaml: file not found"):
        load_model_folder(folder)


def test_metric_direction_decides_what_beats_a_bar(auc_config: ModelConfig) -> None:
    auc = auc_config
    rmse = auc.model_copy(update={"primary_metric": "rmse", "greater_is_better": False})
    assert auc.beats(0.8, 0.7) and not auc.beats(0.7, 0.7)
    assert rmse.beats(3.0, 4.0) and not rmse.beats(4.0, 3.0)


def test_step_command_passes_inputs_outputs_and_args_as_flags(tmp_path: Path, spec_data: dict) -> None:
    step = PipelineSpec.parse(spec_data, tmp_path / "p.yaml").step("train")
    command = step_command(step, {"training_data": Path("/d"), "model_output": Path("/m")})
    assert command[1:] == ["-m", "toy.train", "--training_data", "/d", "--model_output", "/m", "--fast", "true"]


def test_flatten_turns_nested_params_into_dotted_mlflow_params() -> None:
    assert flatten({"estimator": "rf", "params": {"depth": 2, "tags": [1, 2]}}) == {
        "estimator": "rf",
        "params.depth": "2",
        "params.tags": "[1, 2]",
    }


def test_content_digest_depends_on_bytes_and_names(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.csv").write_text("1\n")
    first = content_digest(tmp_path / "a")
    (tmp_path / "a" / "x.csv").write_text("2\n")
    assert content_digest(tmp_path / "a") != first
    assert content_digest(tmp_path / "a" / "x.csv") != content_digest(tmp_path / "a")


def test_source_digest_follows_the_code_and_ignores_bytecode_caches(tmp_path: Path) -> None:
    (tmp_path / "pkg" / "__pycache__").mkdir(parents=True)
    (tmp_path / "pkg" / "evaluate.py").write_text("SCORE = 1\n")
    first = source_digest(tmp_path / "pkg")
    (tmp_path / "pkg" / "__pycache__" / "evaluate.cpython-311.pyc").write_bytes(b"compiled")
    assert source_digest(tmp_path / "pkg") == first
    (tmp_path / "pkg" / "evaluate.py").write_text("SCORE = 2\n")
    assert source_digest(tmp_path / "pkg") != first


def test_render_table_aligns_columns_as_markdown() -> None:
    table = render_table(["metric", "value"], [("roc_auc", 0.81234), ("f1", None)])
    assert table.splitlines() == [
        "| metric  | value  |",
        "|---------|--------|",
        "| roc_auc | 0.8123 |",
        "| f1      |        |",
    ]


def test_runner_logs_params_metrics_dataset_and_results_in_one_run(
    tmp_path: Path, make_model_folder: MakeSlot, mlflow_uri: str
) -> None:
    from mlflow import MlflowClient

    folder = make_model_folder(tmp_path)
    uri = mlflow_uri
    lines: list[str] = []
    run = run_pipeline(load_model_folder(folder), tmp_path, tmp_path / "work", uri=uri, echo=lines.append)

    assert run.metrics == {"roc_auc": 0.8, "accuracy": 0.7}
    assert set(run.timings) == {"prep", "train", "evaluate"}
    assert any("step train" in line for line in lines) and any("| roc_auc" in line for line in lines)
    logged = MlflowClient(uri).get_run(run.run_id)
    assert logged.info.status == "FINISHED"
    assert logged.data.params == {"estimator": "toy", "params.depth": "2", "params.tags": "[1, 2]"}
    assert logged.data.metrics["roc_auc"] == 0.8 and "step_seconds.train" in logged.data.metrics
    assert logged.data.tags["dataset.digest"] == content_digest(tmp_path / "data" / "toy.csv")
    assert logged.data.tags["dataset.version"] == "3"
    assert logged.data.tags["evaluation.metric"] == "roc_auc (higher is better)"
    assert len(logged.data.tags["evaluation.digest"]) == 64 == len(run.tags["evaluation.rows_digest"])
    (logged_input,) = logged.inputs.dataset_inputs
    assert logged_input.dataset.name == "toy@3" and logged_input.dataset.source_type == "local"
    assert logged_input.dataset.digest and "mlflow_colspec" in logged_input.dataset.schema
    assert logged_input.dataset.profile and {(tag.key, tag.value) for tag in logged_input.tags} == {
        ("mlflow.data.context", "training"),
        ("dataset.digest", logged.data.tags["dataset.digest"]),  # the full-content digest beside MLflow's own
    }
    artifacts = {a.path for a in MlflowClient(uri).list_artifacts(run.run_id)}
    assert artifacts == {"score_report", "predictions", "logs"}  # the model is a Logged Model of its own


def test_runner_reports_a_failing_step_and_marks_the_run_failed(
    tmp_path: Path, make_model_folder: MakeSlot, mlflow_uri: str
) -> None:
    from mlflow import MlflowClient

    folder = make_model_folder(tmp_path)
    (folder / "train.yaml").write_text("estimator: fail\n")
    uri = mlflow_uri
    with pytest.raises(StepFailed, match="refusing params that say fail") as caught:
        run_pipeline(load_model_folder(folder), tmp_path, tmp_path / "work", uri=uri, echo=lambda _: None)
    assert "step train" in str(caught.value)
    runs = MlflowClient(uri).search_runs([MlflowClient(uri).get_experiment_by_name("toy").experiment_id])
    assert [r.info.status for r in runs] == ["FAILED"]


def test_runner_names_a_missing_dataset_path(tmp_path: Path, make_model_folder: MakeSlot) -> None:
    folder = make_model_folder(tmp_path)
    (tmp_path / "data" / "toy.csv").unlink()
    with pytest.raises(ConfigError, match=r"dataset\.yaml: path: data/toy\.csv does not exist"):
        run_pipeline(load_model_folder(folder), tmp_path, tmp_path / "work", uri="sqlite:///unused.db")
