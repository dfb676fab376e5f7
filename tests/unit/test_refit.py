"""The winner's refit: an estimator whose model does not depend on its threads (CatBoost) fits on
every core, gives the same predictions as on one thread, and keeps the catalogue's parameters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import SCHEMA

from trainer.catalogue.regressors import CATALOGUE
from trainer.data.features import build_pipeline
from trainer.data.schema import load_schema
from trainer.data.split import Split
from trainer.model.refit import refit
from trainer.recipe.task import Task
from trainer.search.blend import BLEND
from trainer.search.results import CandidateResult

CATBOOST = {"iterations": 60, "depth": 4, "learning_rate": 0.1}
LIGHTGBM = {"n_estimators": 30}


def _winner(name: str, params: dict[str, object]) -> CandidateResult:
    return CandidateResult(
        name=name,
        complexity=0,
        grid_size=1,
        best_params=params,
        cv_mean=0.5,
        cv_std=0.01,
        fit_seconds=0.0,
        estimator_seconds=0.0,
        cv_results=pd.DataFrame(),
        started_at=0.0,
    )


@pytest.fixture
def data(sample_frame: pd.DataFrame) -> tuple[object, Split, Task]:
    schema = load_schema(SCHEMA)
    frame = sample_frame.dropna(subset=[schema.target]).reset_index(drop=True)
    X, y = frame[list(schema.feature_columns)], frame[schema.target].to_numpy(dtype=float)
    split = Split(X_train=X, X_test=X.head(50), y_train=y, y_test=y[:50], groups=None)
    return schema, split, Task()


def _one_thread(schema: object, split: Split) -> np.ndarray:
    spec = CATALOGUE["catboost"]
    model = build_pipeline(schema, spec.encoding, spec.make().set_params(**CATBOOST))  # type: ignore[arg-type]
    return model.fit(split.X_train, split.y_train).predict(split.X_test)


@pytest.mark.parametrize("threads", [2, 3])
def test_catboost_regressor_is_the_same_model_on_any_number_of_threads(
    data: tuple[object, Split, Task], threads: int
) -> None:
    schema, split, _ = data
    spec = CATALOGUE["catboost"]
    model = spec.make().set_params(**CATBOOST, thread_count=threads)
    many = build_pipeline(schema, spec.encoding, model).fit(split.X_train, split.y_train)  # type: ignore[arg-type]
    np.testing.assert_array_equal(many.predict(split.X_test), _one_thread(schema, split))


def test_catboost_refits_on_every_core_with_the_same_model(data: tuple[object, Split, Task]) -> None:
    schema, split, task = data
    fitted = refit(_winner("catboost", CATBOOST), schema, split, task, n_jobs=2)  # type: ignore[arg-type]
    assert fitted.named_steps["model"].get_params()["thread_count"] == 1  # the catalogue's, as searched
    np.testing.assert_array_equal(fitted.predict(split.X_test), _one_thread(schema, split))


def test_a_blend_refits_its_members_side_by_side_with_their_searched_parameters(
    data: tuple[object, Split, Task],
) -> None:
    schema, split, task = data
    params = {
        "members": ["lightgbm", "catboost"],
        **{f"catboost__{k}": v for k, v in CATBOOST.items()},
        **{f"lightgbm__{k}": v for k, v in LIGHTGBM.items()},
    }
    fitted = refit(_winner(BLEND, params), schema, split, task, n_jobs=2)  # type: ignore[arg-type]
    voting = fitted.named_steps["model"]
    for member in [*(m for _, m in voting.estimators), *voting.estimators_]:
        model = member.named_steps["model"]
        if "thread_count" in model.get_params():
            assert model.get_params()["thread_count"] == 1
    catboost = dict(zip([n for n, _ in voting.estimators], voting.estimators_, strict=True))["catboost"]
    np.testing.assert_array_equal(catboost.predict(split.X_test), _one_thread(schema, split))
