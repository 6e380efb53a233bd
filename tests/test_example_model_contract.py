"""Fast tier: the example model's data contract, rendered for each problem type and run with this repo's libraries.

The model's own tests (test_contract.py, test_prep.py) run here without a uv sync: the template repo's test
environment holds pandas, scikit-learn and pandera, and the rendered package is put on PYTHONPATH. The one test
that needs a trained model (evaluate checks its input) runs with the generated repos' own tests in the slow tier.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from projects import render, run

MODELS = {"classification": "churn", "regression": "taxi_fare"}


def model_env(root: Path) -> dict[str, str]:
    """This interpreter's environment with the rendered model package importable."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root)])}


@pytest.fixture(scope="module", params=sorted(MODELS))
def prototype(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A rendered prototype of one problem type and its model's name."""
    root = tmp_path_factory.mktemp("contract") / "repo"
    return render(root, "prototype", problem_type=request.param), MODELS[request.param]


def test_the_models_contract_and_prep_tests_pass(prototype: tuple[Path, str]) -> None:
    root, model = prototype
    tests = [f"tests/{model}/test_contract.py", f"tests/{model}/test_prep.py"]
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "not evaluate"]
    output = run([*pytest, *tests], root, model_env(root))
    assert " passed" in output and "failed" not in output and "skipped" not in output


def test_the_prep_command_ends_with_one_message_naming_the_column(prototype: tuple[Path, str]) -> None:
    root, model = prototype
    raw = next((root / "data/raw").glob("*.csv"))
    header, first, *rest = raw.read_text(encoding="utf-8").splitlines()
    column = header.split(",")[0]
    broken = root.parent / "broken.csv"
    broken.write_text("\n".join([header, "not a number," + first.split(",", 1)[1], *rest]) + "\n")
    done = subprocess.run(  # noqa: S603  (this interpreter, the rendered step, no shell)
        [sys.executable, "-m", f"{model}.prep", "--raw_data", str(broken), "--prep_data", str(root.parent / "out")],
        cwd=root,
        env=model_env(root),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"prep: the data breaks the data contract of {model}.schema:\n")
    assert f"column {column!r}: 1 row fails dtype(" in done.stderr and "'not a number'" in done.stderr
    assert not (root.parent / "out").exists()
