"""Azure ML entities as plain data, and the two offline checks azure-ai-ml offers no public API for."""

from __future__ import annotations

import io
import json
from typing import Any


def as_dict(entity: Any) -> dict[str, Any]:
    """The entity as Azure ML's YAML holds it, through its public `dump()` (which also validates it)."""
    import yaml

    stream = io.StringIO()
    returned = entity.dump(stream)  # endpoints return the dict; assets and deployments write YAML to the stream
    data = returned if isinstance(returned, dict) else yaml.safe_load(stream.getvalue())
    return dict(json.loads(json.dumps(data)))  # plain dicts, no OrderedDict


def name_problem(name: str, *, is_deployment: bool) -> str | None:
    """Why Azure ML would refuse this endpoint or deployment name, or None when it accepts it.

    Private on purpose: azure-ai-ml checks names only in this helper (the public path is the service's refusal at
    deploy time). `tests/test_azure_ml.py` (the template repo's) pins its behaviour so a release that moves it fails.
    """
    from azure.ai.ml.entities._endpoint._endpoint_helpers import validate_endpoint_or_deployment_name
    from azure.ai.ml.exceptions import ValidationException

    try:
        validate_endpoint_or_deployment_name(name, is_deployment=is_deployment)
    except ValidationException as error:
        return str(error)
    return None


def schema_problems(entity: Any) -> dict[str, str]:
    """Client-side schema and binding errors of a component or pipeline job, by YAML path; empty when valid.

    Private on purpose: the public `MLClient.jobs.validate` runs this same check but then looks the compute up in a
    workspace, and the dry run has none. `tests/test_azure_ml.py` (the template repo's) pins its behaviour.
    """
    result = entity._validate()
    return dict(result.error_messages)
