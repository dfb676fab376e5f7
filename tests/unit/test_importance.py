"""Permutation importance (trainer.registry.importance): the same numbers as scikit-learn's
`permutation_importance` for every kind of scorer the tasks use, on one process or two."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor, VotingRegressor
from sklearn.impute import SimpleImputer
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import average_precision_score, make_scorer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from trainer.registry.importance import REPEATS, SEED, importance_by_column


def _table(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
            "colour": pd.Series(rng.choice(["red", "green", "blue"], size=n), dtype="str"),
        }
    )


def _pipeline(model: object) -> Pipeline:
    encode = ColumnTransformer(
        [
            ("colour", OneHotEncoder(handle_unknown="ignore"), ["colour"]),
            ("numbers", SimpleImputer(), ["a", "b"]),
        ],
    )
    return Pipeline([("features", encode), ("model", model)])


def _targets(X: pd.DataFrame) -> dict[str, np.ndarray]:
    signal = X["a"] + 0.5 * X["b"].fillna(0) + (X["colour"] == "red")
    return {
        "regression": signal.to_numpy(),
        "binary": np.where(signal > signal.median(), "yes", "no"),
        "multiclass": pd.qcut(signal, 3, labels=["low", "mid", "high"]).astype(str).to_numpy(),
    }


CASES = [
    # (task, model, scoring): the scorers trainer.recipe.task hands over, by name or as objects
    ("regression", HistGradientBoostingRegressor(max_iter=30, random_state=0), "r2"),
    (
        "regression",
        VotingRegressor([("ridge", Ridge()), ("hgb", HistGradientBoostingRegressor(max_iter=20))]),
        "r2",
    ),
    ("binary", LogisticRegression(), "roc_auc"),
    ("binary", HistGradientBoostingClassifier(max_iter=20, random_state=0), "neg_log_loss"),
    (
        "binary",
        LogisticRegression(),
        make_scorer(average_precision_score, response_method="predict_proba", pos_label="no"),
    ),
    ("multiclass", LogisticRegression(max_iter=500), "roc_auc_ovr_weighted"),
    ("multiclass", HistGradientBoostingClassifier(max_iter=20, random_state=0), "f1_weighted"),
]


@pytest.mark.parametrize(("task", "model", "scoring"), CASES)
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_importances_equal_sklearns(task: str, model: object, scoring: object, n_jobs: int) -> None:
    X = _table()
    y = _targets(X)[task]
    pipeline = _pipeline(model).fit(X, y)
    ours = importance_by_column(pipeline, (X, y), scoring, n_jobs).set_index("column")
    theirs = permutation_importance(pipeline, X, y, scoring=scoring, n_repeats=REPEATS, random_state=SEED)
    np.testing.assert_allclose(
        ours.loc[list(X.columns), "importance_mean"], theirs.importances_mean, atol=1e-12
    )
    np.testing.assert_allclose(
        ours.loc[list(X.columns), "importance_std"], theirs.importances_std, atol=1e-12
    )
    assert ours["importance_mean"].abs().sum() > 0, "a vacuous comparison would prove nothing"


def _r2_of_a_copy(estimator: object, X: pd.DataFrame, y: np.ndarray) -> float:
    """A scorer that predicts on a frame of its own: served by the pipeline itself, not the stack."""
    from sklearn.metrics import r2_score

    return float(r2_score(y, estimator.predict(X.copy())))  # type: ignore[attr-defined]


def test_a_scorer_predicting_on_another_frame_gets_the_pipelines_own_answer() -> None:
    X = _table()
    y = _targets(X)["regression"]
    pipeline = _pipeline(HistGradientBoostingRegressor(max_iter=30, random_state=0)).fit(X, y)
    ours = importance_by_column(pipeline, (X, y), _r2_of_a_copy, 1).set_index("column")
    theirs = permutation_importance(pipeline, X, y, scoring="r2", n_repeats=REPEATS, random_state=SEED)
    np.testing.assert_allclose(
        ours.loc[list(X.columns), "importance_mean"], theirs.importances_mean, atol=1e-12
    )
