"""The sections of a slot's page, as Markdown: how the gate judges it, its data, data contract, pipeline, params.

Read from the slot's files only (the schema module without running it), so CI can write them anywhere.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

from mlops.factory.contract import schema_constants
from mlops.pipeline.config import DatasetManifest, ModelConfig
from mlops.pipeline.spec import PipelineSpec, Reference

LONG_HEX = re.compile(r"^(?:sha256:)?([0-9a-f]{40,})$")


def cell(value: object) -> str:
    """A Markdown table cell: one line, pipes escaped, digests and commits cut to 12 characters."""
    text = " ".join(str(value).split()).replace("|", "\\|")
    long_hex = LONG_HEX.match(text)
    return long_hex.group(1)[:12] if long_hex else text


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def code(value: object) -> str:
    """Inline code, or an empty cell for nothing."""
    return f"`{value}`" if value not in (None, "") else ""


def contract(schema_file: Path) -> tuple[str, list[tuple[str, object]]]:
    """The docstring and the upper-case constants (column roles) of a model's schema module, read without running it."""
    source = schema_file.read_bytes()
    constants = schema_constants(source)
    return ast.get_docstring(ast.parse(source)) or "", [
        (name, "(computed)" if value is None else value) for name, value in constants.items()
    ]


def column_checks(column: dict[str, Any]) -> str:
    """A contract column's checks for people: its bounds and allowed values."""
    checks = [f"{sign} {column[key]}" for key, sign in (("min", "≥"), ("max", "≤")) if column.get(key) is not None]
    if "allowed" in column:
        checks.append("one of " + ", ".join(f"`{value}`" for value in column["allowed"]))
    return ", ".join(checks)


def mermaid(spec: PipelineSpec, dataset: str) -> str:
    """The pipeline as a Mermaid flowchart: data and parameters into the steps, outputs between them."""
    lines = ["```mermaid", "flowchart LR", f'    dataset[("{dataset}")]', '    params[/"train.yaml"/]']
    for step in spec.steps:  # step ids get a prefix: a step may be called `end`, a Mermaid keyword
        lines.append(f'    step_{step.name}["{step.name}<br/>{step.module}"]')
        for value in step.inputs.values():
            if isinstance(value, Reference):
                source = f"step_{value.source}" if value.output else value.source
                label = f"|{value.output}|" if value.output else ""
                lines.append(f"    {source} -->{label} step_{step.name}")
    lines.append("```")
    return "\n".join(lines)


def pipeline_section(spec: PipelineSpec, dataset: str) -> str:
    """The steps with their modules, inputs, outputs and fixed arguments, as a diagram and a table."""
    rows = [
        (
            step.name,
            code(step.module),
            ", ".join(f"`--{flag} {value}`" for flag, value in step.inputs.items()),
            ", ".join(f"`--{name}`" for name in step.outputs),
            # as the runner passes them: booleans in lower case
            ", ".join(
                f"`--{flag} {str(value).lower() if isinstance(value, bool) else value}`"
                for flag, value in step.args.items()
            ),
        )
        for step in spec.steps
    ]
    results = ", ".join(f"{key}: `{value}`" for key, value in spec.results.items())
    return "\n\n".join(
        [
            "## Pipeline",
            "Each step runs as `python -m <module>` with these flags, locally (`factory run`) and as one Azure ML "
            "command component per step.",
            mermaid(spec, dataset),
            table(["step", "module", "inputs", "outputs", "args"], rows),
            f"Results: {results}.",
        ]
    )


def judging_section(config: ModelConfig) -> str:
    """The gate's settings and the slot's schedule, drift alarm and Azure ML sizes."""
    direction = "higher is better" if config.greater_is_better else "lower is better"
    settings = [
        ("problem type", config.problem_type),
        ("primary metric", f"`{config.primary_metric}` ({direction})"),
        ("business threshold", config.business_threshold),
        ("margin over @champion (min_delta)", config.min_delta),
        ("drift alarm", f"p-value below {config.drift.p_value_threshold} and PSI above {config.drift.psi_threshold}"),
        ("scheduled retraining", code(config.retraining.schedule) or "off"),
        ("Azure ML compute", code(config.azure.compute) or "the factory's default cluster"),
        ("online endpoint", f"{config.azure.instance_count} x `{config.azure.instance_type}`"),
    ]
    return f"## How the factory judges it\n\n{table(['setting', 'value'], settings)}"


def data_section(dataset: DatasetManifest) -> str:
    """The dataset manifest: name, version, where the dev and release data are, the target."""
    data = [
        ("name and version", f"`{dataset.name}` v{dataset.version}"),
        ("dev data", code(dataset.path)),
        ("release data", code(dataset.prod_path) or "the dev data"),
        ("target", code(dataset.target)),
        ("description", dataset.description),
        ("source", dataset.source),
    ]
    return f"## Data\n\n{table(['', ''], data)}"


def contract_section(schema_file: Path, label: str) -> str:
    """The schema module's docstring and its columns (or, for a module without COLUMNS, its constants).

    `label` is the module's path as the page shows it.
    """
    doc, constants = contract(schema_file)
    intro = f"`{label}`" + (f": {doc.splitlines()[0]}" if doc else "")
    columns = dict(constants).get("COLUMNS")
    if isinstance(columns, dict):
        checked = "`prep` checks the raw data and scoring checks the input against it; a failing check stops the step."
        return f"## Data contract\n\n{intro}\n\n{checked}\n\n{columns_table(columns)}"
    rows = [(name, ", ".join(map(str, v)) if isinstance(v, list | tuple) else v) for name, v in constants]
    return f"## Data contract\n\n{intro}\n\n{table(['name', 'value'], rows)}"


def columns_table(columns: dict[str, Any]) -> str:
    """The contract's columns: one row each with dtype, nullable, checks and role."""
    rows = []
    for name, column in columns.items():
        if isinstance(column, dict) and "role" in column:
            nullable = "yes" if column.get("nullable") else "no"
            rows.append((code(name), code(column.get("dtype")), nullable, column_checks(column), column["role"]))
    return table(["column", "dtype", "nullable", "checks", "role"], rows)


def params_section(params: dict[str, Any], label: str) -> str:
    """The hyperparameters as YAML; `label` is the file's path as the page shows it."""
    text = yaml.safe_dump(json.loads(json.dumps(params, default=str)), sort_keys=False).strip()
    return f"## Hyperparameters\n\n`{label}`:\n\n```yaml\n{text}\n```"
