"""Fast tier: the local runner starts each step as its own program (warm or plain) and streams and saves its output."""

from __future__ import annotations

import json
import os
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlops.pipeline import warm_launcher
from mlops.pipeline.config import ConfigError, load_model_folder
from mlops.pipeline.launcher import MODE_VARIABLE, open_launcher
from mlops.pipeline.lineage import STEP_RUNNER_TAG
from mlops.pipeline.runner import run_pipeline
from mlops.pipeline.spec import Step
from mlops.pipeline.step_imports import step_imports
from mlops.pipeline.steps import StepFailed, run_step
from mlops.pipeline.subprocess_launcher import Launcher

MakeSlot = Callable[..., Path]
MODES = ["warm", "subprocess"]

# A step that reports what it is: its process, directory, arguments, import path and what was imported before it ran.
PROBE = """
    import argparse, importlib, json, os, pathlib, sys, time
    preloaded = sorted(name for name in ("yaml", "colorsys") if name in sys.modules)
    importlib.import_module("color" + "sys")  # imported by name: no step's source shows it to the warm process
    from toy import helper  # the model's own code is never imported ahead of a step
    p = argparse.ArgumentParser()
    p.add_argument("--exit", type=int, default=0); p.add_argument("--wait_for", default="")
    a = p.parse_args()
    report = {"pid": os.getpid(), "ppid": os.getppid(), "cwd": os.getcwd(), "argv": sys.argv[1:], "name": __name__}
    print(json.dumps({**report, "path": sys.path[:2], "preloaded": preloaded, "helper": helper.VALUE}))
    print("a warning", file=sys.stderr)
    if a.wait_for:  # print, then wait until the test has seen that line: output must stream while the step runs
        print("waiting")
        deadline = time.monotonic() + 10
        while not pathlib.Path(a.wait_for).exists():
            if time.monotonic() > deadline:
                sys.exit("nobody saw my output while I ran")
            time.sleep(0.01)
        print("released")
    sys.exit(a.exit)
"""


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test runs with the warm step runner and with plain subprocesses (MLOPS_STEP_RUNNER)."""
    monkeypatch.setenv(MODE_VARIABLE, request.param)
    return str(request.param)


@pytest.fixture
def repo(tmp_path: Path, make_model_folder: MakeSlot) -> Path:
    """A repository with the toy model, its probe step and a helper module, apart from the test's working folder."""
    root = tmp_path / "repo"
    make_model_folder(root)
    (root / "src/toy/probe.py").write_text(textwrap.dedent(PROBE))
    (root / "src/toy/helper.py").write_text("VALUE = 42\n")
    return root


@pytest.fixture
def no_leftovers() -> Iterator[None]:
    """The test leaves no child process of its own behind, running or unreaped."""
    before = children()
    yield
    assert children() == before


def children() -> set[int]:
    """This process's child processes (zombies included: a child nobody reaped is a leftover too)."""
    me, found = str(os.getpid()), set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == me:
            found.add(int(stat.parent.name))
    return found


def running(pid: int) -> bool:
    """Whether a process exists and has not exited (a zombie has)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def gone(pid: int, within: float = 3.0) -> bool:
    """Whether a process has exited, or does within a few seconds (a killed process takes a moment to die)."""
    deadline = time.monotonic() + within
    while running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc (Linux)")


def probe(root: Path, launcher: Launcher, name: str = "probe", echo: Callable[[str], None] | None = None, **args):
    """Run the probe as a step named `name`; returns its duration and the lines it echoed."""
    lines: list[str] = []
    step = Step(name=name, module="toy.probe", args={key: str(value) for key, value in args.items()})
    log = root / "work" / name / f"{name}.log"
    seconds = run_step(step, {}, root, log=log, launcher=launcher, echo=echo or lines.append)
    return seconds, lines


def report(lines: list[str], name: str = "probe") -> dict:
    """The probe's JSON report among a step's echoed lines."""
    prefix = f"[{name}] "
    return json.loads(next(line[len(prefix) :] for line in lines if line.startswith(prefix + "{")))


def test_each_step_is_its_own_program_with_its_argv_cwd_path_and_exit_code(
    repo: Path, mode: str, no_leftovers: None
) -> None:
    with open_launcher(repo, ["toy.train", "toy.probe"], print) as launcher:
        assert launcher.mode == mode
        first, second = (report(probe(repo, launcher, exit=0)[1]) for _ in range(2))
        with pytest.raises(StepFailed, match=r"step probe \(-m toy\.probe --exit 3\) exited 3"):
            probe(repo, launcher, exit=3)
    assert len({first["pid"], second["pid"], os.getpid()}) == 3
    assert (first["cwd"], first["argv"], first["name"]) == (str(repo), ["--exit", "0"], "__main__")
    assert first["path"] == [str(repo), str(repo / "src")]  # as `python -m` with the repo's src/ first
    if mode == "warm":  # both forked from the same warm process, not started by the runner
        assert first["ppid"] == second["ppid"] != os.getpid()
        assert gone(first["ppid"])
    else:
        assert first["ppid"] == second["ppid"] == os.getpid()
    assert gone(first["pid"]) and gone(second["pid"])


def test_a_step_imports_what_the_warm_process_did_not(repo: Path, mode: str) -> None:
    with open_launcher(repo, ["toy.train", "toy.probe"], print) as launcher:
        found = report(probe(repo, launcher)[1])
    assert found["helper"] == 42  # imported colorsys and its own helper module, then ran to the end
    assert found["preloaded"] == (["yaml"] if mode == "warm" else [])  # toy.train imports yaml: warm has it


def test_output_streams_with_the_step_name_while_the_step_runs(repo: Path, tmp_path: Path, mode: str) -> None:
    go, lines = tmp_path / "go", []

    def echo(line: str) -> None:
        lines.append(line)
        if line == "[probe] waiting":
            go.touch()

    with open_launcher(repo, ["toy.probe"], print) as launcher:
        probe(repo, launcher, echo=echo, wait_for=go)
    stdout = [line for line in lines if not line.startswith("[probe] {") and line != "[probe] a warning"]
    assert stdout == ["[probe] waiting", "[probe] released"] and "[probe] a warning" in lines
    saved = (repo / "work/probe/probe.log").read_text().splitlines()
    assert {"waiting", "released", "a warning"} <= set(saved) and len(saved) == 4


def test_an_interrupted_step_and_the_warm_process_stop_at_once(
    repo: Path, tmp_path: Path, mode: str, no_leftovers: None
) -> None:
    lines: list[str] = []

    def interrupt(line: str) -> None:  # Ctrl+C while the step waits
        lines.append(line)
        if line == "[probe] waiting":
            raise KeyboardInterrupt

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt), open_launcher(repo, ["toy.probe"], print) as launcher:
        probe(repo, launcher, echo=interrupt, wait_for=tmp_path / "never")
    assert time.monotonic() - started < 8  # the step would wait 10 s
    found = report(lines)
    assert gone(found["pid"])
    if mode == "warm":
        assert gone(found["ppid"])


def test_without_fork_steps_run_as_subprocesses(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MODE_VARIABLE, raising=False)
    monkeypatch.delattr(os, "fork")
    with open_launcher(repo, ["toy.probe"], print) as launcher:
        assert launcher.mode == "subprocess"
        assert report(probe(repo, launcher)[1])["ppid"] == os.getpid()


@pytest.mark.parametrize(
    ("boot", "reason"),
    [("import sys; sys.exit(3)", "exited with code 3"), ("import time; time.sleep(60)", "within 0.5 s")],
    ids=["dies", "hangs"],
)
def test_a_warm_process_that_dies_or_hangs_leaves_the_steps_to_subprocesses(
    repo: Path, monkeypatch: pytest.MonkeyPatch, boot: str, reason: str, no_leftovers: None
) -> None:
    monkeypatch.setenv(MODE_VARIABLE, "warm")
    monkeypatch.setattr(warm_launcher, "BOOT", boot)
    monkeypatch.setattr(warm_launcher, "START_TIMEOUT", 0.5)
    notices: list[str] = []
    with open_launcher(repo, ["toy.probe"], notices.append) as launcher:
        found = report(probe(repo, launcher)[1])
        assert launcher.mode == "subprocess"
    assert found["ppid"] == os.getpid() and len(notices) == 1
    assert "running steps as plain subprocesses" in notices[0] and reason in notices[0]


def test_an_unknown_step_runner_is_a_config_error(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MODE_VARIABLE, "turbo")
    with pytest.raises(ConfigError, match="MLOPS_STEP_RUNNER='turbo': expected 'warm' or 'subprocess'"):
        run_pipeline(load_model_folder(repo / "configs"), repo, repo / "work", uri="sqlite:///unused.db")


def test_the_warm_process_imports_the_libraries_the_step_source_names_never_the_model_code(repo: Path) -> None:
    (repo / "src/toy/uses_helper.py").write_text("from .scoring import rate\nimport json\n")
    (repo / "src/toy/scoring.py").write_text("def rate():\n    import csv\n")
    found = step_imports(repo, ["toy.train", "toy.uses_helper"])
    assert {"argparse", "pathlib", "sys", "yaml", "json", "csv"} <= set(found)
    assert not [name for name in found if name.split(".")[0] in {"toy", "__future__"}]


def test_a_run_streams_each_step_then_its_timing_and_logs_every_step_to_mlflow(
    repo: Path, spec_data: dict, mode: str, mlflow_uri: str, no_leftovers: None
) -> None:
    from mlflow import MlflowClient

    spec_data["steps"][:0] = [
        {"name": name, "module": "toy.probe", "inputs": {}, "outputs": [], "args": {}} for name in ("first", "second")
    ]
    (repo / "configs/pipeline.yaml").write_text(json.dumps(spec_data))
    lines: list[str] = []
    run = run_pipeline(load_model_folder(repo / "configs"), repo, repo / "work", uri=mlflow_uri, echo=lines.append)

    starts = ("[first] a warning", "  step first ", "[second] a warning", "  step second ", "  step evaluate ")
    order = [next(i for i, line in enumerate(lines) if line.startswith(start)) for start in starts]
    assert order == sorted(order)
    saved = (repo / "work/second/second.log").read_text().splitlines()
    assert len(saved) == 2 and "a warning" in saved
    assert set(run.logs) == {"first", "second", "prep", "train", "evaluate"}
    client = MlflowClient(mlflow_uri)
    logged = {artifact.path for artifact in client.list_artifacts(run.run_id, "logs")}
    assert logged == {f"logs/{name}.log" for name in run.logs}
    assert client.get_run(run.run_id).data.tags[STEP_RUNNER_TAG] == mode


def test_a_failing_step_fails_the_run_with_its_name_and_stderr_tail_even_when_quiet(
    repo: Path, mode: str, mlflow_uri: str, no_leftovers: None
) -> None:
    from mlflow import MlflowClient

    (repo / "configs/train.yaml").write_text("estimator: fail\n")
    lines: list[str] = []
    folder = load_model_folder(repo / "configs")
    with pytest.raises(StepFailed) as caught:
        run_pipeline(folder, repo, repo / "work", uri=mlflow_uri, echo=lines.append, quiet=True)
    log = repo / "work/train/train.log"
    assert str(caught.value).startswith("step train (-m toy.train ")
    assert str(caught.value).endswith(f"exited 1 (log: {log}):\ntrain: refusing params that say fail")
    assert not [line for line in lines if line.startswith("[")]  # quiet: no step output, only timings
    assert any(line.startswith("  step prep ") for line in lines)
    client = MlflowClient(mlflow_uri)
    failed = client.search_runs([client.get_experiment_by_name("toy").experiment_id])[0]
    assert failed.info.status == "FAILED"
    assert {a.path for a in client.list_artifacts(failed.info.run_id, "logs")} == {"logs/prep.log", "logs/train.log"}


# A pipeline run in a fresh interpreter: its run id, and whether that interpreter (the runner) imported MLflow.
RUN_AND_REPORT = """
import sys
from pathlib import Path
from mlops.pipeline.config import load_model_folder
from mlops.pipeline.runner import run_pipeline
root = Path(sys.argv[1])
run = run_pipeline(load_model_folder(root / "configs"), root, root / "work", uri=sys.argv[2], echo=lambda _: None)
print(run.run_id, "mlflow" in sys.modules)
"""


@pytest.mark.parametrize("mode", MODES)
def test_the_warm_runner_logs_the_run_from_a_forked_child_and_never_imports_mlflow_itself(
    repo: Path, mode: str, mlflow_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess
    import sys

    from mlflow import MlflowClient

    import mlops

    monkeypatch.setenv(MODE_VARIABLE, mode)
    monkeypatch.setenv("PYTHONPATH", str(Path(mlops.__path__[0]).parent))
    argv = [sys.executable, "-c", RUN_AND_REPORT, str(repo), mlflow_uri]
    done = subprocess.run(argv, cwd=repo, capture_output=True, text=True, check=False)  # noqa: S603  (this interpreter)
    assert done.returncode == 0, done.stdout + done.stderr
    run_id, imported = done.stdout.split()[-2:]
    # Warm: MLflow is imported by the child that logs; plain subprocesses: on the runner's thread, as before.
    assert imported == str(mode != "warm")
    logged = MlflowClient(mlflow_uri).get_run(run_id)
    assert logged.info.status == "FINISHED" and logged.data.tags[STEP_RUNNER_TAG] == mode
    assert logged.data.metrics["roc_auc"] == 0.8 and logged.info.start_time < logged.info.end_time
    assert {a.path for a in MlflowClient(mlflow_uri).list_artifacts(run_id, "logs")} == {
        f"logs/{name}.log" for name in ("prep", "train", "evaluate")
    }


def test_the_logging_program_runs_as_a_plain_subprocess_when_there_is_no_warm_process(
    repo: Path, mlflow_uri: str, no_leftovers: None
) -> None:
    from mlflow import MlflowClient

    from mlops.pipeline.forked_logging import ForkedTracker
    from mlops.pipeline.mlflow_logging import describe_run

    folder = load_model_folder(repo / "configs")
    log = repo / "work/prep/prep.log"
    log.parent.mkdir(parents=True)
    log.write_text("prep ran\n")
    tracker = ForkedTracker(Launcher(), repo, mlflow_uri, describe_run(folder, {"origin": "test"}), print)
    tracker.fail({"prep": log})
    client = MlflowClient(mlflow_uri)
    failed = client.search_runs([client.get_experiment_by_name("toy").experiment_id])[0]
    assert failed.info.status == "FAILED" and failed.data.tags["origin"] == "test"
    assert {a.path for a in client.list_artifacts(failed.info.run_id, "logs")} == {"logs/prep.log"}
