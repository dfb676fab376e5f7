"""Shared by the unit, integration tests of search: recipe, result."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from trainer.recipe.settings import Recipe, load_recipe
from trainer.search.results import CandidateResult


def result(name: str, cv_r2: float, complexity: int = 1, std: float = 0.01) -> CandidateResult:
    return CandidateResult(
        name=name,
        complexity=complexity,
        grid_size=1,
        best_params={},
        cv_mean=cv_r2,
        cv_std=std,
        fit_seconds=0.1,
        estimator_seconds=0.1,
        cv_results=pd.DataFrame(),
    )


@pytest.fixture
def recipe(small_recipe: Path) -> Recipe:
    return load_recipe(small_recipe)
