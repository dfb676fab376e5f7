"""What a finished training hands to registration: the frozen record of how the model was made."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from trainer.tasks import Task

if TYPE_CHECKING:
    import numpy as np

    from trainer.config import Recipe
    from trainer.contract import ContractResult
    from trainer.finish import Finishing
    from trainer.leakage import LeakageReport
    from trainer.schema import Schema
    from trainer.select import Selection
    from trainer.split import Split


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
    finishing: Finishing | None = None  # classification: calibration and decision threshold
    leakage: LeakageReport | None = None
