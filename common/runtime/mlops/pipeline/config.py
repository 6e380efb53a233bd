"""Load and validate a model's config folder: config.yaml, dataset.yaml, train.yaml, pipeline.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field, ValidationError

from mlops.pipeline.search_space import SearchSpace, read_search
from mlops.pipeline.spec import PipelineSpec
from mlops.pipeline.yaml_models import Strict as Strict  # re-exported: the factory's config files subclass it too
from mlops.pipeline.yaml_models import problems, read_yaml_as

CONFIG_FILE = "config.yaml"
DATASET_FILE = "dataset.yaml"
PARAMS_FILE = "train.yaml"
PIPELINE_FILE = "pipeline.yaml"


class ConfigError(ValueError):
    """A config file is missing, unreadable or invalid; the message names the file and key."""


class DriftConfig(Strict):
    """How production rows and predictions are compared with the champion's test rows and predictions."""

    p_value_threshold: float = Field(
        default=0.01,
        gt=0,
        lt=1,
        description="A column drifts when its test (KS for numbers, chi-square for categories) against the "
        "champion's test rows gives a p-value below this, and its PSI is above psi_threshold.",
    )
    psi_threshold: float = Field(
        default=0.2,
        gt=0,
        description="The PSI a drifting column must exceed: 0.2 is the usual line of a major shift (0.1 a moderate "
        "one); it keeps a large production sample's tiny p-values for negligible shifts from raising alarms.",
    )


class RetrainingConfig(Strict):
    """Scheduled retraining; off unless a cron expression is set."""

    schedule: str | None = Field(
        default=None,
        description="A cron expression in UTC; the slot's retraining workflow carries the same one. null: off.",
    )


class AzureConfig(Strict):
    """How a model runs and serves on Azure ML (factory only; defaults suit the example models)."""

    compute: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z][A-Za-z0-9-]{1,14}[A-Za-z0-9]$",
        description="Compute cluster of this model's pipeline; null: the factory's (mlops/environments.yaml).",
    )
    image: str = Field(
        default="mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest",
        min_length=1,
        description="Base image of the job environment; Python and the packages come from uv.lock.",
    )
    instance_type: str = Field(default="Standard_DS3_v2", min_length=1, description="VM size of the online endpoint.")
    instance_count: int = Field(default=1, ge=1, description="Instances of the online endpoint.")


class ModelConfig(Strict):
    """config.yaml: what the model is and how it is judged."""

    model_name: str = Field(
        pattern=r"^[a-z][a-z0-9_]*$", description="The package under src/ and the registered model's name; permanent."
    )
    problem_type: Literal["classification", "regression"] = Field(description="Kind of model.")
    experiment_name: str = Field(min_length=1, description="MLflow experiment of the model's local runs.")
    primary_metric: str = Field(
        min_length=1, description="The metric the gate judges by: a key of the evaluate step's metrics.json."
    )
    greater_is_better: bool = Field(description="Whether a higher primary metric is better (false for errors).")
    business_threshold: float | None = Field(
        default=None,
        description="The bar a first model must beat; afterwards a candidate must also beat @champion. "
        "The gate needs it.",
    )
    min_delta: float = Field(
        default=0.001,
        ge=0,
        description="How much a candidate must beat @champion by (in the metric's units) to replace it; not applied "
        "to business_threshold. 0.001 stops noise-sized gains (0.0001) on 0..1 scores without blocking a real one; "
        "raise it to your metric's run-to-run spread.",
    )
    drift: DriftConfig = DriftConfig()
    retraining: RetrainingConfig = RetrainingConfig()
    azure: AzureConfig = AzureConfig()

    def beats(self, value: float, bar: float) -> bool:
        """Whether `value` is strictly better than `bar` for the primary metric."""
        return value > bar if self.greater_is_better else value < bar

    def margin_bar(self, champion: float) -> float:
        """What a candidate must beat to replace a champion scoring `champion`: the champion moved by min_delta."""
        return champion + self.min_delta if self.greater_is_better else champion - self.min_delta


class DatasetManifest(Strict):
    """dataset.yaml: the data a model trains on, by name and version, with its local dev copy."""

    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="The dataset's name; also its Azure ML data assets'."
    )
    version: str = Field(min_length=1, description="Raised for every new extract; the data assets' version.")
    path: str = Field(min_length=1, description="Dev data, relative to the repository root.")
    target: str = Field(min_length=1, description="The column the model predicts.")
    description: str = Field(default="", description="What the data is.")
    source: str = Field(default="", description="Who produces the data, and how.")
    asset_type: Literal["uri_file", "uri_folder", "mltable"] | None = Field(
        default=None, description="Azure ML data asset type; default: uri_file for a file, uri_folder for a folder."
    )
    prod_path: str = Field(
        default="", description="Full data for release training: an azureml://, https:// URI or a repository path."
    )


Section = TypeVar("Section", bound=BaseModel)


def read_yaml(path: Path) -> Any:
    """Parse a YAML file, turning I/O and syntax problems into a ConfigError naming the file."""
    return read_yaml_as(path, ConfigError)


def parse(path: Path, schema: type[Section]) -> Section:
    """Validate a YAML file against a schema; errors list each bad key with what is wrong."""
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys, got {type(data).__name__}")
    try:
        return schema.model_validate(data)
    except ValidationError as error:
        raise ConfigError(f"{path}: {problems(error)}") from error


@dataclass(frozen=True)
class ModelFolder:
    """A model's config folder (prototype: configs/, factory: mlops/<model>/), loaded and checked."""

    path: Path
    config: ModelConfig
    dataset: DatasetManifest
    params: dict[str, Any]
    pipeline: PipelineSpec
    search: SearchSpace | None = None  # train.yaml's `search:` block, metric and direction resolved

    @property
    def params_file(self) -> Path:
        """The hyperparameter file handed to steps as `${params}`."""
        return self.path / PARAMS_FILE


def load_model_folder(path: Path) -> ModelFolder:
    """Load every file of a model's config folder, failing on the first invalid one."""
    params = read_yaml(path / PARAMS_FILE)
    if not isinstance(params, dict):
        raise ConfigError(f"{path / PARAMS_FILE}: expected a mapping of hyperparameters")
    config = parse(path / CONFIG_FILE, ModelConfig)
    search = read_search(params, path / PARAMS_FILE, ConfigError)
    return ModelFolder(
        path=path,
        config=config,
        dataset=parse(path / DATASET_FILE, DatasetManifest),
        params=params,
        pipeline=PipelineSpec.load(path / PIPELINE_FILE),
        search=search.resolved(config.primary_metric, config.greater_is_better) if search else None,
    )
