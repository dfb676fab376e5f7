"""What `trainer monitor` counts while it reads a batch: each feature's, the predictions' and the
target's drift trackers, the rows the contract refused, and the labelled rows' truth and predictions
(for the metric: a few numbers per row)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from trainer.data.schema import Schema
from trainer.monitoring.drift import CategoryDrift, NumberDrift
from trainer.recipe.task import Task
from trainer.registry.training_profile import category_text, feature_frames

Tracker = NumberDrift | CategoryDrift


def allowed_categories(suite: dict[str, Any]) -> dict[str, set[str]]:
    """Each column's value set in the suite, spelt as the model spells categories."""
    out = {}
    for exp in suite.get("expectations", []):
        kwargs = exp.get("kwargs") or {}
        if exp.get("type") == "expect_column_values_to_be_in_set" and "column" in kwargs:
            values = pd.Series(list(kwargs.get("value_set") or []), dtype=object, name="values")
            out[str(kwargs["column"])] = set(category_text(values).dropna())
    return out


@dataclass
class Batch:
    features: dict[str, Tracker]
    predictions: dict[str, Tracker]
    target: Tracker | None
    classes: list[Any]
    rows: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    truth: list[np.ndarray] = field(default_factory=list)
    predicted: list[np.ndarray] = field(default_factory=list)
    proba: list[np.ndarray] = field(default_factory=list)

    @property
    def labelled_rows(self) -> int:
        return sum(len(y) for y in self.truth)

    def add_features(self, schema: Schema, frame: pd.DataFrame) -> None:
        """Every row's features (rows the contract refused too: drift is about what arrives)."""
        self.rows += len(frame)
        for name, (_, values) in feature_frames(schema, frame).items():
            if name in self.features:
                self.features[name].add(values)

    def add_predictions(self, task: Task, predictions: np.ndarray, proba: np.ndarray | None) -> None:
        self.predictions["prediction"].add(pd.Series(predictions, name="prediction"))
        if "probability" in self.predictions and proba is not None:
            self.predictions["probability"].add(proba[:, self.classes.index(task.positive_class)])

    def add_labels(self, task: Task, y: pd.Series, predictions: np.ndarray, proba: np.ndarray | None) -> None:
        """The scored rows' targets; a row without one (or with a label the model does not know)
        counts for drift only."""
        assert self.target is not None
        self.target.add(y)
        if task.is_classification:
            spelt = {
                str(s): c
                for s, c in zip(category_text(pd.Series(self.classes, name="c")), self.classes, strict=True)
            }
            truth = category_text(y.rename("y")).map(spelt)
        else:
            truth = pd.to_numeric(y, errors="coerce")
        known = truth.notna().to_numpy()
        self.truth.append(truth.to_numpy()[known])
        self.predicted.append(predictions[known])
        if proba is not None:
            self.proba.append(proba[known])

    def labels(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(truth, predictions, probabilities) of the labelled rows."""
        y = np.concatenate(self.truth)
        y = y if self.classes else y.astype(np.float64)
        return y, np.concatenate(self.predicted), np.concatenate(self.proba) if self.proba else None
