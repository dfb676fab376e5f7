"""Classification: label contract, metrics, stratification, calibration, blend, threshold, promotion by
AUC, the credit data end to end and multi-class (scikit-learn's bundled wine data) end to end.

(system layer)"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import mlflow
import pytest
from helpers import ROOT, serving_python
from support.classification import CREDIT_SCHEMA, credit_recipe, credit_sample, train

from trainer.errors import EXIT_OK


@pytest.mark.slow
def test_credit_model_predicts_labels_and_probabilities_in_a_clean_venv(
    sqlite_store: str, tmp_path: Path, serving_venvs: Path
) -> None:
    data = tmp_path / "credit.csv"
    credit_sample(600).to_csv(data, index=False)
    assert train(data, CREDIT_SCHEMA, credit_recipe(tmp_path / "r.yaml")) == EXIT_OK
    local = Path(
        mlflow.artifacts.download_artifacts("models:/credit-test/1", dst_path=str(tmp_path / "model"))
    )
    py = serving_python(local / "requirements.txt", serving_venvs)
    rows = tmp_path / "rows.csv"
    credit_sample(4, seed=5).to_csv(rows, index=False)
    script = (
        "import sys, mlflow, pandas as pd\n"
        f"assert not any(p.startswith({str(ROOT)!r}) for p in sys.path), sys.path\n"
        f"rows = pd.read_csv({str(rows)!r})\n"
        f"print(sorted(set(mlflow.pyfunc.load_model({str(local)!r}).predict(rows))))\n"
        f"print(mlflow.sklearn.load_model({str(local)!r}).predict_proba(rows).shape)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    out = subprocess.run([str(py), "-I", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "(4, 2)" in out.stdout and ("'bad'" in out.stdout or "'good'" in out.stdout)
