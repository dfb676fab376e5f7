"""The recipe as a training reads it: its names from the schema, its task's grids, the time budget
given on the command line, and its candidates checked against the catalogue."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from trainer.catalogue.classifiers import catalogue, task_of, with_task_grids
from trainer.catalogue.regressors import check_candidates
from trainer.data.schema import task_kind, with_names
from trainer.errors import ConfigError
from trainer.recipe.settings import FLOOR, load_recipe

if TYPE_CHECKING:
    from pathlib import Path

    from trainer.catalogue.regressors import CandidateSpec
    from trainer.recipe.settings import Recipe


def loaded(
    recipe_path: Path, schema_path: Path, time_budget: float | None
) -> tuple[Recipe, list[CandidateSpec]]:
    """The recipe with its names, its task's grids and `--time-budget` (in place of its
    `search.time_budget`, when given), and its candidates checked against the catalogue."""
    recipe = with_names(load_recipe(recipe_path), schema_path)
    if time_budget:
        recipe = replace(recipe, search=replace(recipe.search, time_budget=time_budget))
    return checked(recipe, task_of(task_kind(schema_path), recipe.candidates))


def checked(recipe: Recipe, kind: str) -> tuple[Recipe, list[CandidateSpec]]:
    """The recipe with the task's grids, its floor gate under the task's name, and its candidates
    checked against the task's catalogue."""
    recipe = with_task_grids(recipe, kind)
    where = f"recipe {recipe.path}"
    for task, gate in FLOOR.items():
        if task != kind and getattr(recipe.gates, gate) is not None:
            raise ConfigError(
                f"{where}: gates.{gate} is a {task}'s floor and would be ignored by this {kind}: "
                f"name it gates.{FLOOR[kind]}"
            )
    return recipe, check_candidates(recipe.candidates, recipe.search.max_grid_points, catalogue(kind), where)
