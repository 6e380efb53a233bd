"""`factory docs`: the generated part of each slot's page, from its config, data contract, pipeline and lineage.

The part between BEGIN and END in docs/models/<model>.md is rewritten; the rest of the page is the team's.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from mlops.pipeline.config import ModelFolder, load_model_folder
from mlops.pipeline.spec import PipelineSpec, Reference
from mlops.pipeline.tracking import mlflow_client, tracking_uri

PAGES = Path("docs/models")
BEGIN = "<!-- factory docs: begin -->"
END = "<!-- factory docs: end -->"
LINEAGE = "## Latest lineage"
SQLITE = "sqlite:///"
# Lineage rows of a model version, in reading order (the registry's tags of the same names).
LINEAGE_ROWS = (
    ("dataset.name", "dataset"),
    ("dataset.version", "dataset version"),
    ("dataset.digest", "dataset digest (sha256)"),
    ("mlflow.source.git.commit", "factory commit"),
    ("git.dirty", "uncommitted changes when trained"),
    ("promotion.source", "promoted from"),
    ("promotion.source_commit", "prototype commit"),
    ("template.version", "template version"),
    ("gate.checks", "gate checks"),
)
LONG_HEX = re.compile(r"^(?:sha256:)?([0-9a-f]{40,})$")


@dataclass(frozen=True)
class RegisteredVersion:
    """One registered version of a model: its number, aliases and lineage tags."""

    version: str
    aliases: tuple[str, ...]
    tags: Mapping[str, str]


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
    tree = ast.parse(schema_file.read_text(encoding="utf-8"))
    constants = []
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None
        if isinstance(node, ast.AnnAssign):
            target = node.target
        value = getattr(node, "value", None)
        if isinstance(target, ast.Name) and target.id.isupper() and value is not None:
            try:
                constants.append((target.id, ast.literal_eval(value)))
            except (ValueError, TypeError, SyntaxError):
                constants.append((target.id, "(computed)"))
    return ast.get_docstring(tree) or "", constants


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


def metric_value(tag: str) -> str:
    """A metric tag (its repr) to four decimals, as the gate's verdict shows metrics."""
    try:
        return f"{float(tag):.4f}"
    except ValueError:
        return tag


def lineage_section(model: str, versions: Sequence[RegisteredVersion] | None) -> str:
    """The champion and the newest registered version, with the lineage the registry keeps for each."""
    heading = LINEAGE
    if versions is None:
        return f"{heading}\n\nNo model registry in this checkout (no `mlflow.db`, no `MLFLOW_TRACKING_URI`)."
    if not versions:
        return f"{heading}\n\nNo registered version of `{model}` yet: `uv run factory run {model}` registers one."
    headers = ["", *(f"v{v.version} " + " ".join(f"@{alias}" for alias in v.aliases) for v in versions)]
    metrics = sorted({key for v in versions for key in v.tags if key.startswith("metric.")})
    rows = [
        (label, *(metric_value(v.tags.get(key, "")) if key in metrics else v.tags.get(key, "") for v in versions))
        for key, label in (*LINEAGE_ROWS, *((metric, metric[7:]) for metric in metrics))
        if any(key in v.tags for v in versions)
    ]
    return "\n\n".join(
        [
            heading,
            "From the model registry: the version `@champion` serves and the newest one, with the tags every "
            "registered version carries (digests and commits shortened to 12 characters).",
            table([header.strip() for header in headers], rows),
        ]
    )


def generated(folder: ModelFolder, repo_root: Path, lineage: str) -> str:
    """The generated part of a slot's page, markers included, with its lineage section as given."""
    config, dataset = folder.config, folder.dataset
    model = config.model_name
    direction = "higher is better" if config.greater_is_better else "lower is better"
    settings = [
        ("problem type", config.problem_type),
        ("primary metric", f"`{config.primary_metric}` ({direction})"),
        ("business threshold", config.business_threshold),
        ("drift alarm", f"KS test p-value below {config.drift.p_value_threshold}"),
        ("scheduled retraining", code(config.retraining.schedule) or "off"),
        ("Azure ML compute", code(config.azure.compute) or "the factory's default cluster"),
        ("online endpoint", f"{config.azure.instance_count} x `{config.azure.instance_type}`"),
    ]
    data = [
        ("name and version", f"`{dataset.name}` v{dataset.version}"),
        ("dev data", code(dataset.path)),
        ("release data", code(dataset.prod_path) or "the dev data"),
        ("target", code(dataset.target)),
        ("description", dataset.description),
        ("source", dataset.source),
    ]
    parts = [
        BEGIN,
        f"_Generated by `uv run factory docs {model}` from `mlops/{model}/`, `src/{model}/schema.py` and the model "
        "registry; edits between the markers are replaced._",
        f"## How the factory judges it\n\n{table(['setting', 'value'], settings)}",
        f"## Data\n\n{table(['', ''], data)}",
    ]
    schema_file = repo_root / "src" / model / "schema.py"
    if schema_file.is_file():
        doc, constants = contract(schema_file)
        rows = [(name, ", ".join(map(str, v)) if isinstance(v, list | tuple) else v) for name, v in constants]
        intro = f"`src/{model}/schema.py`" + (f": {doc}" if doc else "")
        parts.append(f"## Data contract\n\n{intro}\n\n{table(['name', 'value'], rows)}")
    parts.append(pipeline_section(folder.pipeline, f"{dataset.name} v{dataset.version}"))
    params = yaml.safe_dump(json.loads(json.dumps(folder.params, default=str)), sort_keys=False).strip()
    parts.append(f"## Hyperparameters\n\n`mlops/{model}/train.yaml`:\n\n```yaml\n{params}\n```")
    parts += [lineage, END]
    return "\n\n".join(parts)


def written_lineage(page: str) -> str | None:
    """The lineage section a page's generated part already holds, if any."""
    start, end = page.find(BEGIN), page.find(END)
    found = page.find(LINEAGE, start, end) if -1 < start < end else -1
    return page[found:end].rstrip() if found != -1 else None


def splice(page: str, block: str) -> str:
    """The page with its generated part replaced (or appended when the markers are missing)."""
    start, end = page.find(BEGIN), page.find(END)
    if start == -1 or end < start:
        return page.rstrip("\n") + "\n\n" + block + "\n"
    return page[:start] + block + page[end + len(END) :]


def registered_versions(model: str) -> list[RegisteredVersion] | None:
    """The champion and the newest version of a model; None when there is no registry to read."""
    uri = tracking_uri()
    if uri.startswith(SQLITE) and not Path(uri.removeprefix(SQLITE)).is_file():
        return None  # reading would create an empty store: there is nothing registered here
    from mlops.factory import registry

    mlflow = mlflow_client()
    found = registry.versions(mlflow, model)
    if not found:
        return []
    by_version: dict[str, list[str]] = {}
    for alias, number in mlflow.get_registered_model(model).aliases.items():
        by_version.setdefault(str(number), []).append(alias)
    champion = next((v for v in found if registry.CHAMPION in by_version.get(str(v.version), [])), None)
    chosen = [v for v in (champion, found[0]) if v is not None]
    unique = list({str(v.version): v for v in chosen}.values())
    return [
        RegisteredVersion(str(v.version), tuple(sorted(by_version.get(str(v.version), []))), dict(v.tags))
        for v in unique
    ]


def write_page(repo_root: Path, folder: ModelFolder, versions: Sequence[RegisteredVersion] | None) -> bool:
    """Write the generated part of one slot's page; True when the page changed.

    Without a registry to read (`versions` None) the page keeps the lineage it was committed with: CI rebuilds
    the other sections from the slot's files and still shows the lineage someone wrote from the registry.
    """
    model = folder.config.model_name
    page = repo_root / PAGES / f"{model}.md"
    before = page.read_text(encoding="utf-8") if page.is_file() else f"# {model}\n"
    kept = written_lineage(before) if versions is None else None
    after = splice(before, generated(folder, repo_root, kept or lineage_section(model, versions)))
    if after != before:
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(after, encoding="utf-8")
    return after != before


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`factory docs [MODEL ...] [--no-lineage]`."""
    parser.add_argument("models", nargs="*", metavar="MODEL", help="the slots to write (default: every slot)")
    parser.add_argument(
        "--no-lineage", action="store_true", help="keep each page's lineage as it is: no registry, no MLflow start-up"
    )


def run(args: argparse.Namespace, slot_folder: Callable[[str], Path], slots: Path) -> int:
    """Write the generated part of each slot's page and say which pages changed."""
    repo_root = Path.cwd()
    models = args.models or sorted(path.parent.name for path in slots.glob("*/config.yaml"))
    for model in models:
        folder = load_model_folder(slot_folder(model))
        versions = None if args.no_lineage else registered_versions(model)
        changed = write_page(repo_root, folder, versions)
        print(f"{PAGES / f'{model}.md'}: {'written' if changed else 'up to date'}")
    return 0
