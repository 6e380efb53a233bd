"""The declarative pipeline spec (pipeline.yaml): steps, their wiring and the run's results."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

NAME = r"[a-z_][a-z0-9_]*"
REFERENCE = re.compile(r"^\$\{(" + NAME + r")(?:\.(" + NAME + r"))?\}$")
MODULE = re.compile(rf"^{NAME}(\.{NAME})+$")
BINDINGS = ("dataset", "params")
RESULTS = ("model", "score_report", "predictions")


class SpecError(ValueError):
    """The pipeline spec is malformed; the message names the file, the key and the fix."""


@dataclass(frozen=True)
class Reference:
    """`${dataset}`, `${params}` or `${step.output}`: where an input's value comes from."""

    source: str
    output: str | None = None

    def __str__(self) -> str:
        """The reference as written in pipeline.yaml."""
        return "${" + self.source + (f".{self.output}" if self.output else "") + "}"


EXAMPLE_OUTPUT = "${train.model_output}"
EXAMPLES = (*(Reference(binding) for binding in BINDINGS), Reference("step", "output"))


@dataclass(frozen=True)
class Step:
    """One step: a module run as `python -m <module> --<input> ... --<output> ... --<arg> ...`."""

    name: str
    module: str
    inputs: dict[str, Reference | str]
    outputs: tuple[str, ...]
    args: dict[str, str | int | float | bool]


@dataclass(frozen=True)
class PipelineSpec:
    """The ordered steps of a model's pipeline and which outputs are the run's results."""

    source: Path
    steps: tuple[Step, ...]
    results: dict[str, Reference]

    @classmethod
    def load(cls, path: Path) -> PipelineSpec:
        """Read and validate a pipeline.yaml."""
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError as error:
            raise SpecError(f"{path}: file not found") from error
        except yaml.YAMLError as error:
            raise SpecError(f"{path}: not valid YAML: {error}") from error
        return cls.parse(data, path)

    @classmethod
    def parse(cls, data: Any, source: Path) -> PipelineSpec:
        """Validate spec data; every error names `source` and the offending key."""
        if not isinstance(data, dict) or not isinstance(data.get("steps"), list) or not data["steps"]:
            raise SpecError(f"{source}: expected a mapping with a non-empty `steps` list")
        unknown = set(data) - {"steps", "results"}
        if unknown:
            raise SpecError(f"{source}: unknown top-level keys {sorted(unknown)}; allowed: steps, results")
        steps: list[Step] = []
        produced: dict[str, tuple[str, ...]] = {}
        for index, raw in enumerate(data["steps"]):
            step = _parse_step(raw, f"{source}: steps[{index}]", produced)
            produced[step.name] = step.outputs
            steps.append(step)
        results = data.get("results") or {}
        if not isinstance(results, dict) or set(results) != set(RESULTS):
            raise SpecError(f"{source}: results: expected exactly the keys {list(RESULTS)}")
        parsed_results = {}
        for key, value in results.items():
            reference = _reference(value, f"{source}: results.{key}", produced)
            if not isinstance(reference, Reference) or reference.output is None:
                raise SpecError(f"{source}: results.{key}: expected a step output like " + EXAMPLE_OUTPUT)
            parsed_results[key] = reference
        return cls(source=source, steps=tuple(steps), results=parsed_results)

    def step(self, name: str) -> Step:
        """The step called `name`."""
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)


def _parse_step(raw: Any, where: str, produced: dict[str, tuple[str, ...]]) -> Step:
    """Validate one step against the outputs of the steps before it."""
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: expected a mapping with name, module, inputs, outputs")
    unknown = set(raw) - {"name", "module", "inputs", "outputs", "args"}
    if unknown:
        raise SpecError(f"{where}: unknown keys {sorted(unknown)}; allowed: name, module, inputs, outputs, args")
    name = raw.get("name")
    if not isinstance(name, str) or not re.fullmatch(NAME, name) or name in BINDINGS:
        raise SpecError(f"{where}.name: {name!r} must be a lowercase identifier other than {list(BINDINGS)}")
    if name in produced:
        raise SpecError(f"{where}.name: step {name!r} is defined twice")
    where = f"{where} ({name})"
    module = raw.get("module")
    if not isinstance(module, str) or not MODULE.fullmatch(module):
        raise SpecError(f"{where}.module: {module!r} must be a dotted module path such as mymodel.{name}")
    outputs = raw.get("outputs") or []
    if not isinstance(outputs, list) or not all(isinstance(o, str) and re.fullmatch(NAME, o) for o in outputs):
        raise SpecError(f"{where}.outputs: expected a list of lowercase identifiers")
    inputs = raw.get("inputs") or {}
    args = raw.get("args") or {}
    if not isinstance(inputs, dict) or not isinstance(args, dict):
        raise SpecError(f"{where}: inputs and args must be mappings of flag name to value")
    flags = [*inputs, *outputs, *args]
    clashes = sorted({flag for flag in flags if flags.count(flag) > 1})
    if clashes:
        raise SpecError(f"{where}: flags {clashes} are declared more than once")
    for key, value in args.items():
        if not isinstance(value, str | int | float | bool):
            raise SpecError(f"{where}.args.{key}: expected a string, number or boolean")
    return Step(
        name=name,
        module=module,
        inputs={key: _reference(value, f"{where}.inputs.{key}", produced) for key, value in inputs.items()},
        outputs=tuple(outputs),
        args=dict(args),
    )


def _reference(value: Any, where: str, produced: dict[str, tuple[str, ...]]) -> Reference | str:
    """Parse an input value: a `${...}` reference to something defined earlier, or a repo-relative path."""
    if not isinstance(value, str) or not value:
        raise SpecError(f"{where}: expected " + ", ".join(map(str, EXAMPLES)) + " or a relative path")
    if not value.startswith("$"):
        return value
    match = REFERENCE.fullmatch(value)
    known = [str(Reference(b)) for b in BINDINGS] + [str(Reference(s, o)) for s, outs in produced.items() for o in outs]
    if match:
        reference = Reference(match.group(1), match.group(2))
        if (reference.output is None and reference.source in BINDINGS) or (
            reference.output in produced.get(reference.source, ())
        ):
            return reference
    raise SpecError(f"{where}: unknown reference {value}; an earlier step must produce it. Known: {', '.join(known)}")
