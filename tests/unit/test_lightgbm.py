"""The LightGBM candidate: the catalogue entries fit quietly and deterministically for both tasks,
survive skops, pin `lightgbm` in the model's requirements, and train and register from a recipe.

(unit layer)"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import SCHEMA
from support.lightgbm import GRID

from trainer.catalogue.classifiers import catalogue
from trainer.catalogue.regressors import check_candidates
from trainer.data.features import build_pipeline
from trainer.data.schema import load_schema
from trainer.model import environment


def tiny(frame: pd.DataFrame, task: str) -> tuple[pd.DataFrame, np.ndarray]:
    """200 rows of features and a target: the score, or its two halves as text labels."""
    rows = frame.head(200)
    y = rows["math3"].to_numpy()
    if task == "classification":
        y = np.where(y > np.nanmedian(y), "high", "low")
    return rows.drop(columns=["math3"]), y


def fitted(task: str, frame: pd.DataFrame) -> tuple[object, pd.DataFrame]:
    spec = catalogue(task)["lightgbm"]
    model = spec.make().set_params(**{k: v[0] for k, v in GRID.items()})
    X, y = tiny(frame, task)
    return build_pipeline(load_schema(SCHEMA), spec.encoding, model).fit(X, y), X


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_lightgbm_entry_fits_a_tiny_frame_quietly_and_deterministically(
    task: str, sample_frame: pd.DataFrame, capfd: pytest.CaptureFixture[str]
) -> None:
    spec = catalogue(task)["lightgbm"]
    assert check_candidates({"lightgbm": GRID}, 10, catalogue(task)) == [spec]
    params = spec.make().get_params()
    assert (params["random_state"], params["n_jobs"], params["verbose"]) == (0, 1, -1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a feature-name (or any) warning fails the test
        first, X = fitted(task, sample_frame)
        second, _ = fitted(task, sample_frame)
        predictions = first.predict(X)
    np.testing.assert_array_equal(predictions, second.predict(X))
    if task == "classification":
        assert set(predictions) <= {"high", "low"}  # labels as given, no adapter
        assert first.predict_proba(X).shape == (len(X), 2)
    out, err = capfd.readouterr()
    assert "LightGBM" not in out + err and "Warning" not in out + err


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_lightgbm_pipeline_serializes_with_skops_and_pins_lightgbm(
    task: str, sample_frame: pd.DataFrame
) -> None:
    import skops.io as sio

    pipeline, X = fitted(task, sample_frame)
    serialization, trusted = environment.choose_serialization(pipeline)
    assert serialization == "skops" and trusted is not None
    loaded = sio.loads(sio.dumps(pipeline), trusted=trusted)
    np.testing.assert_array_equal(loaded.predict(X), pipeline.predict(X))
    pins = environment.model_requirements(pipeline)
    assert f"lightgbm=={environment.distribution_versions(('lightgbm',))['lightgbm']}" in pins
    assert not [pin for pin in pins if pin.startswith(("xgboost", "catboost"))]
