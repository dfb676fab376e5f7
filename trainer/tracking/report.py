"""Plots and tables for a run's artifacts: leaderboard, evaluation and importance plots, phase timings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def leaderboard_plot(board: pd.DataFrame, path: Path, metric: str = "r2") -> Path:
    """CV R² (or the selection metric) mean ± std per candidate, best at the top."""
    board = board.rename(columns={f"cv_{metric}_mean": "cv_r2_mean", f"cv_{metric}_std": "cv_r2_std"})
    label = "R²" if metric == "r2" else metric
    plt = _pyplot()
    ordered = board.iloc[::-1]
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(board) + 1.5), dpi=110)
    colors = [
        "tab:green"
        if s == "selected"
        else "tab:gray"
        if s.startswith("rejected") or s == "baseline"
        else "tab:blue"
        for s in ordered["status"]
    ]
    ax.barh(ordered["candidate"], ordered["cv_r2_mean"], xerr=ordered["cv_r2_std"], color=colors, capsize=3)
    ax.set_xlabel(f"cross-validated {label} (mean ± std)")
    ax.set_title(f"Candidates by CV {label} (green: selected, grey: baseline/rejected)")
    left, right = zoomed_limits(ordered)
    ax.set_xlim(left, right)
    for y, (value, std) in enumerate(zip(ordered["cv_r2_mean"], ordered["cv_r2_std"], strict=True)):
        # the value beside every bar, also for a bar that ends off the left edge
        ax.text(max(float(value + std), left), y, f"  {value:.4f}", va="center", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def zoomed_limits(board: pd.DataFrame) -> tuple[float, float]:
    """x-axis limits that show the differences between the serious candidates: the baseline (and
    anything far below the pack) may fall off the left edge, its value stays in the table."""
    low = board["cv_r2_mean"] - board["cv_r2_std"]
    high = board["cv_r2_mean"] + board["cv_r2_std"]
    serious = low[board["status"] != "baseline"]
    left = float((serious if len(serious) else low).min())
    right = float(high.max())
    pad = max(0.02, 0.1 * (right - left))
    return left - pad, right + pad


def prediction_plots(y_true: np.ndarray, y_pred: np.ndarray, path: Path) -> Path:
    """Predicted vs actual and residuals on the holdout, side by side."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5), dpi=110)
    low, high = float(min(y_true.min(), y_pred.min())), float(max(y_true.max(), y_pred.max()))
    left.scatter(y_true, y_pred, s=8, alpha=0.4)
    left.plot([low, high], [low, high], color="tab:red", lw=1)
    left.set_xlabel("actual")
    left.set_ylabel("predicted")
    left.set_title("Holdout: predicted vs actual")
    residuals = y_true - y_pred
    right.scatter(y_pred, residuals, s=8, alpha=0.4)
    right.axhline(0, color="tab:red", lw=1)
    right.set_xlabel("predicted")
    right.set_ylabel("actual − predicted")
    right.set_title("Holdout: residuals")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def importance_plot(importance: pd.DataFrame, path: Path) -> Path:
    """Permutation importance (drop in R²) per raw input column."""
    plt = _pyplot()
    ordered = importance.iloc[::-1]
    fig, ax = plt.subplots(figsize=(9, 0.4 * len(importance) + 1.5), dpi=110)
    ax.barh(ordered["column"], ordered["importance_mean"], xerr=ordered["importance_std"], capsize=3)
    ax.set_xlabel("drop in holdout R² when the column is shuffled")
    ax.set_title("Permutation importance of the selected model (raw input columns)")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def timing_table(timings: dict[str, float]) -> str:
    """Phase timings as aligned text lines for the terminal."""
    width = max(len(k) for k in timings)
    return "\n".join(f"  {k:<{width}}  {v:8.2f} s" for k, v in timings.items())
