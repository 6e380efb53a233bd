"""Hardening: a challenger no better than the champion on the same rows is never registered, whatever split or data.

Two families, both through the factory's own decision path: `gate.judge` over random metric pairs, and
`slot_run.gate_and_register` after real pipeline runs of a toy model (all eight metrics the config allows) on a real
sqlite MLflow store, with random datasets, splits, qualities, thresholds, metrics and directions.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops.factory import registry, slot_run
from mlops.factory.gate import judge
from mlops.pipeline.config import ModelConfig, load_model_folder
from mlops.pipeline.lineage import EVALUATION_TAGS
from mlops.pipeline.runner import run_pipeline

pytestmark = pytest.mark.hardening

METRICS = ("roc_auc", "accuracy", "f1", "precision", "recall", "rmse", "mae", "r2")  # what config.yaml allows

# The toy's split and scores, one source for its steps and for the test's oracle. A row's `shift` moves every
# metric of every model on it, so a different split or dataset changes scores without the model changing.
SCORING = """
    import math

    METRICS = ("roc_auc", "accuracy", "f1", "precision", "recall", "rmse", "mae", "r2")


    def split(rows, test_size, seed):
        start = seed % len(rows)
        rows = rows[start:] + rows[:start]
        cut = max(1, math.ceil(len(rows) * test_size))
        return rows[cut:] or rows, rows[:cut]


    def score(quality, shifts):
        shift = sum(shifts) / len(shifts)
        base = {m: (1 - quality if m in ("rmse", "mae") else quality) for m in METRICS}
        return {m: round(base[m] + shift + i / 1000, 6) for i, m in enumerate(METRICS)}
"""
STEPS = {
    "__init__.py": "",
    "scoring.py": SCORING,
    "prep.py": """
        import argparse, pathlib
        from gatetoy.scoring import split
        p = argparse.ArgumentParser()
        for flag in ("--raw_data", "--prep_data", "--test_size", "--seed"): p.add_argument(flag)
        a = p.parse_args()
        header, *rows = pathlib.Path(a.raw_data).read_text().splitlines()
        for name, part in zip(("train.csv", "test.csv"), split(rows, float(a.test_size), int(a.seed))):
            (pathlib.Path(a.prep_data) / name).write_text("\\n".join([header, *part]) + "\\n")
    """,
    "train.py": """
        import argparse, json, pathlib
        p = argparse.ArgumentParser()
        for flag in ("--training_data", "--params", "--model_output"): p.add_argument(flag)
        a = p.parse_args()
        quality = json.loads(pathlib.Path(a.params).read_text())["quality"]  # train.yaml is written as JSON
        (pathlib.Path(a.model_output) / "MLmodel").write_text("flavors: {}\\n")
        (pathlib.Path(a.model_output) / "quality.txt").write_text(repr(quality))
    """,
    "evaluate.py": """
        import argparse, json, pathlib
        from gatetoy.scoring import score
        p = argparse.ArgumentParser()
        for flag in ("--model_input", "--test_data", "--predictions", "--score_report"): p.add_argument(flag)
        a = p.parse_args()
        quality = float((pathlib.Path(a.model_input) / "quality.txt").read_text())
        rows = (pathlib.Path(a.test_data) / "test.csv").read_text().splitlines()[1:]
        metrics = score(quality, [float(row.split(",")[1]) for row in rows])
        (pathlib.Path(a.predictions) / "predictions.csv").write_text("score\\n" + "\\n".join(rows) + "\\n")
        (pathlib.Path(a.score_report) / "metrics.json").write_text(json.dumps(metrics))
    """,
}
SPEC = {
    "steps": [
        {"name": "prep", "module": "gatetoy.prep", "inputs": {"raw_data": "${dataset}"}, "outputs": ["prep_data"]},
        {
            "name": "train",
            "module": "gatetoy.train",
            "inputs": {"training_data": "${prep.prep_data}", "params": "${params}"},
            "outputs": ["model_output"],
        },
        {
            "name": "evaluate",
            "module": "gatetoy.evaluate",
            "inputs": {"model_input": "${train.model_output}", "test_data": "${prep.prep_data}"},
            "outputs": ["predictions", "score_report"],
        },
    ],
    "results": {
        "model": "${train.model_output}",
        "score_report": "${evaluate.score_report}",
        "predictions": "${evaluate.predictions}",
    },
}


def beats(value: float, bar: float, greater_is_better: bool) -> bool:
    """The oracle's own reading of "better": strictly, in the metric's direction."""
    return value > bar if greater_is_better else value < bar


def margin(champion: float, min_delta: float, greater_is_better: bool) -> float:
    """The oracle's bar for replacing a champion: its score moved by min_delta in the metric's direction."""
    return champion + min_delta if greater_is_better else champion - min_delta


# Family 1: the decision itself, over every metric, both directions, any threshold and any pair of values.
VALUE = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
MIN_DELTA = st.one_of(st.just(0.0), st.sampled_from([0.001, 0.01, 0.05]), st.floats(min_value=0, max_value=1e3))


@settings(max_examples=3000)
@given(
    metric=st.sampled_from(METRICS),
    greater_is_better=st.booleans(),
    threshold=VALUE,
    champion=VALUE,
    candidate=st.one_of(VALUE, st.just(None)),  # None: a tie with the champion
    min_delta=MIN_DELTA,
    within=st.booleans(),  # the candidate is better than the champion by less than min_delta
)
def test_judge_never_passes_a_challenger_no_better_than_the_champion_by_min_delta(
    tally: Any,
    metric: str,
    greater_is_better: bool,
    threshold: float,
    champion: float,
    candidate: float | None,
    min_delta: float,
    within: bool,
) -> None:
    config = ModelConfig(
        model_name="gate",
        problem_type="regression" if metric in ("rmse", "mae", "r2") else "classification",
        experiment_name="gate",
        primary_metric=metric,
        greater_is_better=greater_is_better,
        business_threshold=threshold,
        min_delta=min_delta,
    )
    value = champion if candidate is None else candidate
    if within and candidate is not None:  # a gain inside the margin: half of it, in the metric's direction
        value = champion + (min_delta / 2 if greater_is_better else -min_delta / 2)
    verdict = judge(config, value, champion, "v1")
    better = beats(value, margin(champion, min_delta, greater_is_better), greater_is_better)
    tally.add(
        "gate.judge",
        cases=1,
        worse_or_equal=not better,
        worse_passed=int(verdict.passed and not better),
        within_margin_passed=int(verdict.passed and beats(value, champion, greater_is_better) and not better),
    )
    assert verdict.checks[1].bar == margin(champion, min_delta, greater_is_better)
    assert verdict.checks[1].passed == better
    assert not (within and min_delta > 0 and verdict.passed)
    assert verdict.passed == (better and beats(value, threshold, greater_is_better))


# Family 2: real pipeline runs of the toy, then the factory's gate and registry on a real MLflow store.
@pytest.fixture(scope="module")
def factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, ModuleType]]:
    """A factory root with the toy's package and a private sqlite store, as the working folder; and the scoring."""
    root = tmp_path_factory.mktemp("gate-factory")
    package = root / "src" / "gatetoy"
    package.mkdir(parents=True)
    for name, code in STEPS.items():
        (package / name).write_text(textwrap.dedent(code))
    (root / "data").mkdir()
    spec = importlib.util.spec_from_file_location("gatetoy_scoring", package / "scoring.py")
    assert spec is not None and spec.loader is not None
    scoring = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scoring)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        # The toy's steps import nothing heavy: plain subprocesses, logged from this process (MLflow imported once),
        # not a warm process per run that imports pandas, scikit-learn and MLflow for two runs a case.
        patch.setenv("MLOPS_STEP_RUNNER", "subprocess")
        yield root, scoring


SLOTS = itertools.count(1)
SHIFTS = st.lists(st.sampled_from([0.0, 0.05, 0.1, 0.2, 0.3]), min_size=1, max_size=6)
SPLIT = st.tuples(st.sampled_from([0.25, 0.5, 0.75, 1.0]), st.integers(0, 7))
QUALITY = st.integers(20, 90).map(lambda q: q / 100)


def write_slot(
    root: Path, name: str, shifts: list[float], split: tuple[float, int], quality: float, config: dict[str, Any]
) -> Path:
    """The slot's data and config folder for one run; returns the folder."""
    data = root / "data" / f"{name}.csv"
    data.write_text("x,shift\n" + "".join(f"{i},{shift}\n" for i, shift in enumerate(shifts)))
    folder = root / "mlops" / name
    folder.mkdir(parents=True, exist_ok=True)
    config = {"model_name": name, "problem_type": "regression", "experiment_name": name, **config}
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    manifest = {"name": name, "version": "1", "path": f"data/{name}.csv", "target": "x"}
    (folder / "dataset.yaml").write_text(yaml.safe_dump(manifest))
    (folder / "train.yaml").write_text(json.dumps({"quality": quality}))
    spec = json.loads(json.dumps(SPEC))
    spec["steps"][0]["args"] = {"test_size": split[0], "seed": split[1]}
    (folder / "pipeline.yaml").write_text(yaml.safe_dump(spec))
    return folder


def gate_run(root: Path, folder: Path, workdir: Path) -> Any:
    """One `factory run`: the slot's pipeline, then the gate and the registry."""
    loaded = load_model_folder(folder.relative_to(root))
    run = run_pipeline(loaded, root, workdir, echo=lambda _: None)
    return slot_run.gate_and_register(loaded, run, workdir)


@settings(max_examples=60)  # about 1 s a case on two busy cores: the family stays under 90 s
@given(
    metric=st.sampled_from(METRICS),
    greater_is_better=st.booleans(),
    champion=st.tuples(SHIFTS, SPLIT, QUALITY),
    new_shifts=st.one_of(st.none(), SHIFTS),  # None: the same dataset
    new_split=st.one_of(st.none(), SPLIT),  # None: the same split
    # The challenger's quality in hundredths from the champion's: as often a tie, any change, or a gain.
    delta=st.one_of(st.just(0), st.integers(-15, 15), st.integers(1, 15)),
    new_metric=st.one_of(st.none(), st.tuples(st.sampled_from(METRICS), st.booleans())),  # None: the same
    threshold=st.integers(-20, 140).map(lambda t: t / 100),
    min_delta=st.sampled_from([0.0, 0.001, 0.01, 0.05]),  # a quality step is 0.01: gains inside and beyond it
    legacy=st.booleans(),  # the champion was logged before runs recorded an evaluation digest
)
def test_a_challenger_no_better_on_the_same_rows_is_never_registered(
    factory: tuple[Path, ModuleType],
    tally: Any,
    metric: str,
    greater_is_better: bool,
    champion: tuple[list[float], tuple[float, int], float],
    new_shifts: list[float] | None,
    new_split: tuple[float, int] | None,
    delta: int,
    new_metric: tuple[str, bool] | None,
    threshold: float,
    min_delta: float,
    legacy: bool,
) -> None:
    root, scoring = factory
    name = f"gate{next(SLOTS)}"
    shifts, split, quality = champion
    first_deploy = {"primary_metric": metric, "greater_is_better": greater_is_better}
    first_deploy["business_threshold"] = -1e9 if greater_is_better else 1e9  # the champion always registers
    assert gate_run(root, write_slot(root, name, shifts, split, quality, first_deploy), root / name / "1").passed
    if legacy:
        client, run_id = registry.client(), registry.versions(registry.client(), name)[0].run_id
        for tag in EVALUATION_TAGS:
            client.delete_tag(run_id, tag)

    same_metric = new_metric is None or new_metric == (metric, greater_is_better)
    metric, greater_is_better = new_metric or (metric, greater_is_better)
    shifts, split, challenger = new_shifts or shifts, new_split or split, round(quality + delta / 100, 2)
    config = {"primary_metric": metric, "greater_is_better": greater_is_better, "business_threshold": threshold}
    config["min_delta"] = min_delta
    verdict = gate_run(root, write_slot(root, name, shifts, split, challenger, config), root / name / "2")

    # The oracle: both models scored by the toy's own definition on the challenger's test rows.
    rows = scoring.split(list(enumerate(shifts)), split[0], split[1])[1]
    candidate = scoring.score(challenger, [shift for _, shift in rows])[metric]
    bar = scoring.score(quality, [shift for _, shift in rows])[metric]
    bar = margin(bar, min_delta, greater_is_better)
    better = beats(candidate, bar, greater_is_better)
    check = verdict.checks[1]
    registered = len(registry.versions(registry.client(), name)) == 2
    same_rows = all(
        (root / name / "1" / "prep" / "prep_data" / file).read_bytes()
        == (root / name / "2" / "prep" / "prep_data" / file).read_bytes()
        for file in ("train.csv", "test.csv")
    )
    reused = "same evaluation rows" in check.note
    tally.add(
        "gate",
        cases=1,
        worse_or_equal=not better,
        worse_registered=int(registered and not better),
        better_passed_champion_check=int(better and check.passed),
        registered=int(registered),
        rescored=int("re-scored on this run's test rows" in check.note),
        reused=int(reused),
        legacy_champions_rescored=int(legacy and not reused),
    )
    assert (check.candidate, check.bar) == (candidate, bar)  # the bar is the champion on this run's rows
    assert check.passed == better
    assert reused == (same_rows and same_metric and not legacy)  # re-scored unless provably the same rows
    if not better:
        assert not registered and not verdict.passed
        assert {alias: str(v) for alias, v in registry.client().get_registered_model(name).aliases.items()} == {
            "champion": "1",
            "challenger": "1",
        }
    else:
        assert registered == verdict.passed == beats(candidate, threshold, greater_is_better)
