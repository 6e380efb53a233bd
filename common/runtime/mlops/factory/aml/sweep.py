"""train.yaml's `search:` block as an Azure ML sweep: the step that reads `${params}` runs once per trial.

Each searched value is a component input (`search__params__max_depth`) passed to the step as
`--set params.max_depth=<value>`; the step logs its validation metrics (`validation_<metric>`) to the trial's MLflow
run, the sweep keeps the best trial, and its outputs feed the next steps as one run's would. Azure ML samples at
random from the seed (its Bayesian sampling takes no seed); locally Optuna's TPE runs the same space.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from mlops.factory.contract import argparse_flags, module_path
from mlops.pipeline.search_space import Categorical, FloatRange, IntRange, SearchSpace
from mlops.pipeline.spec import PipelineSpec, Reference, SpecError, Step

VALIDATION_PREFIX = "validation_"  # as the model's search.py logs a trial's metrics


def swept_step(spec: PipelineSpec) -> Step:
    """The step a search runs: the one that reads the hyperparameters (`${params}`)."""
    for step in spec.steps:
        if Reference("params") in step.inputs.values():
            return step
    raise SpecError(f"{spec.source}: train.yaml declares a search but no step reads ${{params}}")


def check_trial_flag(spec: PipelineSpec, read: Callable[[str], bytes | None]) -> None:
    """The swept step must take `--set path=value`: a model's train.py from before searches does not."""
    step = swept_step(spec)
    path = module_path(step.module)
    if "set" not in argparse_flags(read(path) or b""):
        raise SpecError(
            f"{path}: train.yaml declares a search, but step {step.name} takes no --set flag to run one trial of it; "
            "copy search.py and the search lines of train.py from a freshly generated example model"
        )


def input_name(path: str) -> str:
    """The component input of a searched value: `params.max_depth` -> `search__params__max_depth`."""
    return "search__" + path.replace(".", "__")


def input_type(distribution: IntRange | FloatRange | Categorical) -> str:
    """The component input type a distribution's values take."""
    if isinstance(distribution, Categorical):
        return "string"
    return "integer" if isinstance(distribution, IntRange) and not distribution.log else "number"


def trial_flags(search: SearchSpace, bind: Any) -> list[str]:
    """`--set path=<input>` for every searched value; `bind(name)` is the command's binding of an input."""
    return [f"--set {path}={bind(input_name(path))}" for path in search.params]


def distribution(dist: IntRange | FloatRange | Categorical) -> Any:
    """The Azure ML sweep distribution of one search block distribution (log ranges are given as logs)."""
    from azure.ai.ml.sweep import Choice, LogUniform, QLogUniform, Uniform

    if isinstance(dist, Categorical):
        return Choice(values=[str(value) for value in dist.choices])
    if isinstance(dist, IntRange):
        if dist.log:
            return QLogUniform(min_value=math.log(dist.low), max_value=math.log(dist.high), q=1)
        return Choice(values=list(range(dist.low, dist.high + 1, dist.step)))
    if dist.step is not None:  # a float grid: its values exactly, as Optuna draws them
        count = int(round((dist.high - dist.low) / dist.step))
        return Choice(values=[round(dist.low + index * dist.step, 12) for index in range(count + 1)])
    if dist.log:
        return LogUniform(min_value=math.log(dist.low), max_value=math.log(dist.high))
    return Uniform(min_value=dist.low, max_value=dist.high)


def sweep_node(node: Any, search: SearchSpace) -> Any:
    """A command node turned into a sweep over the search space: seeded random sampling, `trials` trials."""
    from azure.ai.ml.sweep import RandomSamplingAlgorithm

    return node.sweep(
        primary_metric=VALIDATION_PREFIX + str(search.metric),
        goal=str(search.direction),
        sampling_algorithm=RandomSamplingAlgorithm(seed=search.seed),
        search_space={input_name(path): distribution(dist) for path, dist in search.params.items()},
        max_total_trials=search.trials,
        max_concurrent_trials=min(search.trials, 4),
    )
