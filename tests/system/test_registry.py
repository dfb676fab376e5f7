"""Registration, promotion and audit against temporary SQLite and file tracking stores.

(system layer)"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import mlflow
import pytest
from helpers import serving_python, write_recipe
from support.registry import EXPERIMENT, GOOD, MODEL, RAW, ROOT, SCHEMA, raw_rows, small_data, train  # noqa: F401 (fixtures)


@pytest.mark.slow
def test_model_loads_in_clean_venv_without_project(
    sqlite_store: str, small_data: Path, tmp_path: Path, serving_venvs: Path
) -> None:
    """Serving is separate: the model's own requirements.txt is all a fresh env needs."""
    train(small_data, write_recipe(tmp_path / "r.yaml", EXPERIMENT, MODEL, GOOD))
    local = Path(mlflow.artifacts.download_artifacts(f"models:/{MODEL}/1", dst_path=str(tmp_path / "model")))
    py = serving_python(local / "requirements.txt", serving_venvs)
    rows = tmp_path / "rows.csv"
    raw_rows().to_csv(rows, index=False)
    script = (
        "import sys, mlflow, pandas as pd\n"
        f"assert not any(p.startswith({str(ROOT)!r}) for p in sys.path), sys.path\n"
        f"m = mlflow.sklearn.load_model({str(local)!r})\n"
        f"print(len(m.predict(pd.read_csv({str(rows)!r}))))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    out = subprocess.run([str(py), "-I", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("4")
