"""The estimator catalogue: candidate name -> estimator factory, feature encoding and complexity."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trainer.config import did_you_mean
from trainer.errors import ConfigError

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


def _dummy() -> BaseEstimator:
    from sklearn.dummy import DummyRegressor

    return DummyRegressor(strategy="mean")


def _linear() -> BaseEstimator:
    from sklearn.linear_model import LinearRegression

    return LinearRegression()


def _ridge() -> BaseEstimator:
    from sklearn.linear_model import Ridge

    return Ridge(random_state=SEED)


def _lasso() -> BaseEstimator:
    from sklearn.linear_model import Lasso

    return Lasso(random_state=SEED, max_iter=5000)


def _elastic_net() -> BaseEstimator:
    from sklearn.linear_model import ElasticNet

    return ElasticNet(random_state=SEED, max_iter=5000)


def _knn() -> BaseEstimator:
    from sklearn.neighbors import KNeighborsRegressor

    return KNeighborsRegressor(n_jobs=1)


def _decision_tree() -> BaseEstimator:
    from sklearn.tree import DecisionTreeRegressor

    return DecisionTreeRegressor(random_state=SEED)


def _random_forest() -> BaseEstimator:
    from sklearn.ensemble import RandomForestRegressor

    return RandomForestRegressor(random_state=SEED, n_jobs=1)


def _extra_trees() -> BaseEstimator:
    from sklearn.ensemble import ExtraTreesRegressor

    return ExtraTreesRegressor(random_state=SEED, n_jobs=1)


def _gradient_boosting() -> BaseEstimator:
    from sklearn.ensemble import GradientBoostingRegressor

    return GradientBoostingRegressor(random_state=SEED)


def _hist_gradient_boosting() -> BaseEstimator:
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(random_state=SEED, early_stopping=False)


def _xgboost() -> BaseEstimator:
    from xgboost import XGBRegressor

    return XGBRegressor(random_state=SEED, n_jobs=1, tree_method="hist", verbosity=0)


def _catboost() -> BaseEstimator:
    from trainer.transforms import CatBoostNativeRegressor

    return CatBoostNativeRegressor(random_state=SEED, thread_count=1)


CATALOGUE: dict[str, CandidateSpec] = {
    spec.name: spec
    for spec in (
        CandidateSpec("dummy", _dummy, "onehot", 0),
        CandidateSpec("linear", _linear, "onehot", 1),
        CandidateSpec("ridge", _ridge, "onehot", 2),
        CandidateSpec("lasso", _lasso, "onehot", 3),
        CandidateSpec("elastic_net", _elastic_net, "onehot", 4),
        CandidateSpec("knn", _knn, "onehot", 5),
        CandidateSpec("decision_tree", _decision_tree, "onehot", 6),
        CandidateSpec("random_forest", _random_forest, "onehot", 7),
        CandidateSpec("extra_trees", _extra_trees, "onehot", 8),
        CandidateSpec("gradient_boosting", _gradient_boosting, "onehot", 9),
        CandidateSpec("hist_gradient_boosting", _hist_gradient_boosting, "onehot", 10),
        CandidateSpec("xgboost", _xgboost, "onehot", 11),
        CandidateSpec("catboost", _catboost, "native", 12),
    )
}


def check_candidates(
    grids: dict[str, dict[str, list[Any]]],
    max_grid_points: int,
    known: dict[str, CandidateSpec] | None = None,
) -> list[CandidateSpec]:
    """Resolve recipe candidates against the catalogue (the regressors unless `known` is given) before
    any fit: unknown names, unknown parameters and grids larger than `search.max_grid_points` fail
    with one line."""
    specs = []
    known = CATALOGUE if known is None else known
    for name, grid in grids.items():
        if name not in known:
            raise ConfigError(
                f"recipe: unknown candidate '{name}'{did_you_mean(name, list(known))}; known: {sorted(known)}"
            )
        spec = known[name]
        allowed = spec.make().get_params(deep=False)
        unknown = sorted(set(grid) - set(allowed))
        if unknown:
            raise ConfigError(
                f"recipe: candidate '{name}' has unknown parameter(s) {unknown}"
                f"{did_you_mean(unknown[0], list(allowed))}; valid: {sorted(allowed)}"
            )
        points = math.prod(len(values) for values in grid.values())
        if points > max_grid_points:
            raise ConfigError(
                f"recipe: candidate '{name}' has {points} grid points, more than search.max_grid_points "
                f"({max_grid_points}); shrink the grid or raise search.max_grid_points in the recipe"
            )
        specs.append(spec)
    return specs
