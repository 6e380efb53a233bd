"""A slot's Azure ML job environment: its base image with the factory's Python and the packages uv.lock pins.

The same lock drives local runs, CI (`uv sync --locked`) and Azure ML jobs, so the three train on the same versions.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

from mlops.pipeline.config import ModelFolder
from mlops.pipeline.spec import SpecError


def factory_project(repo_root: Path) -> dict[str, Any]:
    """The `[project]` table of the factory's pyproject.toml."""
    data = tomllib.loads((repo_root / "pyproject.toml").read_text(encoding="utf-8"))
    project: dict[str, Any] = data.get("project", {})
    return project


def python_version(project: dict[str, Any], repo_root: Path) -> str:
    """The factory's Python version (`requires-python = ">=3.11"` -> `3.11`)."""
    match = re.search(r"\d+\.\d+", str(project.get("requires-python", "")))
    if not match:
        raise SpecError(f"{repo_root / 'pyproject.toml'}: requires-python must name a version such as >=3.11")
    return match.group(0)


def job_requirements(folder: ModelFolder, repo_root: Path) -> list[str]:
    """What the steps need, pinned as uv.lock pins them: the factory's dependencies and the model's own group.

    The same lock drives local runs and CI (`uv sync --locked`), so the three train on the same versions.
    """
    lock = repo_root / "uv.lock"
    if not lock.is_file():
        raise SpecError(f"{lock} is missing: run `uv lock` and commit uv.lock (the job environment is built from it)")
    model = folder.config.model_name
    groups = tomllib.loads((repo_root / "pyproject.toml").read_text(encoding="utf-8")).get("dependency-groups", {})
    command = ["uv", "export", "--frozen", "--no-default-groups", "--no-emit-project", "--no-hashes"]
    command += ["--no-header", "--no-annotate", "--format", "requirements-txt"]
    command += ["--group", model] if model in groups else []
    done = subprocess.run(command, cwd=repo_root, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise SpecError(f"{lock}: `{' '.join(command)}` failed: {done.stderr.strip()}")
    return [line.strip() for line in done.stdout.splitlines() if line.strip() and not line.startswith(("#", "-"))]


def job_environment(folder: ModelFolder, repo_root: Path) -> Any:
    """The slot's job environment: its base image with the factory's Python and the locked packages.

    The version is a digest of the image and the conda spec, so a lock change makes a new version
    and an unchanged lock reuses the environment Azure ML has already built.
    """
    from azure.ai.ml.entities import Environment

    model = folder.config.model_name
    project = factory_project(repo_root)
    conda = {
        "name": f"{model}-env",
        "channels": ["conda-forge"],
        "dependencies": [
            f"python={python_version(project, repo_root)}",
            "pip",
            {"pip": job_requirements(folder, repo_root)},
        ],
    }
    spec = json.dumps({"image": folder.config.azure.image, "conda": conda}, sort_keys=True)
    version = hashlib.sha256(spec.encode()).hexdigest()[:12]
    return Environment(
        name=f"{model.replace('_', '-')}-env",
        version=version,
        image=folder.config.azure.image,
        conda_file=conda,
        description=f"Job environment of model {model}: the packages uv.lock pins for the factory and group {model}",
    )
