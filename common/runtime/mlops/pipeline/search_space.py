"""The optional `search:` block of train.yaml: the hyperparameter space a sweep explores, checked with pydantic.

Each key of `search.params` is a dotted path into train.yaml (`params.max_depth`, `estimator`); its value is a
distribution. The train step runs the trials (Optuna, locally) and trains the model with the best values; on Azure
ML the same space becomes a sweep node (mlops/factory/aml/sweep.py). The runner logs the trials (sweep_logging.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from mlops.pipeline.yaml_models import Keyed, dotted, problems

SEARCH_KEY = "search"
PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
Value = str | int | float | bool
TYPES = ("int", "float", "categorical")


class IntRange(Keyed):
    """Whole numbers from low to high (inclusive), every `step`, or spread evenly on a log scale."""

    type: Literal["int"]
    low: int
    high: int
    step: int = Field(default=1, ge=1)
    log: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> IntRange:
        _check_range(self.low, self.high, self.log)
        if self.log and self.step != 1:
            raise ValueError("log: true needs step: 1")
        return self


class FloatRange(Keyed):
    """Numbers from low to high, uniform, every `step`, or spread evenly on a log scale."""

    type: Literal["float"]
    low: float
    high: float
    step: float | None = Field(default=None, gt=0)
    log: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> FloatRange:
        _check_range(self.low, self.high, self.log)
        if self.log and self.step is not None:
            raise ValueError("log: true and step cannot be combined")
        return self


class Categorical(Keyed):
    """One of a list of values."""

    type: Literal["categorical"]
    choices: list[Value] = Field(min_length=1)


Distribution = Annotated[IntRange | FloatRange | Categorical, Field(discriminator="type")]


class SearchSpace(Keyed):
    """What a sweep tries: the distributions, how many trials, the seed, and what it optimises."""

    params: dict[str, Distribution] = Field(min_length=1)
    trials: int = Field(default=20, ge=1, le=10_000)
    seed: int = 0
    metric: str | None = Field(default=None, min_length=1)
    direction: Literal["maximize", "minimize"] | None = None
    validation_size: float = Field(default=0.2, gt=0, lt=1)

    @field_validator("params")
    @classmethod
    def _paths(cls, params: dict[str, Distribution]) -> dict[str, Distribution]:
        for key in params:
            if not PATH.fullmatch(key) or key.split(".")[0] == SEARCH_KEY:
                raise ValueError(f"{key!r} must be a dotted path into train.yaml such as params.max_depth")
        return params

    def resolved(self, primary_metric: str, greater_is_better: bool) -> SearchSpace:
        """The space with metric and direction filled in from config.yaml where train.yaml leaves them out."""
        return self.model_copy(
            update={
                "metric": self.metric or primary_metric,
                "direction": self.direction or ("maximize" if greater_is_better else "minimize"),
            }
        )


def _check_range(low: float, high: float, log: bool) -> None:
    if low >= high:
        raise ValueError(f"low ({low}) must be below high ({high})")
    if log and low <= 0:
        raise ValueError(f"log: true needs low above 0 (got {low})")


def read_search(params: Mapping[str, Any], source: Path, error: type[ValueError]) -> SearchSpace | None:
    """The `search:` block of a train.yaml's content, or None; `error` names the file and key at fault."""
    if SEARCH_KEY not in params:
        return None
    try:
        return SearchSpace.model_validate(params[SEARCH_KEY])
    except ValidationError as invalid:
        raise error(f"{source}: {problems(invalid, _where)}") from invalid


def _where(location: tuple[int | str, ...]) -> str:
    """`search.params.max_depth.low`: without the distribution type pydantic puts after the parameter's path."""
    if len(location) > 2 and location[0] == "params" and location[2] in TYPES:
        location = location[:2] + location[3:]
    return dotted((SEARCH_KEY, *location))
