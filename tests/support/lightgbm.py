"""Shared by the unit, integration tests of lightgbm: GRID."""

from __future__ import annotations

# the grid the default recipe would search (a small one keeps the fits cheap here)
GRID = {
    "n_estimators": [30],
    "learning_rate": [0.1],
    "num_leaves": [7],
    "min_child_samples": [20],
    "subsample": [0.8],
    "subsample_freq": [1],
    "colsample_bytree": [0.8],
}
