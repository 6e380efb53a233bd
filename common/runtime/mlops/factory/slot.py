"""A model slot's shape: every path one model owns in a factory, named once.

Promotion, fleet updates, the CLI, the step contract, the model pages and Azure ML read a slot's paths
from here; the template's tests hold copier.yml's `_skip_if_exists`, the workflows' path filters and a
rendered slot to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlops.pipeline.config import CONFIG_FILE, DATASET_FILE, PARAMS_FILE, PIPELINE_FILE, ConfigError
from mlops.pipeline.tracking import ANSWERS_FILE

SLOTS_DIR = "mlops"  # mlops/<model>/, beside the shared mlops/pipeline/, mlops/factory/ and mlops/updates/
SOURCE_DIR = "src"  # the model packages: also the code snapshot of Azure ML components
TESTS_DIR = "tests"
DATA_DIR = "data"
PAGES_DIR = "docs/models"
WORKFLOWS_DIR = ".github/workflows"  # a factory on GitHub Actions (ci_platform github)
PIPELINES_DIR = ".azure-pipelines"  # a factory on Azure DevOps (ci_platform azure-devops)
WORKFLOW_KINDS = ("pr", "cd", "retrain")
PROVENANCE_FILE = "promotion.yaml"
# The shared code whose changes also trigger every slot's workflows.
SHARED_CODE = ("mlops/pipeline", "mlops/factory", "mlops/updates")


@dataclass(frozen=True)
class Slot:
    """The paths of one model slot, relative to the factory's root, as git and Copier spell them."""

    model: str

    @property
    def package(self) -> str:
        """The model's Python package (model-owned)."""
        return f"{SOURCE_DIR}/{self.model}"

    @property
    def schema(self) -> str:
        """The model's data contract: its columns, their dtypes, checks and roles (model-owned)."""
        return f"{self.package}/schema.py"

    @property
    def tests(self) -> str:
        """The model's tests (model-owned)."""
        return f"{TESTS_DIR}/{self.model}"

    @property
    def folder(self) -> str:
        """The slot's config folder: its YAML files (model-owned), answers and provenance."""
        return f"{SLOTS_DIR}/{self.model}"

    @property
    def data(self) -> str:
        """The model's bundled dev data (model-owned)."""
        return f"{DATA_DIR}/{self.model}"

    @property
    def page(self) -> str:
        """The model's page of the factory's site."""
        return f"{PAGES_DIR}/{self.model}.md"

    @property
    def config(self) -> str:
        """What the model is and how the gate judges it."""
        return f"{self.folder}/{CONFIG_FILE}"

    @property
    def dataset(self) -> str:
        """The dataset manifest."""
        return f"{self.folder}/{DATASET_FILE}"

    @property
    def pipeline(self) -> str:
        """The pipeline spec."""
        return f"{self.folder}/{PIPELINE_FILE}"

    @property
    def params(self) -> str:
        """The hyperparameters."""
        return f"{self.folder}/{PARAMS_FILE}"

    @property
    def answers(self) -> str:
        """The slot's Copier answers file: `copier update --answers-file` of this slot."""
        return f"{self.folder}/{ANSWERS_FILE}"

    @property
    def provenance(self) -> str:
        """Where `factory promote` records what it brought and from where."""
        return f"{self.folder}/{PROVENANCE_FILE}"

    def workflow(self, kind: str) -> str:
        """One of the slot's workflows: `pr`, `cd` or `retrain`."""
        return f"{WORKFLOWS_DIR}/{self.model}-{kind}.yml"

    @property
    def workflows(self) -> tuple[str, ...]:
        """Every workflow of the slot."""
        return tuple(self.workflow(kind) for kind in WORKFLOW_KINDS)

    def azure_pipeline(self, kind: str) -> str:
        """One of the slot's Azure Pipelines, in a factory on Azure DevOps: `pr`, `cd` or `retrain`."""
        return f"{PIPELINES_DIR}/{self.model}-{kind}.yml"

    @property
    def azure_pipelines(self) -> tuple[str, ...]:
        """Every Azure Pipeline of the slot."""
        return tuple(self.azure_pipeline(kind) for kind in WORKFLOW_KINDS)

    @property
    def paths(self) -> tuple[str, ...]:
        """Every folder and file the slot holds: all that a promotion may change (a factory has one platform's CI)."""
        return (self.folder, self.package, self.tests, self.data, self.page, *self.workflows, *self.azure_pipelines)

    @property
    def owned_folders(self) -> tuple[str, ...]:
        """The folders that are the model's: code, tests and data."""
        return (self.package, self.tests, self.data)

    def model_owned(self, path: str) -> bool:
        """Whether a path is the model's: created once by the template (`_skip_if_exists`), then the team's."""
        return path.startswith(tuple(f"{folder}/" for folder in self.owned_folders)) or (
            path.startswith(f"{self.folder}/") and path.endswith(".yaml")
        )

    @property
    def trigger_paths(self) -> tuple[str, ...]:
        """The path filter of the slot's workflows and pipelines: its own folders and the shared code."""
        return tuple(f"{folder}/**" for folder in (self.package, self.tests, self.folder, self.data, *SHARED_CODE))


def slot_names(root: Path, marker: str = CONFIG_FILE) -> list[str]:
    """The models with a slot under `root`: those whose config folder holds `marker`, by name."""
    return sorted(path.parent.name for path in (root / SLOTS_DIR).glob(f"*/{marker}"))


def model_of(answers_file: str) -> str | None:
    """The model whose slot an answers file belongs to; None for the factory base's."""
    return Path(answers_file).parent.name if answers_file != ANSWERS_FILE else None


def slot_folder(model: str, root: Path = Path()) -> Path:
    """The config folder of an existing slot, with a helpful error if the slot does not exist."""
    folder = root / Slot(model).folder
    if not (folder / CONFIG_FILE).is_file():
        known = slot_names(root)
        raise ConfigError(
            f"no model slot {model!r} (no {folder / CONFIG_FILE}); slots here: {', '.join(known) or 'none'}. "
            f"Add it with `uv run factory add {model}`, or promote a prototype's model into it"
        )
    return folder
