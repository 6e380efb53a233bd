"""Fast tier: the template repo's own invariants (single sources, no --trust, pinned Copier facts)."""

from __future__ import annotations

import re
from pathlib import Path

import copier
import yaml
from projects import ROOT, render, run

COPIER_YML = yaml.safe_load((ROOT / "copier.yml").read_text(encoding="utf-8"))
ENVOPS = COPIER_YML["_envops"]
# The template files Jinja reads: every `.jinja` file of the applications and of common/ (included fragments).
JINJA_SOURCES = sorted(
    path
    for folder in ("common", "prototyping-template", "factory-template")
    for path in (ROOT / folder).rglob("*.jinja")
)
# The workflows and the fragments they include.
WORKFLOW_TEMPLATES = [p for p in JINJA_SOURCES if "workflows" in p.parts or p.parent == ROOT / "common" / "fragments"]


def test_template_variables_are_delimited_by_envops_so_github_expressions_stay_literal() -> None:
    # Only the variable delimiters change: blocks `{% %}` and comments `{# #}` keep Jinja's defaults.
    assert ENVOPS == {"variable_start_string": "{=", "variable_end_string": "=}"}


def test_shared_python_sources_contain_no_jinja_delimiters() -> None:
    # They are included verbatim into templates, where `{=`, `=}`, `{%` or `{#` would be read as Jinja.
    for path in (ROOT / "common").rglob("*.py"):
        assert not re.search(r"\{=|=\}|\{%|\{#", path.read_text(encoding="utf-8")), path


def test_workflow_templates_hold_no_raw_blocks() -> None:
    assert len(WORKFLOW_TEMPLATES) >= 10
    for path in WORKFLOW_TEMPLATES:
        assert not re.search(r"raw\s*[-+]?%\}", path.read_text(encoding="utf-8")), path


def test_templates_write_no_variable_the_old_way() -> None:
    # `{{ x }}` is not Jinja under these envops: it would reach the generated file as it is. Only `${{ }}` may stay.
    sources = {path: path.read_text(encoding="utf-8") for path in JINJA_SOURCES}
    sources[ROOT / "copier.yml"] = (ROOT / "copier.yml").read_text(encoding="utf-8")
    names = [path.relative_to(ROOT).as_posix() for path in ROOT.glob("*-template/**/*")]
    for where, text in [*sources.items(), *((name, name) for name in names)]:
        assert not re.search(r"(?<!\$)\{\{", text), where


def test_templates_need_no_trust() -> None:
    assert "_tasks" not in COPIER_YML and "_migrations" not in COPIER_YML
    assert "_jinja_extensions" not in COPIER_YML


def test_first_question_routes_to_a_sub_template() -> None:
    # Hidden questions (`when: false`) are computed, never asked: the first one a user sees is `template`.
    questions = [
        key for key, question in COPIER_YML.items() if not key.startswith("_") and question.get("when") is not False
    ]
    assert questions[0] == "template"
    assert set(COPIER_YML["template"]["choices"].values()) == {"prototype", "factory", "model"}
    assert COPIER_YML["_min_copier_version"] == "9.15.2"


def test_copier_tells_questions_nothing_of_the_operation(tmp_path: Path) -> None:
    # copier.yml tells a copy from an update by the answers Copier read (recorded_template), as Copier 9.19 gives
    # `_copier_operation` to `_exclude` and tasks only. If this fails, the rules can use it instead.
    (tmp_path / "template").mkdir()
    (tmp_path / "template/copier.yml").write_text(
        "operation:\n  type: str\n  default: \"{{ _copier_operation | default('unknown') }}\"\n", encoding="utf-8"
    )
    (tmp_path / "template/{{_copier_conf.answers_file}}.jinja").write_text("{{ _copier_answers | to_nice_yaml }}")
    copier.run_copy(str(tmp_path / "template"), str(tmp_path / "repo"), defaults=True, quiet=True)
    assert yaml.safe_load((tmp_path / "repo/.copier-answers.yml").read_text())["operation"] == "unknown"


def test_templated_subdirectory_answer_is_stored_for_updates(tmp_path: Path) -> None:
    repo = render(tmp_path / "proto", "prototype")
    answers = yaml.safe_load((repo / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert answers["template"] == "prototype"
    assert answers["_src_path"]
    # Derived values are computed, never stored.
    assert "dataset_file" not in answers and "target_column" not in answers


def test_action_pins_are_full_commit_shas() -> None:
    pins = re.findall(r'"([\w.-]+/[\w.-]+)@(\S+) # (v[\d.]+)"', (ROOT / "common/fragments/actions.jinja").read_text())
    assert len(pins) >= 3
    for action, ref, tag in pins:
        assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{action} {tag} must be pinned to a commit SHA"


def test_a_release_never_drops_a_model_owned_path() -> None:
    """Every model-owned path any committed docs/files.md listed is still rendered (lint keeps the page current)."""
    from docs_tables import model_owned_paths

    current = model_owned_paths((ROOT / "docs" / "files.md").read_text(encoding="utf-8"))
    assert (
        "template=model: src/<model>/metrics.py" in current and "template=prototype: notebooks/01_eda.ipynb" in current
    )
    for commit in run(["git", "log", "--format=%H", "--", "docs/files.md"], ROOT).split():
        earlier = model_owned_paths(run(["git", "show", f"{commit}:docs/files.md"], ROOT))
        assert earlier <= current, f"{commit} listed model-owned paths a release may not drop: {earlier - current}"


def test_a_factory_ships_the_runtime_tests_verbatim_under_their_own_names() -> None:
    # `nox -s tests` leaves these modules to the generated factories that run them, by this naming.
    shipped = sorted((ROOT / "factory-template/base/tests/mlops").glob("test_*.py.jinja"))
    assert shipped
    for path in shipped:
        source = f"common/runtime/tests/{path.name.removesuffix('.jinja')}"
        assert path.read_text(encoding="utf-8").strip() == f'{{% include "{source}" %}}', path
        assert (ROOT / source).is_file(), source
