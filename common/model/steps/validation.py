"""Checking a table against the data contract of schema.py with pandera, and saying in a few lines what breaks it."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

# One column of the contract: its role, dtype, and optional min/max (inclusive), allowed values and nullable.
Column = dict[str, Any]
ROLES = ("numeric", "categorical", "target")
EXAMPLES = 3  # failing values quoted per check


class DataContractError(ValueError):
    """A table breaks the data contract: the message names each column, check and how many rows fail."""


def names(columns: dict[str, Column], role: str) -> list[str]:
    """The columns of one role, in the order the contract declares them."""
    return [name for name, column in columns.items() if column["role"] == role]


def features(frame: pd.DataFrame, columns: dict[str, Column]) -> pd.DataFrame:
    """The model's input: feature columns in contract order, numbers as floats (so missing values fit the signature)."""
    return frame[names(columns, "numeric")].astype("float64").join(frame[names(columns, "categorical")])


def dataframe_schema(columns: dict[str, Column], *, target: bool) -> Any:
    """The pandera schema of the contract's features, and of its target when `target`."""
    import pandera.pandas as pa  # heavy: imported only when a table is checked

    def pandera_column(column: Column) -> Any:
        low, high = column.get("min"), column.get("max")
        found = []
        if low is not None and high is not None:
            found.append(pa.Check.in_range(low, high))
        elif low is not None:
            found.append(pa.Check.ge(low))
        elif high is not None:
            found.append(pa.Check.le(high))
        if "allowed" in column:
            found.append(pa.Check.isin(column["allowed"]))
        return pa.Column(column["dtype"], found, nullable=column.get("nullable", False), coerce=True)

    kept = [name for role in ROLES if target or role != "target" for name in names(columns, role)]
    return pa.DataFrameSchema({name: pandera_column(columns[name]) for name in kept})


def validate(frame: pd.DataFrame, columns: dict[str, Column], *, target: bool, what: str, module: str) -> pd.DataFrame:
    """The contract's columns of `frame` (features, then the target when `target`), coerced to their dtypes.

    Raises DataContractError naming every failing column and check, from one lazy pass over the table;
    `module` is the schema module's name, for the fix the message names.
    """
    from pandera.errors import SchemaErrors

    schema = dataframe_schema(columns, target=target)
    try:
        checked = schema.validate(frame, lazy=True)
    except SchemaErrors as errors:
        lines = "\n".join(f"  - {line}" for line in problems(errors.failure_cases))
        raise DataContractError(
            f"{what} breaks the data contract of {module}:\n{lines}\n"
            f"Fix the data, or COLUMNS in src/{module.replace('.', '/')}.py if the data is right."
        ) from None
    return checked[list(schema.columns)]


def problems(cases: pd.DataFrame) -> list[str]:
    """One line per failing column and check, from pandera's failure cases: how many rows fail, with examples."""
    cases = cases.assign(
        column=cases["column"].where(cases["check"] != "column_in_dataframe", cases["failure_case"]).astype(str),
        check=cases["check"].astype(str).str.replace(r"^coerce_dtype\(", "dtype(", regex=True),
    )
    lines = []
    for column in dict.fromkeys(cases["column"]):
        found = cases[cases["column"] == column]
        wrong_type = found["check"].str.startswith("dtype(").any()
        for check in dict.fromkeys(found["check"]):
            rows = found[(found["check"] == check) & found["index"].notna()]
            if check.startswith("dtype("):  # empty cells fail the coercion too: the nullable line counts them
                rows = rows[rows["failure_case"].notna()]
            if check == "column_in_dataframe":
                lines.append(f"column {column!r} is missing")
            elif rows.empty and wrong_type:
                continue  # a value check that could not compare values of the wrong type: the dtype line says it
            elif check == "not_nullable":
                lines.append(f"column {column!r}: {count(rows, 'is', 'are')} empty (the column is not nullable)")
            else:
                values = rows["failure_case"].dropna()
                examples = ", ".join(repr(value) for value in list(dict.fromkeys(values))[:EXAMPLES])
                quoted = f", e.g. {examples}" if examples else ""
                lines.append(f"column {column!r}: {count(rows, 'fails', 'fail')} {check}{quoted}")
    return lines


def count(rows: pd.DataFrame, one: str, many: str) -> str:
    """How many distinct rows with the verb that agrees, for people: `1 row fails`, `3 rows fail`."""
    number = rows["index"].nunique()
    return f"1 row {one}" if number == 1 else f"{number} rows {many}"


def run_step(main: Callable[[], object], step: str) -> None:
    """Run a step's main; a broken contract ends it with its message and exit code 1, without a traceback."""
    try:
        main()
    except DataContractError as error:  # an expected failure: the message says what to fix
        sys.exit(f"{step}: {error}")
