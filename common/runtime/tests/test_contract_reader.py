"""The data contract as the factory reads it from a schema module's source: checked against dataset.yaml, paged."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.factory.contract import Reader, check_schema
from mlops.factory.modelpage_sections import contract_section
from mlops.pipeline.spec import SpecError

SCHEMA = '''"""Toy columns: the data contract."""

COLUMNS = {
    "x": {"role": "numeric", "dtype": "float64", "min": 0.0, "max": 10.0},
    "colour": {"role": "categorical", "dtype": "str", "allowed": ["red", "blue"], "nullable": True},
    "y": {"role": "target", "dtype": "int64", "allowed": [0, 1]},
}
TARGET = [name for name, column in COLUMNS.items() if column["role"] == "target"][0]
'''


def reader(files: dict[str, str]) -> Reader:
    """Files by repository path, as the contract check reads them."""
    return lambda path: files[path].encode() if path in files else None


def test_a_schema_declaring_the_manifests_target_passes() -> None:
    check_schema("toy", "y", "configs/dataset.yaml", reader({"src/toy/schema.py": SCHEMA}))


def test_a_schema_module_from_before_the_contract_passes_on_its_target() -> None:
    check_schema("toy", "y", "configs/dataset.yaml", reader({"src/toy/schema.py": 'TARGET = "y"\nNUMERIC = ["x"]\n'}))


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "src/toy/schema.py does not exist: the model package declares its data contract there"),
        (
            {"src/toy/schema.py": SCHEMA.replace('"y": {"role": "target"', '"y": {"role": "numeric"')},
            "src/toy/schema.py: the data contract's target is none but configs/dataset.yaml names target 'y'",
        ),
        (
            {"src/toy/schema.py": SCHEMA.replace('"x": {"role": "numeric"', '"x": {"role": "target"')},
            "src/toy/schema.py: the data contract's target is 'x', 'y' but configs/dataset.yaml names target 'y'",
        ),
        (
            {"src/toy/schema.py": SCHEMA.replace('"role": "categorical"', '"role": "category"')},
            "src/toy/schema.py: COLUMNS['colour'] must give a role (numeric, categorical, target) and a dtype",
        ),
        ({"src/toy/schema.py": "COLUMNS = dict(x=1)\n"}, "src/toy/schema.py: COLUMNS must be a literal dict"),
        ({"src/toy/schema.py": "COLUMNS = {\n"}, "src/toy/schema.py: line 1: '{' was never closed"),
    ],
    ids=["missing", "no target", "two targets", "unknown role", "computed columns", "not Python"],
)
def test_a_broken_schema_is_refused_naming_the_file_field_and_fix(files: dict[str, str], message: str) -> None:
    with pytest.raises(SpecError) as error:
        check_schema("toy", "y", "configs/dataset.yaml", reader(files))
    assert str(error.value).startswith(message)


def test_the_target_must_be_the_one_the_manifest_names() -> None:
    with pytest.raises(SpecError, match="names target 'churned'.*or fix target there"):
        check_schema("toy", "churned", "mlops/toy/dataset.yaml", reader({"src/toy/schema.py": SCHEMA}))


def test_the_model_page_shows_one_row_per_column_with_dtype_nullable_checks_and_role(tmp_path: Path) -> None:
    schema = tmp_path / "schema.py"
    schema.write_text(SCHEMA)
    section = contract_section(schema, "src/toy/schema.py")
    assert section.startswith("## Data contract\n\n`src/toy/schema.py`: Toy columns: the data contract.")
    assert "| column | dtype | nullable | checks | role |" in section
    assert "| `x` | `float64` | no | ≥ 0.0, ≤ 10.0 | numeric |" in section
    assert "| `colour` | `str` | yes | one of `red`, `blue` | categorical |" in section
    assert "| `y` | `int64` | no | one of `0`, `1` | target |" in section
