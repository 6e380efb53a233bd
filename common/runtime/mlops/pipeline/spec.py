"""The declarative pipeline spec (pipeline.yaml): steps, their wiring and the run's results, as a pydantic model."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    Field,
    PlainValidator,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from mlops.pipeline.yaml_models import Keyed, located_error, named_items, problems, read_yaml_as

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


def _input(value: Any) -> Reference | str:
    """An input's value: a `${...}` reference (checked against earlier steps later) or a repo-relative path."""
    if not isinstance(value, str) or not value:
        raise ValueError("expected " + ", ".join(map(str, EXAMPLES)) + " or a relative path")
    if not value.startswith("$"):
        return value
    match = REFERENCE.fullmatch(value)
    if match is None:
        raise ValueError(f"unknown reference {value}; expected " + ", ".join(map(str, EXAMPLES)))
    return Reference(match.group(1), match.group(2))


def _arg(value: Any) -> str | int | float | bool:
    """A step argument, passed to the step as `--flag value`."""
    if not isinstance(value, str | int | float | bool):
        raise ValueError("expected a string, number or boolean")
    return value


def _identifier(value: str) -> str:
    if not re.fullmatch(NAME, value):
        raise ValueError(f"{value!r} must be a lowercase identifier")
    return value


def _step_output(value: Any) -> Reference:
    """A result: the output of a step, `${step.output}`."""
    reference = _input(value)
    if not isinstance(reference, Reference) or reference.output is None:
        raise ValueError("expected a step output like " + EXAMPLE_OUTPUT)
    return reference


class Step(Keyed):
    """One step: a module run as `python -m <module> --<input> ... --<output> ... --<arg> ...`."""

    name: str
    module: str
    inputs: dict[str, Annotated[Reference | str, PlainValidator(_input)]] = Field(default_factory=dict)
    outputs: tuple[Annotated[str, AfterValidator(_identifier)], ...] = ()
    args: dict[str, Annotated[str | int | float | bool, PlainValidator(_arg)]] = Field(default_factory=dict)

    @field_validator("inputs", "outputs", "args", mode="before")
    @classmethod
    def _list_or_mapping(cls, value: Any, info: ValidationInfo) -> Any:
        listed = info.field_name == "outputs"
        if value is None:  # `outputs:` with nothing after it
            return () if listed else {}
        if listed and not isinstance(value, list | tuple):
            raise ValueError("expected a list of lowercase identifiers")
        if not listed and not isinstance(value, dict):
            raise ValueError("expected a mapping of flag name to value")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not re.fullmatch(NAME, name) or name in BINDINGS:
            raise ValueError(f"{name!r} must be a lowercase identifier other than {list(BINDINGS)}")
        return name

    @field_validator("module")
    @classmethod
    def _module(cls, module: str, info: ValidationInfo) -> str:
        if not MODULE.fullmatch(module):
            example = f"mymodel.{info.data.get('name', 'step')}"
            raise ValueError(f"{module!r} must be a dotted module path such as {example}")
        return module

    @model_validator(mode="after")
    def _distinct_flags(self) -> Step:
        flags = [*self.inputs, *self.outputs, *self.args]
        clashes = sorted({flag for flag in flags if flags.count(flag) > 1})
        if clashes:
            raise ValueError(f"flags {clashes} are declared more than once")
        return self


class PipelineSpec(Keyed):
    """The ordered steps of a model's pipeline and which outputs are the run's results."""

    steps: tuple[Step, ...] = Field(default=(), validate_default=True)
    results: dict[str, Annotated[Reference, PlainValidator(_step_output)]] = Field(
        default_factory=dict, validate_default=True
    )
    _source: Path = PrivateAttr(default=Path("pipeline.yaml"))

    @property
    def source(self) -> Path:
        """The file the spec was read from."""
        return self._source

    @classmethod
    def load(cls, path: Path) -> PipelineSpec:
        """Read and validate a pipeline.yaml."""
        return cls.parse(read_yaml_as(path, SpecError), path)

    @classmethod
    def parse(cls, data: Any, source: Path) -> PipelineSpec:
        """Validate spec data; every error names `source` and the offending key."""
        try:
            spec = cls.model_validate(data)
        except ValidationError as error:
            raise SpecError(f"{source}: {problems(error, lambda location: named_items(location, data))}") from error
        spec._source = source
        return spec

    def step(self, name: str) -> Step:
        """The step called `name`."""
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    @field_validator("steps")
    @classmethod
    def _some_steps(cls, steps: tuple[Step, ...]) -> tuple[Step, ...]:
        if not steps:
            raise ValueError("expected a non-empty `steps` list")
        return steps

    @field_validator("results")
    @classmethod
    def _every_result(cls, results: dict[str, Reference]) -> dict[str, Reference]:
        if set(results) != set(RESULTS):
            raise ValueError(f"expected exactly the keys {list(RESULTS)}")
        return results

    @model_validator(mode="after")
    def _wired(self) -> PipelineSpec:
        """Each reference names a binding or an output of an earlier step; step names are unique."""
        produced: dict[str, tuple[str, ...]] = {}
        for index, step in enumerate(self.steps):
            where = f"steps[{index}] ({step.name})"
            if step.name in produced:
                raise located_error(f"{where}.name", f"step {step.name!r} is defined twice")
            for flag, value in step.inputs.items():
                if isinstance(value, Reference):
                    _check_known(value, produced, f"{where}.inputs.{flag}")
            produced[step.name] = step.outputs
        for key, reference in self.results.items():
            _check_known(reference, produced, f"results.{key}")
        return self


def _check_known(reference: Reference, produced: dict[str, tuple[str, ...]], where: str) -> None:
    """Refuse a reference to something no earlier step produces, listing what is known at that point."""
    if reference.output is None and reference.source in BINDINGS:
        return
    if reference.output in produced.get(reference.source, ()):
        return
    known = [str(Reference(b)) for b in BINDINGS] + [str(Reference(s, o)) for s, outs in produced.items() for o in outs]
    message = f"unknown reference {reference}; an earlier step must produce it. Known: {', '.join(known)}"
    raise located_error(where, message)
