"""Fast tier: a factory on Azure DevOps (ci_platform azure-devops) and its slots' Azure Pipelines, and a prototype's.

Every pipeline of every factory and prototype option combination passes the Azure Pipelines schema check-jsonschema
ships (each combination rendered once, pipelines only). A factory with two slots shows that each slot's pull-request
filter isolates it, that the filters are the Slot value's, that the gate's exit code 2 ends a release without failing
it, that Azure is reached only through the service connections, and that `factory check` reads the pipeline's cron.
"""

from __future__ import annotations

import shutil
import subprocess
import warnings
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import copier
import pathspec
import pytest
import yaml
from projects import ROOT, tool
from render_matrix import combinations

from mlops.factory.slot import PIPELINES_DIR, Slot
from mlops.factory.workflows import schedule_problems, workflow_crons
from mlops.pipeline.config import load_model_folder

AZURE = {"ci_platform": "azure-devops"}
MATRIX = combinations(ROOT)
ALL_FACTORIES = [c for c in MATRIX if c.application == "factory"]
FACTORIES = [c for c in ALL_FACTORIES if dict(c.answers) | AZURE == dict(c.answers)]
PROTOTYPES = [c for c in MATRIX if c.application == "prototype" and dict(c.answers) | AZURE == dict(c.answers)]
# The template with only what the pipelines are made of: copier.yml, the fragments, the pipelines and the answers
# files (a slot reads the base's). Copier renders every path of a template, so the rest would only cost time.
PIPELINE_SOURCES = ["copier.yml", "common/fragments/*", "*template*/**/{=_copier_conf.answers_file=}.jinja"]
PIPELINE_SOURCES += [f'*template*/**/{{% if ci_platform == "azure-devops" %}}{PIPELINES_DIR}{{% endif %}}/**/*']
PIPELINE_SOURCES += ["factory-template/slot/mlops/*/*", "common/model/configs/*"]  # the config `factory check` reads
SLOTS = {"churn": "", "fares": "0 3 * * 1"}  # fares retrains on a schedule
SCHEMA = ["--builtin-schema", "vendor.azure-pipelines", "--data-transform", "azure-pipelines"]
SCHEMA += ["--regex-variant", "nonunicode"]  # the schema's patterns are not all valid Unicode regexes
GUARD_RANGE = "--from-ref HEAD^1 --to-ref HEAD"  # a pull-request build checks out the merge: HEAD^1 is the target


def render_pipelines(source: Path, out: Path, name: str, answers: dict[str, Any], models: tuple[str, ...]) -> Path:
    """A factory's pipelines with its slots' (`fares` retrains on a schedule), applied as users apply them."""
    root = out / name
    slots = [{"template": "model", "model_name": model, "retraining_schedule": SLOTS[model]} for model in models]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # optional external data is absent from a new repo
        for data in ({"template": "factory", **answers}, *slots):
            copier.run_copy(str(source), str(root), data=data, defaults=True, quiet=True)
    return root


@pytest.fixture(scope="session")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template's pipeline sources as a plain folder (no git: no clone per render)."""
    source = tmp_path_factory.mktemp("azure-source")
    for path in {path for pattern in PIPELINE_SOURCES for path in ROOT.glob(pattern) if path.is_file()}:
        (source / path.relative_to(ROOT)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, source / path.relative_to(ROOT))
    return source


@pytest.fixture(scope="session")
def every_combination(source: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each factory combination on Azure DevOps with the slot fares: rendered once, two at a time."""
    out, names = tmp_path_factory.mktemp("azure-pipelines"), [c.name for c in FACTORIES]
    render = partial(render_pipelines, source, out, models=("fares",))
    with ProcessPoolExecutor(2) as pool:
        return dict(zip(names, pool.map(render, names, [dict(c.answers) for c in FACTORIES]), strict=True))


def render_prototype(source: Path, out: Path, name: str, answers: dict[str, Any]) -> Path:
    """A prototype's pipeline, applied as users apply it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        copier.run_copy(
            str(source), str(out / name), data={"template": "prototype", **answers}, defaults=True, quiet=True
        )
    return out / name


@pytest.fixture(scope="session")
def every_prototype(source: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Each prototype combination on Azure DevOps: rendered once, two at a time."""
    out, names = tmp_path_factory.mktemp("azure-prototypes"), [c.name for c in PROTOTYPES]
    with ProcessPoolExecutor(2) as pool:
        return list(pool.map(partial(render_prototype, source, out), names, [dict(c.answers) for c in PROTOTYPES]))


@pytest.fixture(scope="module")
def factory(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default factory on Azure DevOps with the slots churn and fares."""
    return render_pipelines(source, tmp_path_factory.mktemp("azure-factory"), "factory", AZURE, tuple(SLOTS))


def pipeline(root: Path, name: str) -> dict[str, Any]:
    """A generated pipeline or template, parsed."""
    data: dict[str, Any] = yaml.safe_load((root / PIPELINES_DIR / name).read_text(encoding="utf-8"))
    return data


def triggers(root: Path, model: str, path: str) -> bool:
    """Whether a change to `path` runs the pull-request pipeline of `model`."""
    pr = pipeline(root, Path(Slot(model).azure_pipeline("pr")).name)["pr"]
    return pathspec.PathSpec.from_lines("gitwildmatch", pr["paths"]["include"]).match_file(path)


def test_the_matrix_has_azure_devops_factories_of_every_other_answer() -> None:
    assert len(FACTORIES) * 2 == len(ALL_FACTORIES)
    assert {dict(c.answers)["notifications"] for c in FACTORIES} == {"none", "slack", "teams"}
    assert len(PROTOTYPES) * 2 == sum(c.application == "prototype" for c in MATRIX)


def test_every_pipeline_of_every_combination_passes_the_azure_pipelines_schema(
    every_combination: dict[str, Path], every_prototype: list[Path], factory: Path
) -> None:
    roots = [*every_combination.values(), factory, *every_prototype]  # the factory adds a slot without a schedule
    files = [p for root in roots for p in sorted((root / PIPELINES_DIR).rglob("*.yml"))]
    assert len(files) >= len(FACTORIES) * (2 + 3 + 3) + len(PROTOTYPES)
    # Many combinations render a file to the same bytes: validate each distinct file once.
    distinct = {p.read_bytes(): str(p) for p in files}.values()
    done = subprocess.run([tool("check-jsonschema"), *SCHEMA, *distinct], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    for root in roots:
        assert not (root / ".github").exists()


def test_every_pipeline_passes_the_factorys_whitespace_hooks(every_combination: dict[str, Path], factory: Path) -> None:
    files = [str(p) for root in [*every_combination.values(), factory] for p in (root / PIPELINES_DIR).rglob("*.yml")]
    for hook in ("end-of-file-fixer", "trailing-whitespace-fixer"):
        done = subprocess.run([tool(hook), *files], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr


def test_a_change_in_one_slot_runs_only_that_slots_pull_request_pipeline(factory: Path) -> None:
    for model in SLOTS:
        (other,) = set(SLOTS) - {model}
        slot = Slot(model)
        for path in (f"{slot.package}/train.py", f"{slot.tests}/test_train.py", slot.config, f"{slot.data}/x.csv"):
            assert triggers(factory, model, path), (model, path)
            assert not triggers(factory, other, path), (other, path)
        own = slot.azure_pipeline("pr")
        assert triggers(factory, model, own) and not triggers(factory, other, own)


def test_a_change_in_the_shared_runtime_runs_every_slots_pull_request_pipeline(factory: Path) -> None:
    for path in ("mlops/pipeline/runner.py", "mlops/factory/gate.py", f"{PIPELINES_DIR}/templates/slot-checks.yml"):
        assert all(triggers(factory, model, path) for model in SLOTS), path
    assert not any(triggers(factory, model, "README.md") for model in SLOTS)


@pytest.mark.parametrize("kind", ["pr", "cd"])
def test_the_slot_pipelines_filter_on_the_paths_the_slot_value_names(factory: Path, kind: str) -> None:
    for model in SLOTS:
        slot = Slot(model)
        data = pipeline(factory, Path(slot.azure_pipeline(kind)).name)
        paths = data["pr" if kind == "pr" else "trigger"]["paths"]["include"]
        assert [path for path in paths if not path.startswith(f"{PIPELINES_DIR}/")] == list(slot.trigger_paths)
        assert slot.azure_pipeline(kind) in paths


def test_a_gate_rejection_ends_the_release_without_failing_it_and_skips_every_deployment(factory: Path) -> None:
    release = pipeline(factory, "templates/slot-release.yml")
    (train,) = next(stage for stage in release["stages"] if stage["stage"] == "train")["jobs"]
    script = next(step for step in train["steps"] if step.get("name") == "train")["inputs"]["inlineScript"]
    assert '[ "$status" -ne 0 ] && [ "$status" -ne 2 ]' in script
    deploys = [stage for stage in release["stages"] if stage["stage"].startswith("deploy_")]
    assert [stage["stage"] for stage in deploys] == ["deploy_staging", "deploy_prod"]
    for stage in deploys:
        assert "eq(dependencies.train.outputs['train.train.verdict'], 'passed')" in stage["condition"]
        (job,) = stage["jobs"]
        assert job["environment"] == stage["stage"].removeprefix("deploy_")  # the environment's approvals apply
    (job,) = deploys[-1]["jobs"]
    (approve,) = [step for step in all_steps(job) if step.get("name") == "champion"]
    assert 'promote-champion "$MODEL" --version "$VERSION"' in approve["inputs"]["inlineScript"]  # what it deployed


def test_azure_is_reached_only_through_the_service_connections_and_no_secret_is_written(factory: Path) -> None:
    texts = {p.name: p.read_text() for p in (factory / PIPELINES_DIR).rglob("*.yml")}
    release = pipeline(factory, "templates/slot-release.yml")
    steps = [step for stage in release["stages"] for job in stage["jobs"] for step in all_steps(job)]
    signed_in = [step for step in steps if step.get("task") == "AzureCLI@2"]
    assert {step["inputs"]["azureSubscription"] for step in signed_in} == {"azure-ml-prod", "azure-ml-staging"}
    assert all(set(step["env"]) == {"MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_TOKEN"} for step in signed_in)
    for name, text in texts.items():
        for word in ("clientSecret", "AZURE_CLIENT_SECRET", "servicePrincipalKey", "addSpnToEnvironment"):
            assert word not in text, (name, word)
    steps_templates = [yaml.safe_load(text).get("steps", []) for text in texts.values()]
    checkouts = [step for steps in steps_templates for step in steps if "checkout" in step]
    assert checkouts and all(step["persistCredentials"] == "false" for step in checkouts)


def all_steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    """The steps of a job or of a deployment job's runOnce strategy."""
    return job.get("steps") or job["strategy"]["runOnce"]["deploy"]["steps"]


def test_every_install_is_the_committed_lock_and_the_guard_checks_every_changed_file(factory: Path) -> None:
    setup = pipeline(factory, "templates/setup.yml")
    inserted = [step for item in setup["steps"] for key, steps in item.items() if "${{ if" in key for step in steps]
    syncs = [step["script"] for step in inserted if "uv sync" in step.get("script", "")]
    assert syncs == ["uv sync --locked ${{ parameters.extras }}"]
    guard = pipeline(factory, "pr-guard.yml")
    assert "paths" not in guard["pr"] and guard["trigger"] == "none"
    (job,) = guard["jobs"]
    assert job["steps"][0]["parameters"]["fetchDepth"] == "2"
    runs = [step["script"] for step in job["steps"] if "script" in step]
    assert runs == [f"uv run --locked --only-group dev pre-commit run --show-diff-on-failure {GUARD_RANGE}"]


def test_factory_check_reads_the_retraining_cron_of_the_azure_pipeline(factory: Path) -> None:
    for model, schedule in SLOTS.items():
        path = factory / Slot(model).azure_pipeline("retrain")
        assert workflow_crons(path) == ([schedule] if schedule else [])
        assert schedule_problems(factory, load_model_folder(factory / Slot(model).folder)) == []
    config = factory / Slot("churn").config
    text = config.read_text()
    config.write_text(text.replace("schedule: null", 'schedule: "0 4 * * *"'))
    try:
        problems = schedule_problems(factory, load_model_folder(factory / Slot("churn").folder))
    finally:
        config.write_text(text)
    (problem,) = problems
    assert "'0 4 * * *'" in problem and Slot("churn").azure_pipeline("retrain") in problem
