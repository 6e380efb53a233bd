"""Rendering the templates and running generated projects the way their users do."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import copier

ROOT = Path(__file__).resolve().parent.parent
# The example model's own files, the same in a prototype and a factory slot: its package and its tests.
MODEL_MODULES = (
    "__init__",
    "data",
    "estimators",
    "evaluate",
    "metrics",
    "prep",
    "schema",
    "search",
    "train",
    "validation",
)
MODEL_TESTS = ("conftest", "test_contract", "test_evaluate", "test_inference", "test_prep", "test_train")


def model_files(model: str) -> set[str]:
    """The example model's files in a generated repo: `src/<model>/` and `tests/<model>/`."""
    return {f"src/{model}/{name}.py" for name in MODEL_MODULES} | {f"tests/{model}/{name}.py" for name in MODEL_TESTS}


# Variables that would point a generated project at another environment, interpreter or lock mode, or stop it
# caching bytecode.
# The user's cache and index settings (UV_CACHE_DIR, UV_INDEX_URL, XDG_CACHE_HOME...) are kept: every
# generated project then shares the user's uv and pre-commit caches.
FOREIGN_ENVIRONMENT = (
    "VIRTUAL_ENV",
    "PYTHONPATH",
    "MLFLOW_",
    "NOX_",
    "UV_PROJECT_ENVIRONMENT",
    "UV_PYTHON",
    "UV_FROZEN",
    "UV_LOCKED",
    "UV_NO_SYNC",
    "UV_OFFLINE",
    # Set on some CI and sandbox machines, it makes every process compile pandas, scikit-learn and MLflow from source
    # again; a person's machine caches bytecode, and so do generated projects here.
    "PYTHONDONTWRITEBYTECODE",
)


class CommandFailed(AssertionError):
    """A command of a generated project failed; the message holds the tail of its output."""


def render(dest: Path, template: str, vcs_ref: str | None = "HEAD", src: Path = ROOT, **answers: Any) -> Path:
    """Apply the template non-interactively (defaults for every unanswered question)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a dirty work tree and optional external data warn
        copier.run_copy(
            str(src), str(dest), data={"template": template, **answers}, defaults=True, quiet=True, vcs_ref=vcs_ref
        )
    return dest


def copy_work_tree(dest: Path) -> Path:
    """A plain copy of this template repo's work tree (tracked and new files): copier renders it without a clone."""
    dest.mkdir(parents=True, exist_ok=True)
    listed = run(["git", "ls-files", "-co", "--exclude-standard", "-z"], ROOT).split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


def snapshot_template(dest: Path, tag: str | None = None) -> Path:
    """A committed copy of this template repo's work tree (tracked and new files), for copy/update tests."""
    copy_work_tree(dest)
    git_commit_all(dest, "Template snapshot")
    if tag:
        run(["git", "tag", tag], dest)
    return dest


def tool_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for generated projects: the machine's Python, the user's caches, cached bytecode, no foreign one."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(FOREIGN_ENVIRONMENT)}
    env.update(
        UV_PYTHON_DOWNLOADS="never",
        UV_PYTHON=base_python(),
        UV_NO_PROGRESS="1",
        GIT_AUTHOR_NAME="Test",
        GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="Test",
        GIT_COMMITTER_EMAIL="test@example.com",
    )
    env.update(extra or {})
    return env


def base_python() -> str:
    """The machine's interpreter behind whatever virtual environment runs the tests."""
    for candidate in (Path(sys.base_prefix) / "bin" / "python3", Path(sys.base_prefix) / "python.exe"):
        if candidate.exists():
            return str(candidate)
    return sys.executable


def run(command: Sequence[str | Path], cwd: Path, env: Mapping[str, str] | None = None, check: bool = True) -> str:
    """Run a command, returning its combined output; on failure the assertion shows that output."""
    done = subprocess.run(  # noqa: S603  (our own tools, argv lists, no shell)
        [str(part) for part in command],
        cwd=cwd,
        env=dict(env or tool_env()),
        capture_output=True,
        text=True,
        check=False,
    )
    output = done.stdout + done.stderr
    if check and done.returncode != 0:
        raise CommandFailed(f"{' '.join(map(str, command))} exited {done.returncode}:\n{output[-6000:]}")
    return output


def edit(path: Path, old: str, new: str) -> None:
    """Replace text in a generated file, failing loudly if it is not there."""
    text = path.read_text(encoding="utf-8")
    if old not in text:
        raise CommandFailed(f"{old!r} not in {path}")
    path.write_text(text.replace(old, new), encoding="utf-8")


def git_commit_all(repo: Path, message: str) -> None:
    """Make `repo` a git work tree (if needed) and commit everything in it."""
    if not (repo / ".git").exists():
        run(["git", "init", "-q", "-b", "main"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-q", "-m", message], repo)  # the repo's hooks run when it has them installed


def uv() -> str:
    """The uv executable (installed into the test environment by nox, or on PATH)."""
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if not found:
        raise CommandFailed("uv is required: python -m pip install uv")
    return found


def tool(name: str) -> str:
    """A console script of the test environment (installed by nox), or one on PATH."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if not found:
        raise CommandFailed(f"{name} is not installed in the test environment")
    return found


def load_workflow(path: Path) -> dict[str, Any]:
    """A generated workflow, with YAML 1.1's `on: true` key put back as "on"."""
    import yaml

    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["on"] = data.pop(True, data.get("on"))
    return data


def run_ci_job(repo: Path, workflow: str, job: str, scratch: Path) -> list[str]:
    """Run every `run:` step of a generated workflow's job in `repo`, in order, as GitHub's bash does.

    The `uses:` steps (checkout, setup-uv, cache) are what this machine already has. Returns the commands run.
    """
    steps = load_workflow(repo / ".github" / "workflows" / workflow)["jobs"][job]["steps"]
    commands = [step["run"] for step in steps if "run" in step]
    for command in commands:
        run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", command],
            repo,
            env=tool_env({"RUNNER_TEMP": str(scratch)}),
        )
    return commands


def text_files(root: Path) -> list[Path]:
    """Every generated file except git internals and virtual environments."""
    skip = {".git", ".venv", "__pycache__", ".ruff_cache", ".pytest_cache"}
    return sorted(p for p in root.rglob("*") if p.is_file() and not skip & set(p.relative_to(root).parts))
