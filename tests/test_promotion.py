"""Fast tier: promotion plans, copies, records provenance and refuses what it must, changing nothing then."""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path

import pytest
import yaml
from projects import edit, git_commit_all, render, run, text_files, tool

from mlops.factory import cli
from mlops.factory.promote import promote
from mlops.factory.promotion import PromotionError
from mlops.factory.promotion.plan import MAPPING


def tree(root: Path) -> dict[str, bytes]:
    """The work tree's bytes, git's view of it and HEAD: everything a promotion could change."""
    files = {p.relative_to(root).as_posix(): p.read_bytes() for p in text_files(root)}
    files["<status>"] = run(["git", "status", "--porcelain"], root).encode()
    files["<head>"] = run(["git", "rev-parse", "HEAD"], root).encode()
    return files


@pytest.fixture(scope="module")
def committed(tmp_path_factory: pytest.TempPathFactory, template: Path) -> tuple[Path, Path]:
    """A committed prototype (churn) and a committed factory without slots, from a tagged template, rendered once."""
    root = tmp_path_factory.mktemp("committed")
    prototype = render(root / "prototype", "prototype", src=template)
    git_commit_all(prototype, "Prototype")
    factory = render(root / "factory", "factory", src=template)
    git_commit_all(factory, "Factory")
    return prototype, factory


@pytest.fixture
def repos(tmp_path: Path, committed: tuple[Path, Path]) -> tuple[Path, Path]:
    """This test's own copy of both repositories, git history included: copying is much cheaper than rendering."""
    prototype, factory = (shutil.copytree(repo, tmp_path / repo.name, symlinks=True) for repo in committed)
    return prototype, factory


def refused(prototype: Path, factory: Path, message: str, **options: bool) -> None:
    """Promotion is refused with `message` and the factory is left exactly as it was."""
    before = tree(factory)
    with pytest.raises(PromotionError, match=re.escape(message)):
        promote(prototype, factory, "churn", run_slot_checks=False, echo=lambda _: None, **options)
    assert tree(factory) == before


def test_dry_run_prints_the_plan_and_writes_nothing(repos: tuple[Path, Path]) -> None:
    prototype, factory = repos
    before = tree(factory)
    lines: list[str] = []
    plan = promote(prototype, factory, "churn", dry_run=True, echo=lines.append)
    assert tree(factory) == before
    assert "src/churn/train.py" in plan.added and "mlops/churn/pipeline.yaml" in plan.added
    assert "Dry run: nothing is written." in lines[0] and "| add    | src/churn/train.py" in lines[0]


def test_promotion_leaves_one_staged_change_with_provenance(repos: tuple[Path, Path]) -> None:
    prototype, factory = repos
    promote(prototype, factory, "churn", run_slot_checks=False, echo=lambda _: None)
    status = run(["git", "status", "--porcelain"], factory).splitlines()
    assert status and all(line.startswith("A  ") for line in status), status  # staged, nothing else
    provenance = yaml.safe_load((factory / "mlops/churn/promotion.yaml").read_text())
    assert provenance["source_commit"] == run(["git", "rev-parse", "HEAD"], prototype).strip()
    assert provenance["source"] == "prototype"  # a name, never a local path
    assert str(prototype.parent) not in (factory / "mlops/churn/promotion.yaml").read_text()
    assert (
        re.fullmatch("sha256:[0-9a-f]{64}", provenance["dataset"]["digest"]) and provenance["factory_template_version"]
    )
    manifest = yaml.safe_load((factory / "mlops/churn/dataset.yaml").read_text())
    assert manifest["path"] == "data/churn/customer_churn.csv" and (factory / manifest["path"]).is_file()
    assert (factory / "src/churn/train.py").read_bytes() == (prototype / "src/churn/train.py").read_bytes()


def test_an_interrupted_promotion_is_undone_by_git_checkout_alone(repos: tuple[Path, Path]) -> None:
    prototype, factory = repos
    before = tree(factory)
    promote(prototype, factory, "churn", run_slot_checks=False, echo=lambda _: None)
    run(["git", "checkout", "-f", "HEAD"], factory)
    assert tree(factory) == before


def test_refuses_a_dirty_prototype_naming_the_file(repos: tuple[Path, Path]) -> None:
    prototype, factory = repos
    edit(prototype / "src/churn/train.py", "Train step", "Train step (edited)")
    refused(prototype, factory, "has uncommitted changes in what promotion reads: src/churn/train.py")


def test_refuses_an_untracked_file_of_the_model_package(repos: tuple[Path, Path]) -> None:
    prototype, factory = repos
    (prototype / "src/churn/features.py").write_text('"""Not committed yet."""\n')
    refused(prototype, factory, "has uncommitted changes in what promotion reads: src/churn/features.py")


def test_a_dry_run_is_not_refused_for_files_it_does_not_touch(repos: tuple[Path, Path]) -> None:
    prototype, factory = repos
    (factory / "uv.lock").write_text("# written by uv sync, not committed yet\n")
    (prototype / "notes.md").write_text("ideas\n")
    lines: list[str] = []
    plan = promote(prototype, factory, "churn", dry_run=True, echo=lines.append)
    assert "src/churn/train.py" in plan.added
    assert any("a real promotion would stop here" in line and "uv.lock" in line for line in lines)


def test_files_the_prototype_ignores_are_never_promoted(repos: tuple[Path, Path]) -> None:
    prototype, factory = repos
    with (prototype / ".gitignore").open("a") as ignore:
        ignore.write("src/churn/local_settings.py\n")
    git_commit_all(prototype, "Ignore local settings")
    (prototype / "src/churn/local_settings.py").write_text('PASSWORD = "hunter2"\n')
    plan = promote(prototype, factory, "churn", run_slot_checks=False, echo=lambda _: None)
    assert "src/churn/local_settings.py" not in plan.files
    assert not (factory / "src/churn/local_settings.py").exists()


def test_the_models_own_dependencies_become_its_dependency_group_in_the_lock(repos: tuple[Path, Path]) -> None:
    prototype, factory = repos
    edit(prototype / "pyproject.toml", '    "skops>=0.11,<1",\n', '    "skops>=0.11,<1",\n    "tabulate>=0.9",\n')
    git_commit_all(prototype, "Add a dependency")
    promote(prototype, factory, "churn", run_slot_checks=False, echo=lambda _: None)
    pyproject = tomllib.loads((factory / "pyproject.toml").read_text())
    assert pyproject["dependency-groups"]["churn"] == ["tabulate>=0.9"]
    assert 'name = "tabulate"' in (factory / "uv.lock").read_text()
    assert "tabulate" not in str(pyproject["project"]["dependencies"])  # other slots do not get it
    assert {"pyproject.toml", "uv.lock"} <= {
        line[3:] for line in run(["git", "status", "--porcelain"], factory).splitlines()
    }
    run(["git", "commit", "-q", "-m", "Promote churn"], factory)

    edit(prototype / "pyproject.toml", '    "tabulate>=0.9",\n', "")
    git_commit_all(prototype, "Drop the dependency")
    promote(prototype, factory, "churn", run_slot_checks=False, echo=lambda _: None)
    assert "tabulate" not in (factory / "pyproject.toml").read_text()
    assert 'name = "tabulate"' not in (factory / "uv.lock").read_text()


def test_provenance_names_the_remote_without_credentials(repos: tuple[Path, Path]) -> None:
    prototype, factory = repos
    run(["git", "remote", "add", "origin", "https://user:s3cret@git.example.com/team/churn.git"], prototype)
    promote(prototype, factory, "churn", run_slot_checks=False, echo=lambda _: None)
    provenance = yaml.safe_load((factory / "mlops/churn/promotion.yaml").read_text())
    assert provenance["source_remote"] == "https://git.example.com/team/churn.git"


def test_promoting_the_same_commit_again_is_a_no_op(repos: tuple[Path, Path]) -> None:
    prototype, factory = repos
    promote(prototype, factory, "churn", run_slot_checks=False, echo=lambda _: None)
    run(["git", "commit", "-q", "-m", "Promote churn"], factory)
    before = tree(factory)
    lines: list[str] = []
    promote(prototype, factory, "churn", echo=lines.append)  # would run the checks if anything changed
    assert tree(factory) == before and any(line.startswith("Nothing to promote") for line in lines)


def test_a_malformed_provenance_file_is_refused_naming_the_file_the_key_and_the_fix(
    repos: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    prototype, factory = repos
    promote(prototype, factory, "churn", run_slot_checks=False, echo=lambda _: None)
    record = factory / "mlops/churn/promotion.yaml"
    record.write_text(record.read_text().replace("files:\n", "files:\n  src/churn/notes.txt: 42\n", 1))
    git_commit_all(factory, "Promote churn, then edit its provenance by hand")
    refused(prototype, factory, "mlops/churn/promotion.yaml: files.src/churn/notes.txt: Input should be a valid string")
    monkeypatch.chdir(factory)
    assert cli.main(["promote", "--from", str(prototype), "--model", "churn", "--skip-checks"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "git checkout HEAD -- mlops/churn/promotion.yaml" in error
    assert "Traceback" not in error


def test_refuses_a_dirty_factory_naming_the_file(repos: tuple[Path, Path]) -> None:
    prototype, factory = repos
    (factory / "notes.txt").write_text("work in progress\n")
    run(["git", "add", "notes.txt"], factory)
    with pytest.raises(PromotionError, match="the factory .* has uncommitted changes: notes.txt"):
        promote(prototype, factory, "churn", run_slot_checks=False, echo=lambda _: None)


BROKEN_PROTOTYPES = [
    (
        "configs/pipeline.yaml",
        "module: churn.evaluate",
        "module: churn.score",
        "names churn.score, but src/churn/score.py does not exist",
    ),
    (
        "configs/pipeline.yaml",
        "      seed: 42\n",
        "      seed: 42\n      shuffle: true\n",
        "step prep is given --shuffle by pipeline.yaml but its argument parser does not define",
    ),
    ("configs/dataset.yaml", "target: churned\n", "", "the dataset manifest is incomplete"),
    (
        "configs/dataset.yaml",
        "target: churned\n",
        "target: support_calls\n",
        "src/churn/schema.py: the data contract's target is 'churned' but configs/dataset.yaml names target "
        "'support_calls'",
    ),
    (
        "src/churn/schema.py",
        '"churned": {"role": "target"',
        '"churned": {"role": "label"',
        "src/churn/schema.py: COLUMNS['churned'] must give a role (numeric, categorical, target) and a dtype",
    ),
]


@pytest.mark.parametrize(
    ("path", "old", "new", "message"),
    BROKEN_PROTOTYPES,
    ids=["step module missing", "flag not defined", "manifest incomplete", "target not the schema's", "bad role"],
)
def test_refuses_a_prototype_that_breaks_the_contract(
    repos: tuple[Path, Path], path: str, old: str, new: str, message: str
) -> None:
    prototype, factory = repos
    edit(prototype / path, old, new)
    git_commit_all(prototype, f"Break {path}")
    refused(prototype, factory, message)


def test_refuses_a_prototype_from_a_newer_template(repos: tuple[Path, Path]) -> None:
    prototype, factory = repos
    for repo, version in ((prototype, "v2.0.0"), (factory, "v1.4.0")):
        answers = repo / ".copier-answers.yml"
        answers.write_text(re.sub(r"(?m)^_commit: .*$", f"_commit: {version}", answers.read_text()))
        git_commit_all(repo, f"Pretend template {version}")
    refused(prototype, factory, "the prototype uses template v2.0.0, newer than the factory's v1.4.0")


def test_refuses_to_overwrite_slot_files_changed_since_the_last_promotion(repos: tuple[Path, Path]) -> None:
    prototype, factory = repos
    promote(prototype, factory, "churn", run_slot_checks=False, echo=lambda _: None)
    run(["git", "commit", "-q", "-m", "Promote churn"], factory)
    edit(factory / "src/churn/train.py", "Train step", "Train step (factory fix)")
    git_commit_all(factory, "A fix made in the factory")
    edit(prototype / "src/churn/train.py", "Train step", "Train step (prototype change)")
    git_commit_all(prototype, "Another experiment")
    refused(
        prototype,
        factory,
        "changed in the factory since the last promotion and would be overwritten: src/churn/train.py",
    )
    promote(prototype, factory, "churn", run_slot_checks=False, force=True, echo=lambda _: None)
    assert "prototype change" in (factory / "src/churn/train.py").read_text()


def test_re_promotion_of_unchanged_factory_files_needs_no_force(repos: tuple[Path, Path]) -> None:
    prototype, factory = repos
    promote(prototype, factory, "churn", run_slot_checks=False, echo=lambda _: None)
    run(["git", "commit", "-q", "-m", "Promote churn"], factory)
    edit(prototype / "configs/train.yaml", "n_estimators: 100", "n_estimators: 120")
    (prototype / "src/churn/estimators.py").unlink()
    edit(
        prototype / "src/churn/train.py",
        "from .estimators import ESTIMATORS, TRUSTED_TYPES",
        "from .models import ESTIMATORS, TRUSTED_TYPES",
    )
    (prototype / "src/churn/models.py").write_text((factory / "src/churn/estimators.py").read_text())
    git_commit_all(prototype, "Rename estimators.py and tune")
    plan = promote(prototype, factory, "churn", run_slot_checks=False, echo=lambda _: None)
    assert plan.removed == ["src/churn/estimators.py"] and "src/churn/models.py" in plan.added
    assert "mlops/churn/train.yaml" in plan.changed and not (factory / "src/churn/estimators.py").exists()


def test_the_mapping_table_is_the_one_in_the_docs() -> None:
    page = (Path(__file__).resolve().parent.parent / "docs" / "promotion.md").read_text()
    for source, target in MAPPING:
        assert f"| `{source}` | `{target}` |" in page


def test_provenance_passes_the_factorys_secrets_scan_which_still_catches_a_planted_secret(
    repos: tuple[Path, Path],
) -> None:
    prototype, factory = repos
    promote(prototype, factory, "churn", run_slot_checks=False, echo=lambda _: None)
    scan = [tool("detect-secrets-hook"), "--baseline", ".secrets.baseline", "mlops/churn/promotion.yaml"]
    assert run(scan, factory, check=False) == ""
    with (factory / "mlops/churn/promotion.yaml").open("a") as provenance:
        provenance.write("api_token: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n")
    assert "Hex High Entropy String" in run(scan, factory, check=False)


def test_factory_add_creates_a_slot_at_the_factorys_template_version(
    repos: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    _, factory = repos
    monkeypatch.chdir(factory)
    assert cli.main(["add", "fares", "--problem-type", "regression", "--data", "business_threshold=5.0"]) == 0
    answers = yaml.safe_load((factory / "mlops/fares/.copier-answers.yml").read_text())
    base = yaml.safe_load((factory / ".copier-answers.yml").read_text())
    assert answers["_commit"] == base["_commit"] and answers["problem_type"] == "regression"
    assert yaml.safe_load((factory / "mlops/fares/config.yaml").read_text())["business_threshold"] == 5.0
    assert "git add -A && git commit" in capsys.readouterr().out
    assert cli.main(["add", "fares"]) == 1
    assert "model slot fares already exists" in capsys.readouterr().err


def test_factory_status_of_a_missing_slot_says_how_to_add_it(
    repos: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    _, factory = repos
    monkeypatch.chdir(factory)
    assert cli.main(["status", "churn"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "INFO" not in captured.err
    assert "no model slot 'churn'" in captured.err and "uv run factory add churn" in captured.err
    assert not (factory / "mlflow.db").exists()


def test_a_slot_already_at_the_factorys_template_version_is_not_updated_again_and_one_behind_is(
    repos: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops.factory import fleet, templating
    from mlops.factory.promotion.apply import ensure_slot

    _, factory = repos
    monkeypatch.chdir(factory)
    assert cli.main(["add", "churn"]) == 0
    updates: list[tuple[str, str | None]] = []
    monkeypatch.setattr(templating, "copier_update", lambda _repo, answers, ref: updates.append((answers, ref)))
    assert ensure_slot(factory, "churn", {}) == "slot churn already at template v0.1.0"
    assert updates == []
    # One behind (an older release recorded in the slot's answers): brought to the base's version as before.
    edit(factory / "mlops/churn/.copier-answers.yml", "_commit: v0.1.0", "_commit: v0.0.9")
    protected: list[str | None] = []
    monkeypatch.setattr(fleet, "protect_work", lambda _f, _a, before, _echo: protected.append(before) or [])
    assert ensure_slot(factory, "churn", {}) == "slot churn brought to template v0.1.0 (copier update)"
    assert updates == [("mlops/churn/.copier-answers.yml", "v0.1.0")] and protected == ["v0.0.9"]
