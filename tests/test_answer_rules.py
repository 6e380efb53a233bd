"""Fast tier: what an update keeps (template, model_name), what a model's config decides, copies over a slot, and the
anchored and numeric validators; every refusal names the question and writes nothing."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import copier
import copier._main
import pytest
import yaml
from projects import copy_work_tree, edit, git_commit_all, render, run, snapshot_template, text_files

from mlops.factory.workflows import schedule_problems
from mlops.pipeline.config import load_model_folder

SLOT = "mlops/churn/.copier-answers.yml"
# The answers a slot's config holds once the slot exists.
CONFIG_FED = {"problem_type", "primary_metric", "greater_is_better", "business_threshold", "retraining_schedule"}


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file of a repo with its bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in text_files(root)}


def update(repo: Path, answers_file: str | None = None, defaults: bool = True, **data: Any) -> None:
    """`copier update` as users run it, with `--data` answers."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # optional external data is absent from copier's scratch copies
        copier.run_update(
            str(repo), answers_file=answers_file, data=data, defaults=defaults, overwrite=True, quiet=True
        )


def refused(action: Any, root: Path, *messages: str) -> None:
    """`action()` is refused by a validator whose message holds every text in `messages`; nothing is written."""
    before = snapshot(root) if root.exists() else None
    with pytest.raises(ValueError, match=r"question '\w+'") as caught:
        action()
    for message in messages:
        assert message in str(caught.value)
    assert (snapshot(root) if root.exists() else None) == before


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template as plain files, for copies refused before anything is rendered."""
    return copy_work_tree(tmp_path_factory.mktemp("rules") / "model-factory-templates")


@pytest.fixture(scope="module")
def prototype(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A committed prototype (model churn)."""
    repo = render(tmp_path_factory.mktemp("rules") / "experiment", "prototype", src=template)
    git_commit_all(repo, "Generated")
    return repo


@pytest.fixture(scope="module")
def factory(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A committed factory base with slot churn."""
    root = render(tmp_path_factory.mktemp("rules") / "factory", "factory", src=template)
    render(root, "model", src=template, model_name="churn")
    git_commit_all(root, "Factory with slot churn")
    return root


@pytest.fixture
def own_factory(factory: Path, tmp_path: Path) -> Path:
    """A copy of the factory this test may change."""
    return Path(shutil.copytree(factory, tmp_path / "factory", symlinks=True))


@pytest.fixture
def prompts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The questions Copier shows at the prompt, each answered with its default (Enter)."""
    shown: list[str] = []

    def answer_with_defaults(questions: list[dict[str, Any]], answers: dict[str, Any]) -> dict[str, Any]:
        if questions[0]["when"](answers):
            shown.append(questions[0]["name"])
        return answers

    monkeypatch.setattr(copier._main, "unsafe_prompt", answer_with_defaults)
    yield shown


def test_an_interactive_update_of_a_prototype_asks_neither_template_nor_model_name_nor_ci_platform(
    prototype: Path, prompts: list[str]
) -> None:
    before = snapshot(prototype)
    update(prototype, defaults=False)
    assert "project_name" in prompts  # the other answers are asked again, with the recorded ones as defaults
    assert not {"template", "model_name", "problem_type", "ci_platform"} & set(prompts)
    assert snapshot(prototype) == before


def test_an_interactive_slot_update_asks_neither_its_identity_nor_what_its_config_decides(
    factory: Path, prompts: list[str]
) -> None:
    before = snapshot(factory)
    update(factory, SLOT, defaults=False)
    assert "org" in prompts
    assert not ({"template", "model_name"} | CONFIG_FED) & set(prompts)
    assert snapshot(factory) == before


def test_an_interactive_copy_asks_template_and_model_name(plain: Path, tmp_path: Path, prompts: list[str]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        copier.run_copy(str(plain), str(tmp_path / "repo"), quiet=True)
    assert {"template", "model_name", "problem_type", "project_name", "ci_platform"} <= set(prompts)


IMMUTABLE = [
    ("prototype", None, {"template": "factory"}, ["template is prototype in .copier-answers.yml", "new folder"]),
    ("prototype", None, {"model_name": "fraud"}, ["model_name is churn in .copier-answers.yml", "src/churn/"]),
    ("factory", None, {"template": "model", "model_name": "churn"}, ["cannot turn the factory base", "plain copy"]),
    ("factory", SLOT, {"template": "factory"}, [f"template is model in {SLOT}", "a slot stays a slot"]),
    ("factory", SLOT, {"model_name": "fraud"}, [f"model_name is churn in {SLOT}", "--data model_name=fraud"]),
    ("prototype", None, {"ci_platform": "azure-devops"}, ["ci_platform is github", "--data template=prototype"]),
    ("factory", None, {"ci_platform": "azure-devops"}, ["ci_platform is github", "--data ci_platform=azure-devops"]),
    ("factory", SLOT, {"ci_platform": "azure-devops"}, ["ci_platform is github", "GitHub Actions workflows"]),
]


@pytest.mark.parametrize(
    ("repo", "answers_file", "data", "messages"),
    IMMUTABLE,
    ids=[f"{repo}{' slot' if file else ''}: {data}" for repo, file, data, _ in IMMUTABLE],
)
def test_an_update_cannot_change_template_model_name_or_ci_platform(
    request: pytest.FixtureRequest, repo: str, answers_file: str | None, data: dict[str, str], messages: list[str]
) -> None:
    root = request.getfixturevalue(repo)
    refused(lambda: update(root, answers_file, **data), root, *messages)


def test_an_update_that_repeats_the_recorded_answers_changes_nothing(factory: Path) -> None:
    before = snapshot(factory)
    update(factory, SLOT, template="model", model_name="churn", primary_metric="roc_auc", business_threshold="0.7")
    assert snapshot(factory) == before


def recopy(repo: Path, answers_file: str | None = None, **data: Any) -> None:
    """`copier recopy`: the same questions and rules as an update, without its scratch render of the old version."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        copier.run_recopy(str(repo), answers_file=answers_file, data=data, defaults=True, overwrite=True, quiet=True)


DISAGREEING = [
    ("factory", SLOT, {"primary_metric": "f1"}, "primary_metric must stay roc_auc", "key primary_metric"),
    ("factory", SLOT, {"greater_is_better": False}, "greater_is_better must stay true", "key greater_is_better"),
    ("factory", SLOT, {"business_threshold": "0.8"}, "business_threshold must stay 0.7", "key business_threshold"),
    ("factory", SLOT, {"problem_type": "regression"}, "problem_type must stay classification", "key problem_type"),
    ("prototype", None, {"problem_type": "regression"}, "problem_type must stay classification", "key problem_type"),
]


@pytest.mark.parametrize(
    ("repo", "answers_file", "data", "message", "key"), DISAGREEING, ids=[str(row[2]) for row in DISAGREEING]
)
def test_a_recopy_refuses_answers_that_disagree_with_the_model_config(
    request: pytest.FixtureRequest, repo: str, answers_file: str | None, data: dict[str, Any], message: str, key: str
) -> None:
    root = request.getfixturevalue(repo)
    config = "mlops/churn/config.yaml" if answers_file else "configs/config.yaml"
    refused(lambda: recopy(root, answers_file, **data), root, message, config, key, "change it there")


def test_an_update_refuses_a_retraining_schedule_that_disagrees_with_the_slot_config(factory: Path) -> None:
    refused(
        lambda: update(factory, SLOT, retraining_schedule="0 3 * * 1"),
        factory,
        "retraining_schedule must stay empty (off), as mlops/churn/config.yaml says (key retraining.schedule",
        "change it there",
    )


def test_a_slot_update_takes_the_answers_from_the_edited_config_and_the_workflow_follows(own_factory: Path) -> None:
    config = own_factory / "mlops/churn/config.yaml"
    edit(config, "primary_metric: roc_auc", "primary_metric: f1")
    edit(config, "business_threshold: 0.7", "business_threshold: 0.35")
    edit(config, "schedule: null", 'schedule: "0 4 * * 2"')
    git_commit_all(own_factory, "Judge churn by f1 and retrain it on Tuesdays")
    update(own_factory, SLOT)
    answers = yaml.safe_load((own_factory / SLOT).read_text())
    assert (answers["primary_metric"], answers["business_threshold"]) == ("f1", "0.35")
    assert answers["retraining_schedule"] == "0 4 * * 2"
    assert schedule_problems(own_factory, load_model_folder(own_factory / "mlops/churn")) == []
    assert "`f1`" in (own_factory / "docs/models/churn.md").read_text()
    assert config.read_text().count("0 4 * * 2") == 1  # the model-owned config is left as the user wrote it


def test_a_copy_over_a_slot_that_exists_is_refused_even_with_overwrite(factory: Path) -> None:
    def copy_over() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            source = yaml.safe_load((factory / SLOT).read_text())["_src_path"]
            data = {"template": "model", "model_name": "churn"}
            copier.run_copy(source, str(factory), data=data, defaults=True, overwrite=True, quiet=True)

    refused(copy_over, factory, "cannot turn the factory base into a model slot", "plain copy")


def test_a_copy_over_a_slot_that_exists_is_refused_when_its_name_is_not_given(factory: Path, template: Path) -> None:
    # model_name taken from its default (or typed at the prompt): Copier reads the slot's file only afterwards.
    refused(lambda: render(factory, "model", src=template), factory, "model slot churn already exists")


def test_a_plain_copy_over_a_slot_that_exists_is_refused(factory: Path, template: Path) -> None:
    refused(
        lambda: render(factory, "model", src=template, model_name="churn"), factory, "model slot churn already exists"
    )


TRAILING_NEWLINE = [
    ("prototype", "model_name", "churn"),
    ("prototype", "repo_slug", "churn-experiments"),
    ("factory", "org", "acme"),
    ("factory", "environments", "dev,prod"),
    ("factory", "azure_subscription_id", "00000000-0000-0000-0000-000000000000"),
    ("factory", "azure_resource_group", "rg-factory"),
    ("factory", "azure_workspace", "mlw-factory"),
    ("factory", "compute_cluster", "cpu-cluster"),
    ("model", "retraining_schedule", "0 3 * * 1"),
]


@pytest.mark.parametrize(
    ("application", "question", "valid"), TRAILING_NEWLINE, ids=[q for _, q, _ in TRAILING_NEWLINE]
)
def test_a_pattern_answer_with_a_trailing_newline_is_refused(
    plain: Path, tmp_path: Path, application: str, question: str, valid: str
) -> None:
    dest = tmp_path / "repo"
    refused(lambda: render(dest, application, vcs_ref=None, src=plain, **{question: valid + "\n"}), dest, question)


NOT_A_NUMBER = ["abc", "nan", "-inf", "1e999", "", "0.7\n", "[1"]


@pytest.mark.parametrize("text", NOT_A_NUMBER, ids=repr)
def test_a_business_threshold_that_is_no_finite_number_is_refused_by_name(
    plain: Path, tmp_path: Path, text: str
) -> None:
    dest = tmp_path / "slot"
    refused(
        lambda: render(dest, "model", vcs_ref=None, src=plain, business_threshold=text),
        dest,
        "business_threshold must be a finite number",
    )


def test_a_tiny_business_threshold_reads_back_as_a_number(plain: Path, tmp_path: Path) -> None:
    answers = {"problem_type": "regression", "business_threshold": "1e-05"}
    dest = render(tmp_path / "slot", "model", vcs_ref=None, src=plain, **answers)
    assert yaml.safe_load((dest / "mlops/taxi_fare/config.yaml").read_text())["business_threshold"] == 1e-05


YAML_WORDS = [
    ("factory", {"compute_cluster": "null"}, "compute_cluster null reads as null in YAML"),
    ("factory", {"compute_cluster": "True"}, "compute_cluster True reads as true in YAML"),
    ("factory", {"environments": "dev,yes,prod"}, "environment yes reads as true in YAML"),
    ("prototype", {"model_name": "yes"}, "model_name yes is reserved: a word YAML reads as a boolean or null"),
]


@pytest.mark.parametrize(("application", "answers", "message"), YAML_WORDS, ids=[str(a) for _, a, _ in YAML_WORDS])
def test_an_answer_yaml_would_read_as_a_boolean_or_null_is_refused(
    plain: Path, tmp_path: Path, application: str, answers: dict[str, str], message: str
) -> None:
    dest = tmp_path / "repo"
    refused(lambda: render(dest, application, vcs_ref=None, src=plain, **answers), dest, message)


def test_a_recorded_model_name_a_later_release_reserves_is_refused_by_name_and_never_replaced(tmp_path: Path) -> None:
    releases = snapshot_template(tmp_path / "template")
    edit(releases / "copier.yml", " scipy,", "")  # v0.1.0 did not reserve scipy yet
    git_commit_all(releases, "Release 0.1.0")
    run(["git", "tag", "v0.1.0"], releases)
    run(["git", "revert", "--no-edit", "HEAD"], releases)
    run(["git", "tag", "v0.2.0"], releases)
    root = render(tmp_path / "factory", "factory", vcs_ref="v0.1.0", src=releases)
    render(root, "model", vcs_ref="v0.1.0", src=releases, model_name="scipy")
    git_commit_all(root, "Slot scipy at v0.1.0")
    refused(
        lambda: update(root, "mlops/scipy/.copier-answers.yml"),
        root,
        'model_name "scipy", recorded in mlops/scipy/.copier-answers.yml, is refused by this release',
        "the import name of a package the generated repos install",
        "--data model_name=<name>",
    )
