"""The LightGBM candidate: the catalogue entries fit quietly and deterministically for both tasks,
survive skops, pin `lightgbm` in the model's requirements, and train and register from a recipe.

(integration layer)"""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from helpers import SCHEMA, write_recipe
from mlflow import MlflowClient
from support.lightgbm import GRID

from trainer.pipeline import run_train

MODEL = "test-lightgbm"


def test_a_lightgbm_recipe_trains_registers_and_loads(
    sqlite_store: str, sample_csv: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    recipe = write_recipe(tmp_path / "r.yaml", "test-small", MODEL, {"dummy": {}, "lightgbm": GRID})
    outcome = run_train(sample_csv, SCHEMA, recipe)
    assert outcome.model_version == f"models:/{MODEL}/1"
    version = MlflowClient().get_model_version(MODEL, "1")
    assert version.tags["candidate"] == "lightgbm"
    assert version.tags["serialization"] == "skops"
    local = Path(mlflow.artifacts.download_artifacts(outcome.model_version, dst_path=str(tmp_path / "m")))
    assert "lightgbm==" in (local / "requirements.txt").read_text()
    rows = pd.read_csv(sample_csv).head(4)
    assert np.all(np.isfinite(mlflow.sklearn.load_model(outcome.model_version).predict(rows)))
    out, err = capfd.readouterr()
    assert "[LightGBM]" not in out + err and "feature names" not in out + err
