"""Log a run to MLflow from a program started like a step, so that it forks from the warm process.

The warm process has already imported MLflow and pandas for the steps: logging from a child of it spares the runner
its own import of MLflow. The program (`python -m mlops.pipeline.forked_logging REQUEST REPLY`) opens the run with
its real start time and logs exactly what mlflow_logging.py logs; with plain subprocesses it runs the same way.
A program that does more with the logged run (the factory's gate) calls `log_request` and is named to the tracker.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mlops
from mlops.pipeline.config import ModelFolder, load_model_folder
from mlops.pipeline.mlflow_logging import _log_run, _log_step_logs, open_run
from mlops.pipeline.steps import Echo, PipelineRun, StepFailed, step_env
from mlops.pipeline.subprocess_launcher import Launcher
from mlops.pipeline.tracking import mlflow_client

FORKED_LOGGING = "mlops.pipeline.forked_logging"
STDERR_TAIL_LINES = 20


class ForkedTracker:
    """The runner's side: the run is opened and filled in by one child program once the steps have ended."""

    def __init__(
        self,
        launcher: Launcher,
        repo_root: Path,
        uri: str,
        run: Mapping[str, Any],
        echo: Echo,
        program: str = FORKED_LOGGING,
    ) -> None:
        self.launcher, self.repo_root, self.uri, self.echo, self.program = launcher, repo_root, uri, echo, program
        self.run = {**run, "uri": uri, "start_time": int(time.time() * 1000)}

    def log(self, folder: ModelFolder, result: PipelineRun, data: Path | None) -> tuple[str, str]:
        """Log the finished run; its run and experiment ids."""
        return self._child(folder, "FINISHED", result, data)

    def fail(self, logs: Mapping[str, Path] | None = None) -> None:
        """Record the run as FAILED with the logs of the steps that ran."""
        self._child(None, "FAILED", PipelineRun("", "", {}, {}, {}, "", {}, dict(logs or {})), None)

    def _child(
        self, folder: ModelFolder | None, status: str, result: PipelineRun, data: Path | None
    ) -> tuple[str, str]:
        """Run the logging program through the launcher and read its reply."""
        request = {
            **self.run,
            "status": status,
            "folder": str(folder.path.resolve()) if folder else None,
            "data": str(data) if data else None,
            "result": {
                "metrics": result.metrics,
                "outputs": {step: {k: str(v) for k, v in found.items()} for step, found in result.outputs.items()},
                "timings": result.timings,
                "dataset_digest": result.dataset_digest,
                "tags": result.tags,
                "logs": {step: str(path) for step, path in result.logs.items()},
            },
        }
        tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)

        def on_line(stream: str, text: str) -> None:
            if stream == "stderr":
                tail.append(text)
            self.echo(text)

        # The folder holding the mlops package goes first on the path: the program finds the same code as the runner.
        env = step_env(self.repo_root)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(mlops.__path__[0]).parent), env.get("PYTHONPATH")]))
        with tempfile.TemporaryDirectory(prefix="mlops-logging-") as scratch:
            asked, reply = Path(scratch, "request.json"), Path(scratch, "reply.json")
            asked.write_text(json.dumps(request), encoding="utf-8")
            command = [sys.executable, "-m", self.program, str(asked), str(reply)]
            # In this process's directory, where a relative tracking URI (sqlite:///mlflow.db) and ./mlruns resolve.
            code = self.launcher.run(command, Path.cwd(), env, on_line)
            if code != 0 or not reply.is_file():
                what = f"logging the run to MLflow at {self.uri} ({self.program})"
                raise StepFailed(f"{what} exited {code}:\n" + "\n".join(tail))
            answer = json.loads(reply.read_text(encoding="utf-8"))
        return answer["run_id"], answer["experiment_id"]


def log_request(request: Mapping[str, Any]) -> tuple[Any, PipelineRun]:
    """Open the run a request describes and log it (finished, or failed with its step logs); the client and the run."""
    found = request["result"]
    outputs = {step: {k: Path(v) for k, v in files.items()} for step, files in found["outputs"].items()}
    logs = {step: Path(path) for step, path in found["logs"].items()}
    client = mlflow_client(request["uri"])
    experiment_id, run_id = open_run(
        client, request["experiment"], request["run_name"], request["tags"], start_time=request["start_time"]
    )
    result = PipelineRun(
        run_id, experiment_id, found["metrics"], outputs, found["timings"], found["dataset_digest"], found["tags"], logs
    )
    if request["status"] == "FINISHED":
        folder = load_model_folder(Path(request["folder"]))
        _log_run(client, run_id, folder, result, Path(request["data"]) if request["data"] else None)
    else:
        _log_step_logs(client, run_id, logs)
        client.set_terminated(run_id, status="FAILED")
    return client, result


def main(argv: list[str] | None = None) -> int:
    """Open the run described by REQUEST, log it, write its ids to REPLY."""
    request_file, reply_file = (argv if argv is not None else sys.argv[1:])[:2]
    _, result = log_request(json.loads(Path(request_file).read_text(encoding="utf-8")))
    reply = {"run_id": result.run_id, "experiment_id": result.experiment_id}
    Path(reply_file).write_text(json.dumps(reply), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
