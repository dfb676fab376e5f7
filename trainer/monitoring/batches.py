"""A batch read in chunks, each checked by the version's row contract, with a progress bar; the model's
inputs and outputs for a chunk. Memory stays flat with the file's length: one chunk at a time."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trainer.data.csv_reader import read_csv_chunks
from trainer.monitoring.rows import Checked, RowContract
from trainer.recipe.task import Task
from trainer.tracking.progress import Progress

CHUNK_ROWS = 100_000  # rows read, checked and scored at a time (about 100 MiB of pandas at 20 columns)


def data_lines(path: Path) -> int:
    """The file's line count (a row per line unless a quoted value holds a line break)."""
    lines, last = 0, b"\n"
    with open(path, "rb") as fh:
        while block := fh.read(1 << 24):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (last != b"\n")


def checked_chunks(path: Path, contract: RowContract, what: str, rows: int = CHUNK_ROWS) -> Iterator[Checked]:
    """Each chunk of the file, checked; a progress bar counts the chunks (a heartbeat line off a terminal)."""
    total = max(1, math.ceil((data_lines(path) - 1) / rows))
    done = 0
    with Progress(what, total=total) as progress:
        for chunk in read_csv_chunks(path, rows, contract.columns, contract.dtype):
            yield contract.check(chunk)
            done += len(chunk)
            progress.advance(f"{done:,} rows")


def model_input(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """The columns the model reads, in the order it was trained on."""
    return frame[list(columns)]


def scored(model: Any, task: Task, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
    """The model's predictions (labels after its decision threshold for a classifier) and a
    classifier's class probabilities (columns in `model.classes_` order)."""
    if not len(X):
        return np.empty(0), (np.empty((0, len(task.labels))) if task.is_classification else None)
    if not task.is_classification:
        return np.asarray(model.predict(X)), None
    return np.asarray(model.predict(X)), np.asarray(model.predict_proba(X))


def prediction_frame(
    model: Any, predictions: np.ndarray, proba: np.ndarray | None, index: pd.Index
) -> pd.DataFrame:
    """`prediction`, and a classifier's `probability_<label>` per class."""
    out = pd.DataFrame({"prediction": predictions}, index=index)
    if proba is not None:
        for j, label in enumerate(model.classes_):
            out[f"probability_{label}"] = proba[:, j]
    return out
