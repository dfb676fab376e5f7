"""The time budget: what it keeps back, how it estimates a candidate, and a run that cannot finish
in its budget returning the best model it found (skipped candidates named on their runs)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from trainer.cli.arguments import EXIT_USAGE
from trainer.cli.main import main
from trainer.errors import EXIT_GATE, EXIT_OK
from trainer.search.budget import MIN_RESERVE_SECONDS, Budget
from trainer.search.folds import FoldFit

# a grid no budget of a few seconds can hold: 200 points of a forest, each fit tens of milliseconds
WIDE_FOREST = {"n_estimators": [20], "min_samples_leaf": list(range(1, 201))}


def fit(seconds: float) -> FoldFit:
    return FoldFit(0, 0, seconds, 0.0, None, None, None)


@pytest.mark.unit
def test_no_budget_admits_everything() -> None:
    budget = Budget()
    assert not budget.limited and budget.admits(1e12)


@pytest.mark.unit
def test_the_deadline_keeps_a_reserve_for_what_follows_the_search() -> None:
    assert Budget(100.0, started=0.0).deadline == 100.0 - max(MIN_RESERVE_SECONDS, 10.0)
    assert Budget(1000.0, started=0.0).deadline == 900.0


@pytest.mark.unit
@pytest.mark.parametrize(
    ("probe", "elapsed", "total", "workers", "expected"),
    [
        ([fit(2.0), fit(2.0)], 2.0, 10, 2, 2.0 * 4 + 2.0 * 5 / 4),  # 8 fits left, 2 at a time
        ([fit(1.0)], 1.0, 5, 1, 1.0 * 4 + 1.0 * 5 / 4),  # 4 left, one at a time
        ([fit(3.0), fit(1.0)], 3.0, 2, 2, 3.0 * 5 / 4),  # nothing left but the refit
    ],
)
def test_a_candidate_is_estimated_from_its_first_fits(
    probe: list[FoldFit], elapsed: float, total: int, workers: int, expected: float
) -> None:
    assert Budget(60.0, workers=workers).estimate(elapsed, probe, total, folds=5) == pytest.approx(expected)


@pytest.mark.unit
def test_the_reason_says_what_was_needed_and_what_was_left() -> None:
    budget = Budget(30.0, started=time.perf_counter())
    assert budget.reason(500.0).startswith("skipped: needs about 500 s more, ")
    assert budget.reason(500.0).endswith("of the 30 s time budget")


def train(recipe: Path, data: Path, *extra: str) -> int:
    return main(["train", "--no-register", "--data", str(data), "--recipe", str(recipe), *extra])


@pytest.mark.integration
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


@pytest.mark.integration
def test_the_gates_still_apply_under_a_budget(
    sqlite_store: str, sample_csv: Path, make_recipe: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Budget, "left", lambda self: 20.0)
    recipe = make_recipe({"dummy": {}, "ridge": {"alpha": [1.0]}}, gates={"min_cv_r2": 0.99})
    assert train(recipe, sample_csv, "--time-budget", "60") == EXIT_GATE


@pytest.mark.integration
def test_a_budget_spent_before_the_baseline_is_a_gate_failure_naming_the_budget(
    sqlite_store: str, sample_csv: Path, small_recipe: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # 1 s less the 5 s reserve: the search has no time at all
    assert train(small_recipe, sample_csv, "--time-budget", "1") == EXIT_GATE
    assert "time budget of 1 s ended before the baseline 'dummy'" in caplog.text
    run = mlflow.search_runs(search_all_experiments=True, filter_string="tags.trainer_command = 'train'")
    assert run.iloc[0]["status"] == "FAILED"


@pytest.mark.unit
@pytest.mark.parametrize("value", ["-5", "soon", "1e9"])
def test_a_bad_time_budget_is_a_usage_error(value: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["train", "--time-budget", value])
    assert exited.value.code == EXIT_USAGE


@pytest.mark.unit
def test_under_a_budget_the_cheapest_candidates_go_first() -> None:
    from trainer.catalogue.regressors import CATALOGUE, search_order

    order = [spec.name for spec in search_order(list(CATALOGUE.values()))]
    assert order[0] == "dummy" and order[-1] == "catboost"
    assert order.index("lightgbm") < order.index("random_forest") < order.index("catboost")
    assert order.index("ridge") < order.index("hist_gradient_boosting")


@pytest.mark.unit
def test_without_a_budget_the_stream_runs_the_longest_grids_first() -> None:
    from trainer.catalogue.regressors import CATALOGUE, stream_order

    specs = list(CATALOGUE.values())
    points = dict.fromkeys(CATALOGUE, 1)
    order = [spec.name for spec in stream_order(specs, points)]
    assert order[0] == "catboost" and order[-1] == "dummy"
    assert order.index("random_forest") < order.index("lightgbm") < order.index("ridge")
    # grid size counts: 5 points of a forest outweigh one CatBoost point; equal costs keep recipe order
    wide = [spec.name for spec in stream_order(specs, {**points, "random_forest": 5})]
    assert wide[0] == "random_forest"
    assert wide.index("linear") < wide.index("ridge") < wide.index("lasso")
