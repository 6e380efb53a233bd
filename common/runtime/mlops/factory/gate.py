"""The benchmark gate: a candidate must beat the business threshold and, once there is one, the champion."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mlops.pipeline.config import ModelConfig
from mlops.pipeline.lineage import EVALUATION_DIGEST, EVALUATION_METRIC, EVALUATION_ROWS, EVALUATION_STEP
from mlops.pipeline.tables import render_table

EXIT_REJECTED = 2  # the gate said no: distinct from errors (1) so CI can tell them apart


@dataclass(frozen=True)
class Check:
    """One comparison of the candidate's primary metric with a bar."""

    name: str
    candidate: float
    bar: float
    passed: bool
    note: str = ""


@dataclass(frozen=True)
class Verdict:
    """The gate's decision with every check it made, for people and for the registry's tags."""

    model_name: str
    metric: str
    checks: tuple[Check, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        """Registered only if every check passed."""
        return all(check.passed for check in self.checks)

    def table(self) -> str:
        """The verdict as a Markdown table (terminal and GitHub job summary alike)."""
        rows = [
            (check.name, self.metric, check.candidate, check.bar, "pass" if check.passed else "FAIL", check.note)
            for check in self.checks
        ]
        lines = [
            f"### Gate for {self.model_name}: {'PASSED' if self.passed else 'REJECTED'}",
            "",
            render_table(["check", "metric", "candidate", "bar", "result", "note"], rows),
        ]
        return "\n".join(lines + [f"- {note}" for note in self.notes])


def judge(config: ModelConfig, candidate: float, champion: float | None, champion_note: str = "") -> Verdict:
    """First deploy: beat the business threshold. Retrain: beat it and the champion by more than min_delta."""
    if config.business_threshold is None:
        raise ValueError(f"{config.model_name}: config.yaml needs business_threshold for the gate")
    direction = "higher is better" if config.greater_is_better else "lower is better"
    checks = [
        Check(
            "business threshold",
            candidate,
            config.business_threshold,
            config.beats(candidate, config.business_threshold),
            direction,
        )
    ]
    notes = []
    if champion is None:
        notes.append("No champion yet: this is a first deploy, judged against the business threshold only.")
    else:
        bar = config.margin_bar(champion)
        if config.min_delta:
            sign = "+" if config.greater_is_better else "-"
            margin = f"@champion {champion:.6g} {sign} min_delta {config.min_delta:g}"
            champion_note = f"{margin}; {champion_note}" if champion_note else margin
        checks.append(Check("current @champion", candidate, bar, config.beats(candidate, bar), champion_note))
    return Verdict(config.model_name, config.primary_metric, tuple(checks), tuple(notes))


def rescore_reason(
    champion_tags: Mapping[str, str], champion_metrics: Mapping[str, float], run_tags: Mapping[str, str], metric: str
) -> str | None:
    """Why the champion's logged score cannot be the bar for this run (None: same evaluation rows and metric)."""
    logged, current = champion_tags.get(EVALUATION_DIGEST), run_tags.get(EVALUATION_DIGEST)
    if not logged:
        return "the champion's run recorded no evaluation digest"
    if not current:
        return "this run recorded no evaluation digest"
    reasons = []
    if champion_tags.get(EVALUATION_ROWS) != run_tags.get(EVALUATION_ROWS):
        same_data = champion_tags.get("dataset.digest") == run_tags.get("dataset.digest")
        reasons.append("split changed" if same_data else "dataset changed")
    if champion_tags.get(EVALUATION_STEP) != run_tags.get(EVALUATION_STEP):
        reasons.append("evaluate step changed")
    if champion_tags.get(EVALUATION_METRIC) != run_tags.get(EVALUATION_METRIC):
        reasons.append("primary metric changed")
    if logged != current:
        return ", ".join(reasons) or "evaluation digest changed"
    if metric not in champion_metrics:
        return f"the champion's run logged no {metric}"
    return None
