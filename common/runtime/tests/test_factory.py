"""The factory's gate, registry and drift check, end to end on a toy slot (no ML library cost)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from mlops.factory import cli, github_actions, registry, status
from mlops.factory.drift import EXIT_DRIFT
from mlops.factory.gate import EXIT_REJECTED, judge
from mlops.factory.gate_outcome import read_outcome, write_outcome
from mlops.pipeline.config import ModelConfig
from mlops.pipeline.lineage import EVALUATION_TAGS

MakeSlot = Callable[..., Path]


@pytest.fixture
def slot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_model_folder: MakeSlot, mlflow_uri: str) -> Path:
    """A factory root with the toy slot in mlops/toy/ and a private sqlite MLflow store."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_uri)
    return make_model_folder(tmp_path, folder_name="mlops/toy")


def set_quality(slot: Path, quality: float) -> None:
    """Make the toy's next model score `quality` (its roc_auc)."""
    (slot / "train.yaml").write_text(yaml.safe_dump({"estimator": "toy", "quality": quality}))


def aliases(name: str = "toy") -> dict[str, str | None]:
    """Which version each alias points to."""
    client = registry.client()
    found = {
        alias: registry.version_by_alias(client, name, alias) for alias in (registry.CHAMPION, registry.CHALLENGER)
    }
    return {alias: None if version is None else str(version.version) for alias, version in found.items()}


def test_gate_first_deploy_is_judged_against_the_business_threshold_only(auc_config: ModelConfig) -> None:
    assert judge(auc_config, 0.75, None).passed
    rejected = judge(auc_config, 0.65, None)
    assert not rejected.passed and "FAIL" in rejected.table() and "REJECTED" in rejected.table()


def test_gate_retrain_must_beat_the_champion_and_a_tie_keeps_the_champion(auc_config: ModelConfig) -> None:
    assert judge(auc_config, 0.82, 0.80).passed
    assert not judge(auc_config, 0.79, 0.80).passed
    assert not judge(auc_config, 0.80, 0.80).passed


def test_gate_understands_lower_is_better_metrics(auc_config: ModelConfig) -> None:
    rmse = auc_config.model_copy(
        update={"primary_metric": "rmse", "greater_is_better": False, "business_threshold": 4.0}
    )
    assert judge(rmse, 3.0, 3.5).passed
    assert not judge(rmse, 3.6, 3.5).passed and not judge(rmse, 4.5, None).passed


@pytest.mark.parametrize("greater_is_better", [True, False], ids=["higher is better", "lower is better"])
def test_gate_rejects_a_gain_within_min_delta_and_passes_one_beyond_it(
    auc_config: ModelConfig, greater_is_better: bool
) -> None:
    sign = 1 if greater_is_better else -1
    config = auc_config.model_copy(
        update={"greater_is_better": greater_is_better, "business_threshold": 0.5 - sign * 0.4, "min_delta": 0.01}
    )
    within, beyond = judge(config, 0.5 + sign * 0.009, 0.5), judge(config, 0.5 + sign * 0.011, 0.5)
    assert not within.passed and beyond.passed
    assert within.checks[1].bar == beyond.checks[1].bar == pytest.approx(0.5 + sign * 0.01)
    assert f"@champion 0.5 {'+' if greater_is_better else '-'} min_delta 0.01" in within.table()


def test_min_delta_does_not_raise_the_business_threshold(auc_config: ModelConfig) -> None:
    verdict = judge(auc_config.model_copy(update={"min_delta": 0.05}), 0.71, None)
    assert verdict.passed and verdict.checks[0].bar == 0.7


def test_gate_needs_a_business_threshold(auc_config: ModelConfig) -> None:
    with pytest.raises(ValueError, match="business_threshold"):
        judge(auc_config.model_copy(update={"business_threshold": None}), 0.9, None)


def test_gate_verdict_is_appended_to_the_github_job_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, auc_config: ModelConfig
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    github_actions.publish(judge(auc_config, 0.75, None).table())
    assert summary.read_text().startswith("earlier step\n### Gate for toy: PASSED")


def test_first_passing_run_registers_a_champion_with_full_lineage(slot: Path, capsys: pytest.CaptureFixture) -> None:
    set_quality(slot, 0.8)
    assert cli.main(["run", "toy"]) == 0
    assert aliases() == {"champion": "1", "challenger": "1"}
    version = registry.client().get_model_version("toy", "1")
    for tag in (
        "dataset.name",
        "dataset.version",
        "dataset.digest",
        "dataset.mlflow_digest",
        "params",
        "predictions_uri",
    ):
        assert version.tags[tag], tag
    assert registry.version_metrics(registry.client(), version) == {"roc_auc": 0.8, "accuracy": 0.7}
    assert version.tags["gate.verdict"] == "passed"
    assert "Gate for toy: PASSED" in capsys.readouterr().out


def test_lineage_marks_uncommitted_code_and_names_the_prototype_commit_without_local_paths(slot: Path) -> None:
    import subprocess

    root = slot.parent.parent
    identity = ["-c", "user.name=Factory Tests", "-c", "user.email=tests@example.com"]  # CI runners have none
    for command in (["git", "init", "-q"], ["git", "add", "-A"], ["git", *identity, "commit", "-qm", "slot"]):
        subprocess.run(command, cwd=root, check=True, capture_output=True)  # noqa: S603  (fixed git argv)
    (slot / "promotion.yaml").write_text("source: churn-experiments\nsource_commit: 0123abc\n")
    set_quality(slot, 0.8)
    assert cli.main(["run", "toy"]) == 0
    version = registry.client().get_model_version("toy", "1")
    assert version.tags["git.dirty"] == "true" and len(version.tags["git.diff_digest"]) == 64
    assert version.tags["promotion.source_commit"] == "0123abc"
    assert version.tags["promotion.source"] == "churn-experiments"
    logged = registry.client().get_run(version.run_id)
    recorded = [*version.tags.values(), *logged.data.tags.values(), *logged.data.params.values()]
    recorded += [d.dataset.source for d in logged.inputs.dataset_inputs]
    assert not [value for value in recorded if str(root) in value]


def test_first_run_below_the_business_threshold_registers_nothing(slot: Path) -> None:
    set_quality(slot, 0.6)
    assert cli.main(["run", "toy"]) == EXIT_REJECTED
    assert registry.versions(registry.client(), "toy") == []


def test_worse_retrain_is_rejected_and_the_champion_is_unchanged(slot: Path) -> None:
    set_quality(slot, 0.8)
    cli.main(["run", "toy"])
    set_quality(slot, 0.75)  # above the threshold, below the champion
    assert cli.main(["run", "toy"]) == EXIT_REJECTED
    assert aliases() == {"champion": "1", "challenger": "1"}
    assert len(registry.versions(registry.client(), "toy")) == 1


def test_the_gate_sets_the_step_outputs_the_release_workflow_reads(
    slot: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    set_quality(slot, 0.8)
    assert cli.main(["run", "toy"]) == 0
    set_quality(slot, 0.75)
    assert cli.main(["run", "toy"]) == EXIT_REJECTED
    assert outputs.read_text() == "verdict=passed\nversion=1\nverdict=rejected\n"


def test_better_retrain_becomes_challenger_then_champion_on_approval_and_rolls_back(slot: Path) -> None:
    set_quality(slot, 0.8)
    cli.main(["run", "toy"])
    set_quality(slot, 0.9)
    assert cli.main(["run", "toy"]) == 0
    assert aliases() == {"champion": "1", "challenger": "2"}
    assert cli.main(["promote-champion", "toy"]) == 0
    assert aliases()["champion"] == "2"
    assert cli.main(["rollback", "toy", "--to", "1"]) == 0
    assert aliases()["champion"] == "1"


def test_rollback_refuses_unknown_and_current_versions(slot: Path, capsys: pytest.CaptureFixture) -> None:
    set_quality(slot, 0.8)
    cli.main(["run", "toy"])
    assert cli.main(["rollback", "toy", "--to", "7"]) == 1
    assert cli.main(["rollback", "toy", "--to", "1"]) == 1
    assert "no version 7" in capsys.readouterr().err


def test_an_approval_names_its_version_and_changes_nothing_when_a_later_release_moved_the_challenger(
    slot: Path, capsys: pytest.CaptureFixture
) -> None:
    for quality in (0.8, 0.9, 0.95):  # v1 champion; v2 deployed for approval; v3 registered by a later release
        set_quality(slot, quality)
        assert cli.main(["run", "toy"]) == 0
    assert cli.main(["promote-champion", "toy", "--version", "2"]) == 1
    assert "@challenger is v3, not the approved v2" in capsys.readouterr().err
    assert aliases() == {"champion": "1", "challenger": "3"}
    assert cli.main(["promote-champion", "toy", "--version", "3"]) == 0
    assert aliases() == {"champion": "3", "challenger": "3"}


class MovesChampionOnWrite:
    """A client on which another approval moves @champion to `version` between this change's decision and write."""

    def __init__(self, client: Any, version: str) -> None:
        self.client, self.version, self.champion_reads = client, version, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def get_model_version_by_alias(self, name: str, alias: str) -> Any:
        if alias == registry.CHAMPION:
            self.champion_reads += 1
            if self.champion_reads == 2:  # the first read decides, the second is the guard's, just before the write
                self.client.set_registered_model_alias(name, alias, self.version)
        return self.client.get_model_version_by_alias(name, alias)


@pytest.mark.parametrize(("change", "racer"), [("promote", "2"), ("rollback", "3")])
def test_approvals_and_rollbacks_do_not_overwrite_a_champion_moved_after_they_read_it(
    slot: Path, change: str, racer: str
) -> None:
    for quality in (0.8, 0.9, 0.95):
        set_quality(slot, quality)
        assert cli.main(["run", "toy"]) == 0  # v1 champion, v3 challenger
    racing = MovesChampionOnWrite(registry.client(), racer)  # another approval or rollback lands meanwhile
    with pytest.raises(registry.RegistryError, match=f"registry changed .* now @champion v{racer}"):
        if change == "promote":
            registry.promote_champion(racing, "toy", "3")
        else:
            registry.rollback(racing, "toy", "2")
    assert aliases() == {"champion": racer, "challenger": "3"}


class StopsAfterFirstAliasWrite:
    """A client whose server stops after one alias write, as an outage mid-deployment does."""

    def __init__(self, client: Any) -> None:
        self.client, self.wrote = client, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def set_registered_model_alias(self, name: str, alias: str, version: str) -> None:
        from mlflow.exceptions import MlflowException

        if self.wrote:
            raise MlflowException("API request to endpoint /api/2.0/mlflow/registered-models/alias failed")
        self.client.set_registered_model_alias(name, alias, version)
        self.wrote = True


def test_a_first_deployment_cut_between_its_alias_writes_leaves_a_champion_the_next_gate_judges_by(
    slot: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = registry.client
    monkeypatch.setattr(registry, "client", lambda: StopsAfterFirstAliasWrite(real()))
    set_quality(slot, 0.8)
    assert cli.main(["run", "toy"]) == 1  # the server failed while aliasing: an error, named
    assert aliases() == {"champion": "1", "challenger": None}
    monkeypatch.setattr(registry, "client", real)
    set_quality(slot, 0.78)  # passes the threshold, worse than v1: judged against it, so rejected
    assert cli.main(["run", "toy"]) == EXIT_REJECTED
    assert aliases() == {"champion": "1", "challenger": None}


# Rows 1-2 are easy (every model scores 0.1 higher on them), rows 3-4 hard.
EASY_AND_HARD = "x,y,ease\n1,0,0.1\n2,1,0.1\n3,0,0\n4,1,0\n"


def set_split(slot: Path, **args: float) -> None:
    """Give the toy's prep step split args (test_size, seed), as a slot's pipeline.yaml does."""
    spec = yaml.safe_load((slot / "pipeline.yaml").read_text())
    spec["steps"][0]["args"] = args
    (slot / "pipeline.yaml").write_text(yaml.safe_dump(spec))


def run_in(workdir: Path) -> int:
    """`factory run toy` with its step outputs (and any re-scoring of the champion) under `workdir`."""
    return cli.main(["run", "toy", "--workdir", str(workdir)])


@pytest.mark.parametrize(
    ("champion_split", "challenger_split", "challenger_quality"),
    [
        ({"test_size": 0.5, "seed": 2}, {"test_size": 0.5, "seed": 0}, 0.75),  # hard rows, then easy rows
        ({"test_size": 1.0, "seed": 0}, {"test_size": 0.5, "seed": 0}, 0.78),  # all rows, then the easy half
    ],
    ids=["seed", "test_size"],
)
def test_a_worse_model_cannot_pass_by_changing_the_split(
    slot: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    champion_split: dict[str, float],
    challenger_split: dict[str, float],
    challenger_quality: float,
) -> None:
    (tmp_path / "data" / "toy.csv").write_text(EASY_AND_HARD)
    set_split(slot, **champion_split)
    set_quality(slot, 0.8)
    assert run_in(tmp_path / "first") == 0
    set_split(slot, **challenger_split)
    set_quality(slot, challenger_quality)  # beats the champion's logged score only thanks to easier test rows
    assert run_in(tmp_path / "second") == EXIT_REJECTED
    assert "re-scored on this run's test rows: split changed" in capsys.readouterr().out
    assert (tmp_path / "second" / "champion").is_dir()
    assert aliases() == {"champion": "1", "challenger": "1"}


def test_a_worse_model_cannot_pass_by_changing_the_data(slot: Path, tmp_path: Path, capsys) -> None:
    data = tmp_path / "data" / "toy.csv"
    data.write_text("x,y,ease\n3,0,0\n4,1,0\n")
    set_quality(slot, 0.8)
    assert run_in(tmp_path / "first") == 0
    data.write_text("x,y,ease\n1,0,0.1\n2,1,0.1\n")
    set_quality(slot, 0.75)
    assert run_in(tmp_path / "second") == EXIT_REJECTED
    assert "re-scored on this run's test rows: dataset changed" in capsys.readouterr().out
    assert aliases() == {"champion": "1", "challenger": "1"}


def test_the_champion_is_not_rescored_when_the_evaluation_rows_are_the_same(
    slot: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    set_split(slot, test_size=0.5, seed=1)
    set_quality(slot, 0.8)
    assert run_in(tmp_path / "first") == 0
    set_quality(slot, 0.85)  # new hyperparameters, same data, split, evaluate step and metric
    assert run_in(tmp_path / "second") == 0
    digest = registry.client().get_run(registry.version_by_alias(registry.client(), "toy", "champion").run_id)
    assert f"same evaluation rows (digest {digest.data.tags['evaluation.digest'][:12]})" in capsys.readouterr().out
    assert not (tmp_path / "second" / "champion").exists()


def test_a_champion_logged_without_an_evaluation_digest_is_rescored(
    slot: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    set_quality(slot, 0.8)
    assert run_in(tmp_path / "first") == 0
    client = registry.client()
    champion = registry.version_by_alias(client, "toy", "champion")
    for tag in EVALUATION_TAGS:  # as a run logged before the gate recorded them
        client.delete_tag(champion.run_id, tag)
    set_quality(slot, 0.85)
    assert run_in(tmp_path / "second") == 0
    out = capsys.readouterr().out
    assert "re-scored on this run's test rows: the champion's run recorded no evaluation digest" in out
    assert (tmp_path / "second" / "champion").is_dir()


def test_the_champion_is_rescored_when_the_primary_metric_or_the_evaluate_step_changed(
    slot: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    set_quality(slot, 0.8)
    assert run_in(tmp_path / "first") == 0
    config = yaml.safe_load((slot / "config.yaml").read_text())
    (slot / "config.yaml").write_text(yaml.safe_dump({**config, "primary_metric": "accuracy"}))
    evaluate = tmp_path / "src" / "toy" / "evaluate.py"
    evaluate.write_text(evaluate.read_text() + "# a changed evaluate step\n")
    set_quality(slot, 0.85)
    assert run_in(tmp_path / "second") == 0
    out = capsys.readouterr().out
    assert "re-scored on this run's test rows: evaluate step changed, primary metric changed" in out
    assert "| current @champion  | accuracy | 0.7500    | 0.7010 | pass " in out  # the bar: 0.7 + min_delta
    assert "| @champion 0.7 + min_delta 0.001; " in out


def test_status_lists_versions_with_aliases_and_metrics(slot: Path, capsys: pytest.CaptureFixture) -> None:
    set_quality(slot, 0.8)
    cli.main(["run", "toy"])
    capsys.readouterr()
    cli.main(["status", "toy"])
    assert "| v1      | @challenger, @champion | accuracy=0.7000, roc_auc=0.8000" in capsys.readouterr().out


def test_status_reads_the_embedded_store_without_mlflow_and_agrees_with_mlflows_client(
    slot: Path, mlflow_uri: str
) -> None:
    set_quality(slot, 0.8)
    assert cli.main(["run", "toy"]) == 0
    set_quality(slot, 0.85)
    assert cli.main(["run", "toy"]) == 0
    client = registry.client()
    # A version registered from a run path keeps its metrics in tags; a deleted version is not listed.
    run_id = client.get_model_version("toy", "1").run_id
    client.create_model_version("toy", f"runs:/{run_id}/model", run_id, tags={"metric.roc_auc": "0.5"})
    client.create_model_version("toy", f"runs:/{run_id}/model", run_id)
    client.delete_model_version("toy", "4")
    database = status.sqlite_path(mlflow_uri)
    assert database is not None
    direct = status.read_sqlite(database, "toy")
    assert direct == status.read_client(client, "toy")
    assert [(v.version, sorted(v.aliases), v.metrics) for v in direct or []] == [
        (3, [], {"roc_auc": 0.5}),
        (2, ["challenger"], {"accuracy": 0.75, "roc_auc": 0.85}),
        (1, ["champion"], {"accuracy": 0.7, "roc_auc": 0.8}),
    ]
    assert (
        status.read_sqlite(database, "other") == [] and status.read_sqlite(database.with_name("none.db"), "toy") == []
    )


def test_status_reads_through_mlflow_where_the_embedded_store_is_not_the_one_it_knows(
    slot: Path, mlflow_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    set_quality(slot, 0.8)
    assert cli.main(["run", "toy"]) == 0
    database = status.sqlite_path(mlflow_uri)
    assert database is not None
    expected = status.summaries("toy")
    assert status.read_sqlite(database, "toy") == expected
    columns = {**status.READ_COLUMNS, "model_versions": {*status.READ_COLUMNS["model_versions"], "renamed"}}
    monkeypatch.setattr(status, "READ_COLUMNS", columns)  # as if a later MLflow had renamed a column
    assert status.read_sqlite(database, "toy") is None and status.summaries("toy") == expected
    monkeypatch.undo()
    with sqlite3.connect(database) as connection:
        connection.execute("INSERT INTO workspaces (name) VALUES ('team-b')")
    assert status.read_sqlite(database, "toy") is None  # which workspace is meant is MLflow's to resolve
    assert status.sqlite_path(mlflow_uri + "?timeout=5") is None and status.sqlite_path("http://127.0.0.1:5000") is None


# `factory status toy` in a fresh interpreter: whether it imported MLflow to read the embedded store.
STATUS_AND_REPORT = """
import sys
from mlops.factory.cli import main
code = main(["status", "toy"])
print(code, "mlflow" in sys.modules)
"""


def test_factory_status_on_the_embedded_store_never_imports_mlflow(slot: Path) -> None:
    import subprocess
    import sys

    import mlops

    set_quality(slot, 0.8)
    assert cli.main(["run", "toy"]) == 0
    env = {**os.environ, "PYTHONPATH": str(Path(mlops.__path__[0]).parent)}
    probe = [sys.executable, "-c", STATUS_AND_REPORT]
    done = subprocess.run(probe, capture_output=True, text=True, check=False, env=env)  # noqa: S603
    assert "| v1      | @challenger, @champion | accuracy=0.7000, roc_auc=0.8000" in done.stdout, done.stderr
    assert done.stdout.split()[-2:] == ["0", "False"], done.stdout + done.stderr


def test_unknown_slot_is_named_with_the_slots_that_exist(slot: Path, capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["run", "nope"]) == 1
    error = capsys.readouterr().err
    assert "no model slot 'nope'" in error and "slots here: toy." in error


# `factory run toy` in a fresh interpreter: its exit code, and whether that interpreter (the runner) imported MLflow.
RUN_AND_REPORT = """
import sys
from mlops.factory.cli import main
code = main(["run", "toy"])
print(code, "mlflow" in sys.modules)
"""


def test_factory_run_logs_gates_and_registers_from_a_forked_child_and_never_imports_mlflow_itself(
    slot: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess
    import sys

    import mlops

    set_quality(slot, 0.8)
    outputs = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    monkeypatch.setenv("MLOPS_STEP_RUNNER", "warm")
    monkeypatch.setenv("PYTHONPATH", str(Path(mlops.__path__[0]).parent))
    done = subprocess.run([sys.executable, "-c", RUN_AND_REPORT], capture_output=True, text=True, check=False)  # noqa: S603
    code, imported = done.stdout.split()[-2:]
    assert code == "0" and imported == "False", done.stdout + done.stderr
    assert "Gate for toy: PASSED" in done.stdout and "Registered toy v1" in done.stdout
    assert aliases() == {registry.CHAMPION: "1", registry.CHALLENGER: "1"}
    assert outputs.read_text() == "verdict=passed\nversion=1\n"


def test_the_gate_outcome_carries_the_verdict_and_the_expected_errors_back_to_the_runner(
    tmp_path: Path, auc_config: ModelConfig
) -> None:
    verdict = judge(auc_config, 0.8, 0.75, "v1, same evaluation rows")
    write_outcome(tmp_path, verdict)
    assert read_outcome(tmp_path) == verdict
    write_outcome(tmp_path, error=registry.RegistryError("toy: the MLflow server failed; check it, then re-run"))
    with pytest.raises(registry.RegistryError, match="the MLflow server failed; check it, then re-run"):
        read_outcome(tmp_path)
    assert read_outcome(tmp_path / "elsewhere") is None  # not gated by the program: the runner gates in-process


def test_the_factory_command_starts_without_importing_heavy_libraries() -> None:
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from mlops.factory.cli import parse_args\n"
        "for argv in (['status', 'x'], ['update'], ['check', 'x'], ['promote', '--from', '.', '--model', 'x'],\n"
        "             ['drift', 'x', '--data', 'p.csv']):\n"
        "    parse_args(argv)\n"
        "heavy = {'pandas', 'scipy', 'sklearn', 'mlflow', 'skops', 'matplotlib', 'azure', 'copier'}\n"
        "print(sorted(heavy & {name.split('.')[0] for name in sys.modules}))\n"
    )
    import mlops

    env = {**os.environ, "PYTHONPATH": str(Path(mlops.__path__[0]).parent)}  # where this mlops package lives
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False, env=env)  # noqa: S603
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_rescoring_the_champion_forks_from_a_warm_process_and_stays_quiet_with_quiet(
    slot: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("MLOPS_STEP_RUNNER", "warm")
    set_quality(slot, 0.8)
    assert run_in(tmp_path / "first") == 0
    evaluate = tmp_path / "src" / "toy" / "evaluate.py"  # a changed evaluate step: the champion is re-scored
    evaluate.write_text(
        evaluate.read_text()
        + "import os\n(pathlib.Path(a.score_report) / 'parent.txt').write_text(str(os.getppid()))\nprint('scored')\n"
    )
    set_quality(slot, 0.85)
    capsys.readouterr()
    assert cli.main(["run", "toy", "--workdir", str(tmp_path / "second"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "re-scored on this run's test rows: evaluate step changed" in out
    assert "[evaluate]" not in out and "(re-scoring the champion)" in out  # quiet: timings, no step output
    champion = tmp_path / "second" / "champion" / "evaluate"
    assert "scored" in (champion / "evaluate.log").read_text().splitlines()  # saved even when quiet
    assert int((champion / "score_report" / "parent.txt").read_text()) != os.getpid()  # forked, not spawned


def test_drift_reads_the_champions_predictions_as_the_pipeline_logged_them(slot: Path, tmp_path: Path) -> None:
    set_quality(slot, 0.8)
    cli.main(["run", "toy"])
    reference = pd.DataFrame({"score": [round(0.8 * (i % 10) / 10, 3) for i in range(200)]})
    reference.sample(frac=1, random_state=1).to_csv(tmp_path / "same.csv", index=False)
    (reference + 0.3).to_csv(tmp_path / "shifted.csv", index=False)
    assert cli.main(["drift", "toy", "--predictions", str(tmp_path / "same.csv")]) == 0
    assert cli.main(["drift", "toy", "--predictions", str(tmp_path / "shifted.csv")]) == EXIT_DRIFT
