"""YAML config files read into pydantic models, with errors that name the file, the key and what is wrong."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_core import ErrorDetails, PydanticCustomError

Location = tuple[int | str, ...]


class Strict(BaseModel):
    """Base for config sections: unknown keys are typos, so they are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Keyed(Strict):
    """A section that is refused whole when it is not a mapping or has unknown keys, naming the keys it allows."""

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        allowed = ", ".join(cls.model_fields)
        if not isinstance(data, dict):
            raise ValueError(f"expected a mapping with {allowed}")
        unknown = sorted(map(str, set(data) - set(cls.model_fields)))
        if unknown:
            raise ValueError(f"unknown keys {unknown}; allowed: {allowed}")
        return data


def read_yaml_as(path: Path, error: type[ValueError]) -> Any:
    """Parse a YAML file, turning I/O and syntax problems into `error` naming the file."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as missing:
        raise error(f"{path}: file not found") from missing
    except yaml.YAMLError as invalid:
        raise error(f"{path}: not valid YAML: {invalid}") from invalid


def dotted(location: Location) -> str:
    """A key's location as people write it: `drift.p_value_threshold`."""
    return ".".join(str(part) for part in location)


def named_items(location: Location, data: Any) -> str:
    """A location as people read it, list items with their `name`: `steps[1] (train).inputs.training_data`."""
    text, node = "", data
    for part in location:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and part < len(node) else None
            name = node.get("name") if isinstance(node, dict) else None
            text += f"[{part}]" + (f" ({name})" if isinstance(name, str) else "")
        else:
            text += f".{part}" if text else part
            node = node.get(part) if isinstance(node, dict) else None
    return text


def located_error(where: str, message: str) -> PydanticCustomError:
    """The error of a validator that checks several keys at once, naming the key at fault itself."""
    return PydanticCustomError("located", "{message}", {"where": where, "message": message})


def problems(error: ValidationError, where: Callable[[Location], str] = dotted) -> str:
    """Each bad key with what is wrong with it, `; `-separated.

    A validator that checks several keys at once names the key itself (its error's context `where`); a validator's
    own ValueError is shown as its message alone, without pydantic's "Value error, " prefix.
    """
    return "; ".join(f"{_where(item, where)}: {_message(item)}" for item in error.errors())


def _where(item: ErrorDetails, where: Callable[[Location], str]) -> str:
    named = (item.get("ctx") or {}).get("where")
    return str(named) if named else where(item["loc"]) or "(top level)"


def _message(item: ErrorDetails) -> str:
    raised = (item.get("ctx") or {}).get("error")
    return str(raised) if item["type"] == "value_error" and raised is not None else item["msg"]
