"""A slot's pipeline.yaml as an Azure ML pipeline: one command component per step, wired as in a local run.

Each step runs `python -m <module> --<input> ... --<output> ... --<arg> ...` exactly as the local runner
starts it, with the repository's `src/` as the code snapshot. Every step output is also a pipeline output
(`<step>__<output>`), so a finished job's results download into the same layout as a local run's. With a
`search:` block in train.yaml, the step that reads it is a sweep node (sweep.py).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.factory.aml import sweep
from mlops.factory.aml.entities import schema_problems
from mlops.factory.aml.environment import job_environment
from mlops.factory.contract import check_schema, check_steps
from mlops.factory.slot import SOURCE_DIR, Slot
from mlops.pipeline.config import ModelFolder
from mlops.pipeline.search_space import SearchSpace
from mlops.pipeline.spec import Reference, SpecError, Step


@dataclass(frozen=True)
class AmlPipeline:
    """Everything a submission needs, built offline: the job, its components and its environment."""

    job: Any
    components: dict[str, Any]
    environment: Any
    experiment: str
    compute: str


def pipeline_output(step: str, output: str) -> str:
    """The pipeline-level name of a step output."""
    return f"{step}__{output}"


def path_type(path: Path) -> str:
    """The Azure ML input type of a repository path: uri_folder for a folder, uri_file otherwise."""
    return "uri_folder" if path.is_dir() else "uri_file"


def input_type(value: Reference | str, repo_root: Path, dataset_type: str) -> str:
    """The Azure ML input type of a step input: the data asset's, the params file, a step folder or a repo path."""
    if isinstance(value, Reference):
        if value.source == "dataset":
            return dataset_type
        return "uri_file" if value.source == "params" else "uri_folder"
    return path_type(repo_root / value)


def binding(kind: str, name: str) -> str:
    """An Azure ML data binding, `$` and the name in double braces (built in pieces: templates include this file)."""
    return "$" + "{" * 2 + f"{kind}.{name}" + "}" * 2


def step_command(step: Step, search: SearchSpace | None = None) -> str:
    """The component command: the step's module with its flags bound to the component's inputs and outputs.

    The step a search sweeps also takes each searched value (`--set path=value`, see sweep.py).
    """
    parts = ["python", "-m", step.module]
    parts += [f"--{flag} {binding('inputs', flag)}" for flag in step.inputs]
    parts += [f"--{flag} {binding('outputs', flag)}" for flag in step.outputs]
    for flag, arg in step.args.items():
        parts.append(f"--{flag} " + shlex.quote(str(arg).lower() if isinstance(arg, bool) else str(arg)))
    if search is not None:
        parts += sweep.trial_flags(search, lambda name: binding("inputs", name))
    return " ".join(parts)


def step_component(folder: ModelFolder, repo_root: Path, step: Step, environment: str, dataset_type: str) -> Any:
    """One step as a command component."""
    from azure.ai.ml import Input, Output
    from azure.ai.ml.entities import CommandComponent

    model = folder.config.model_name
    search = folder.search if folder.search and step == sweep.swept_step(folder.pipeline) else None
    inputs = {flag: Input(type=input_type(value, repo_root, dataset_type)) for flag, value in step.inputs.items()}
    for path, dist in (search.params if search else {}).items():
        inputs[sweep.input_name(path)] = Input(type=sweep.input_type(dist))
    return CommandComponent(
        name=f"{model}_{step.name}",
        display_name=f"{model} {step.name}",
        description=f"python -m {step.module} (step {step.name} of {Slot(model).pipeline})",
        command=step_command(step, search),
        inputs=inputs,
        outputs={flag: Output(type="uri_folder") for flag in step.outputs},
        environment=environment,
        code=str(repo_root / SOURCE_DIR),
    )


def check_pipeline(folder: ModelFolder, repo_root: Path) -> None:
    """The step contract and every repository path a step reads, before anything is built."""
    model = folder.config.model_name

    def read(path: str) -> bytes | None:
        file = repo_root / path
        return file.read_bytes() if file.is_file() else None

    check_steps(folder.pipeline, model, read)
    if folder.search is not None:
        sweep.check_trial_flag(folder.pipeline, read)
    check_schema(model, folder.dataset.target, Slot(model).dataset, read)
    for step in folder.pipeline.steps:
        for flag, value in step.inputs.items():
            if isinstance(value, str) and not (repo_root / value).exists():
                raise SpecError(f"{folder.pipeline.source}: step {step.name} input {flag}: {value} does not exist")


def build_pipeline(
    folder: ModelFolder,
    repo_root: Path,
    *,
    compute: str,
    experiment: str,
    dataset: str,
    dataset_type: str,
    params: Path | None = None,
) -> AmlPipeline:
    """The slot's pipeline as an Azure ML pipeline job on `compute`, reading the data asset `dataset`.

    `dataset` is an `azureml:<name>:<version>` reference (or any path Azure ML accepts as an input) of
    type `dataset_type` (uri_file, uri_folder or mltable).
    """
    from azure.ai.ml import Input, dsl

    check_pipeline(folder, repo_root)
    environment = job_environment(folder, repo_root)
    reference = f"azureml:{environment.name}:{environment.version}"
    components = {
        step.name: step_component(folder, repo_root, step, reference, dataset_type) for step in folder.pipeline.steps
    }
    model = folder.config.model_name
    swept = sweep.swept_step(folder.pipeline) if folder.search else None

    @dsl.pipeline(name=f"{model}_pipeline", display_name=f"{model} pipeline", compute=compute)
    def pipeline(dataset, params):  # type: ignore[no-untyped-def]  # dsl reads real annotations only
        bound = {"dataset": dataset, "params": params}
        nodes: dict[str, Any] = {}
        for step in folder.pipeline.steps:
            inputs = {flag: _bind(value, bound, nodes, repo_root) for flag, value in step.inputs.items()}
            nodes[step.name] = components[step.name](**inputs)
            if folder.search and step == swept:  # the best trial's outputs feed the next steps
                nodes[step.name] = sweep.sweep_node(nodes[step.name], folder.search)
            nodes[step.name].name = step.name
        return {
            pipeline_output(name, output): node.outputs[output]
            for name, node in nodes.items()
            for output in folder.pipeline.step(name).outputs
        }

    job = pipeline(
        dataset=Input(type=dataset_type, path=dataset),
        params=Input(type="uri_file", path=str(params or (repo_root / folder.params_file))),
    )
    job.experiment_name = experiment
    job.settings.default_compute = compute
    job.tags = {"factory.slot": model, "dataset": dataset}
    return AmlPipeline(job, components, environment, experiment, compute)


def _bind(value: Reference | str, bound: dict[str, Any], nodes: dict[str, Any], repo_root: Path) -> Any:
    """A step input inside the pipeline: a pipeline input, an earlier node's output or a repository path."""
    from azure.ai.ml import Input

    if isinstance(value, Reference):
        return bound[value.source] if value.output is None else nodes[value.source].outputs[value.output]
    return Input(type=path_type(repo_root / value), path=str(repo_root / value))


def validate(built: AmlPipeline) -> list[str]:
    """Offline validation of the environment, every component and the pipeline: the problems found, if any.

    Components and jobs: the client-side schema and binding check that `MLClient.jobs.validate` also runs
    (`entities.schema_problems`). The environment: its public `validate()`. Neither needs a workspace.
    """
    from azure.ai.ml.exceptions import ValidationException

    problems = []
    try:
        built.environment.validate()
    except ValidationException as error:
        problems.append(f"environment {built.environment.name}: {error}")
    for name, entity in [*built.components.items(), ("pipeline", built.job)]:
        problems += [f"{name}: {where}: {message}" for where, message in schema_problems(entity).items()]
    return problems


def dump_job(built: AmlPipeline, target: Path) -> Path:
    """Write the job YAML for review. It holds absolute local paths: keep it out of the repository."""
    target.parent.mkdir(parents=True, exist_ok=True)
    built.job.dump(target)
    return target
