"""Successive halving (`search.strategy: halving`): scikit-learn's HalvingGridSearchCV narrows a grid
to one best point on growing row samples, and that point is then cross-validated on every row.

Halving ranks on one scorer, and its last round runs on a row sample (`factor**k * (n // factor**k)`
rows, the test folds subsampled too), so its own scores are neither multi-metric nor quite a grid
search's. The best point of the last round (scikit-learn's own choice, `best_index_`) is therefore
cross-validated again on every row, as the grid strategy does it (trainer/search/candidate_search.py): every scorer,
its out-of-fold predictions kept, so candidates compare alike whatever their strategy.

Measured (bench/strategy.py, 4.9k training rows, 64-point HistGB and XGBoost grids): halving chose
worse points than `two_stage` (CV R² 0.538 / 0.504 against 0.553 / 0.551) for more CPU (119 / 53 s
against 87 / 28 s): its first rounds fit on ~180 rows, which favour the most regularised points,
and a fixed-size booster's fit costs nearly as much on a sample as on every row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from sklearn.experimental import enable_halving_search_cv  # noqa: F401 - registers the classes
from sklearn.model_selection import HalvingGridSearchCV

FACTOR = 3  # scikit-learn's default: a third of the candidates survive each round, on 3x the rows
# Below this many points halving costs as much as the grid: 4 points = 4 on a third of the rows,
# 2 on all, 1 rescored = 4.3 full-data fits per fold against the grid's 4; 6 points = 5 against 6.
MIN_POINTS = 2 * FACTOR


class Halving(NamedTuple):
    """The best point of the last round (Pipeline-prefixed), how many grid points halving tried, and
    its fit seconds."""

    best: dict[str, Any]
    points: int
    estimator_seconds: float


def halving_search(
    pipeline: Any,
    grid: dict[str, list[Any]],
    cv_kwargs: dict[str, Any],
    selection_scorer: Any,
    random_state: int,
    run: Callable[[Any], dict[str, Any]],
) -> Halving:
    """Halve `grid` (Pipeline-prefixed) ranked by `selection_scorer` (HalvingGridSearchCV with
    `cv_kwargs`); `run` fits a search and returns its cv_results_."""
    halving = HalvingGridSearchCV(
        pipeline, grid, factor=FACTOR, random_state=random_state, **{**cv_kwargs, "scoring": selection_scorer}
    )
    rounds = pd.DataFrame(run(halving))
    last = rounds.loc[rounds["iter"] == rounds["iter"].max()]
    best = last["params"].iloc[int(np.argmax(last["mean_test_score"].to_numpy()))]
    seconds = float((rounds["mean_fit_time"] + rounds["mean_score_time"]).sum() * halving.n_splits_)
    return Halving(dict(best), int(np.sum(rounds["iter"] == 0)), seconds)
