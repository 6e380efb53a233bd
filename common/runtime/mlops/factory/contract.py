"""The step contract: each step of pipeline.yaml is a module of the model's package that accepts its flags.

Checked from the source (no import), so it runs before any environment is installed: by promotion on the
files it is about to copy, and by the Azure ML builder on the repository.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from mlops.factory.slot import SOURCE_DIR, Slot
from mlops.pipeline.spec import PipelineSpec, SpecError

Reader = Callable[[str], bytes | None]


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
