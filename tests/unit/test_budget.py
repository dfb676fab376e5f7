"""The time budget: what it keeps back, how it estimates a candidate, and a run that cannot finish
in its budget returning the best model it found (skipped candidates named on their runs).

(unit layer)"""

from __future__ import annotations

import time

import pytest

from trainer.cli.arguments import EXIT_USAGE
from trainer.cli.main import main
from trainer.search.budget import MIN_RESERVE_SECONDS, Budget
from trainer.search.folds import FoldFit


def fit(seconds: float) -> FoldFit:
    return FoldFit(0, 0, seconds, 0.0, None, None, None)


def test_no_budget_admits_everything() -> None:
    budget = Budget()
    assert not budget.limited and budget.admits(1e12)


def test_the_deadline_keeps_a_reserve_for_what_follows_the_search() -> None:
    assert Budget(100.0, started=0.0).deadline == 100.0 - max(MIN_RESERVE_SECONDS, 10.0)
    assert Budget(1000.0, started=0.0).deadline == 900.0


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


def test_the_reason_says_what_was_needed_and_what_was_left() -> None:
    budget = Budget(30.0, started=time.perf_counter())
    assert budget.reason(500.0).startswith("skipped: needs about 500 s more, ")
    assert budget.reason(500.0).endswith("of the 30 s time budget")


@pytest.mark.parametrize("value", ["-5", "soon", "1e9"])
def test_a_bad_time_budget_is_a_usage_error(value: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["train", "--time-budget", value])
    assert exited.value.code == EXIT_USAGE


def test_under_a_budget_the_cheapest_candidates_go_first() -> None:
    from trainer.catalogue.regressors import CATALOGUE, search_order

    order = [spec.name for spec in search_order(list(CATALOGUE.values()))]
    assert order[0] == "dummy" and order[-1] == "catboost"
    assert order.index("lightgbm") < order.index("random_forest") < order.index("catboost")
    assert order.index("ridge") < order.index("hist_gradient_boosting")


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
