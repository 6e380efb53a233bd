"""Fast tier: the Azure ML side of a factory, built and validated offline (no Azure, no network).

For each slot and option combination: the pipeline validates with the expected steps, wiring, compute,
environment and experiment name; broken pipeline.yaml files fail with a clear message; data asset and
endpoint entities have the expected names and versions; blue/green moves traffic only after smoke tests.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from projects import edit, git_commit_all, render, run, uv

from mlops.factory.aml import assets, deploy, rollout
from mlops.factory.aml.environment import job_requirements
from mlops.factory.aml.jobs import build
from mlops.factory.aml.pipeline import dump_job, pipeline_output, validate
from mlops.factory.aml.workspace import Workspace, endpoint_name, experiment_name, load_environments, ml_client
from mlops.pipeline.config import ConfigError, load_model_folder
from mlops.pipeline.spec import SpecError
from mlops.pipeline.tracking import content_digest

SLOTS = {"churn": "classification", "fares": "regression"}
ENDPOINT = re.compile(r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$")


@pytest.fixture(scope="module")
def factory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A factory with two environments, a custom cluster and one slot per problem type."""
    root = tmp_path_factory.mktemp("aml") / "factory"
    render(root, "factory", environments="dev,prod", compute_cluster="gpu-a100", azure_workspace="mlw-acme")
    for model, problem_type in SLOTS.items():
        render(root, "model", model_name=model, problem_type=problem_type)
    run([uv(), "lock", "--quiet"], root)  # the committed lock the job environments are built from
    git_commit_all(root, "Factory with slots")
    return root


@pytest.mark.parametrize("model", SLOTS)
@pytest.mark.parametrize("tier", assets.TIERS)
def test_the_pipeline_validates_offline_with_the_expected_shape(factory: Path, model: str, tier: assets.Tier) -> None:
    folder = load_model_folder(factory / "mlops" / model)
    environments = load_environments(factory)
    built, asset = build(folder, factory, environments, tier, "feature/Churn#12")

    assert validate(built) == []
    assert list(built.components) == ["prep", "train", "evaluate"]
    for name, component in built.components.items():
        assert component.command.startswith(f"python -m {model}.{name} ")
        assert component.code == str(factory / "src")
        assert component.environment == f"azureml:{model}-env:{built.environment.version}"
    assert "--test_size 0.25 --seed 42" in built.components["prep"].command
    jobs = built.job.jobs
    assert str(jobs["prep"].inputs["raw_data"]._data) == "${{parent.inputs.dataset}}"
    assert str(jobs["train"].inputs["training_data"]._data) == "${{parent.jobs.prep.outputs.prep_data}}"
    assert str(jobs["evaluate"].inputs["model_input"]._data) == "${{parent.jobs.train.outputs.model_output}}"
    assert set(built.job.outputs) == {
        pipeline_output(s, o) for s, outs in [("prep", ["prep_data"]), ("train", ["model_output"])] for o in outs
    } | {pipeline_output("evaluate", "predictions"), pipeline_output("evaluate", "score_report")}
    assert built.job.settings.default_compute == built.compute == "gpu-a100"
    assert built.job.experiment_name == f"{model}-feature-churn-12"
    name = "customer-churn" if model == "churn" else "taxi-trips"
    assert asset.reference == f"azureml:{name}{'-dev' if tier == 'dev' else ''}:1"
    assert built.job.inputs["dataset"].path == asset.reference
    conda = built.environment.conda_file
    assert conda["dependencies"][0] == "python=3.11"
    assert any(dep.startswith("mlflow") for dep in conda["dependencies"][2]["pip"])


def test_job_yaml_goes_to_a_temp_path_and_the_repo_stays_clean(factory: Path, tmp_path: Path) -> None:
    folder = load_model_folder(factory / "mlops/churn")
    environments = load_environments(factory)
    built, _ = build(folder, factory, environments, "dev", "main")
    job = yaml.safe_load(dump_job(built, tmp_path / "job.yaml").read_text())
    assert job["experiment_name"] == "churn-main" and set(job["jobs"]) == {"prep", "train", "evaluate"}
    assert subprocess.run(["git", "status", "--porcelain"], cwd=factory, capture_output=True, text=True).stdout == ""


def test_the_job_environment_pins_exactly_what_uv_lock_pins(factory: Path) -> None:
    built, _ = build(load_model_folder(factory / "mlops/churn"), factory, load_environments(factory), "dev", "main")
    pinned = built.environment.conda_file["dependencies"][2]["pip"]
    locked = {(p["name"], p["version"]) for p in tomllib.loads((factory / "uv.lock").read_text())["package"]}
    assert pinned and all("==" in requirement for requirement in pinned)
    for requirement in pinned:
        name, version = requirement.split(";")[0].strip().split("==")
        assert (name, version) in locked, requirement
    assert any(requirement.startswith("mlflow==") for requirement in pinned)
    assert not any(requirement.startswith(("pytest==", "azure-ai-ml==")) for requirement in pinned)  # dev, extra


def test_a_model_dependency_group_changes_only_that_slots_environment(factory: Path) -> None:
    environments = load_environments(factory)
    churn, fares = (load_model_folder(factory / "mlops" / model) for model in ("churn", "fares"))
    before = {
        name: build(folder, factory, environments, "dev", "main")[0].environment
        for name, folder in (("churn", churn), ("fares", fares))
    }
    run([uv(), "add", "--quiet", "--no-sync", "--group", "churn", "tabulate>=0.9"], factory)
    try:
        after = {
            name: build(folder, factory, environments, "dev", "main")[0].environment
            for name, folder in (("churn", churn), ("fares", fares))
        }
    finally:
        run(["git", "checkout", "--", "pyproject.toml", "uv.lock"], factory)
    assert after["churn"].version != before["churn"].version
    assert any(dep.startswith("tabulate==") for dep in after["churn"].conda_file["dependencies"][2]["pip"])
    assert after["fares"].version == before["fares"].version


def test_a_missing_lock_is_named_with_the_fix(factory: Path, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text((factory / "pyproject.toml").read_text())
    with pytest.raises(SpecError, match=r"uv\.lock is missing: run `uv lock` and commit uv\.lock"):
        job_requirements(load_model_folder(factory / "mlops/churn"), tmp_path)


def test_a_slot_can_choose_its_own_compute(factory: Path) -> None:
    config = factory / "mlops/fares/config.yaml"
    edit(config, "  compute: null", "  compute: cpu-big")
    try:
        folder = load_model_folder(factory / "mlops/fares")
        environments = load_environments(factory)
        built, _ = build(folder, factory, environments, "prod", "main")
    finally:
        edit(config, "  compute: cpu-big", "  compute: null")
    assert built.compute == built.job.settings.default_compute == "cpu-big"


BROKEN = [
    ("module: churn.prep", "module: churn.nope", "src/churn/nope.py does not exist"),
    ("test_data: ${prep.prep_data}", "test_data: ${prep.nope}", "unknown reference ${prep.nope}"),
    ("      seed: 42", "      seed: 42\n      folds: 5", "does not define them"),
    ("module: churn.prep", "module: fares.prep", "steps must live in src/churn/"),
    ("raw_data: ${dataset}", "raw_data: data/churn/missing.csv", "data/churn/missing.csv does not exist"),
]


@pytest.mark.parametrize(("old", "new", "message"), BROKEN, ids=[m for _, _, m in BROKEN])
def test_a_broken_pipeline_yaml_fails_with_a_clear_message(factory: Path, old: str, new: str, message: str) -> None:
    spec = factory / "mlops/churn/pipeline.yaml"
    edit(spec, old, new)
    try:
        with pytest.raises(SpecError, match=re.escape(message)):
            folder = load_model_folder(factory / "mlops/churn")
            environments = load_environments(factory)
            build(folder, factory, environments, "dev", "main")
    finally:
        subprocess.run(["git", "checkout", "--", str(spec)], cwd=factory, check=True)


def test_a_dataset_target_the_schema_does_not_declare_fails_naming_both_files(factory: Path) -> None:
    manifest = factory / "mlops/churn/dataset.yaml"
    edit(manifest, "target: churned", "target: tenure_months")
    try:
        message = "src/churn/schema.py: the data contract's target is 'churned' but mlops/churn/dataset.yaml names"
        with pytest.raises(SpecError, match=re.escape(message)):
            build(load_model_folder(factory / "mlops/churn"), factory, load_environments(factory), "dev", "main")
    finally:
        subprocess.run(["git", "checkout", "--", str(manifest)], cwd=factory, check=True)


@pytest.mark.parametrize(
    ("branch", "expected"),
    [
        ("main", "churn-main"),
        ("refs/heads/main", "churn-main"),
        ("feature/ABC#12", "churn-feature-abc-12"),
        ("Users/Jane.Doe/Fix  Bug!", "churn-users-jane-doe-fix-bug"),
        ("###", "churn-detached"),
    ],
)
def test_branch_names_become_valid_experiment_names(branch: str, expected: str) -> None:
    assert experiment_name("churn", branch) == expected


def test_long_branch_names_are_cut_but_stay_distinct() -> None:
    first = experiment_name("churn", "feature/" + "x" * 200 + "-one")
    second = experiment_name("churn", "feature/" + "x" * 200 + "-two")
    assert len(first) <= 64 and len(second) <= 64 and first != second
    assert re.fullmatch(r"[a-z0-9][a-z0-9_-]*", first)


def test_data_assets_carry_name_version_and_digest(factory: Path) -> None:
    folder = load_model_folder(factory / "mlops/churn")
    dev = assets.data_asset(folder, factory, "dev")
    assert (dev.entity.name, dev.entity.version, dev.entity.type) == ("customer-churn-dev", "1", "uri_file")
    assert dev.digest == content_digest(factory / "data/churn/customer_churn.csv") == dev.entity.tags["digest"]
    prod = assets.data_asset(folder, factory, "prod")
    assert (prod.entity.name, prod.reference) == ("customer-churn", "azureml:customer-churn:1")
    assert assets.describe(prod)["tags"]["tier"] == "prod"


def test_prod_data_can_live_in_a_datastore_and_mltable_needs_its_file(factory: Path) -> None:
    manifest = factory / "mlops/churn/dataset.yaml"
    original = manifest.read_text()
    try:
        manifest.write_text(original + "prod_path: azureml://datastores/lake/paths/churn/v1/\n")
        prod = assets.data_asset(load_model_folder(factory / "mlops/churn"), factory, "prod")
        assert (prod.entity.type, prod.digest) == ("uri_folder", assets.NOT_COMPUTED)
        assert prod.entity.path == "azureml://datastores/lake/paths/churn/v1/"
        folder = load_model_folder(factory / "mlops/churn")
        built, _ = build(folder, factory, load_environments(factory), "prod", "main")
        declared = built.job._to_dict()["inputs"]["dataset"]["type"]
        assert declared == built.components["prep"].inputs["raw_data"].type == "uri_folder"
        folder_data = original.replace("path: data/churn/customer_churn.csv", "path: data/churn")
        manifest.write_text(folder_data + "asset_type: mltable\n")
        with pytest.raises(ConfigError, match="needs a folder with an MLTable file"):
            assets.data_asset(load_model_folder(factory / "mlops/churn"), factory, "dev")
    finally:
        manifest.write_text(original)


@pytest.mark.parametrize("model", ["churn", "a_very_long_model_name_of_forty_chars_x"])
def test_endpoint_entities_have_valid_distinct_names(factory: Path, model: str) -> None:
    folder = load_model_folder(factory / "mlops/churn")
    environments = load_environments(factory)
    names = {endpoint_name(model, env, kind) for env in environments.environments for kind in ("", "batch")}
    assert len(names) == 4
    assert all(3 <= len(name) <= 32 and ENDPOINT.match(name) for name in names), names
    online = deploy.online_rollout(folder, environments.get("prod"), "7", None)
    assert online.deployment.name == "blue" and online.deployment.model == "azureml:churn:7"
    assert online.traffic == [{"blue": 0}, {"blue": 100}]
    endpoint, batch = deploy.batch_entities(folder, environments.get("prod"), "7", "gpu-a100")
    assert batch.compute == "gpu-a100" and batch.model == "azureml:churn:7"
    assert deploy.validate(online.endpoint, online.deployment, endpoint, batch) == []


def test_the_next_version_goes_to_the_idle_colour_with_a_canary(factory: Path) -> None:
    folder = load_model_folder(factory / "mlops/churn")
    online = deploy.online_rollout(folder, load_environments(factory).get("prod"), "8", {"blue": 100}, canary=10)
    assert online.deployment.name == "green" and online.live == "blue"
    assert online.traffic == [{"green": 0, "blue": 100}, {"green": 10, "blue": 90}, {"green": 100, "blue": 0}]


class FakeEndpoints:
    """Just enough of MLClient for roll_out: endpoints with traffic, deployments, invocations."""

    def __init__(self, answers: list[str]) -> None:
        self.traffic: dict[str, int] = {"blue": 100}
        self.history: list[dict[str, int]] = []
        self.answers = answers
        self.online_endpoints = self
        self.online_deployments = self

    def begin_create_or_update(self, entity: object) -> FakeEndpoints:
        if hasattr(entity, "traffic") and not hasattr(entity, "endpoint_name") and entity.traffic:
            self.traffic = dict(entity.traffic)
            self.history.append(self.traffic)
        return self

    def result(self) -> None:
        return None

    def get(self, name: str) -> object:
        return type("Endpoint", (), {"name": name, "traffic": dict(self.traffic)})()

    def invoke(self, **_: object) -> str:
        return self.answers.pop(0)


def test_traffic_moves_only_after_passing_smoke_tests_and_goes_back_on_failure(factory: Path, tmp_path: Path) -> None:
    folder = load_model_folder(factory / "mlops/churn")
    request = rollout.sample_request(folder, factory)
    assert len(request["input_data"]["data"]) == rollout.SMOKE_ROWS
    assert "churned" not in request["input_data"]["columns"]
    online = deploy.online_rollout(folder, load_environments(factory).get("prod"), "8", {"blue": 100}, canary=10)
    good = "[0, 1, 0, 0, 1]"

    client = FakeEndpoints(["not json"])
    with pytest.raises(rollout.DeployError, match="did not answer with JSON"):
        rollout.roll_out(client, online, request, tmp_path, echo=lambda _: None)
    assert client.traffic == {"blue": 100} and client.history == []

    client = FakeEndpoints([good, "[1, 2]"])
    with pytest.raises(rollout.DeployError, match="expected 5 predictions"):
        rollout.roll_out(client, online, request, tmp_path, echo=lambda _: None)
    assert client.history == [{"green": 10, "blue": 90}, {"green": 0, "blue": 100}]

    client = FakeEndpoints([good, good, good])
    rollout.roll_out(client, online, request, tmp_path, echo=lambda _: None)
    assert client.history == [{"green": 10, "blue": 90}, {"green": 100, "blue": 0}]


def test_talking_to_azure_needs_a_subscription_id(factory: Path) -> None:
    environment = load_environments(factory).get("dev")
    assert environment.subscription_id == ""
    with pytest.raises(ConfigError, match="has no subscription_id"):
        ml_client(environment)
    with pytest.raises(ConfigError, match="no environment 'qa'"):
        load_environments(factory).get("qa")
    with pytest.raises(ValueError, match="GUID"):
        Workspace(name="dev", subscription_id="not-a-guid", resource_group="rg", workspace="mlw")


def test_factory_aml_dry_runs_from_the_command_line(factory: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from mlops.factory.cli import main

    monkeypatch.chdir(factory)
    assert main(["aml", "submit", "churn", "--env", "dev", "--dry-run", "--branch", "release/2.0"]) == 0
    out = capsys.readouterr().out
    assert "churn-release-2-0" in out and "gpu-a100" in out and "Valid offline" in out
    job_yaml = Path(out.split("do not commit): ")[1].split()[0])
    assert job_yaml.is_file() and factory not in job_yaml.parents
    assert main(["aml", "data", "fares", "--env", "prod", "--tier", "prod", "--dry-run"]) == 0
    assert "name: taxi-trips" in capsys.readouterr().out
    assert main(["aml", "deploy", "fares", "--env", "prod", "--version", "3", "--canary", "20", "--dry-run"]) == 0
    assert "traffic steps: {'blue': 0} -> {'blue': 100}" in capsys.readouterr().out
    assert main(["aml", "deploy", "fares", "--env", "prod", "--version", "3", "--batch", "--dry-run"]) == 0
    assert "name: version-3" in capsys.readouterr().out
    assert main(["aml", "submit", "churn", "--env", "nowhere", "--dry-run"]) == 1
    assert "no environment 'nowhere'" in capsys.readouterr().err


def test_entities_dump_through_the_public_api_as_plain_data(factory: Path) -> None:
    folder = load_model_folder(factory / "mlops/churn")
    online = deploy.online_rollout(folder, load_environments(factory).get("prod"), "7", None)
    endpoint, batch = deploy.batch_entities(folder, load_environments(factory).get("prod"), "7", "gpu-a100")
    described = deploy.describe(online.endpoint, online.deployment, endpoint, batch)
    assert [entry["name"] for entry in described] == [online.endpoint.name, "blue", endpoint.name, "version-7"]
    assert described[1]["endpoint_name"] == online.endpoint.name and described[3]["compute"] == "azureml:gpu-a100"
    assert all(type(entry) is dict for entry in described)
    data = assets.describe(assets.data_asset(folder, factory, "dev"))
    assert (data["name"], data["version"], data["type"]) == ("customer-churn-dev", "1", "uri_file")


# The two private azure-ai-ml calls the dry run keeps (no public offline equivalent): pinned here, so an
# azure-ai-ml release that moves or changes them fails this test rather than a user's release.
@pytest.mark.parametrize(
    ("name", "is_deployment", "accepted"),
    [
        ("churn-prod", False, True),
        ("blue", True, True),
        ("ab", False, False),  # endpoint names are 3 to 32 characters
        ("x" * 33, False, False),
        ("1churn", False, False),  # start with a letter
        ("churn_prod", False, False),  # letters, digits and dashes only
    ],
)
def test_the_private_name_check_still_accepts_and_refuses_as_azure_ml_does(
    name: str, is_deployment: bool, accepted: bool
) -> None:
    from mlops.factory.aml.entities import name_problem

    problem = name_problem(name, is_deployment=is_deployment)
    assert (problem is None) is accepted, problem


def test_the_private_schema_check_still_reports_errors_by_path(factory: Path) -> None:
    from azure.ai.ml import Input, command
    from azure.ai.ml.dsl import pipeline

    from mlops.factory.aml.entities import schema_problems

    built, _ = build(load_model_folder(factory / "mlops/churn"), factory, load_environments(factory), "dev", "main")
    assert schema_problems(built.job) == {} and all(schema_problems(c) == {} for c in built.components.values())
    data = {"x": Input(type="uri_file")}
    unbound = command(name="train", command="python t.py ${{inputs.y}}", environment="azureml:e:1", inputs=data)
    assert schema_problems(unbound.component) == {"command": "Invalid data binding expression: inputs.y"}
    train = command(name="train", command="python t.py ${{inputs.x}}", environment="azureml:e:1", inputs=data)

    @pipeline(compute="cpu")
    def missing_input() -> None:
        train.component()

    assert list(schema_problems(missing_input())) == ["jobs.train.inputs.x"]


SWEEP_SEARCH = {
    "params": {
        "params.max_depth": {"type": "int", "low": 2, "high": 6},
        "params.min_samples_leaf": {"type": "int", "low": 1, "high": 64, "log": True},
        "params.max_samples": {"type": "float", "low": 0.5, "high": 1.0, "step": 0.25},
        "params.ccp_alpha": {"type": "float", "low": 0.0001, "high": 0.1, "log": True},
        "params.criterion": {"type": "categorical", "choices": ["gini", "entropy"]},
    },
    "trials": 12,
    "seed": 5,
}


def test_a_search_block_makes_the_train_step_a_seeded_sweep_that_validates_offline(factory: Path) -> None:
    import dataclasses

    from azure.ai.ml.entities import Sweep

    from mlops.pipeline.search_space import SearchSpace

    folder = load_model_folder(factory / "mlops/churn")  # the file stays as it is: other tests read it
    search = SearchSpace.model_validate(SWEEP_SEARCH).resolved("roc_auc", greater_is_better=True)
    folder = dataclasses.replace(folder, params={**folder.params, "search": SWEEP_SEARCH}, search=search)
    built, _ = build(folder, factory, load_environments(factory), "dev", "main")

    assert validate(built) == []
    sweep = built.job.jobs["train"]
    assert isinstance(sweep, Sweep) and not isinstance(built.job.jobs["prep"], Sweep)
    assert (sweep.objective.primary_metric, sweep.objective.goal) == ("validation_roc_auc", "maximize")
    assert sweep.sampling_algorithm.type == "random" and sweep.sampling_algorithm.seed == 5
    assert sweep.limits.max_total_trials == 12
    space = sweep.search_space
    assert space["search__params__max_depth"].values == [2, 3, 4, 5, 6]
    assert space["search__params__max_samples"].values == [0.5, 0.75, 1.0]
    assert space["search__params__criterion"].values == ["gini", "entropy"]
    assert space["search__params__ccp_alpha"].type == "loguniform"
    assert space["search__params__min_samples_leaf"].type == "qloguniform"
    command = built.components["train"].command
    assert "--set params.max_depth=${{inputs.search__params__max_depth}}" in command
    assert "--set params.criterion=${{inputs.search__params__criterion}}" in command
    # The best trial's model feeds evaluate as a plain train step's would.
    assert str(built.job.jobs["evaluate"].inputs["model_input"]._data) == "${{parent.jobs.train.outputs.model_output}}"


def test_a_search_on_a_train_step_without_trials_fails_naming_the_file_and_fix(factory: Path, tmp_path: Path) -> None:
    import dataclasses
    import shutil

    from mlops.factory.aml.pipeline import check_pipeline
    from mlops.pipeline.search_space import SearchSpace

    folder = load_model_folder(factory / "mlops/churn")
    search = SearchSpace.model_validate(SWEEP_SEARCH).resolved("roc_auc", greater_is_better=True)
    folder = dataclasses.replace(folder, search=search)
    repo = tmp_path / "repo"  # the slot as a model from before searches has it: a train.py without --set
    for path in ("src", "mlops", "data"):
        shutil.copytree(factory / path, repo / path)
    train = repo / "src/churn/train.py"
    train.write_text(train.read_text().replace('parser.add_argument("--set"', 'parser.add_argument("--other"'))
    with pytest.raises(SpecError, match=r"src/churn/train.py: train.yaml declares a search, but step train takes no"):
        check_pipeline(folder, repo)
