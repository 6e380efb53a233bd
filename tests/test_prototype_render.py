"""Fast tier: the prototype renders to exactly the expected, parseable, lint-clean files for any accepted answer."""

from __future__ import annotations

import ast
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from projects import ROOT, model_files, render, text_files, tool

PROBLEM_TYPES = ("classification", "regression")
LICENSES = ("MIT", "Apache-2.0", "BSD-3-Clause", "Proprietary")
PYTHONS = ("3.11", "3.12", "3.13")
# Answers that break naive quoting: quotes, colons, hashes, backslashes, non-ASCII, braces.
TRICKY = (
    {},
    {
        "project_name": 'Ünïcode "Quoted": #1 {braces}',
        "repo_slug": "unicode-quoted-1",
        "author": 'O\'Brien & Co \\ "Data"',
        "description": "Predicts: # not a comment 'quoted' {= no jinja =} {{ nor }}",
    },
    {"model_name": "m" + "x" * 39, "project_name": "Long Names"},
    {"model_name": "fraud_v2", "author": "Équipe Données"},
)


def is_valid(answers: dict[str, Any]) -> bool:
    """Combinations the template accepts (all of these are: the filter documents the rule)."""
    return answers["problem_type"] in PROBLEM_TYPES and answers["license"] in LICENSES


def matrix() -> list:
    """Product over the risky axes (problem type x license), rotation over the independent ones."""
    combos = []
    for index, (problem_type, license_) in enumerate(itertools.product(PROBLEM_TYPES, LICENSES)):
        python = PYTHONS[index % len(PYTHONS)]
        answers = {"problem_type": problem_type, "license": license_, "python_version": python}
        answers.update(TRICKY[index % len(TRICKY)])
        if is_valid(answers):
            label = f"{problem_type}, {license_}, py{python}, answers-{index % len(TRICKY)}"
            combos.append(pytest.param(answers, id=label))
    return combos


def expected_files(model: str, problem_type: str, license_: str) -> set[str]:
    """The exact file set of a generated prototype."""
    dataset = "taxi_trips.csv" if problem_type == "regression" else "customer_churn.csv"
    files = {
        ".copier-answers.yml",
        ".github/dependabot.yml",
        ".github/workflows/ci.yml",
        ".github/workflows/template-updates.yml",
        ".gitignore",
        ".pre-commit-config.yaml",
        ".secrets.baseline",
        "CONTRIBUTING.md",
        "README.md",
        "pyproject.toml",
        "configs/README.md",
        "configs/config.yaml",
        "configs/dataset.yaml",
        "configs/pipeline.yaml",
        "configs/train.yaml",
        "data/README.md",
        "data/external/README.md",
        "data/interim/README.md",
        "data/processed/README.md",
        "data/raw/README.md",
        f"data/raw/{dataset}",
        "docs/model_card.md",
        "mlops/__init__.py",
        *(
            f"mlops/pipeline/{name}.py"
            for name in (
                *("__init__", "cli", "config", "figures", "forked_logging", "launcher", "lineage", "logged_model"),
                *("mlflow_logging", "runner", "search_space", "spec"),
                *("step_imports", "steps", "streaming", "subprocess_launcher", "sweep_logging", "tables", "tracking"),
                *("warm_launcher", "warm_process", "yaml_models"),
            )
        ),
        *(f"mlops/updates/{name}.py" for name in ("__init__", "cli", "git", "proposals", "release")),
        "models/README.md",
        "notebooks/01_eda.ipynb",
        "notebooks/README.md",
        "reports/README.md",
        "reports/figures/.gitkeep",
        "tools/secret_detectors.py",
        *model_files(model),
    }
    if license_ != "Proprietary":
        files.add("LICENSE")
    return files


@pytest.fixture(scope="module", params=matrix())
def project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """One rendered prototype per matrix entry."""
    answers = request.param
    return render(tmp_path_factory.mktemp("proto") / "repo", "prototype", **answers), answers


def test_renders_exactly_the_expected_files(project: tuple[Path, dict[str, Any]]) -> None:
    root, answers = project
    model = answers.get("model_name", "taxi_fare" if answers["problem_type"] == "regression" else "churn")
    rendered = {p.relative_to(root).as_posix() for p in text_files(root)}
    assert rendered == expected_files(model, answers["problem_type"], answers["license"])


def test_no_jinja_is_left_over(project: tuple[Path, dict[str, Any]]) -> None:
    root, _ = project
    for path in text_files(root):
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"\$\{\{.*?\}\}", "", text)  # GitHub Actions expressions are meant to stay
        text = text.replace("{= no jinja =} {{ nor }}", "")  # a user's own answer may contain braces
        # `{= =}` are the templates' variables (copier.yml `_envops`); a `{{` left would be one written the old way.
        assert not re.search(r"\{=|=\}|\{\{|\{%|\{#|%\}|#\}", text), f"Jinja left in {path.relative_to(root)}"


def test_every_structured_file_parses(project: tuple[Path, dict[str, Any]]) -> None:
    root, _ = project
    parsed = 0
    for path in text_files(root):
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".toml":
            tomllib.loads(text)
        elif path.suffix in {".yml", ".yaml"}:
            yaml.safe_load(text)
        elif path.suffix in {".json", ".ipynb"} or path.name == ".secrets.baseline":
            json.loads(text)
        elif path.suffix == ".py":
            ast.parse(text, filename=str(path))
        else:
            continue
        parsed += 1
    assert parsed >= 30


def test_answers_reach_the_files_intact(project: tuple[Path, dict[str, Any]]) -> None:
    root, answers = project
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    if "description" in answers:
        assert pyproject["description"] == answers["description"]
    if "author" in answers:
        assert pyproject["authors"] == [{"name": answers["author"]}]
    assert pyproject["requires-python"] == f">={answers['python_version']}"
    assert ("license" in pyproject) == (answers["license"] != "Proprietary")
    stored = yaml.safe_load((root / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert stored["template"] == "prototype" and stored["problem_type"] == answers["problem_type"]


def test_generated_code_is_lint_clean(project: tuple[Path, dict[str, Any]]) -> None:
    root, _ = project
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is part of the test dependencies"
    for command in ([ruff, "check", "--no-cache", "."], [ruff, "format", "--check", "--no-cache", "."]):
        done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr


def test_ci_installs_the_committed_lock(project: tuple[Path, dict[str, Any]]) -> None:
    root, _ = project
    workflow = yaml.safe_load((root / ".github/workflows/ci.yml").read_text(encoding="utf-8"))
    runs = [step.get("run", "") for job in workflow["jobs"].values() for step in job["steps"]]
    assert "uv sync --locked" in runs and not [run for run in runs if "uv sync" in run and "--locked" not in run]


def test_the_secrets_scan_finds_nothing_in_a_clean_prototype(project: tuple[Path, dict[str, Any]]) -> None:
    root, _ = project
    files = [p.relative_to(root).as_posix() for p in text_files(root) if p.name != ".secrets.baseline"]
    scan = [sys.executable, "tools/secret_detectors.py", "--baseline", ".secrets.baseline", *files]
    done = subprocess.run(scan, cwd=root, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_ci_runs_every_hook_on_every_file_of_every_push_and_pull_request(project: tuple[Path, dict[str, Any]]) -> None:
    root, _ = project
    workflow = yaml.safe_load((root / ".github/workflows/ci.yml").read_text(encoding="utf-8"))
    on = workflow.get("on", workflow.get(True))
    assert "paths" not in (on["pull_request"] or {}) and "paths" not in on["push"]
    runs = [step.get("run", "") for job in workflow["jobs"].values() for step in job["steps"]]
    assert "uv run pre-commit run --all-files --show-diff-on-failure" in runs


def test_shared_code_is_byte_identical_to_its_single_source(project: tuple[Path, dict[str, Any]]) -> None:
    root, answers = project
    # A prototype ships the pipeline and updates sub-packages whole, and nothing of the factory's.
    for package in ("pipeline", "updates"):
        source = ROOT / "common" / "runtime" / "mlops" / package
        shipped = sorted((root / "mlops" / package).glob("*.py"))
        assert [path.name for path in shipped] == sorted(path.name for path in source.glob("*.py"))
        for path in shipped:
            assert path.read_bytes() == (source / path.name).read_bytes()
    assert not (root / "mlops" / "factory").exists()
    model = answers.get("model_name", "taxi_fare" if answers["problem_type"] == "regression" else "churn")
    for source in (ROOT / "common" / "model" / answers["problem_type"]).glob("*.py"):
        assert (root / "src" / model / source.name).read_bytes() == source.read_bytes()


BAD_ANSWERS = [
    ({"model_name": "Churn"}, "lowercase Python identifier"),
    ({"model_name": "1model"}, "lowercase Python identifier"),
    ({"model_name": "my-model"}, "lowercase Python identifier"),
    ({"model_name": "m" * 41}, "at most 40 characters"),
    ({"model_name": "class"}, "reserved"),
    ({"model_name": "mlops"}, "reserved"),
    ({"model_name": "sklearn"}, "reserved"),
    ({"repo_slug": "Bad Slug"}, "repo_slug must be"),
    ({"repo_slug": "double--dash"}, "repo_slug must be"),
    ({"project_name": "  "}, "project_name must not be empty"),
    ({"description": "two\nlines"}, "description must be one line"),
    ({"author": "Ann\x85Lee"}, "author must be one line"),  # NEL: a line break YAML folds
    ({"author": ""}, "author must not be empty"),
    ({"description": "half an emoji \ud83d"}, "description must be valid Unicode text"),
    ({"python_version": "2.7"}, "Invalid choice"),
    ({"problem_type": "clustering"}, "Invalid choice"),
]


def test_the_model_cards_contract_table_is_the_rendered_schemas_columns(project: tuple[Path, dict[str, Any]]) -> None:
    root, _ = project
    (package,) = [path.parent for path in (root / "src").glob("*/schema.py")]
    tree = ast.parse((package / "schema.py").read_text())
    (columns,) = [
        node.value for node in ast.walk(tree) if isinstance(node, ast.AnnAssign) and node.target.id == "COLUMNS"
    ]
    declared = ast.literal_eval(columns)
    card = (root / "docs" / "model_card.md").read_text()
    contract = card[card.index("## Data contract") : card.index("## Pipeline")]
    rows = {line.split("|")[1].strip(" `"): line for line in contract.splitlines() if line.startswith("| `")}
    assert set(rows) == set(declared)
    for name, column in declared.items():
        assert f"| `{column['dtype']}` |" in rows[name] and rows[name].rstrip(" |").endswith(column["role"])


@pytest.mark.parametrize(("answers", "message"), BAD_ANSWERS, ids=[repr(a) for a, _ in BAD_ANSWERS])
def test_bad_answers_are_rejected_with_a_clear_message_and_nothing_written(
    tmp_path: Path, answers: dict[str, Any], message: str
) -> None:
    dest = tmp_path / "repo"
    with pytest.raises(ValueError, match=re.escape(message)):
        render(dest, "prototype", **answers)
    assert not dest.exists()


def test_dependabot_keeps_the_pinned_actions_current(project: tuple[Path, dict[str, Any]]) -> None:
    root, _ = project
    config = yaml.safe_load((root / ".github/dependabot.yml").read_text(encoding="utf-8"))
    assert [update["package-ecosystem"] for update in config["updates"]] == ["github-actions"]
    schema = [tool("check-jsonschema"), "--builtin-schema", "vendor.dependabot", ".github/dependabot.yml"]
    done = subprocess.run(schema, cwd=root, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_workflow_passes_the_github_schema_and_zizmor_at_both_personas(
    project: tuple[Path, dict[str, Any]],
) -> None:
    root, _ = project
    workflows = [".github/workflows/ci.yml", ".github/workflows/template-updates.yml"]
    schema = [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *workflows]
    done = subprocess.run(schema, cwd=root, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    for persona in ("regular", "pedantic"):
        zizmor = [tool("zizmor"), "--offline", "--no-progress", "--persona", persona, ".github/workflows"]
        done = subprocess.run(zizmor, cwd=root, capture_output=True, text=True, check=False)
        assert done.returncode == 0, persona + ": " + done.stdout + done.stderr


# What `pytest --collect-only` must not import: the model's libraries load in the fixtures and tests that use them.
HEAVY = ("pandas", "numpy", "sklearn", "scipy", "mlflow", "skops", "matplotlib")
COLLECT = (
    "import sys, pytest; code = pytest.main(['--collect-only', '-q', '-p', 'no:cacheprovider']); "
    "print('heavy:', sorted({name.partition('.')[0] for name in sys.modules} & set(sys.argv[1:]))); sys.exit(code)"
)


def test_collecting_the_tests_imports_no_heavy_library(project: tuple[Path, dict[str, Any]]) -> None:
    root, _ = project
    # The project's own interpreter would have src/ and the root on its path; this suite's plugins stay out.
    paths = os.pathsep.join([str(root / "src"), str(root)])
    env = {**os.environ, "PYTHONPATH": paths, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    done = subprocess.run(
        [sys.executable, "-c", COLLECT, *HEAVY], cwd=root, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "heavy: []" in done.stdout, done.stdout
