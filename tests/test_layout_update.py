"""Repos generated before the runtime package was split update to the new layout with nothing lost.

The last release before the split shipped one `mlops/common/` package (and `tests/common/` in factories); today's
templates ship `mlops/pipeline/` (prototypes and factories) and `mlops/factory/` (factories). `copier update` from that
release must move every repo over without a conflict, keep the user's edits, and leave no stale copy of the old package.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pre_commit_hooks import check_merge_conflict
from projects import edit, git_commit_all, render, run, snapshot_template, text_files
from render_matrix import export

from mlops.factory import fleet, templating

pytestmark = pytest.mark.hardening  # part of the "updates" family

LAST_RELEASE = "914c0cbd325ab33a0bd2ebc47e5969aa6f36cc43"  # the last commit with mlops/common/ (CHANGELOG: v0.1.0)
OLD, NEW = "v0.1.0", "v0.2.0"


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A template repo whose v0.1.0 is the last release's tree and whose v0.2.0 is today's work tree."""
    repo = tmp_path_factory.mktemp("layout") / "template"
    snapshot_template(repo)
    for path in repo.iterdir():
        if path.name != ".git":
            run(["git", "rm", "-rq", path.name], repo)
    export(LAST_RELEASE, repo)
    git_commit_all(repo, "The last release")
    run(["git", "tag", OLD], repo)
    run(["git", "rm", "-rq", "."], repo)
    snapshot_template(repo, tag=NEW)
    return repo


def no_conflicts(root: Path) -> None:
    """Nothing `copier update` left for a person to resolve: no inline markers, no .rej files."""
    # The generated repos' own conflict-marker hook, as their CI runs it.
    assert check_merge_conflict.main(["--assume-in-merge", *map(str, text_files(root))]) == 0
    assert not list(root.rglob("*.rej"))


def test_a_prototype_moves_to_mlops_pipeline_keeping_edits(tmp_path: Path, releases: Path, tally) -> None:
    repo = render(tmp_path / "experiment", "prototype", vcs_ref=OLD, src=releases)
    assert (repo / "mlops/common/runner.py").is_file()
    git_commit_all(repo, "Generated at the last release")
    edit(repo / "src/churn/train.py", '"""Train step:', '"""Train step (ours):')
    readme = repo / "README.md"  # a note under the title, where no release writes (edit() replaces every match)
    readme.write_text(readme.read_text().replace("\n", "\n\nOur team's notes.\n", 1))
    git_commit_all(repo, "Our edits")

    templating.copier_update(repo, None, NEW)

    no_conflicts(repo)
    assert not (repo / "mlops/common").exists() and not (repo / "mlops/factory").exists()
    assert (repo / "mlops/pipeline/runner.py").is_file()
    assert "mlops.pipeline.cli:main" in (repo / "pyproject.toml").read_text()
    assert '"""Train step (ours):' in (repo / "src/churn/train.py").read_text()
    assert "Our team's notes." in (repo / "README.md").read_text()
    tally.add("updates", scenarios=1, edits_lost=0)


def test_a_factory_and_its_slot_move_to_the_split_package_keeping_edits(tmp_path: Path, releases: Path, tally) -> None:
    root = render(tmp_path / "factory", "factory", vcs_ref=OLD, src=releases)
    git_commit_all(root, "Factory base at the last release")
    render(root, "model", vcs_ref=OLD, src=releases, model_name="churn")
    git_commit_all(root, "Slot churn at the last release")
    assert (root / "mlops/common/gate.py").is_file() and (root / "tests/common").is_dir()
    metrics = root / "src/churn/metrics.py"
    metrics.write_text("# Our metrics.\n" + metrics.read_text())
    edit(root / "mlops/churn/config.yaml", "business_threshold: 0.7", "business_threshold: 0.75")
    git_commit_all(root, "Our edits")

    rollout = fleet.update_fleet(root, vcs_ref=NEW, echo=lambda line: None)

    assert len(rollout.updated) == 2 and not rollout.conflicts and rollout.stopped_at is None
    no_conflicts(root)
    assert not (root / "mlops/common").exists() and not (root / "tests/common").exists()
    assert (root / "mlops/factory/gate.py").is_file() and (root / "mlops/pipeline/runner.py").is_file()
    assert (root / "tests/mlops/test_factory.py").is_file()
    workflow = (root / ".github/workflows/churn-pr.yml").read_text()
    assert '"mlops/factory/**"' in workflow and "mlops/common" not in workflow
    assert metrics.read_text().startswith("# Our metrics.\n")
    assert "business_threshold: 0.75" in (root / "mlops/churn/config.yaml").read_text()
    assert not run(["git", "status", "--porcelain"], root).strip()  # the rollout committed everything
    tally.add("updates", scenarios=1, edits_lost=0)
