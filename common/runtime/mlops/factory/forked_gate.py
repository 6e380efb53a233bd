"""Log a slot's run, gate it and register it in one program forked from the warm process, for `factory run`.

The warm process has imported MLflow for the steps: logging, gating and registering from one child of it spares
`factory run` its own import of MLflow and a second connection to the store. The program
(`python -m mlops.factory.forked_gate REQUEST REPLY`) logs exactly as forked_logging.py does, then runs
`gate_and_register`, and writes the verdict or the expected error it met for `run_slot` (gate_outcome.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mlops.factory.gate_outcome import EXPECTED, write_outcome
from mlops.factory.slot_run import gate_and_register
from mlops.pipeline.config import load_model_folder
from mlops.pipeline.forked_logging import log_request


def main(argv: list[str] | None = None) -> int:
    """Log the run described by REQUEST; when it finished, gate and register it; write its ids to REPLY."""
    request_file, reply_file = (argv if argv is not None else sys.argv[1:])[:2]
    request = json.loads(Path(request_file).read_text(encoding="utf-8"))
    client, run = log_request(request)
    if request["status"] == "FINISHED":
        gate = request["gate"]
        workdir = Path(gate["workdir"])
        folder = load_model_folder(Path(request["folder"]))
        try:
            verdict = gate_and_register(
                folder, run, workdir, quiet=gate["quiet"], verbose=gate["verbose"], client=client
            )
        except tuple(EXPECTED.values()) as error:
            write_outcome(workdir, error=error)
        else:
            write_outcome(workdir, verdict)
    reply = {"run_id": run.run_id, "experiment_id": run.experiment_id}
    Path(reply_file).write_text(json.dumps(reply), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
