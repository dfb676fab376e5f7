"""The time budget: what it keeps back, how it estimates a candidate, and a run that cannot finish
in its budget returning the best model it found (skipped candidates named on their runs).

(integration layer)"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from trainer.cli.main import main
from trainer.errors import EXIT_GATE, EXIT_OK
from trainer.search.budget import Budget

# a grid no budget of a few seconds can hold: 200 points of a forest, each fit tens of milliseconds
WIDE_FOREST = {"n_estimators": [20], "min_samples_leaf": list(range(1, 201))}


def train(recipe: Path, data: Path, *extra: str) -> int:
    return main(["train", "--no-register", "--data", str(data), "--recipe", str(recipe), *extra])


def test_a_run_that_cannot_finish_in_its_budget_returns_the_best_it_found(
    sqlite_store: str,
    sample_csv: Path,
    make_recipe: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the clock is pinned at 20 s left: the cheap candidates take well under a second, the forest's
    # first fit alone prices its 600 fits far beyond it, on any machine
    monkeypatch.setattr(Budget, "left", lambda self: 20.0)
    candidates = {"random_forest": WIDE_FOREST, "ridge": {"alpha": [1.0, 10.0]}, "dummy": {}}
    recipe = make_recipe(candidates, search={"blend_top": 2})
    assert train(recipe, sample_csv, "--time-budget", "60") == EXIT_OK
    run = mlflow.search_runs(search_all_experiments=True, filter_string="tags.trainer_command = 'train'")
    parent = run.iloc[0]
    assert parent["tags.skipped_candidates"] == "random_forest"
    assert parent["params.search.time_budget"] == "60.0"
    assert parent["tags.selected_candidate"] == "ridge"
    children = mlflow.search_runs(
        search_all_experiments=True, filter_string=f"tags.mlflow.parentRunId = '{parent.run_id}'"
    )
    forest = children.loc[children["tags.candidate"] == "random_forest"].iloc[0]
    assert forest["tags.skipped"].startswith("skipped: needs about ")
    assert pd.isna(forest.get("metrics.cv_r2_mean"))
    assert set(children["tags.candidate"]) == {"random_forest", "ridge", "dummy"}  # no blend of one


def test_the_gates_still_apply_under_a_budget(
    sqlite_store: str, sample_csv: Path, make_recipe: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Budget, "left", lambda self: 20.0)
    recipe = make_recipe({"dummy": {}, "ridge": {"alpha": [1.0]}}, gates={"min_cv_r2": 0.99})
    assert train(recipe, sample_csv, "--time-budget", "60") == EXIT_GATE


def test_a_budget_spent_before_the_baseline_is_a_gate_failure_naming_the_budget(
    sqlite_store: str, sample_csv: Path, small_recipe: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # 1 s less the 5 s reserve: the search has no time at all
    assert train(small_recipe, sample_csv, "--time-budget", "1") == EXIT_GATE
    assert "time budget of 1 s ended before the baseline 'dummy'" in caplog.text
    run = mlflow.search_runs(search_all_experiments=True, filter_string="tags.trainer_command = 'train'")
    assert run.iloc[0]["status"] == "FAILED"
