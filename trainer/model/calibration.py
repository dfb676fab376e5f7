"""DecisionRule a selected classifier: probability calibration (fitted on the training part only) and
the binary decision threshold (fixed by the recipe, or chosen on out-of-fold predictions).
Pure functions: what they decide is recorded by the caller."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sklearn.model_selection import BaseCrossValidator
    from sklearn.pipeline import Pipeline

    from trainer.data.split import Split
    from trainer.recipe.settings import ClassificationSettings
    from trainer.recipe.task import Task


@dataclass(frozen=True)
class DecisionRule:
    """How the registered classifier turns scores into labels, and what calibration changed."""

    calibration: str = "none"
    threshold: float | None = None  # binary: P(positive) from which it predicts positive
    threshold_source: str = "none"  # "fixed", or the metric it was chosen to maximise on OOF predictions
    metrics: dict[str, float] = field(default_factory=dict)  # calibration_<metric>_before / _after

    def tags(self) -> dict[str, str]:
        """The version tags (threshold is empty for multi-class)."""
        return {
            "calibration": self.calibration,
            "threshold": "" if self.threshold is None else f"{self.threshold:.6f}",
            "threshold_source": self.threshold_source,
        }


def choose_threshold(y: np.ndarray, p_positive: np.ndarray, positive: Any, how: str) -> float:
    """The probability cut that maximises F1 or Youden's J (TPR - FPR) on these predictions."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    truth = np.asarray(y) == positive
    if how == "youden":
        fpr, tpr, cuts = roc_curve(truth, p_positive)
        best = int(np.argmax(tpr[1:] - fpr[1:])) + 1  # cuts[0] is +inf: predicts nothing positive
        return float(min(cuts[best], 1.0))
    precision, recall, cuts = precision_recall_curve(truth, p_positive)
    f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
    return float(cuts[int(np.argmax(f1))])


def calibrated(pipeline: Pipeline, method: str, folds: int) -> Pipeline:
    """The pipeline (unfitted) with its model wrapped in CalibratedClassifierCV: calibrated on out-of-fold
    predictions, one model refitted on all rows (`ensemble=False`: one model to ship, not `folds`)."""
    from sklearn.base import clone
    from sklearn.calibration import CalibratedClassifierCV

    final = clone(pipeline)
    return final.set_params(
        model=CalibratedClassifierCV(final.named_steps["model"], method=method, cv=folds, ensemble=False)
    )


def thresholded(pipeline: Pipeline, threshold: float, positive: Any) -> Pipeline:
    """The pipeline (unfitted) predicting `positive` when its probability reaches `threshold`."""
    from sklearn.base import clone
    from sklearn.model_selection import FixedThresholdClassifier

    final = clone(pipeline)
    model = FixedThresholdClassifier(
        final.named_steps["model"], threshold=threshold, pos_label=positive, response_method="predict_proba"
    )
    return final.set_params(model=model)


def probability_metrics(task: Task, model: Any, split: Split) -> dict[str, float]:
    """Holdout log loss (and Brier score for a binary target): what calibration is judged on."""
    from sklearn.metrics import brier_score_loss, log_loss

    proba = model.predict_proba(split.X_test)
    classes = list(model.classes_)
    out = {"log_loss": float(log_loss(split.y_test, proba, labels=classes))}
    if task.binary:
        p = proba[:, classes.index(task.positive_class)]
        out["brier"] = float(brier_score_loss(split.y_test == task.positive_class, p))
    return out


def calibrate_and_threshold(
    model: Pipeline, task: Task, settings: ClassificationSettings, split: Split, cv: BaseCrossValidator
) -> tuple[Pipeline, DecisionRule]:
    """The registered classifier: the refitted winner, calibrated and thresholded as the recipe says."""
    metrics: dict[str, float] = {}
    if settings.calibration != "none":
        before = probability_metrics(task, model, split)
        model = calibrated(model, settings.calibration, cv.get_n_splits()).fit(split.X_train, split.y_train)
        after = probability_metrics(task, model, split)
        for name in before:
            metrics[f"calibration_{name}_before"] = before[name]
            metrics[f"calibration_{name}_after"] = after[name]
    if not task.binary:
        return model, DecisionRule(settings.calibration, None, "none", metrics)
    threshold, source = settings.threshold, "fixed"
    if settings.threshold_metric != "none":
        threshold, source = (
            _oof_threshold(model, task, settings.threshold_metric, split, cv),
            settings.threshold_metric,
        )
    if threshold != 0.5 or source != "fixed":
        model = thresholded(model, threshold, task.positive_class).fit(split.X_train, split.y_train)
    return model, DecisionRule(settings.calibration, threshold, source, metrics)


def _oof_threshold(model: Pipeline, task: Task, how: str, split: Split, cv: BaseCrossValidator) -> float:
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_predict

    proba = cross_val_predict(
        clone(model), split.X_train, split.y_train, cv=cv, groups=split.groups, method="predict_proba"
    )
    classes = list(np.unique(split.y_train))  # cross_val_predict's column order (LabelEncoder's)
    return choose_threshold(
        split.y_train, proba[:, classes.index(task.positive_class)], task.positive_class, how
    )
