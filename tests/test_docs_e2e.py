"""Slow tier: the documented path, literally: every command of the READMEs and the getting-started, promotion
and update pages.

One chain, as a team meets the product: the repository README's "Everyday use" creates an experiment repo
and a factory from a tagged template clone (docs/getting-started.md does the same in a folder of its own);
the generated prototype README is followed (git init, uv sync, hooks, first commit, pipeline, tests,
notebook); a data scientist changes the model freely (a new dependency, a new step and its test, another
estimator) and commits with hooks on; the generated factory README promotes it, adds a second slot, trains,
serves and writes its model pages; docs/promotion.md promotes a stronger change;
a template release goes out and docs/updates.md rolls it to the factory and the experiment repo. The
tests read the pages, so a page that changes changes its test. Only Azure sign-ins are marked not
runnable (`<!-- docs-test: skip ... -->` in the page source); the reviewed list is SKIPPED below.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from doc_commands import DocResult, DocRunner, commands, summary
from projects import ROOT, git_commit_all, load_workflow, run, run_ci_job, snapshot_template, tool_env, uv

pytestmark = pytest.mark.slow

TEMPLATE_URL = "gh:ORG/model-factory-templates"
PROTOTYPE, FACTORY, MODEL = "churn-experiments", "model-factory", "churn"
# The commands shown but not run here, with why: reviewed, and short on purpose.
SKIPPED = {
    "README.md": {
        "the demo and the suite themselves: CI (.ci/run) runs the test command, "
        "and the demo's steps are the commands below": 2,
        "developer sessions that run this suite itself": 5,
    },
    f"{FACTORY}/README.md": {"signs in to an Azure ML workspace": 3},
}

VALIDATE_STEP = '''"""Validate step: check the training split before training and write a small report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
from tabulate import tabulate

from .schema import TARGET


def main(argv: list[str] | None = None) -> None:
    """Read --prep_data, write --validation_report/report.json; fail on an empty or one-class split."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prep_data", type=Path, required=True)
    parser.add_argument("--validation_report", type=Path, required=True)
    args = parser.parse_args(argv)
    train = pd.read_csv(args.prep_data / "train.csv")
    if len(train) == 0 or train[TARGET].nunique() < 2:
        raise SystemExit("validate: the training split is empty or has one class")
    counts = train[TARGET].value_counts().sort_index()
    print(tabulate(counts.reset_index().to_numpy().tolist(), headers=[TARGET, "rows"]))
    args.validation_report.mkdir(parents=True, exist_ok=True)
    report = {"rows": len(train), "classes": int(counts.size)}
    (args.validation_report / "report.json").write_text(json.dumps(report) + "\\n", encoding="utf-8")


if __name__ == "__main__":
    main()
'''
VALIDATE_TEST = '''"""The validate step accepts the bundled sample."""

import json
from pathlib import Path

from churn import validate


def test_validate_reports_the_training_rows(prep_dir: Path, tmp_path: Path) -> None:
    validate.main(["--prep_data", str(prep_dir), "--validation_report", str(tmp_path)])
    assert json.loads((tmp_path / "report.json").read_text())["rows"] > 100
'''
VALIDATE_SPEC = """  - name: validate
    module: churn.validate
    inputs:
      prep_data: ${prep.prep_data}
    outputs: [validation_report]
  - name: train
"""


@dataclass
class Chain:
    """The folder the documented commands run in, the template they start from, and what ran."""

    work: Path
    template: Path
    env: dict[str, str]
    results: list[DocResult] = field(default_factory=list)

    def follow(self, page: Path, source: str, cwd: Path) -> str:
        """Run every command of a page in order from `cwd`, as a person would; returns their combined output."""
        runner = DocRunner(cwd, self.env, {TEMPLATE_URL: str(self.template)})
        results = runner.run_all(commands(page.read_text(encoding="utf-8"), source))
        self.results += results
        return "\n".join(result.output for result in results)

    def sh(self, command: list[str | Path], repo: str) -> str:
        """A command a person types in one of the chain's repositories."""
        return run(command, self.work / repo, self.env)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Chain:
    """An empty work folder beside a tagged clone of this template (its own: a later test tags a release)."""
    root = tmp_path_factory.mktemp("docs")
    template = snapshot_template(root / "model-factory-templates", tag="v0.1.0")
    work = root / "work"
    work.mkdir()
    jupyter = root / "jupyter"  # Jupyter's config, data and runtime files stay out of the home folder
    env = tool_env(
        {
            "JUPYTER_CONFIG_DIR": str(jupyter / "config"),
            "JUPYTER_DATA_DIR": str(jupyter / "data"),
            "JUPYTER_RUNTIME_DIR": str(jupyter / "runtime"),
            "IPYTHONDIR": str(jupyter / "ipython"),
        }
    )
    if os.geteuid() == 0:  # CI runs as root, which JupyterLab refuses unless its config allows it
        (jupyter / "config").mkdir(parents=True)
        (jupyter / "config" / "jupyter_server_config.json").write_text('{"ServerApp": {"allow_root": true}}')
    return Chain(work, template, env)


def head(chain: Chain, repo: str) -> str:
    """The checked-out commit of one of the chain's repositories."""
    return chain.sh(["git", "rev-parse", "HEAD"], repo).strip()


def champion_lineage(chain: Chain) -> dict[str, str]:
    """The factory's @champion of the model: its version, tags and declared requirements, read in its environment."""
    code = f"""
import json, mlflow, mlflow.pyfunc
client = mlflow.MlflowClient("sqlite:///mlflow.db")
version = client.get_model_version_by_alias("{MODEL}", "champion")
model = mlflow.pyfunc.load_model("models:/{MODEL}@champion")
path = mlflow.artifacts.download_artifacts("models:/{MODEL}@champion/requirements.txt")
print(json.dumps({{"version": str(version.version), **version.tags, "requirements": open(path).read()}}))
"""
    return json.loads(chain.sh([uv(), "run", "python", "-c", code], FACTORY).strip().splitlines()[-1])


def test_the_readme_everyday_use_starts_an_experiment_repo_and_a_factory(chain: Chain) -> None:
    chain.follow(ROOT / "README.md", "README.md", chain.work)
    for repo, template in ((PROTOTYPE, "prototype"), (FACTORY, "factory")):
        answers = yaml.safe_load((chain.work / repo / ".copier-answers.yml").read_text())
        assert answers["template"] == template and answers["_commit"] == "v0.1.0"


def test_the_getting_started_page_starts_the_same_repositories_in_a_folder_of_its_own(chain: Chain) -> None:
    fresh = chain.work.parent / "getting-started"
    fresh.mkdir()
    chain.follow(ROOT / "docs/getting-started.md", "docs/getting-started.md", fresh)
    for repo, template in ((PROTOTYPE, "prototype"), (FACTORY, "factory")):
        answers = yaml.safe_load((fresh / repo / ".copier-answers.yml").read_text())
        assert answers["template"] == template and answers["_commit"] == "v0.1.0"


def logged_prototype_run(chain: Chain) -> dict[str, Any]:
    """The prototype's one MLflow run, read in its own environment: its MLflow wrote the store, whatever ours is."""
    code = f"""
import json, mlflow, mlflow.pyfunc
client = mlflow.MlflowClient("sqlite:///mlflow.db")
(run,) = client.search_runs([client.get_experiment_by_name("{MODEL}").experiment_id])
(output,) = run.outputs.model_outputs  # the model is an MLflow 3 Logged Model of the run
model = mlflow.pyfunc.load_model(client.get_logged_model(output.model_id).artifact_location)
print(json.dumps({{
    "status": run.info.status, "params": run.data.params, "metrics": run.data.metrics, "tags": run.data.tags,
    "dataset_digest": run.inputs.dataset_inputs[0].dataset.digest, "signature": model.metadata.signature is not None,
}}))
"""
    result: dict[str, Any] = json.loads(
        chain.sh([uv(), "run", "python", "-c", code], PROTOTYPE).strip().splitlines()[-1]
    )
    return result


def test_the_prototype_readme_runs_literally_with_hooks_on(chain: Chain) -> None:
    prototype = chain.work / PROTOTYPE
    output = chain.follow(prototype / "README.md", f"{PROTOTYPE}/README.md", prototype)
    assert (prototype / ".git/hooks/pre-commit").is_file()
    assert "uv.lock" in chain.sh(["git", "ls-files"], PROTOTYPE).split()
    assert chain.sh(["git", "status", "--porcelain"], PROTOTYPE) == ""
    for step in ("prep", "train", "evaluate"):
        assert f"step {step}" in output
    assert sorted(p.name for p in (prototype / "reports" / "figures").glob("*.png"))

    logged = logged_prototype_run(chain)
    assert logged["status"] == "FINISHED" and logged["params"]["estimator"] == "random_forest"
    assert logged["metrics"]["roc_auc"] > 0.7
    assert logged["tags"]["mlflow.source.git.commit"] == head(chain, PROTOTYPE)
    assert logged["tags"]["git.dirty"] == "false"
    assert logged["dataset_digest"] and len(logged["tags"]["dataset.digest"]) == 64
    assert logged["signature"]
    assert chain.sh(["git", "status", "--porcelain"], PROTOTYPE) == ""


def test_a_data_scientist_changes_the_model_freely_and_commits_with_hooks(chain: Chain) -> None:
    prototype = chain.work / PROTOTYPE
    chain.sh([uv(), "add", "--quiet", "tabulate>=0.9"], PROTOTYPE)  # the documented way to add a dependency
    (prototype / "src/churn/validate.py").write_text(VALIDATE_STEP)
    (prototype / "tests/churn/test_validate.py").write_text(VALIDATE_TEST)
    spec = prototype / "configs/pipeline.yaml"
    spec.write_text(spec.read_text().replace("  - name: train\n", VALIDATE_SPEC, 1))
    params = prototype / "configs/train.yaml"
    params.write_text(
        yaml.safe_dump({"estimator": "logistic_regression", "seed": 42, "params": {"C": 1.0, "max_iter": 500}})
    )
    chain.sh([uv(), "run", "pipeline"], PROTOTYPE)
    chain.sh(["git", "add", "-A"], PROTOTYPE)
    chain.sh(["git", "commit", "-q", "-m", "Logistic regression, a validation step and tabulate"], PROTOTYPE)
    assert chain.sh(["git", "status", "--porcelain"], PROTOTYPE) == ""


def test_the_prototypes_ci_passes_as_its_workflow_runs_it(chain: Chain, tmp_path: Path) -> None:
    prototype = chain.work / PROTOTYPE
    commands = run_ci_job(prototype, "ci.yml", "checks", tmp_path)
    assert commands[0] == "uv sync --locked" and "uv run pipeline" in commands
    assert chain.sh(["git", "status", "--porcelain"], PROTOTYPE) == ""  # CI leaves the work tree as it found it


def test_the_factory_readme_runs_literally_and_the_promoted_model_lives_in_the_factory(chain: Chain) -> None:
    factory = chain.work / FACTORY
    output = chain.follow(factory / "README.md", f"{FACTORY}/README.md", factory)
    assert "Gate for churn: PASSED" in output and "step validate" in output and "Gate for fraud: PASSED" in output
    assert "| v1 @challenger @champion |" in (factory / "docs/models/fraud.md").read_text()  # `factory docs`
    pyproject = tomllib.loads((factory / "pyproject.toml").read_text())
    assert pyproject["dependency-groups"][MODEL] == ["tabulate>=0.9"]
    assert 'name = "tabulate"' in (factory / "uv.lock").read_text()
    assert (factory / "src/churn/validate.py").read_text() == VALIDATE_STEP
    chain.sh([uv(), "sync", "--locked"], FACTORY)  # what CI runs: the committed lock matches pyproject.toml
    chain.sh([uv(), "run", "pre-commit", "run", "--all-files"], FACTORY)
    assert chain.sh(["git", "status", "--porcelain"], FACTORY) == ""

    lineage = champion_lineage(chain)
    assert lineage["version"] == "1"
    assert lineage["promotion.source_commit"] == head(chain, PROTOTYPE)
    assert lineage["git.dirty"] == "true" and len(lineage["git.diff_digest"]) == 64  # trained before the commit
    installed = "from importlib.metadata import version; print(version('scikit-learn'))"
    sklearn = chain.sh([uv(), "run", "python", "-c", installed], FACTORY).strip().splitlines()[-1]
    assert f"scikit-learn=={sklearn}" in lineage["requirements"]  # pinned as the factory trained it
    provenance = (factory / "mlops/churn/promotion.yaml").read_text()
    assert str(chain.work) not in provenance and str(chain.work) not in json.dumps(lineage)


def test_the_promotion_page_promotes_a_stronger_change_into_the_existing_slot(chain: Chain) -> None:
    prototype = chain.work / PROTOTYPE
    params = prototype / "configs/train.yaml"
    stronger = {"estimator": "random_forest", "seed": 42, "params": {"n_estimators": 200, "max_depth": 2, "n_jobs": 1}}
    params.write_text(yaml.safe_dump(stronger))
    chain.sh(["git", "commit", "-q", "-am", "A shallow forest"], PROTOTYPE)
    output = chain.follow(ROOT / "docs/promotion.md", "docs/promotion.md", chain.work / FACTORY)
    assert "Registered churn v2" in output
    chain.sh([uv(), "run", "pre-commit", "run", "--all-files"], FACTORY)
    assert chain.sh(["git", "status", "--porcelain"], FACTORY) == ""
    assert champion_lineage(chain)["promotion.source_commit"] != head(chain, PROTOTYPE)  # v2 is challenger


def release(template: Path, tag: str) -> None:
    """A new template release: template-owned files of the base, a slot and the prototype change."""
    for name, line in (
        ("factory-template/base/docs/index.md.jinja", "\nSee the README for the factory's commands.\n"),
        ("prototyping-template/CONTRIBUTING.md.jinja", "\nAsk in the team channel before a large refactor.\n"),
        (
            'factory-template/slot/{% if ci_platform == "github" %}.github{% endif %}/workflows/'
            "{= model_name =}-pr.yml.jinja",
            "# Checks of this slot.\n",
        ),
    ):
        path = template / name
        path.write_text(path.read_text() + line)
    git_commit_all(template, f"Release {tag}")
    run(["git", "tag", tag], template)


def test_the_updates_page_rolls_a_release_out_to_the_factory_and_the_experiment_repo(chain: Chain) -> None:
    release(chain.template, "v0.2.0")
    output = chain.follow(ROOT / "docs/updates.md", "docs/updates.md", chain.work / FACTORY)
    assert f"updated: {PROTOTYPE}/" in output and "needs attention" not in output
    for repo, answers in (
        (FACTORY, ".copier-answers.yml"),
        (FACTORY, "mlops/churn/.copier-answers.yml"),
        (FACTORY, "mlops/fraud/.copier-answers.yml"),
        (PROTOTYPE, ".copier-answers.yml"),
    ):
        assert yaml.safe_load((chain.work / repo / answers).read_text())["_commit"] == "v0.2.0", (repo, answers)
        assert chain.sh(["git", "status", "--porcelain"], repo) == ""
    assert "# Checks of this slot." in (chain.work / FACTORY / ".github/workflows/churn-pr.yml").read_text()
    chain.sh([uv(), "sync", "--locked"], FACTORY)
    chain.sh([uv(), "sync", "--locked"], PROTOTYPE)


def test_a_refactor_the_gate_rejects_is_integrated_with_the_registry_untouched(chain: Chain) -> None:
    chain.sh([uv(), "run", "factory", "promote-champion", MODEL], FACTORY)  # v2 serves: a tie cannot beat it
    versions = chain.sh([uv(), "run", "factory", "status", MODEL], FACTORY)
    prep = chain.work / PROTOTYPE / "src/churn/prep.py"
    prep.write_text(prep.read_text().replace('"""Prep step', '"""Prep step (refactored)', 1))
    chain.sh(["git", "commit", "-q", "-am", "Refactor: clearer prep docstring"], PROTOTYPE)
    promote = [uv(), "run", "factory", "promote", "--from", f"../{PROTOTYPE}", "--model", MODEL]
    done = subprocess.run(promote, cwd=chain.work / FACTORY, env=chain.env, capture_output=True, text=True)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "rejected: the gate rejected the promoted churn" in done.stderr
    assert "nothing was registered" in done.stderr and "commit them to integrate the code" in done.stderr
    assert chain.sh([uv(), "run", "factory", "status", MODEL], FACTORY) == versions
    staged = chain.sh(["git", "diff", "--cached", "--name-only"], FACTORY).split()
    assert "src/churn/prep.py" in staged and "mlops/churn/promotion.yaml" in staged
    chain.sh(["git", "commit", "-q", "-m", "Integrate the prep refactor (no new model version)"], FACTORY)
    chain.sh([uv(), "run", "pre-commit", "run", "--all-files"], FACTORY)


def test_every_documented_command_ran_except_the_reviewed_few(chain: Chain) -> None:
    print(summary(chain.results))
    skipped: dict[str, dict[str, int]] = {}
    for result in chain.results:
        if result.skipped:
            reasons = skipped.setdefault(result.command.source, {})
            reasons[str(result.command.skip_reason)] = reasons.get(str(result.command.skip_reason), 0) + 1
    assert skipped == SKIPPED
    executed = [result for result in chain.results if not result.skipped]
    sources = {result.command.source for result in executed}
    assert sources == {
        "README.md",
        "docs/getting-started.md",
        f"{PROTOTYPE}/README.md",
        f"{FACTORY}/README.md",
        "docs/promotion.md",
        "docs/updates.md",
    }
    assert len(executed) >= 35


# Stands in for the GitHub CLI the runners have: records its arguments, one JSON line per call.
GH = """import json, os, sys
with open(os.environ["GH_CALLS"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
"""


@pytest.mark.skipif(shutil.which("jq") is None, reason="the workflow reads its plan with jq, as GitHub's runners do")
def test_the_prototypes_template_updates_workflow_proposes_a_release_as_a_pull_request(
    chain: Chain, tmp_path: Path
) -> None:
    release(chain.template, "v0.3.0")
    prototype = chain.work / PROTOTYPE
    origin = tmp_path / "origin.git"
    run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], tmp_path)
    chain.sh(["git", "remote", "add", "origin", str(origin)], PROTOTYPE)
    chain.sh(["git", "push", "-q", "origin", "main"], PROTOTYPE)
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin/gh").write_text(f"#!{sys.executable}\n{GH}")
    (tmp_path / "bin/gh").chmod(0o755)
    env = {**chain.env, "PATH": f"{tmp_path / 'bin'}{os.pathsep}{chain.env['PATH']}", "RUNNER_TEMP": str(tmp_path)}
    env |= {"GH_CALLS": str(tmp_path / "gh.jsonl"), "BASE": "main"}  # the step's env: what GitHub would pass
    head_before = head(chain, PROTOTYPE)
    try:
        (job,) = load_workflow(prototype / ".github/workflows/template-updates.yml")["jobs"].values()
        for step in (step for step in job["steps"] if "run" in step):  # with the prototype's hooks on
            run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], prototype, env=env)
    finally:  # the chain goes on without the remote and the job's committer identity
        chain.sh(["git", "remote", "remove", "origin"], PROTOTYPE)
        for key in ("user.name", "user.email"):
            run(["git", "config", "--unset", key], prototype, chain.env, check=False)
    branch = "template-update/prototype-v0.3.0"
    assert run(["git", "branch", "--format=%(refname:short)"], origin).split() == ["main", branch]
    assert run(["git", "rev-parse", "main"], origin).strip() == head_before == head(chain, PROTOTYPE)
    answers = yaml.safe_load(run(["git", "show", f"{branch}:.copier-answers.yml"], origin))
    assert answers["_commit"] == "v0.3.0"
    calls = [json.loads(line) for line in (tmp_path / "gh.jsonl").read_text().splitlines()]
    (created,) = [call for call in calls if call[:2] == ["pr", "create"]]
    assert created[created.index("--head") + 1] == branch and created[created.index("--label") + 1] == "template-update"
    assert chain.sh(["git", "status", "--porcelain"], PROTOTYPE) == ""
