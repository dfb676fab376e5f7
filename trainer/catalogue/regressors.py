"""The estimator catalogue: candidate name -> estimator factory, feature encoding and complexity."""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trainer.errors import ConfigError
from trainer.recipe.settings import did_you_mean

if TYPE_CHECKING:
    from sklearn.base import BaseEstimator

SEED = 0


@dataclass(frozen=True)
class CandidateSpec:
    """One searchable regressor. Lower `complexity` wins a tie in CV R²."""

    name: str
    make: Callable[[], BaseEstimator]
    encoding: str  # "onehot": imputed, scaled, one-hot matrix; "native": raw categories
    complexity: int
    # the parameter that sets a fit's threads, for an estimator whose model is the same on any number
    # of them (CatBoost's regressor: identical predictions on 1, 2 and 3 threads, 8.1 s against 5.5 s
    # on 4k rows and 2 cores; its classifier is not claimed: reported to differ, catboost#2804): the
    # winner's refit uses every core through it; searched and registered with the catalogue's value
    threads: str = ""


# Under a time budget the cheapest go first (`search_order`): seconds for 5 folds of the default
# recipe's grid point in one process (the benchmark's section d., 4.9k rows): dummy, linear models,
# knn and a tree 0.5-1.1; xgboost 1.2, lightgbm 1.7, hist_gradient_boosting 2.9; random_forest 5.6,
# extra_trees 7.0, gradient_boosting 8.2; catboost 29.4. A name not listed goes with the middle class.
SPEED_CLASS = {
    **dict.fromkeys(["dummy"], 0),
    **dict.fromkeys(["linear", "ridge", "lasso", "elastic_net", "logistic", "logistic_elastic_net"], 1),
    **dict.fromkeys(["knn", "decision_tree"], 1),
    **dict.fromkeys(["xgboost", "lightgbm", "hist_gradient_boosting"], 2),
    **dict.fromkeys(["random_forest", "extra_trees", "gradient_boosting"], 3),
    **dict.fromkeys(["catboost"], 4),
}


def search_order(specs: list[CandidateSpec]) -> list[CandidateSpec]:
    """The cheapest candidates first (speed class, then complexity): what a time budget runs."""
    return sorted(specs, key=lambda spec: (SPEED_CLASS.get(spec.name, 2), spec.complexity))


def stream_order(specs: list[CandidateSpec], points: dict[str, int]) -> list[CandidateSpec]:
    """The most expensive grids first, by 4 ** speed class x grid points (the classes above are about
    4x apart): a stream of fits on W workers ends with its last fit, so the long ones go first and
    the short ones fill the gaps (longest processing time first). With catboost last, its fifth fold
    ran alone while the other worker idled (3.9 s idle in a 39 s default search)."""
    return sorted(specs, key=lambda spec: -(4 ** SPEED_CLASS.get(spec.name, 2)) * points[spec.name])


def estimator(path: str, **params: Any) -> Callable[[], BaseEstimator]:
    """A factory for `module.Class(**params)` that imports the module only when called, so the
    catalogue costs nothing at start-up (`trainer --help` stays instant)."""
    module, _, name = path.rpartition(".")

    def make() -> BaseEstimator:
        return getattr(importlib.import_module(module), name)(**params)

    return make


CATALOGUE: dict[str, CandidateSpec] = {
    spec.name: spec
    for spec in (
        CandidateSpec("dummy", estimator("sklearn.dummy.DummyRegressor", strategy="mean"), "onehot", 0),
        CandidateSpec("linear", estimator("sklearn.linear_model.LinearRegression"), "onehot", 1),
        CandidateSpec("ridge", estimator("sklearn.linear_model.Ridge", random_state=SEED), "onehot", 2),
        CandidateSpec(
            "lasso", estimator("sklearn.linear_model.Lasso", random_state=SEED, max_iter=5000), "onehot", 3
        ),
        CandidateSpec(
            "elastic_net",
            estimator("sklearn.linear_model.ElasticNet", random_state=SEED, max_iter=5000),
            "onehot",
            4,
        ),
        CandidateSpec("knn", estimator("sklearn.neighbors.KNeighborsRegressor", n_jobs=1), "onehot", 5),
        CandidateSpec(
            "decision_tree", estimator("sklearn.tree.DecisionTreeRegressor", random_state=SEED), "onehot", 6
        ),
        CandidateSpec(
            "random_forest",
            estimator("sklearn.ensemble.RandomForestRegressor", random_state=SEED, n_jobs=1),
            "onehot",
            7,
        ),
        CandidateSpec(
            "extra_trees",
            estimator("sklearn.ensemble.ExtraTreesRegressor", random_state=SEED, n_jobs=1),
            "onehot",
            8,
        ),
        CandidateSpec(
            "gradient_boosting",
            estimator("sklearn.ensemble.GradientBoostingRegressor", random_state=SEED),
            "onehot",
            9,
        ),
        CandidateSpec(
            "hist_gradient_boosting",
            estimator(
                "sklearn.ensemble.HistGradientBoostingRegressor", random_state=SEED, early_stopping=False
            ),
            "onehot",
            10,
        ),
        CandidateSpec(
            "xgboost",
            estimator("xgboost.XGBRegressor", random_state=SEED, n_jobs=1, tree_method="hist", verbosity=0),
            "onehot",
            12,
        ),
        CandidateSpec(
            "catboost",
            estimator("trainer.transforms.CatBoostNativeRegressor", random_state=SEED, thread_count=1),
            "native",
            13,
            threads="thread_count",
        ),
        CandidateSpec(
            "lightgbm",
            estimator("lightgbm.LGBMRegressor", random_state=SEED, n_jobs=1, verbose=-1),
            "onehot",
            11,
        ),
    )
}


def check_candidates(
    grids: dict[str, dict[str, list[Any]]],
    max_grid_points: int,
    known: dict[str, CandidateSpec] | None = None,
    where: str = "recipe",
) -> list[CandidateSpec]:
    """Resolve recipe candidates against the catalogue (the regressors unless `known` is given) before
    any fit: unknown names, unknown parameters and grids larger than `search.max_grid_points` fail
    with one line starting with `where` (the recipe file)."""
    specs = []
    known = CATALOGUE if known is None else known
    for name, grid in grids.items():
        if name not in known:
            raise ConfigError(
                f"{where}: unknown candidate '{name}'{did_you_mean(name, list(known))}; known: {sorted(known)}"
            )
        spec = known[name]
        allowed = spec.make().get_params(deep=False)
        unknown = sorted(set(grid) - set(allowed))
        if unknown:
            raise ConfigError(
                f"{where}: candidate '{name}' has unknown parameter(s) {unknown}"
                f"{did_you_mean(unknown[0], list(allowed))}; valid: {sorted(allowed)}"
            )
        points = math.prod(len(values) for values in grid.values())
        if points > max_grid_points:
            raise ConfigError(
                f"{where}: candidate '{name}' has {points} grid points, more than search.max_grid_points "
                f"({max_grid_points}); shrink the grid or raise search.max_grid_points in the recipe"
            )
        specs.append(spec)
    return specs
