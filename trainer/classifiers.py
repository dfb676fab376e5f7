"""The classifier catalogue: candidate name -> classifier factory, feature encoding and complexity
(the same names as the regressors in trainer/candidates.py, plus the two logistic regressions)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from trainer.candidates import CATALOGUE, SEED, CandidateSpec

if TYPE_CHECKING:
    from trainer.config import Recipe


def _dummy() -> Any:
    from sklearn.dummy import DummyClassifier

    return DummyClassifier(strategy="prior")


def _logistic() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=2000)


def _logistic_elastic_net() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(solver="saga", l1_ratio=0.5, max_iter=5000, random_state=SEED)


def _knn() -> Any:
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(n_jobs=1)


def _decision_tree() -> Any:
    from sklearn.tree import DecisionTreeClassifier

    return DecisionTreeClassifier(random_state=SEED)


def _random_forest() -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(random_state=SEED, n_jobs=1)


def _extra_trees() -> Any:
    from sklearn.ensemble import ExtraTreesClassifier

    return ExtraTreesClassifier(random_state=SEED, n_jobs=1)


def _gradient_boosting() -> Any:
    from sklearn.ensemble import GradientBoostingClassifier

    return GradientBoostingClassifier(random_state=SEED)


def _hist_gradient_boosting() -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(random_state=SEED, early_stopping=False)


def _xgboost() -> Any:
    from trainer.transforms import XGBLabelClassifier

    return XGBLabelClassifier()


def _catboost() -> Any:
    from trainer.transforms import CatBoostNativeClassifier

    return CatBoostNativeClassifier(random_state=SEED, thread_count=1)


CLASSIFIERS: dict[str, CandidateSpec] = {
    spec.name: spec
    for spec in (
        CandidateSpec("dummy", _dummy, "onehot", 0),
        CandidateSpec("logistic", _logistic, "onehot", 1),
        CandidateSpec("logistic_elastic_net", _logistic_elastic_net, "onehot", 2),
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


def catalogue(task: str = "regression") -> dict[str, CandidateSpec]:
    """The candidates of a task: the regressors (trainer/candidates.py) or the classifiers."""
    return CLASSIFIERS if task == "classification" else CATALOGUE


def with_class_weight(
    grids: dict[str, dict[str, list[Any]]], class_weight: str
) -> dict[str, dict[str, list[Any]]]:
    """`class_weight: balanced` added to the grid of every candidate that accepts it (not the baseline)."""
    if class_weight == "none":
        return grids
    out = {}
    for name, grid in grids.items():
        accepts = name in CLASSIFIERS and "class_weight" in CLASSIFIERS[name].make().get_params(deep=False)
        out[name] = {"class_weight": [class_weight], **grid} if accepts and name != "dummy" else grid
    return out


def with_task_grids(recipe: Recipe, task: str) -> Recipe:
    """A classification recipe's grids with `class_weight` added where the recipe asks for it."""
    if task != "classification":
        return recipe
    return replace(
        recipe, candidates=with_class_weight(recipe.candidates, recipe.classification.class_weight)
    )
