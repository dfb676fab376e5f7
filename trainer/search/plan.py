"""The search plan: what every candidate's search shares (training rows, folds, scorers, settings,
the time budget and the preprocessing cache)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from joblib import effective_n_jobs

from trainer.recipe.task import Task
from trainer.search.budget import Budget

if TYPE_CHECKING:
    from joblib import Memory
    from sklearn.model_selection import BaseCrossValidator

    from trainer.data.schema import Schema
    from trainer.data.split import Split
    from trainer.recipe.settings import Recipe, SearchSettings


@dataclass(frozen=True)
class SearchPlan:
    """What every candidate's search shares: training rows, folds, schema and search settings."""

    schema: Schema
    X: pd.DataFrame
    y: np.ndarray
    groups: np.ndarray | None
    cv: BaseCrossValidator
    n_jobs: int
    settings: SearchSettings
    random_state: int
    memory: Memory | None = None
    task: Task = field(default_factory=Task)
    budget: Budget = field(default_factory=Budget)


def fit_cache(directory: str) -> Memory | None:
    """A preprocessing cache for local fits; none for Dask (remote workers cannot reach the folder)."""
    from joblib import Memory

    from trainer.search.dask_workers import active_scheduler

    return None if active_scheduler() else Memory(directory, verbose=0)


def make_plan(
    recipe: Recipe,
    schema: Schema,
    split: Split,
    memory: Memory | None = None,
    task: Task | None = None,
    started: float | None = None,
) -> SearchPlan:
    """The search plan for a recipe on a split's training part (its task's CV splitter and scorers);
    a time budget counts from `started` (perf_counter; now by default)."""
    task = task or Task()
    started = time.perf_counter() if started is None else started
    budget = Budget(recipe.search.time_budget, started, effective_n_jobs(recipe.n_jobs))
    return SearchPlan(
        schema=schema,
        X=split.X_train,
        y=split.y_train,
        groups=split.groups,
        cv=task.make_cv(recipe.cv, split.groups is not None, split.y_train),
        n_jobs=recipe.n_jobs,
        settings=recipe.search,
        random_state=recipe.cv.random_state,
        memory=memory,
        task=task,
        budget=budget,
    )
