"""Promotion's parts, one job each; `mlops/factory/promote.py` is the command that runs them in order.

plan (what the prototype brings and how the slot changes), checks (the refusals), dependencies (the model's
own libraries), apply (slot creation, writing, staging), provenance (the record in the slot), slot_checks
(the slot's tests and pipeline with the gate).
"""

from __future__ import annotations

from mlops.factory.gitrepo import RepoError


class PromotionError(RepoError):
    """Promotion cannot go on; the message names the files and the fix."""


class GateRejected(PromotionError):
    """The promoted model did not pass the gate; the code is staged, the registry untouched."""
