"""How a model was made: the frozen record a finished training hands to registration, and what a
training hands back to its caller."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from trainer.recipe.task import Task

if TYPE_CHECKING:
    import numpy as np
    from sklearn.pipeline import Pipeline

    from trainer.data.contract import ContractResult
    from trainer.data.schema import Schema
    from trainer.data.split import Split
    from trainer.leakage.detector import LeakageReport
    from trainer.model.calibration import DecisionRule
    from trainer.recipe.settings import Recipe
    from trainer.search.selection import Selection


@dataclass(frozen=True)
class TrainingContext:
    """Everything registration needs to know about the training that produced the model."""

    schema: Schema
    recipe: Recipe
    contract: ContractResult
    split: Split
    selection: Selection
    test_metrics: dict[str, float]
    feature_digest: str
    predictions: np.ndarray
    run_id: str
    task: Task = Task()
    finishing: DecisionRule | None = None  # classification: calibration and decision threshold
    leakage: LeakageReport | None = None


@dataclass(frozen=True)
class TrainingOutcome:
    """What a training hands back: the run, the fitted winner, scores and (maybe) the version."""

    run_id: str
    selection: Selection
    pipeline: Pipeline
    test_metrics: dict[str, float]
    feature_digest: str
    timings: dict[str, float]
    model_version: str | None = None
    finishing: DecisionRule | None = None  # classification: calibration and threshold
    promoted_alias: str | None = None  # the alias the new version took (`promotion.on_register`)
    predictions: np.ndarray | None = field(default=None, compare=False, repr=False)  # on the holdout
