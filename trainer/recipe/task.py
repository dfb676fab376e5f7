"""What differs between regression and classification: the metrics and their direction, the search's
scorers, the CV splitter, the holdout metrics, the label rules and the `mlflow.models.evaluate` type.

Metric names are positive in their own units (`log_loss` 0.45, not -0.45); `greater_is_better` says
which way is better. sklearn's scorers are higher-is-better, so `sign` turns a score into the metric.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from trainer.errors import ConfigError, ContractError

if TYPE_CHECKING:
    from sklearn.model_selection import BaseCrossValidator

    from trainer.recipe.settings import ClassificationSettings, CVSettings

REGRESSION, CLASSIFICATION = "regression", "classification"
TASKS = (REGRESSION, CLASSIFICATION)
LOWER_IS_BETTER = frozenset({"log_loss", "brier", "rmse", "mae"})
BINARY_METRICS = ("roc_auc", "log_loss", "average_precision", "accuracy", "balanced_accuracy", "f1", "brier")
MULTICLASS_METRICS = ("roc_auc", "log_loss", "accuracy", "balanced_accuracy", "f1")
SELECTION_METRICS = ("roc_auc", "log_loss")  # a classification recipe's `classification.metric`


def sign(metric: str) -> float:
    """+1 when a higher value of the metric is better, -1 when lower is (sklearn scores are negated)."""
    return -1.0 if metric in LOWER_IS_BETTER else 1.0


@dataclass(frozen=True)
class Task:
    """The learning task of a schema, with the recipe's selection metric and the suite's labels."""

    kind: str = REGRESSION
    metric: str = "r2"  # the selection metric
    labels: tuple[Any, ...] = ()
    positive_class: Any = None

    @property
    def is_classification(self) -> bool:
        return self.kind == CLASSIFICATION

    @property
    def binary(self) -> bool:
        return self.is_classification and len(self.labels) == 2

    @property
    def greater_is_better(self) -> bool:
        return sign(self.metric) > 0

    @property
    def metrics(self) -> tuple[str, ...]:
        """The metrics every candidate is cross-validated on (the selection metric first)."""
        if not self.is_classification:
            return ("r2",)
        names = BINARY_METRICS if self.binary else MULTICLASS_METRICS
        return (self.metric, *(m for m in names if m != self.metric))

    @property
    def model_type(self) -> str:
        """The `mlflow.models.evaluate` model type."""
        return "classifier" if self.is_classification else "regressor"

    def as_numbers(self, y: np.ndarray) -> np.ndarray:
        """The target as numbers: itself for regression, 1/0 for the positive class, else label codes."""
        if not self.is_classification:
            return np.asarray(y, dtype=np.float64)
        if self.binary:
            return (np.asarray(y) == self.positive_class).astype(np.float64)
        codes = {label: i for i, label in enumerate(self.labels)}
        return np.array([codes[v] for v in y], dtype=np.float64)

    def scorers(self) -> dict[str, Any]:
        """One sklearn scorer per metric, in `metrics` order (higher-is-better, as sklearn scores)."""
        from sklearn.metrics import average_precision_score, brier_score_loss, f1_score, make_scorer

        if not self.is_classification:
            return {"r2": "r2"}
        if not self.binary:
            table: dict[str, Any] = {
                "roc_auc": "roc_auc_ovr_weighted",
                "log_loss": "neg_log_loss",
                "f1": "f1_weighted",
            }
        else:
            pos = self.positive_class
            table = {
                "roc_auc": "roc_auc",
                "log_loss": "neg_log_loss",
                "average_precision": make_scorer(
                    average_precision_score, response_method="predict_proba", pos_label=pos
                ),
                "f1": make_scorer(f1_score, pos_label=pos),
                "brier": make_scorer(
                    brier_score_loss, response_method="predict_proba", greater_is_better=False, pos_label=pos
                ),
            }
        return {m: table.get(m, m) for m in self.metrics}

    def search_scoring(self) -> Any:
        """What GridSearchCV's `scoring` gets: one scorer alone (columns `mean_test_score`), else the dict."""
        scorers = self.scorers()
        return next(iter(scorers.values())) if len(scorers) == 1 else scorers

    def score_column(self, metric: str | None = None) -> str:
        """The cv_results_ column suffix of a metric (`score` when there is only one scorer)."""
        return "score" if len(self.metrics) == 1 else (metric or self.metric)

    def make_cv(self, cv: CVSettings, grouped: bool, y: np.ndarray) -> BaseCrossValidator:
        """KFold / GroupKFold for regression; StratifiedKFold / StratifiedGroupKFold for classification."""
        from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold

        if len(y) < 2 * cv.folds:
            raise ContractError(f"only {len(y)} training rows: too few for {cv.folds}-fold cross-validation")
        seed = cv.random_state if cv.shuffle else None
        if not self.is_classification:
            if grouped:
                return GroupKFold(n_splits=cv.folds, shuffle=cv.shuffle, random_state=seed)
            return KFold(n_splits=cv.folds, shuffle=cv.shuffle, random_state=seed)
        check_label_counts(y, cv.folds, "the training part", f"{cv.folds} stratified folds")
        if grouped:
            return StratifiedGroupKFold(n_splits=cv.folds, shuffle=cv.shuffle, random_state=seed)
        return StratifiedKFold(n_splits=cv.folds, shuffle=cv.shuffle, random_state=seed)

    def holdout_metrics(
        self, model: Any, X: pd.DataFrame, y: np.ndarray
    ) -> tuple[dict[str, float], np.ndarray]:
        """`test_<metric>` of a fitted model on the holdout, and its predictions (labels for a classifier)."""
        pred = model.predict(X)
        if not self.is_classification:
            from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

            return {
                "test_r2": float(r2_score(y, pred)),
                "test_rmse": float(np.sqrt(mean_squared_error(y, pred))),
                "test_mae": float(mean_absolute_error(y, pred)),
            }, pred
        values = classification_metrics(self, y, model.predict_proba(X), pred, list(model.classes_))
        return {f"test_{k}": v for k, v in values.items()}, pred

    def score(self, model: Any, X: pd.DataFrame, y: np.ndarray) -> float:
        """The selection metric of a fitted model on (X, y), in the metric's units (promotion uses it)."""
        metrics, _ = self.holdout_metrics(model, X, y)
        return metrics[f"test_{self.metric}"]


def classification_metrics(
    task: Task, y: np.ndarray, proba: np.ndarray, pred: np.ndarray, classes: list[Any]
) -> dict[str, float]:
    """Every metric of `task.metrics` from fixed probabilities (columns in `classes` order) and labels."""
    from sklearn import metrics as m

    if task.binary:
        pos = task.positive_class
        p = proba[:, classes.index(pos)]
        truth = np.asarray(y) == pos
        values = {
            "roc_auc": m.roc_auc_score(truth, p),
            "average_precision": m.average_precision_score(truth, p),
            "f1": m.f1_score(y, pred, pos_label=pos),
            "brier": m.brier_score_loss(truth, p),
        }
    else:
        values = {
            "roc_auc": m.roc_auc_score(y, proba, multi_class="ovr", average="weighted", labels=classes),
            "f1": m.f1_score(y, pred, average="weighted"),
        }
    values["log_loss"] = m.log_loss(y, proba, labels=classes)
    values["accuracy"] = m.accuracy_score(y, pred)
    values["balanced_accuracy"] = m.balanced_accuracy_score(y, pred)
    return {k: float(values[k]) for k in task.metrics}


@dataclass(frozen=True)
class PositiveRates:
    """How a yes/no model's labels compare with the truth on the holdout: the share of rows that are
    positive, the share it labels positive, its recall, and the accuracy of always predicting the
    majority label (what its accuracy is to be read against)."""

    actual: float
    predicted: float
    recall: float
    majority_accuracy: float

    def advice(self) -> str:
        """What to change when it labels fewer than a quarter of the positive share positive (it
        misses most positives); empty otherwise."""
        if not (self.actual > 0 and self.predicted < self.actual / 4):
            return ""
        return (
            f"the model labels {self.predicted:.1%} of the holdout positive against {self.actual:.1%} that "
            f"are (recall {self.recall:.3f}; always predicting the majority label scores accuracy "
            f"{self.majority_accuracy:.3f}): set classification.threshold_metric: f1 in the recipe, or a "
            "lower classification.threshold"
        )


def positive_rates(task: Task, y: np.ndarray, pred: np.ndarray) -> PositiveRates | None:
    """`PositiveRates` of a yes/no task's holdout labels (None for a regression or 3+ classes)."""
    if not task.binary:
        return None
    truth, said = np.asarray(y) == task.positive_class, np.asarray(pred) == task.positive_class
    actual = float(truth.mean())
    recall = float(said[truth].mean()) if truth.any() else float("nan")
    return PositiveRates(actual, float(said.mean()), recall, max(actual, 1 - actual))


def check_label_counts(y: np.ndarray, needed: int, where: str, purpose: str) -> None:
    """Every label needs `needed` rows in `where`; a single-class target is never enough."""
    counts = pd.Series(np.asarray(y)).value_counts()
    if len(counts) < 2:
        label = counts.index[0] if len(counts) else None
        raise ContractError(
            f"target has a single class {label!r} ({int(counts.iloc[0]) if len(counts) else 0} rows) "
            f"in {where}: nothing to classify"
        )
    rare = counts[counts < needed]
    if len(rare):
        raise ContractError(
            f"label {rare.index[-1]!r} has only {int(rare.iloc[-1])} rows in {where}: "
            f"too few for {purpose} (needs {needed})"
        )


def check_labels(y: pd.Series, labels: tuple[Any, ...], target: str) -> None:
    """Labels outside the suite's value set, or a single class, fail the contract (exit 2)."""
    counts = y.value_counts()
    unknown = [v for v in counts.index if v not in set(labels)]
    if unknown:
        raise ContractError(
            f"target '{target}': label {unknown[0]!r} ({int(counts[unknown[0]])} rows) is not one of "
            f"the suite's labels {list(labels)}"
        )
    check_label_counts(y.to_numpy(), 2, f"target '{target}'", "a stratified holdout split")


def label_order(labels: Iterable[Any]) -> tuple[Any, ...]:
    """Labels in the order scikit-learn's `classes_` (and `predict_proba`'s columns) have them:
    numbers and true/false by value, text alphabetically."""
    values = list(labels)
    if all(isinstance(v, bool | int | float | np.number | np.bool_) for v in values):
        return tuple(sorted(values))
    return tuple(sorted(values, key=str))


def make_task(kind: str, labels: tuple[Any, ...], positive_class: Any, metric: str) -> Task:
    """The task a schema declares, with the recipe's selection metric (R² for regression)."""
    if kind != CLASSIFICATION:
        return Task()
    labels = label_order(labels)
    if positive_class is not None:  # the label itself for a quoted number ("1" for 1)
        positive_class = next((v for v in labels if str(v) == str(positive_class)), positive_class)
    if len(labels) == 2 and positive_class is None:
        positive_class = labels[-1]
    if positive_class is not None and len(labels) > 2:
        raise ContractError(
            f"positive_class {positive_class!r} applies to two classes only; the suite's labels are "
            f"{len(labels)}: {list(labels)} (remove it from the schema)"
        )
    if positive_class is not None and positive_class not in labels:
        raise ContractError(
            f"positive_class {positive_class!r} is not one of the suite's labels {list(labels)}"
        )
    return Task(CLASSIFICATION, metric, labels, positive_class if len(labels) == 2 else None)


def check_two_class_settings(task: Task, settings: ClassificationSettings, where: str) -> None:
    """Refuse a threshold setting on a target of three or more classes, where nothing would use it."""
    if not task.is_classification or task.binary:
        return
    for name, value, default in (
        ("threshold_metric", settings.threshold_metric, "none"),
        ("threshold", settings.threshold, 0.5),
    ):
        if value != default:
            raise ConfigError(
                f"{where}: classification.{name} {value!r} applies to two classes only; the target has "
                f"{len(task.labels)} labels: {list(task.labels)} (remove it from the recipe)"
            )
