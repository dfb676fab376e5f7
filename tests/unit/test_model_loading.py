"""Models registered by an earlier release keep loading: the one module a model ships with
(`trainer/transforms.py`) keeps its import path, and a version registered before `trainer/` moved
into packages loads with today's code and predicts the same numbers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from helpers import RAW_CSV

from trainer.model import environment

BEFORE = Path(__file__).resolve().parents[1] / "data" / "model_before_packages"


def test_the_shipped_module_keeps_its_import_path(tmp_path: Path) -> None:
    shipped = environment.model_code(tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in shipped.rglob("*.py")) == [
        "trainer/__init__.py",
        "trainer/transforms.py",
    ]
    assert environment.TRUSTED_TYPE_PREFIXES[0] == "trainer.transforms."
    recorded = yaml.safe_load((BEFORE / "MLmodel").read_text())
    assert recorded["flavors"]["python_function"]["code"] == "code"
    assert (BEFORE / "code" / "trainer" / "transforms.py").exists()


def test_a_version_registered_before_the_move_loads_and_predicts_the_same(tmp_path: Path) -> None:
    import mlflow.sklearn

    model_dir = shutil.copytree(BEFORE, tmp_path / "model")  # loading never writes into tests/data
    model = mlflow.sklearn.load_model(str(model_dir))
    rows = pd.read_csv(RAW_CSV).head(25)
    expected = json.loads((BEFORE / "predictions_head25.json").read_text())
    np.testing.assert_allclose(model.predict(rows), expected, rtol=0, atol=1e-9)
