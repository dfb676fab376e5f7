"""Cross-validation from fold fits: the same scores as GridSearchCV, and a blend scored from its
members' out-of-fold predictions equal to the refitted VotingRegressor/VotingClassifier's."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import SCHEMA
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_val_score

from trainer.catalogue.classifiers import CLASSIFIERS
from trainer.catalogue.regressors import CATALOGUE
from trainer.data.features import build_pipeline
from trainer.data.schema import load_schema
from trainer.recipe.settings import SearchSettings
from trainer.recipe.task import Task, sign
from trainer.search.blend import blend_pipeline, search_blend
from trainer.search.candidate_search import prefixed, search_candidate
from trainer.search.plan import SearchPlan

CREDIT_SCHEMA = SCHEMA.parent / "credit_scoring.yaml"
CREDIT_CSV = SCHEMA.parent / "raw" / "credit_scoring.csv"
BINARY = Task("classification", "roc_auc", ("bad", "good"), "bad")
REGRESSION = Task()


def plan_for(schema_path: Path, frame: pd.DataFrame, task: Task = REGRESSION, n_jobs: int = 2) -> SearchPlan:
    """3 seeded folds (stratified for a classifier) over a frame's rows."""
    schema = load_schema(schema_path)
    frame = frame.dropna(subset=[schema.target]).reset_index(drop=True)
    splitter = StratifiedKFold if task.is_classification else KFold
    return SearchPlan(
        schema=schema,
        X=frame[list(schema.feature_columns)],
        y=frame[schema.target].to_numpy(dtype=object if task.is_classification else float),
        groups=None,
        cv=splitter(n_splits=3, shuffle=True, random_state=42),
        n_jobs=n_jobs,
        settings=SearchSettings(),
        random_state=42,
        task=task,
    )


def regression_plan(sample_frame: pd.DataFrame, n_jobs: int = 2) -> SearchPlan:
    return plan_for(SCHEMA, sample_frame, n_jobs=n_jobs)


def classification_plan(rows: int = 600) -> SearchPlan:
    return plan_for(CREDIT_SCHEMA, pd.read_csv(CREDIT_CSV).sample(rows, random_state=0), BINARY)


def grid_search_cv(plan: SearchPlan, name: str, grid: dict, catalogue: dict) -> pd.DataFrame:
    spec = catalogue[name]
    pipeline = build_pipeline(plan.schema, spec.encoding, spec.make())
    scoring = plan.task.search_scoring()
    search = GridSearchCV(pipeline, [prefixed(grid)], scoring=scoring, cv=plan.cv, refit=False, n_jobs=1)
    return pd.DataFrame(search.fit(plan.X, plan.y).cv_results_)


def test_every_grid_point_scores_as_grid_search_cv_does(sample_frame: pd.DataFrame) -> None:
    plan = regression_plan(sample_frame)
    grid = {"alpha": [1.0, 10.0, 100.0]}
    mine = search_candidate(CATALOGUE["ridge"], grid, plan)
    theirs = grid_search_cv(plan, "ridge", grid, CATALOGUE)
    np.testing.assert_allclose(mine.cv_results["mean_test_score"], theirs["mean_test_score"], rtol=1e-12)
    np.testing.assert_allclose(mine.cv_results["std_test_score"], theirs["std_test_score"], rtol=1e-9)
    for i in range(3):
        np.testing.assert_allclose(mine.cv_results[f"split{i}_test_score"], theirs[f"split{i}_test_score"])
    assert mine.oof is not None and mine.oof.predictions.shape == plan.y.shape


def test_the_blend_from_out_of_fold_predictions_equals_the_refitted_voting_regressor(
    sample_frame: pd.DataFrame,
) -> None:
    plan = regression_plan(sample_frame)
    grids = {"ridge": {"alpha": [10.0]}, "random_forest": {"n_estimators": [30], "min_samples_leaf": [5]}}
    members = [search_candidate(CATALOGUE[name], grid, plan) for name, grid in grids.items()]
    blend = search_blend(members, plan)
    voting = blend_pipeline([(CATALOGUE[m.name], m.best_params) for m in members], plan.schema)
    refit = GridSearchCV(voting, [{}], scoring="r2", cv=plan.cv, refit=False).fit(plan.X, plan.y)
    assert blend.cv_mean == pytest.approx(refit.cv_results_["mean_test_score"][0], rel=1e-12, abs=1e-12)
    assert blend.cv_std == pytest.approx(refit.cv_results_["std_test_score"][0], rel=1e-9, abs=1e-12)
    assert blend.best_params["members"] == ["ridge", "random_forest"]
    assert blend.estimator_seconds < 1.0  # nothing was fitted


def test_the_classification_blend_equals_the_refitted_soft_voting_classifier() -> None:
    plan = classification_plan()
    grids = {"logistic": {"C": [1.0]}, "knn": {"n_neighbors": [15]}}
    members = [search_candidate(CLASSIFIERS[name], grid, plan) for name, grid in grids.items()]
    blend = search_blend(members, plan)
    voting = blend_pipeline([(CLASSIFIERS[m.name], m.best_params) for m in members], plan.schema, True)
    for metric, scorer in plan.task.scorers().items():
        theirs = cross_val_score(voting, plan.X, plan.y, scoring=scorer, cv=plan.cv).mean()
        assert blend.cv_metrics[metric][0] == pytest.approx(sign(metric) * theirs, rel=1e-9), metric


def test_a_classifier_scores_as_grid_search_cv_does_for_every_metric() -> None:
    plan = classification_plan()
    grid = {"C": [0.1, 1.0]}
    mine = search_candidate(CLASSIFIERS["logistic"], grid, plan)
    spec = CLASSIFIERS["logistic"]
    for i, c in enumerate(grid["C"]):
        model = build_pipeline(plan.schema, spec.encoding, spec.make().set_params(C=c))
        for metric, scorer in plan.task.scorers().items():
            # one scorer at a time: GridSearchCV's shared multi-metric response cache hands
            # average_precision and brier the probability of classes_[1] even when pos_label is classes_[0]
            theirs = cross_val_score(model, plan.X, plan.y, scoring=scorer, cv=plan.cv).mean()
            column = f"mean_test_{plan.task.score_column(metric)}"
            assert mine.cv_results[column].iloc[i] == pytest.approx(theirs, rel=1e-9), metric


def test_one_worker_and_two_give_the_same_scores(sample_frame: pd.DataFrame) -> None:
    grid = {"alpha": [1.0, 10.0]}
    one = search_candidate(CATALOGUE["ridge"], grid, replace(regression_plan(sample_frame), n_jobs=1))
    two = search_candidate(CATALOGUE["ridge"], grid, regression_plan(sample_frame, n_jobs=2))
    assert one.cv_mean == two.cv_mean and one.best_params == two.best_params
    np.testing.assert_array_equal(one.oof.predictions, two.oof.predictions)  # type: ignore[union-attr]
