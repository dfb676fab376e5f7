"""Shared by the unit, integration, system tests of registry: EXPERIMENT, GOOD, MODEL, RAW, ROOT, SCHEMA, raw_rows, small_data, train."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trainer.pipeline import run_train

ROOT = Path(__file__).resolve().parents[2]


RAW = ROOT / "data" / "raw" / "star_grade3.csv"


SCHEMA = ROOT / "data" / "schema.yaml"


MODEL = "test-model"


EXPERIMENT = "registry-test"


GOOD = {"dummy": {}, "linear": {}, "hist_gradient_boosting": {"max_iter": [50]}}


@pytest.fixture()
def small_data(tmp_path: Path) -> Path:
    frame = pd.read_csv(RAW).sample(1500, random_state=0)
    path = tmp_path / "small.csv"
    frame.to_csv(path, index=False)
    return path


def train(data: Path, recipe: Path, **kwargs: object) -> str:
    outcome = run_train(data, SCHEMA, recipe, **kwargs)
    assert outcome.model_version
    return outcome.model_version


def raw_rows() -> pd.DataFrame:
    rows = pd.read_csv(RAW).head(4).drop(columns=["math3", "read3", "student_id", "school_id"])
    rows.loc[0, "gender"] = "unheard-of"  # unseen category
    rows.loc[1, "mathk"] = np.nan  # missing value
    rows.loc[2, "birth"] = None
    return rows
