"""`copier update` never loses work: scenarios across two template releases, for prototypes and factories."""

from __future__ import annotations

import shutil
from pathlib import Path

import pathspec
import pytest
import yaml
from pre_commit_hooks import check_merge_conflict
from projects import ROOT, edit, git_commit_all, render, run, snapshot_template, text_files, uv

from mlops.factory import fleet, update_prs
from mlops.factory.gitrepo import RepoError
from mlops.updates import cli as update_cli
from mlops.updates import release

pytestmark = pytest.mark.hardening  # the "updates" family: every scenario reports to the tally

V1, V2 = "v0.1.0", "v0.2.0"
UPGRADING = "# Upgrading\n\nRead CHANGELOG.md before running copier update.\n"


def release_v2(repo: Path) -> None:
    """A release that changes a workflow, adds a file, removes a file and changes shared and model code."""
    for workflow in (
        'prototyping-template/{% if ci_platform == "github" %}.github{% endif %}/workflows/ci.yml.jinja',
        'factory-template/base/{% if ci_platform == "github" %}.github{% endif %}/workflows/common.yml.jinja',
    ):
        edit(repo / workflow, "timeout-minutes: 20", "timeout-minutes: 25")
    for folder in ("prototyping-template/docs", "factory-template/base/docs"):
        (repo / folder / "UPGRADING.md").write_text(UPGRADING)
    (repo / "prototyping-template/models/README.md").unlink()
    (repo / "factory-template/base/docs/models/README.md").unlink()
    edit(repo / "common/runtime/mlops/pipeline/tables.py", '"""Plain-text tables', '"""Plain-text (Markdown) tables')
    edit(repo / "common/model/steps/train.py", '"""Train step:', '"""Train step (v2 template):')
    edit(repo / "factory-template/slot/docs/models/{= model_name =}.md.jinja", "## Run it", "## Run it locally")
    edit(
        repo / "factory-template/base/pyproject.toml.jinja",
        '    "ruff>=0.9,<1",\n',
        '    "ruff>=0.9,<1",\n    "tabulate>=0.9",\n',
    )


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A template repo with tags v0.1.0 and v0.2.0, and one unreleased commit on top."""
    repo = snapshot_template(tmp_path_factory.mktemp("releases") / "template", tag=V1)
    release_v2(repo)
    git_commit_all(repo, "Release 0.2.0")
    run(["git", "tag", V2], repo)
    edit(repo / "prototyping-template/CONTRIBUTING.md.jinja", "## Branches", "## Branches and tags")
    git_commit_all(repo, "Unreleased: clarify branching")
    return repo


def update(repo: Path, vcs_ref: str | None = V2, answers_file: str | None = None) -> None:
    """`copier update --defaults` with inline conflicts, as users and `factory update` run it."""
    release.copier_update(repo, answers_file, vcs_ref)


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file of a repo with its bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in text_files(root)}


@pytest.fixture(scope="module")
def generated_prototype(releases: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A prototype generated at v0.1.0 and committed, once per module: each test changes a copy of it."""
    repo = render(tmp_path_factory.mktemp("generated") / "experiment", "prototype", vcs_ref=V1, src=releases)
    git_commit_all(repo, "Generated at v0.1.0")
    return repo


@pytest.fixture(scope="module")
def generated_factory(releases: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A factory generated at v0.1.0 with two slots, each committed, once per module: each test changes a copy."""
    root = render(tmp_path_factory.mktemp("generated") / "factory", "factory", vcs_ref=V1, src=releases)
    git_commit_all(root, "Factory base at v0.1.0")
    for model, problem_type in (("churn", "classification"), ("fares", "regression")):
        render(root, "model", vcs_ref=V1, src=releases, model_name=model, problem_type=problem_type)
        git_commit_all(root, f"Slot {model} at v0.1.0")
    return root


@pytest.fixture
def prototype(tmp_path: Path, generated_prototype: Path) -> Path:
    """This test's own prototype at v0.1.0: a copy of the generated one, its git history included."""
    return Path(shutil.copytree(generated_prototype, tmp_path / "experiment", symlinks=True))


@pytest.fixture
def factory(tmp_path: Path, generated_factory: Path) -> Path:
    """This test's own factory at v0.1.0 with slots churn and fares: a copy of the generated one, history included."""
    return Path(shutil.copytree(generated_factory, tmp_path / "factory", symlinks=True))


def test_user_edits_in_model_owned_files_are_kept(prototype: Path, tally) -> None:
    edit(prototype / "src/churn/train.py", '"""Train step:', '"""Train step (our version):')
    edit(prototype / "configs/train.yaml", "n_estimators: 100", "n_estimators: 150")
    git_commit_all(prototype, "Our experiment")
    update(prototype)
    assert "(our version)" in (prototype / "src/churn/train.py").read_text()
    assert "v2 template" not in (prototype / "src/churn/train.py").read_text()
    assert "n_estimators: 150" in (prototype / "configs/train.yaml").read_text()
    tally.add("updates", scenarios=1, edits_lost=0)


def test_non_overlapping_edits_in_template_owned_files_are_merged(prototype: Path, tally) -> None:
    edit(prototype / ".github/workflows/ci.yml", "name: CI\n", "name: Experiment CI\n")
    git_commit_all(prototype, "Rename the workflow")
    update(prototype)
    workflow = (prototype / ".github/workflows/ci.yml").read_text()
    assert "name: Experiment CI" in workflow and "timeout-minutes: 25" in workflow
    assert "<<<<<<<" not in workflow
    assert "Plain-text (Markdown) tables" in (prototype / "mlops/pipeline/tables.py").read_text()
    tally.add("updates", scenarios=1, edits_lost=0)


def test_overlapping_edits_leave_markers_that_fail_ci_and_drop_nothing(prototype: Path, tally) -> None:
    edit(prototype / ".github/workflows/ci.yml", "timeout-minutes: 20", "timeout-minutes: 30")
    git_commit_all(prototype, "Longer CI timeout")
    update(prototype)
    workflow = prototype / ".github/workflows/ci.yml"
    text = workflow.read_text()
    assert "<<<<<<<" in text and "timeout-minutes: 30" in text and "timeout-minutes: 25" in text
    assert check_merge_conflict.main(["--assume-in-merge", str(workflow)]) == 1
    hook = (prototype / ".pre-commit-config.yaml").read_text()
    assert "check-merge-conflict --assume-in-merge" in hook  # the generated CI runs this hook on all files
    tally.add("updates", scenarios=1, edits_lost=0, conflicts=1, conflicts_failing_checks=1)


def test_a_file_the_user_deleted_stays_deleted(prototype: Path, tally) -> None:
    (prototype / "CONTRIBUTING.md").unlink()
    git_commit_all(prototype, "We keep contribution notes elsewhere")
    update(prototype)
    assert not (prototype / "CONTRIBUTING.md").exists()
    tally.add("updates", scenarios=1, edits_lost=0)


def test_a_file_the_template_removed_is_removed_and_a_new_one_added(prototype: Path, tally) -> None:
    update(prototype)
    assert not (prototype / "models/README.md").exists()
    assert (prototype / "docs/UPGRADING.md").read_text() == UPGRADING
    tally.add("updates", scenarios=1, edits_lost=0)


def test_an_update_of_a_dirty_repo_is_refused_and_changes_nothing(prototype: Path, tally) -> None:
    edit(prototype / "README.md", "## Start", "## Start here")
    before = snapshot(prototype)
    with pytest.raises(Exception, match="(?i)dirty"):
        update(prototype)
    assert snapshot(prototype) == before
    tally.add("updates", scenarios=1, edits_lost=0)


def template_owned(files: dict[str, bytes], model: str) -> dict[str, bytes]:
    """The files copier.yml does not list as model-owned (`_skip_if_exists`)."""
    patterns = yaml.safe_load((ROOT / "copier.yml").read_text())["_skip_if_exists"]
    model_owned = pathspec.PathSpec.from_lines("gitwildmatch", [p.replace("{= model_name =}", model) for p in patterns])
    return {path: content for path, content in files.items() if not model_owned.match_file(path)}


def test_an_updated_repo_equals_a_fresh_copy_for_template_owned_files(
    prototype: Path, releases: Path, tmp_path: Path, tally
) -> None:
    update(prototype)
    fresh = render(tmp_path / "fresh", "prototype", vcs_ref=V2, src=releases)
    updated, expected = template_owned(snapshot(prototype), "churn"), template_owned(snapshot(fresh), "churn")
    assert "mlops/pipeline/tables.py" in expected and ".github/workflows/ci.yml" in expected
    assert "src/churn/train.py" not in expected
    assert updated == expected
    tally.add("updates", scenarios=1, edits_lost=0)


def test_an_update_from_the_latest_release_to_head_works(tmp_path: Path, releases: Path, tally) -> None:
    repo = render(tmp_path / "experiment", "prototype", vcs_ref=V2, src=releases)
    git_commit_all(repo, "Generated at v0.2.0")
    update(repo, vcs_ref="HEAD")
    assert "## Branches and tags" in (repo / "CONTRIBUTING.md").read_text()
    assert yaml.safe_load((repo / ".copier-answers.yml").read_text())["_commit"].startswith("v0.2.0-1-g")
    tally.add("updates", scenarios=1, edits_lost=0)


def test_updating_one_slot_leaves_the_other_slot_and_the_base_byte_identical(factory: Path, tally) -> None:
    before = snapshot(factory)
    update(factory, answers_file="mlops/churn/.copier-answers.yml")
    after = snapshot(factory)
    changed = {path for path in set(before) | set(after) if before.get(path) != after.get(path)}
    assert changed == {"docs/models/churn.md", "mlops/churn/.copier-answers.yml"}
    assert "## Run it locally" in after["docs/models/churn.md"].decode()
    tally.add("updates", scenarios=1, edits_lost=0)


def test_fleet_rollout_commits_each_application_stops_at_a_conflict_and_resumes(factory: Path, tally) -> None:
    workflow = factory / ".github/workflows/common.yml"
    edit(workflow, "timeout-minutes: 20", "timeout-minutes: 30")
    git_commit_all(factory, "Longer factory CI timeout")
    lines: list[str] = []
    stopped = fleet.update_fleet(factory, echo=lines.append)
    assert stopped.stopped_at == "factory base" and stopped.conflicts == [".github/workflows/common.yml"]
    assert any("STOPPED on conflicts in: .github/workflows/common.yml" in line for line in lines)
    for slot in ("churn", "fares"):
        assert yaml.safe_load((factory / f"mlops/{slot}/.copier-answers.yml").read_text())["_commit"] == V1

    text = workflow.read_text()
    resolved = [line for line in text.splitlines() if not line.startswith(("<<<<<<<", "=======", ">>>>>>>"))]
    workflow.write_text("\n".join(line for line in resolved if "timeout-minutes: 25" not in line) + "\n")
    git_commit_all(factory, "Resolve the template update: keep our timeout")
    resumed = fleet.update_fleet(factory, echo=lines.append)
    assert resumed.stopped_at is None
    assert resumed.current == ["factory base"] and resumed.updated == ["slot churn", "slot fares"]
    log = run(["git", "log", "--format=%s", "-2"], factory).splitlines()
    assert log == [f"Update slot fares to template {V2}", f"Update slot churn to template {V2}"]
    assert "timeout-minutes: 30" in workflow.read_text()
    tally.add("updates", scenarios=1, edits_lost=0, conflicts=1, conflicts_failing_checks=1)


def test_fleet_rollout_can_be_limited_to_one_slot(factory: Path, tally) -> None:
    rollout = fleet.update_fleet(factory, only="fares", echo=lambda _: None)
    assert rollout.updated == ["slot fares"]
    assert yaml.safe_load((factory / "mlops/churn/.copier-answers.yml").read_text())["_commit"] == V1
    tally.add("updates", scenarios=1, edits_lost=0)


def test_fleet_rollout_brings_the_lock_along_when_a_release_changes_dependencies(factory: Path, tally) -> None:
    run([uv(), "lock", "--quiet"], factory)
    git_commit_all(factory, "Lock the factory")
    rollout = fleet.update_fleet(factory, vcs_ref=V2, echo=lambda _: None)
    assert rollout.stopped_at is None and "factory base" in rollout.updated
    assert 'name = "tabulate"' in (factory / "uv.lock").read_text()
    run([uv(), "lock", "--check"], factory)  # what `uv sync --locked` in CI requires
    assert run(["git", "status", "--porcelain"], factory) == ""
    tally.add("updates", scenarios=1, edits_lost=0)


def with_remote(repo: Path, tmp_path: Path) -> Path:
    """Give `repo` a bare `origin` holding its main branch, as a hosted repository would."""
    remote = tmp_path / "origin.git"
    run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], tmp_path)
    run(["git", "remote", "add", "origin", str(remote)], repo)
    run(["git", "push", "-q", "origin", "main"], repo)
    return remote


def remote_branches(remote: Path) -> dict[str, str]:
    """Branch name -> commit of a bare repository."""
    lines = run(["git", "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads"], remote)
    return dict(line.split() for line in lines.splitlines())


def test_update_prs_push_one_branch_per_application_and_never_the_default_branch(
    factory: Path, tmp_path: Path, tally
) -> None:
    remote = with_remote(factory, tmp_path)
    main_before, head_before = remote_branches(remote)["main"], run(["git", "rev-parse", "HEAD"], factory)
    plan = update_prs.propose(factory, vcs_ref=V2, echo=lambda _: None)
    branches = {p.application: p.branch for p in plan.proposals}
    assert branches == {
        "factory base": "template-update/factory-base-v0.2.0",
        "slot churn": "template-update/slot-churn-v0.2.0",
        "slot fares": "template-update/slot-fares-v0.2.0",
    }
    pushed = remote_branches(remote)
    assert pushed["main"] == main_before and set(pushed) == {"main", *branches.values()}
    assert run(["git", "rev-parse", "HEAD"], factory) == head_before
    assert run(["git", "status", "--porcelain"], factory) == ""
    assert run(["git", "branch", "--format=%(refname:short)"], factory).split() == ["main"]
    for proposal in plan.proposals:
        assert proposal.labels == ["template-update"]
        assert proposal.title == f"Update {proposal.application} to template {V2}"
        assert f"`{V1}` to `{V2}`" in proposal.body and "Conflicts" not in proposal.body
        answers = "mlops/churn/.copier-answers.yml" if proposal.application == "slot churn" else None
        if answers:  # each branch holds its own application's update and nothing of the others
            changed = run(["git", "diff", "--name-only", "main", proposal.branch], remote).split()
            assert answers in changed and all(
                p.startswith(("mlops/churn/", "docs/models/churn", "src/churn")) for p in changed
            )
    again = update_prs.propose(factory, vcs_ref=V2, echo=lambda _: None)
    assert again.proposals == [] and again.already_proposed == ["factory base", "slot churn", "slot fares"]
    assert remote_branches(remote) == pushed
    tally.add("updates", scenarios=1, edits_lost=0)


def test_a_conflicted_update_pr_keeps_its_markers_is_labelled_and_fails_the_conflict_check(
    factory: Path, tmp_path: Path, tally
) -> None:
    edit(factory / ".github/workflows/common.yml", "timeout-minutes: 20", "timeout-minutes: 30")
    git_commit_all(factory, "Longer factory CI timeout")
    remote = with_remote(factory, tmp_path)
    plan = update_prs.propose(factory, vcs_ref=V2, echo=lambda _: None)
    base = next(p for p in plan.proposals if p.application == "factory base")
    assert base.labels == ["template-update", "template-conflict"]
    assert "`.github/workflows/common.yml`" in base.body and "Conflicts to resolve" in base.body
    assert all(p.labels == ["template-update"] for p in plan.proposals if p is not base)
    conflicted = tmp_path / "common.yml"
    conflicted.write_text(run(["git", "show", f"{base.branch}:.github/workflows/common.yml"], remote))
    assert "timeout-minutes: 30" in conflicted.read_text() and "timeout-minutes: 25" in conflicted.read_text()
    assert check_merge_conflict.main(["--assume-in-merge", str(conflicted)]) == 1  # the PR's checks fail
    assert "timeout-minutes: 30" in (factory / ".github/workflows/common.yml").read_text()
    assert "<<<<<<<" not in (factory / ".github/workflows/common.yml").read_text()  # main untouched
    plan.write(tmp_path / "plan.json")
    written = yaml.safe_load((tmp_path / "plan.json").read_text())  # JSON is YAML
    assert [entry["branch"] for entry in written] == [p.branch for p in plan.proposals]
    tally.add("updates", scenarios=1, edits_lost=0, conflicts=1, conflicts_failing_checks=1)


def dropping_release(repo: Path) -> None:
    """A careless release: it stops rendering a model-owned slot file and a template-owned base page."""
    (repo / "factory-template/slot/src/{= model_name =}/metrics.py.jinja").unlink()
    (repo / "factory-template/base/docs/azure.md.jinja").unlink()
    (repo / "factory-template/base/docs/index.md.jinja").unlink()
    features = '"""Feature helpers of {= model_name =}."""\n'
    (repo / "factory-template/slot/src/{= model_name =}/features.py.jinja").write_text(features)


@pytest.fixture
def careless(tmp_path: Path) -> Path:
    """A factory at v0.1.0 with one slot, and a template whose v0.2.0 drops files."""
    template = snapshot_template(tmp_path / "template", tag=V1)
    root = render(tmp_path / "factory", "factory", vcs_ref=V1, src=template)
    git_commit_all(root, "Factory base at v0.1.0")
    render(root, "model", vcs_ref=V1, src=template, model_name="churn")
    git_commit_all(root, "Slot churn at v0.1.0")
    dropping_release(template)
    git_commit_all(template, "Release 0.2.0")
    run(["git", "tag", V2], template)
    return root


def test_fleet_rollout_keeps_files_a_release_drops_when_the_user_changed_them(careless: Path, tally) -> None:
    edit(careless / "docs/azure.md", "# ", "# (our notes) ")
    git_commit_all(careless, "Our Azure notes")
    lines: list[str] = []
    stopped = fleet.update_fleet(careless, echo=lines.append)
    assert stopped.stopped_at == "factory base" and stopped.conflicts == ["docs/azure.md"]
    assert "(our notes)" in (careless / "docs/azure.md").read_text()
    assert not (careless / "docs/index.md").exists()  # unchanged by the user: removed as the release says
    assert any("the release removes files you changed: docs/azure.md" in line for line in lines)
    assert run(["git", "log", "--format=%s", "-1"], careless).strip() == "Our Azure notes"  # nothing committed
    git_commit_all(careless, "Take v0.2.0 of the base, keep our Azure notes")
    edit(careless / "src/churn/metrics.py", '"""Classification metrics', '"""(tuned) Classification metrics')
    git_commit_all(careless, "Tune the metrics")
    stopped = fleet.update_fleet(careless, echo=lines.append)
    assert stopped.stopped_at == "slot churn" and stopped.conflicts == ["src/churn/metrics.py"]
    assert "(tuned)" in (careless / "src/churn/metrics.py").read_text()
    tally.add("updates", scenarios=2, edits_lost=0)


def test_fleet_rollout_removes_a_dropped_file_the_user_never_changed(careless: Path, tally) -> None:
    rollout = fleet.update_fleet(careless, echo=lambda _: None)
    assert rollout.stopped_at is None and rollout.updated == ["factory base", "slot churn"]
    assert not (careless / "docs/azure.md").exists() and not (careless / "src/churn/metrics.py").exists()
    assert (careless / "src/churn/features.py").read_text() == '"""Feature helpers of churn."""\n'  # a new file
    assert run(["git", "status", "--porcelain"], careless) == ""
    tally.add("updates", scenarios=2, edits_lost=0)


def test_model_owned_files_the_user_deleted_stay_deleted_through_a_fleet_rollout(factory: Path, tally) -> None:
    (factory / "tests/churn/test_evaluate.py").unlink()
    (factory / "src/churn/metrics.py").rename(factory / "src/churn/scores.py")
    (factory / "docs/azure.md").unlink()  # template-owned
    git_commit_all(factory, "Our own layout")
    lines: list[str] = []
    rollout = fleet.update_fleet(factory, echo=lines.append)
    assert rollout.stopped_at is None
    assert not (factory / "tests/churn/test_evaluate.py").exists() and not (factory / "src/churn/metrics.py").exists()
    assert (factory / "src/churn/scores.py").is_file() and not (factory / "docs/azure.md").exists()
    assert run(["git", "status", "--porcelain"], factory) == ""
    tally.add("updates", scenarios=3, edits_lost=0)


def test_fleet_rollout_of_a_dirty_factory_is_refused_and_changes_nothing(factory: Path, tally) -> None:
    edit(factory / "README.md", "## Start", "## Start here")
    before = snapshot(factory)
    with pytest.raises(RepoError, match="uncommitted changes: README.md"):
        fleet.update_fleet(factory, echo=lambda _: None)
    assert snapshot(factory) == before
    tally.add("updates", scenarios=1, edits_lost=0)


def test_fleet_rollout_stops_at_a_conflict_in_a_slot_and_resumes_after_it(factory: Path, tally) -> None:
    page = factory / "docs/models/fares.md"
    edit(page, "## Run it", "## Run it on your laptop")
    git_commit_all(factory, "Our wording")
    stopped = fleet.update_fleet(factory, echo=lambda _: None)
    assert stopped.stopped_at == "slot fares" and stopped.conflicts == ["docs/models/fares.md"]
    assert check_merge_conflict.main(["--assume-in-merge", str(page)]) == 1  # the generated checks fail on it
    assert stopped.updated == ["factory base", "slot churn"]
    text = page.read_text()
    page.write_text(
        "\n".join(
            x for x in text.splitlines() if not x.startswith(("<<<<<<<", "=======", ">>>>>>>", "## Run it locally"))
        )
        + "\n"
    )
    git_commit_all(factory, "Resolve: keep our wording")
    resumed = fleet.update_fleet(factory, echo=lambda _: None)
    assert resumed.stopped_at is None and "## Run it on your laptop" in page.read_text()
    tally.add("updates", scenarios=1, edits_lost=0, conflicts=1, conflicts_failing_checks=1)


def test_a_model_owned_file_deleted_in_a_prototype_is_never_silently_restored(prototype: Path, tally) -> None:
    for path in ("notebooks/01_eda.ipynb", "src/churn/metrics.py"):
        (prototype / path).unlink()
    git_commit_all(prototype, "We explore in scripts and score elsewhere")
    update(prototype)
    status = run(["git", "status", "--porcelain", "--", "notebooks", "src/churn"], prototype).splitlines()
    # As docs/updates.md says: absent, or back as a new untracked file that `git status` shows before any commit.
    assert all(line.startswith("?? ") for line in status), status
    assert not (prototype / "src/churn/metrics.py").exists()
    tally.add("updates", scenarios=1, edits_lost=0)


def test_promotion_stops_when_the_release_it_applies_removes_a_slot_file_the_user_changed(
    careless: Path, tally
) -> None:
    from mlops.factory.promotion import PromotionError
    from mlops.factory.promotion.apply import ensure_slot

    edit(careless / "src/churn/metrics.py", '"""Classification metrics', '"""(tuned) Classification metrics')
    git_commit_all(careless, "Tune the metrics")
    update(careless, vcs_ref=V2)  # the base alone: promotion brings the slot to the base's version
    git_commit_all(careless, "Base at v0.2.0")
    with pytest.raises(PromotionError, match=r"removes slot files you changed: src/churn/metrics\.py \(restored\)"):
        ensure_slot(careless, "churn", {})
    assert "(tuned)" in (careless / "src/churn/metrics.py").read_text()
    tally.add("updates", scenarios=1, edits_lost=0)


def propose_prototype(repo: Path, plan: Path, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    """The prototype's own `update-prs` command, run from its root as its pipeline runs it; returns the plan."""
    monkeypatch.chdir(repo)
    assert update_cli.main(["--vcs-ref", V2, "--plan", str(plan)]) == 0
    proposals: list[dict[str, object]] = yaml.safe_load(plan.read_text())  # JSON is YAML
    return proposals


def test_a_prototype_update_pr_is_one_branch_with_its_body_and_never_the_default_branch(
    prototype: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tally
) -> None:
    remote = with_remote(prototype, tmp_path)
    main_before, head_before = remote_branches(remote)["main"], run(["git", "rev-parse", "HEAD"], prototype)
    (proposal,) = propose_prototype(prototype, tmp_path / "plan.json", monkeypatch)
    assert proposal["branch"] == "template-update/prototype-v0.2.0" and proposal["labels"] == ["template-update"]
    assert proposal["title"] == f"Update prototype to template {V2}"
    body = str(proposal["body"])
    assert f"`{V1}` to `{V2}`" in body and "`docs/UPGRADING.md`" in body and "Conflicts" not in body
    assert "(`update-prs`)" in body  # the command the prototype's pipeline runs
    pushed = remote_branches(remote)
    assert pushed["main"] == main_before and set(pushed) == {"main", "template-update/prototype-v0.2.0"}
    changed = run(["git", "diff", "--name-only", "main", "template-update/prototype-v0.2.0"], remote).split()
    assert {".copier-answers.yml", "docs/UPGRADING.md", "models/README.md"} <= set(changed)
    assert run(["git", "rev-parse", "HEAD"], prototype) == head_before
    assert run(["git", "status", "--porcelain"], prototype) == ""
    assert run(["git", "branch", "--format=%(refname:short)"], prototype).split() == ["main"]
    assert propose_prototype(prototype, tmp_path / "again.json", monkeypatch) == []  # already proposed: no duplicate
    assert remote_branches(remote) == pushed
    tally.add("updates", scenarios=1, edits_lost=0)


def test_a_conflicted_prototype_update_pr_is_labelled_and_fails_the_conflict_check(
    prototype: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tally
) -> None:
    edit(prototype / ".github/workflows/ci.yml", "timeout-minutes: 20", "timeout-minutes: 30")
    git_commit_all(prototype, "Longer CI timeout")
    remote = with_remote(prototype, tmp_path)
    (proposal,) = propose_prototype(prototype, tmp_path / "plan.json", monkeypatch)
    assert proposal["labels"] == ["template-update", "template-conflict"]
    assert "Conflicts to resolve" in str(proposal["body"]) and "`.github/workflows/ci.yml`" in str(proposal["body"])
    conflicted = tmp_path / "ci.yml"
    conflicted.write_text(run(["git", "show", f"{proposal['branch']}:.github/workflows/ci.yml"], remote))
    assert "timeout-minutes: 30" in conflicted.read_text() and "timeout-minutes: 25" in conflicted.read_text()
    assert check_merge_conflict.main(["--assume-in-merge", str(conflicted)]) == 1  # the pull request's checks fail
    assert "<<<<<<<" not in (prototype / ".github/workflows/ci.yml").read_text()  # main untouched
    assert run(["git", "show", "main:.github/workflows/ci.yml"], remote).count("timeout-minutes: 30") == 1
    tally.add("updates", scenarios=1, edits_lost=0, conflicts=1, conflicts_failing_checks=1)
