"""The model's contract: each step of pipeline.yaml is a module of its package that accepts its flags, and its
schema module declares the data contract with the target that dataset.yaml names.

Checked from the source (no import), so it runs before any environment is installed: by promotion on the
files it is about to copy, and by the Azure ML builder on the repository.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

from mlops.factory.slot import SOURCE_DIR, Slot
from mlops.pipeline.spec import PipelineSpec, SpecError

Reader = Callable[[str], bytes | None]
ROLES = ("numeric", "categorical", "target")


def module_path(module: str) -> str:
    """The repository path of a step module: `churn.train` -> `src/churn/train.py`."""
    return f"{SOURCE_DIR}/{module.replace('.', '/')}.py"


def check_steps(spec: PipelineSpec, model: str, read: Reader) -> None:
    """Raise SpecError naming the step, module and flags when a step breaks the contract.

    `read(path)` returns a repository file's bytes, or None if it does not exist.
    """
    for step in spec.steps:
        path = module_path(step.module)
        if not step.module.startswith(f"{model}."):
            package = Slot(model).package
            raise SpecError(f"{spec.source}: step {step.name} runs {step.module}; steps must live in {package}/")
        source = read(path)
        if source is None:
            raise SpecError(f"{spec.source}: step {step.name} names {step.module}, but {path} does not exist")
        accepted = argparse_flags(source)
        wanted = [*step.inputs, *step.outputs, *step.args]
        missing = [flag for flag in wanted if flag not in accepted]
        if missing:
            raise SpecError(
                f"{path}: step {step.name} is given --{', --'.join(missing)} by pipeline.yaml but its argument "
                f"parser does not define them (it defines: {', '.join('--' + f for f in sorted(accepted)) or 'none'})"
            )


def argparse_flags(source: bytes) -> set[str]:
    """The long options a module's argparse parser adds (`add_argument("--name", ...)`)."""
    flags = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
            for arg in node.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.startswith("--"):
                    flags.add(arg.value[2:].replace("-", "_"))
    return flags


def schema_constants(source: bytes) -> dict[str, Any]:
    """The upper-case constants a schema module assigns literally, read without running it."""
    constants: dict[str, Any] = {}
    for node in ast.parse(source).body:
        target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None
        if isinstance(node, ast.AnnAssign):
            target = node.target
        value = getattr(node, "value", None)
        if isinstance(target, ast.Name) and target.id.isupper() and value is not None:
            try:
                constants[target.id] = ast.literal_eval(value)
            except (ValueError, TypeError, SyntaxError):
                constants[target.id] = None  # computed: known only by running the module
    return constants


def check_schema(model: str, target: str, manifest: str, read: Reader) -> None:
    """Raise SpecError naming the file, field and fix unless the schema module declares `target` and sound columns.

    `manifest` is the dataset manifest's path as the message names it. A schema module from before the data
    contract (roles only, `TARGET = "..."`) still passes when its TARGET is the manifest's.
    """
    path = Slot(model).schema
    source = read(path)
    if source is None:
        raise SpecError(
            f"{path} does not exist: the model package declares its data contract there (COLUMNS, with the target "
            f"{target!r} of {manifest}); add it as the template's example model has it"
        )
    try:
        constants = schema_constants(source)
    except SyntaxError as error:
        raise SpecError(f"{path}: line {error.lineno}: {error.msg}: the data contract must be valid Python") from None
    columns = constants.get("COLUMNS")
    if "COLUMNS" not in constants and isinstance(constants.get("TARGET"), str):
        declared = [constants["TARGET"]]
    elif not isinstance(columns, dict) or not columns:
        raise SpecError(f"{path}: COLUMNS must be a literal dict: each column's name -> its role, dtype and checks")
    else:
        for name, column in columns.items():
            sound = isinstance(column, dict) and column.get("role") in ROLES and isinstance(column.get("dtype"), str)
            if not sound:
                raise SpecError(
                    f"{path}: COLUMNS[{name!r}] must give a role ({', '.join(ROLES)}) and a dtype such as 'float64', "
                    f"not {column!r}"
                )
        declared = [name for name, column in columns.items() if column["role"] == "target"]
    if declared != [target]:
        found = ", ".join(map(repr, declared)) or "none"
        raise SpecError(
            f"{path}: the data contract's target is {found} but {manifest} names target {target!r}: declare exactly "
            f"one column with role 'target' in COLUMNS, the one {manifest} names (or fix target there)"
        )
