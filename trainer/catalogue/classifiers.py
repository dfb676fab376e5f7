"""The classifier catalogue: candidate name -> classifier factory, feature encoding and complexity
(the same names as the regressors in trainer/catalogue/regressors.py, plus the two logistic regressions)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from trainer.catalogue.regressors import CATALOGUE, SEED, CandidateSpec, estimator

if TYPE_CHECKING:
    from trainer.recipe.settings import Recipe


CLASSIFIERS: dict[str, CandidateSpec] = {
    spec.name: spec
    for spec in (
        CandidateSpec("dummy", estimator("sklearn.dummy.DummyClassifier", strategy="prior"), "onehot", 0),
        CandidateSpec(
            "logistic", estimator("sklearn.linear_model.LogisticRegression", max_iter=2000), "onehot", 1
        ),
        CandidateSpec(
            "logistic_elastic_net",
            estimator(
                "sklearn.linear_model.LogisticRegression",
                solver="saga",
                l1_ratio=0.5,
                max_iter=5000,
                random_state=SEED,
            ),
            "onehot",
            2,
        ),
        CandidateSpec("knn", estimator("sklearn.neighbors.KNeighborsClassifier", n_jobs=1), "onehot", 5),
        CandidateSpec(
            "decision_tree", estimator("sklearn.tree.DecisionTreeClassifier", random_state=SEED), "onehot", 6
        ),
        CandidateSpec(
            "random_forest",
            estimator("sklearn.ensemble.RandomForestClassifier", random_state=SEED, n_jobs=1),
            "onehot",
            7,
        ),
        CandidateSpec(
            "extra_trees",
            estimator("sklearn.ensemble.ExtraTreesClassifier", random_state=SEED, n_jobs=1),
            "onehot",
            8,
        ),
        CandidateSpec(
            "gradient_boosting",
            estimator("sklearn.ensemble.GradientBoostingClassifier", random_state=SEED),
            "onehot",
            9,
        ),
        CandidateSpec(
            "hist_gradient_boosting",
            estimator(
                "sklearn.ensemble.HistGradientBoostingClassifier", random_state=SEED, early_stopping=False
            ),
            "onehot",
            10,
        ),
        CandidateSpec("xgboost", estimator("trainer.transforms.XGBLabelClassifier"), "onehot", 12),
        CandidateSpec(
            "catboost",
            estimator("trainer.transforms.CatBoostNativeClassifier", random_state=SEED, thread_count=1),
            "native",
            13,
        ),
        # LightGBM encodes any labels itself (classes_ keeps the originals): no adapter needed
        CandidateSpec(
            "lightgbm",
            estimator("lightgbm.LGBMClassifier", random_state=SEED, n_jobs=1, verbose=-1),
            "onehot",
            11,
        ),
    )
}


def catalogue(task: str = "regression") -> dict[str, CandidateSpec]:
    """The candidates of a task: the regressors (trainer/catalogue/regressors.py) or the classifiers."""
    return CLASSIFIERS if task == "classification" else CATALOGUE


def task_of(schema_task: str | None, candidates: Iterable[str]) -> str:
    """The schema's task; with no readable schema (reported once the run has opened), the task whose
    catalogue knows more of the recipe's candidates, so that a classification recipe is not checked
    (or its workers warmed up) as a regression one."""
    if schema_task is not None:
        return schema_task
    names = set(candidates)
    return "classification" if len(names & set(CLASSIFIERS)) > len(names & set(CATALOGUE)) else "regression"


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
