"""The team registry over HTTP: a real `mlflow server` (sqlite store, served artifacts) on 127.0.0.1.

The factory's gate and registry run against it as a release does: MLFLOW_TRACKING_URI points at the server and
MLFLOW_TRACKING_TOKEN holds a bearer token, which a small reverse proxy in front of the server demands on every
request (MLflow's own server does not check tokens; the proxy proves the token is sent, to the tracking API and
to the artifact store alike). Not shipped into factories: it starts servers and takes seconds, so the template
repository's CI runs it.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest
import yaml
from mlflow.exceptions import MlflowException

from mlops.factory import cli, registry, slot_run
from mlops.factory.drift import EXIT_DRIFT
from mlops.factory.gate import EXIT_REJECTED
from mlops.pipeline.config import load_model_folder
from mlops.pipeline.runner import run_pipeline

pytestmark = pytest.mark.slow  # each server takes seconds to start; two start here
MakeSlot = Callable[..., Path]
TOKEN = "team-registry-token"  # noqa: S105 - a test value, never a real secret
READ_TOKEN = "team-registry-read-only"  # noqa: S105 - accepted for reads (GET) only, as a gateway might


def free_port() -> int:
    """A TCP port nothing listens on, on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MlflowServer:
    """`mlflow server` on 127.0.0.1 with a sqlite store and served artifacts, started and stopped by the test."""

    def __init__(self, folder: Path, store: Path) -> None:
        self.folder, self.port = folder, free_port()
        self.db = folder / "mlflow.db"
        shutil.copyfile(store, self.db)  # an already migrated store: the server starts in seconds
        self.artifacts = folder / "artifacts"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MlflowServer:
        """Start the server and wait until it answers its health check."""
        mlflow = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or "mlflow"
        command = [mlflow, "server", "--backend-store-uri", f"sqlite:///{self.db}", "--serve-artifacts"]
        command += ["--artifacts-destination", str(self.artifacts), "--host", "127.0.0.1", "--port", str(self.port)]
        log = (self.folder / "server.log").open("ab")
        # No background job runner (MLflow 3 starts one by default): the registry needs none, and it costs seconds.
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        self.process = subprocess.Popen(  # noqa: S603 - the test venv's own mlflow
            [*command, "--workers", "1"], stdout=log, stderr=log, env=env, start_new_session=True
        )
        deadline = time.monotonic() + 180  # a loaded 2-core machine needs most of it
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as answer:  # noqa: S310 - local http
                    if answer.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
            assert self.process.poll() is None, (self.folder / "server.log").read_text()
        raise AssertionError(f"mlflow server did not start: {(self.folder / 'server.log').read_text()}")

    def stop(self) -> None:
        """Stop the server and the worker process it started (one process group)."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


class TokenProxy(ThreadingHTTPServer):
    """A reverse proxy to the server: 401 without `Authorization: Bearer TOKEN`, 403 for a write with READ_TOKEN."""

    def __init__(self, upstream: int) -> None:
        super().__init__(("127.0.0.1", 0), _Forward)
        self.upstream = upstream
        self.seen: list[tuple[str, str, bool]] = []  # method, path, carried the token

    @property
    def url(self) -> str:
        """The proxy's base URL, the tracking URI a team would configure."""
        return f"http://127.0.0.1:{self.server_port}"


class _Forward(BaseHTTPRequestHandler):
    """Check the bearer token, then forward the request and stream the answer back."""

    server: TokenProxy
    protocol_version = "HTTP/1.1"

    def _forward(self) -> None:
        given = self.headers.get("Authorization")
        authorized = given == f"Bearer {TOKEN}" or (given == f"Bearer {READ_TOKEN}" and self.command == "GET")
        self.server.seen.append((self.command, self.path, authorized))
        body = self._body()
        if not authorized:
            self.send_response(403 if given == f"Bearer {READ_TOKEN}" else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        upstream = http.client.HTTPConnection("127.0.0.1", self.server.upstream, timeout=60)
        hop = ("host", "connection", "transfer-encoding", "content-length")
        headers = {key: value for key, value in self.headers.items() if key.lower() not in hop}
        headers["Content-Length"] = str(len(body))
        upstream.request(self.command, self.path, body=body, headers=headers)
        answer = upstream.getresponse()
        payload = answer.read()
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        upstream.close()

    def _body(self) -> bytes:
        """The request body, sent with a length or in chunks (requests chunks an empty file's upload)."""
        if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))
        chunks = []
        while size := int(self.rfile.readline().split(b";")[0], 16):
            chunks.append(self.rfile.read(size))
            self.rfile.readline()
        self.rfile.readline()  # the blank line after the last chunk
        return b"".join(chunks)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward  # noqa: N815 - the names http.server calls

    def log_message(self, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture(scope="module")
def team_server(tmp_path_factory: pytest.TempPathFactory, migrated_mlflow_db: Path) -> Iterator[MlflowServer]:
    """One team MLflow server for the module's tests (each test registers its own slot names)."""
    server = MlflowServer(tmp_path_factory.mktemp("team-registry"), migrated_mlflow_db).start()
    yield server
    server.stop()


@pytest.fixture
def proxy(team_server: MlflowServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[TokenProxy]:
    """The token-checking proxy in front of the team server, set as the tracking URI with the token."""
    server = TokenProxy(team_server.port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", TOKEN)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # an outage fails at once, not after minutes
    yield server
    server.shutdown()
    server.server_close()


def add_slot(root: Path, make_model_folder: MakeSlot, name: str, quality: float) -> Path:
    """The toy slot under `root`/mlops/`name`, named `name` in the registry, whose model scores `quality`."""
    folder = make_model_folder(root, folder_name=f"mlops/{name}", model_name=name, experiment_name=name)
    set_quality(folder, quality)
    return folder


def set_quality(folder: Path, quality: float) -> None:
    """Make the slot's next model score `quality` (its roc_auc)."""
    (folder / "train.yaml").write_text(yaml.safe_dump({"estimator": "toy", "quality": quality}))


def aliases(name: str) -> dict[str, str | None]:
    """Which version @champion and @challenger point to."""
    client = registry.client()
    found = {alias: registry.version_by_alias(client, name, alias) for alias in (registry.CHAMPION, "challenger")}
    return {alias: None if version is None else str(version.version) for alias, version in found.items()}


def live_versions(name: str) -> list[str]:
    """The slot's registered versions that were not deleted, oldest first."""
    return [str(version.version) for version in reversed(registry.versions(registry.client(), name))]


def test_a_slot_lives_its_whole_life_on_the_team_server_with_the_token(
    proxy: TokenProxy, team_server: MlflowServer, tmp_path: Path, make_model_folder: MakeSlot
) -> None:
    folder = add_slot(tmp_path, make_model_folder, "churn", 0.8)
    assert cli.main(["run", "churn"]) == 0  # first deploy: judged against the threshold, crowned
    assert aliases("churn") == {"champion": "1", "challenger": "1"}
    set_quality(folder, 0.75)
    assert cli.main(["run", "churn"]) == EXIT_REJECTED  # retrain below the champion: rejected
    assert aliases("churn") == {"champion": "1", "challenger": "1"} and live_versions("churn") == ["1"]
    set_quality(folder, 0.9)
    assert cli.main(["run", "churn"]) == 0  # better retrain: challenger until approved
    assert aliases("churn") == {"champion": "1", "challenger": "2"}
    assert cli.main(["promote-champion", "churn"]) == 0
    assert aliases("churn") == {"champion": "2", "challenger": "2"}
    assert cli.main(["rollback", "churn", "--to", "1"]) == 0
    assert aliases("churn") == {"champion": "1", "challenger": "2"}
    # Drift downloads the champion's test predictions from the served artifact store, through the proxy.
    reference = pd.DataFrame({"score": [round(0.8 * (i % 10) / 10, 3) for i in range(200)]})
    reference.sample(frac=1, random_state=1).to_csv(tmp_path / "same.csv", index=False)
    (reference + 0.3).to_csv(tmp_path / "shifted.csv", index=False)
    assert cli.main(["drift", "churn", "--predictions", str(tmp_path / "same.csv")]) == 0
    assert cli.main(["drift", "churn", "--predictions", str(tmp_path / "shifted.csv")]) == EXIT_DRIFT
    assert proxy.seen and all(authorized for _, _, authorized in proxy.seen)
    assert any("mlflow-artifacts" in path for method, path, _ in proxy.seen if method == "PUT")  # uploads
    assert any("mlflow-artifacts" in path for method, path, _ in proxy.seen if method == "GET")  # downloads
    assert list(team_server.artifacts.rglob("predictions.csv")), "artifacts are stored by the server"
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "mlflow.db").exists()  # nothing local


def test_without_the_token_the_registry_refuses_and_the_factory_says_so(
    proxy: TokenProxy, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, make_model_folder: MakeSlot
) -> None:
    folder = add_slot(tmp_path, make_model_folder, "no_token", 0.8)
    run = run_pipeline(load_model_folder(folder), tmp_path, tmp_path / "work")
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN")
    with pytest.raises(registry.RegistryError, match="failed during the gate .*401.*nothing was registered"):
        slot_run.gate_and_register(load_model_folder(folder), run, tmp_path / "work")
    assert proxy.seen[-1][2] is False


def test_a_read_only_token_shows_the_champion_and_checks_drift_but_cannot_write(
    proxy: TokenProxy,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    make_model_folder: MakeSlot,
    capsys: pytest.CaptureFixture[str],
) -> None:
    add_slot(tmp_path, make_model_folder, "read_only", 0.8)
    assert cli.main(["run", "read_only"]) == 0
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", READ_TOKEN)  # what a pull request's job would hold
    start = len(proxy.seen)
    assert cli.main(["status", "read_only"]) == 0
    scores = pd.DataFrame({"score": [round(0.8 * (i % 10) / 10, 3) for i in range(200)]})
    scores.to_csv(tmp_path / "production.csv", index=False)
    assert cli.main(["drift", "read_only", "--predictions", str(tmp_path / "production.csv")]) == 0
    assert "not logged to MLflow: the server refused this identity a write" in capsys.readouterr().out
    # Only reads got through; MLflow also tries a logged-model search (a POST) and does without when it is refused,
    # and the drift report's run is refused: the verdict stands, the report stays on disk.
    assert {method for method, _, passed in proxy.seen[start:] if passed} == {"GET"}
    with pytest.raises(MlflowException, match="403"):
        registry.client().set_registered_model_alias("read_only", "champion", "1")
    assert aliases("read_only") == {"champion": "1", "challenger": "1"}


def gate_together(monkeypatch: pytest.MonkeyPatch, jobs: list[tuple[Path, Path]]) -> list[object]:
    """Run each slot's pipeline, then gate the runs in threads that all read the registry before any registers."""
    barrier = threading.Barrier(len(jobs))
    judge = slot_run.judge

    def judge_then_wait(*args: object, **kwargs: object) -> object:
        verdict = judge(*args, **kwargs)  # the champion has been read: every run waits here for the others
        barrier.wait(timeout=60)
        return verdict

    monkeypatch.setattr(slot_run, "judge", judge_then_wait)
    runs = [
        run_pipeline(load_model_folder(folder), root, root / f"work-{i}", quiet=True)
        for i, (folder, root) in enumerate(jobs)
    ]
    results: list[object] = [None] * len(jobs)

    def gate(index: int, folder: Path, root: Path) -> None:
        try:
            results[index] = slot_run.gate_and_register(
                load_model_folder(folder), runs[index], root / f"work-{index}", quiet=True
            )
        except registry.RegistryError as error:
            results[index] = error

    threads = [threading.Thread(target=gate, args=(i, *job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_two_slots_registering_at_the_same_time_each_get_their_champion(
    proxy: TokenProxy, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, make_model_folder: MakeSlot
) -> None:
    first = add_slot(tmp_path / "a", make_model_folder, "fares", 0.8)
    second = add_slot(tmp_path / "b", make_model_folder, "claims", 0.85)
    results = gate_together(monkeypatch, [(first, tmp_path / "a"), (second, tmp_path / "b")])
    assert all(getattr(result, "passed", False) for result in results), results
    assert aliases("fares") == {"champion": "1", "challenger": "1"}
    assert aliases("claims") == {"champion": "1", "challenger": "1"}


def test_the_same_slot_gated_twice_at_once_crowns_one_champion(
    proxy: TokenProxy, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, make_model_folder: MakeSlot
) -> None:
    folder = add_slot(tmp_path, make_model_folder, "twice", 0.8)
    results = gate_together(monkeypatch, [(folder, tmp_path), (folder, tmp_path)])
    passed = [result for result in results if getattr(result, "passed", False)]
    refused = [result for result in results if isinstance(result, registry.RegistryError)]
    assert len(passed) == 1 and len(refused) == 1, results
    assert "gated at the same time" in str(refused[0]) or "changed while this run was gated" in str(refused[0])
    assert "nothing was aliased" in str(refused[0])
    (version,) = live_versions("twice")
    assert aliases("twice") == {"champion": version, "challenger": version}


def test_a_champion_moved_after_the_gate_read_it_is_not_overwritten(
    proxy: TokenProxy, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, make_model_folder: MakeSlot
) -> None:
    folder = add_slot(tmp_path, make_model_folder, "moved", 0.8)
    assert cli.main(["run", "moved"]) == 0
    set_quality(folder, 0.9)
    assert cli.main(["run", "moved"]) == 0
    set_quality(folder, 0.95)
    judge = slot_run.judge

    def judge_then_approve(*args: object, **kwargs: object) -> object:
        verdict = judge(*args, **kwargs)
        registry.promote_champion(registry.client(), "moved")  # an approval lands while this run is gated
        return verdict

    monkeypatch.setattr(slot_run, "judge", judge_then_approve)
    with pytest.raises(registry.RegistryError, match="changed while this run was gated.*nothing was aliased"):
        cli_run = run_pipeline(load_model_folder(folder), tmp_path, tmp_path / "work", quiet=True)
        slot_run.gate_and_register(load_model_folder(folder), cli_run, tmp_path / "work", quiet=True)
    assert aliases("moved") == {"champion": "2", "challenger": "2"} and live_versions("moved") == ["1", "2"]


def test_the_server_stopped_mid_run_gives_a_clear_error_and_no_alias_change(
    tmp_path: Path, migrated_mlflow_db: Path, make_model_folder: MakeSlot, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "server").mkdir()
    server = MlflowServer(tmp_path / "server", migrated_mlflow_db).start()
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        folder = add_slot(tmp_path, make_model_folder, "outage", 0.8)
        assert cli.main(["run", "outage"]) == 0
        set_quality(folder, 0.9)
        register = registry.register

        def stop_then_register(*args: object, **kwargs: object) -> object:
            server.stop()  # the gate passed; the server goes away before the registry is written
            return register(*args, **kwargs)

        monkeypatch.setattr(registry, "register", stop_then_register)
        run = run_pipeline(load_model_folder(folder), tmp_path, tmp_path / "work", quiet=True)
        with pytest.raises(registry.RegistryError, match="server failed while registering.*nothing was aliased"):
            slot_run.gate_and_register(load_model_folder(folder), run, tmp_path / "work", quiet=True)
    finally:
        server.stop()
    # The server's own store, read directly: the aliases are where they were.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{server.db}")
    assert aliases("outage") == {"champion": "1", "challenger": "1"} and live_versions("outage") == ["1"]
