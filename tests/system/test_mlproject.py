"""The MLproject `validate` entry point, as a user runs it (`main` on the full default recipe is
the slow end-to-end test in test_reproducibility.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlflow
import pytest
from helpers import RAW_CSV, ROOT, sha256

VENV_BIN = ROOT / ".venv" / "bin"


def _env() -> dict[str, str]:
    """The test's environment (tracking URI included), with the project venv first on PATH."""
    env = dict(os.environ)
    bin_dir = VENV_BIN if VENV_BIN.is_dir() else Path(sys.executable).parent
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    return env


def _run(cmd: list[str], timeout: int) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        print(done.stdout[-4000:], done.stderr[-4000:], sep="\n")
    return done


@pytest.mark.slow
def test_mlflow_run_validate_entry_point(sqlite_store: str, all_runs: Callable[..., list[Any]]) -> None:
    mlflow_cli = VENV_BIN / "mlflow" if (VENV_BIN / "mlflow").exists() else "mlflow"
    before = sha256(RAW_CSV)

    done = _run(
        [
            str(mlflow_cli),
            "run",
            ".",
            "-e",
            "validate",
            "--env-manager",
            "local",
            "--experiment-name",
            "test",  # not the recipe's: the run is recorded in the recipe's experiment all the same
        ],
        timeout=600,
    )

    assert done.returncode == 0, done.stderr[-2000:]
    runs = all_runs("tags.trainer_command = 'validate'")
    assert len(runs) == 1
    run = runs[0]
    assert mlflow.get_experiment(run.info.experiment_id).name == "student-math-score"
    assert len(all_runs()) == 2  # and a pointer to it in the launcher's experiment
    assert run.info.status == "FINISHED"
    assert run.data.metrics["contract_failed"] == 0
    assert run.data.metrics["contract_expectations"] > 0
    assert run.data.tags["trainer_command"] == "validate"
    assert run.data.tags.get("mlflow.project.entryPoint") == "validate"
    assert run.data.params["data_digest"] == before
    assert sha256(RAW_CSV) == before


def test_mlflow_run_with_another_recipe_uses_that_recipes_data_and_schema(
    sqlite_store: str, sample_csv: Path, tmp_path: Path, all_runs: Callable[..., list[Any]]
) -> None:
    """`-P recipe=` alone: the MLproject's data and schema default to `recipe` (the recipe's own),
    so the recipe's `data:` and `schema:` are validated, not the default dataset's."""
    from helpers import SCHEMA, write_recipe

    recipe = write_recipe(tmp_path / "recipe.yaml", experiment="test-small", data=str(sample_csv))
    mlflow_cli = VENV_BIN / "mlflow" if (VENV_BIN / "mlflow").exists() else "mlflow"

    done = _run(
        [str(mlflow_cli), "run", ".", "-e", "validate", "--env-manager", "local", "--experiment-name", "test"]
        + ["-P", f"recipe={recipe}"],
        timeout=600,
    )

    assert done.returncode == 0, done.stderr[-2000:]
    [run] = all_runs("tags.trainer_command = 'validate'")
    assert run.data.params["data_path"] == str(sample_csv)
    assert run.data.params["data_digest"] == sha256(sample_csv)
    assert run.data.params["schema_path"] == str(SCHEMA)
    launched = [r for r in all_runs() if "data" in r.data.params]  # MLflow's run (here, another experiment's)
    assert [(r.data.params["data"], r.data.params["schema"]) for r in launched] == [("recipe", "recipe")]
