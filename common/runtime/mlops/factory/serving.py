"""`factory serve`: a registered model behind MLflow's scoring server on this machine, the interface Azure ML serves.

The version an alias names is downloaded from the factory's registry and served by MLflow's scoring server (the app
`mlflow models serve --env-manager local` runs) in the current environment: the factory's locked environment already
holds the model's libraries.
Requests go to `POST /invocations` as MLflow's scoring protocol has them; the model's signature is the contract the
server enforces, and a request that breaks it gets a 400 answer that says why.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from mlops.factory import registry

LOCALHOST = "127.0.0.1"
DEFAULT_PORT = 5000  # `mlflow models serve`'s own default


def fetch_model(client: Any, name: str, alias: str, target: Path) -> tuple[Any, Path]:
    """The version behind `@alias` and its MLflow model folder, downloaded under `target`."""
    version = registry.version_by_alias(client, name, alias)
    if version is None:
        raise registry.RegistryError(
            f"{name} has no @{alias}: see `factory status {name}` for its versions and aliases"
        )
    return version, registry.download_version(client, name, version.version, target)


def serve(name: str, alias: str, port: int, host: str = LOCALHOST) -> int:
    """Serve `name@alias` until Ctrl-C or SIGTERM, in this process: MLflow's scoring app under uvicorn."""
    import mlflow.pyfunc
    import uvicorn
    from mlflow.pyfunc import scoring_server

    with tempfile.TemporaryDirectory(prefix="factory-serve-") as work:
        version, folder = fetch_model(registry.client(), name, alias, Path(work))
        # The app `mlflow models serve --env-manager local` runs, without its shell and second interpreter.
        app = scoring_server.init(mlflow.pyfunc.load_model(str(folder)))
        print(f"Serving {name} v{version.version} (@{alias}) at http://{host}:{port}/invocations; Ctrl-C stops it")
        uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0
