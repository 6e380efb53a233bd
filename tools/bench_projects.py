"""The generated projects the benchmarks time, set up once per bench run the way their READMEs say."""

from __future__ import annotations

import shutil
from functools import cached_property
from pathlib import Path

from bench_stats import say
from demo import FACTORY, PROTOTYPE, page, until
from doc_commands import DocRunner
from projects import render, run, snapshot_template, tool_env, uv

REFERENCE = Path(__file__).resolve().parent / "bench_reference.py"
CREATED = "Create the factory"  # the factory README's Start ends with this commit
PROMOTE = 'git commit -m "Promote'  # and its promotion with this one


def follow_readme(repo: Path, env: dict[str, str], last: str, done: str | None = None) -> None:
    """Run the repo's README commands in order (hooks on): after the first containing `done`, up to `last`'s."""
    runner = DocRunner(repo, env)
    steps = page(repo / "README.md", until(last))
    if done is not None:
        steps = steps[len(page(repo / "README.md", until(done))) :]
    for command in steps:
        if command.server_url is None:
            runner.run(command)


def venv_python(repo: Path) -> Path:
    """The interpreter of a generated project's own environment."""
    return repo / ".venv" / "bin" / "python"


def reset(repo: Path, commit: str, *ignored: str) -> None:
    """Put a work tree back at `commit`: tracked and untracked files, and the named ignored paths."""
    run(["git", "reset", "-q", "--hard", commit], repo)
    run(["git", "clean", "-q", "-f", "-d"], repo)
    for name in ignored:
        path = repo / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def head(repo: Path) -> str:
    """The commit checked out."""
    return run(["git", "rev-parse", "HEAD"], repo).strip()


class Registry:
    """A sqlite MLflow store that every timed run starts from in the same state: migrated, experiment made, no model.

    Product and reference then do the same registry work each time (a first version, its aliases), and the store
    does not grow from run to run. It lives under the ignored outputs/, so git sees no change.
    """

    def __init__(self, repo: Path, config: str, env: dict[str, str]) -> None:
        self.live = repo / "outputs" / "bench" / "registry.db"
        self.seed = self.live.with_suffix(".seed.db")
        self.live.parent.mkdir(parents=True, exist_ok=True)
        self.env = {**env, "MLFLOW_TRACKING_URI": f"sqlite:///{self.live}"}
        run([uv(), "run", "pipeline", config], repo, self.env)  # tables, experiment, warm caches
        shutil.copy2(self.live, self.seed)

    def reset(self) -> None:
        """Back to the seeded state."""
        shutil.copy2(self.seed, self.live)


class Workspace:
    """A bench run's folder: a tagged template snapshot, then each project built on first use and shared."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = tool_env()  # imports read cached bytecode, as on a person's machine

    @cached_property
    def template(self) -> Path:
        """A committed copy of this work tree tagged v0.1.0: what `copier copy` reads, like a release."""
        return snapshot_template(self.root / "model-factory-templates", tag="v0.1.0")

    @cached_property
    def prototype(self) -> Path:
        """The experiment repo after its README's Start (git, uv sync, hooks, first commit) and one pipeline run."""
        say(f"  setting up the prototype in {self.root / PROTOTYPE}")
        repo = render(self.root / PROTOTYPE, "prototype", src=self.template)
        follow_readme(repo, self.env, "git commit")
        run([uv(), "run", "pipeline"], repo, self.env)  # bytecode cached, database made
        return repo

    def factory_without_slots(self, name: str) -> Path:
        """A factory after its README's Start: git, uv sync, hooks, first commit."""
        say(f"  setting up a factory in {self.root / name}")
        repo = render(self.root / name, "factory", src=self.template)
        follow_readme(repo, self.env, CREATED)
        return repo

    @cached_property
    def factory(self) -> Path:
        """The factory with the prototype's model promoted and committed, as its README says."""
        self.prototype  # noqa: B018  (promotion reads it: set it up first)
        repo = self.factory_without_slots(FACTORY)
        say("  promoting the prototype's model into it (README commands)")
        follow_readme(repo, self.env, PROMOTE, done=CREATED)
        return repo
