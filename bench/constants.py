"""Paths, the interpreter, default sizes and the targets that every benchmark section shares."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (2_000, 20_000)
QUICK_CANDIDATES = ("dummy", "linear", "ridge", "hist_gradient_boosting", "xgboost")
PACKAGES = (
    "scikit-learn", "pandas", "numpy", "great-expectations", "mlflow", "xgboost-cpu", "catboost", "lightgbm", "flaml",
)  # fmt: skip
TARGET_OVERHEAD = 0.15
# the start-up row whose wall is MLflow's own share of a run's overhead (bench.overhead.floor_row)
EMPTY_RUN_LABEL = "mlflow run of an empty project (python -c pass)"
TARGET_RATIO = 0.8
TARGET_DEFAULT_WALL_S = 120.0
TARGET_DEFAULT_CV_R2 = 0.5644
# the automl section: FLAML gets the default run's wall, the trainer's --time-budget a third of it
ANYTIME_FRACTION = 1 / 3
TARGET_1M_SECONDS = 180.0
TARGET_1M_GIB = 8.0
GIB = 1024.0**3
