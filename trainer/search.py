"""Cross-validated search per candidate (grid or two-stage) and the blend of the best; no MLflow here."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, ParameterGrid, RandomizedSearchCV

from trainer.candidates import CandidateSpec
from trainer.classifiers import catalogue
from trainer.errors import TrainerError, one_line
from trainer.features import build_pipeline
from trainer.halving import MIN_POINTS, halving_search
from trainer.results import CandidateResult, param_label, rank
from trainer.tasks import Task, sign

if TYPE_CHECKING:
    from joblib import Memory
    from sklearn.model_selection import BaseCrossValidator
    from sklearn.pipeline import Pipeline

    from trainer.config import Recipe, SearchSettings
    from trainer.schema import Schema
    from trainer.split import Split

BLEND = "blend"
BLEND_COMPLEXITY = 100
Grid = dict[str, list[Any]]


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


def fit_cache(directory: str) -> Memory | None:
    """A preprocessing cache for local fits; none for Dask (remote workers cannot reach the folder)."""
    from joblib import Memory

    from trainer.distributed import active_scheduler

    return None if active_scheduler() else Memory(directory, verbose=0)


def make_plan(
    recipe: Recipe, schema: Schema, split: Split, memory: Memory | None = None, task: Task | None = None
) -> SearchPlan:
    """The search plan for a recipe on a split's training part (its task's CV splitter and scorers)."""
    task = task or Task()
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
    )


def planned_count(specs: list[CandidateSpec], recipe: Recipe) -> int:
    """How many results `search_all` yields: the candidates, plus the blend when it will run."""
    others = [s for s in specs if s.name != recipe.gates.baseline]
    blends = recipe.search.blend_top >= 2 and len(others) >= 2
    return len(specs) + int(blends)


def search_all(specs: list[CandidateSpec], recipe: Recipe, plan: SearchPlan) -> Iterator[CandidateResult]:
    """Each candidate's result as soon as it is known, then the blend of the best (if asked for)."""
    results = []
    for spec in specs:
        result = search_candidate(spec, recipe.candidates[spec.name], plan)
        results.append(result)
        yield result
    members = blend_members(results, recipe.search.blend_top, recipe.gates.baseline)
    if recipe.search.blend_top >= 2 and len(members) >= 2:
        yield search_blend(members, plan)


def search_candidate(spec: CandidateSpec, grid: Grid, plan: SearchPlan) -> CandidateResult:
    """Cross-validated search over one candidate (no refit); any fit error names candidate and params.

    `grid` tries every point. `two_stage` samples `n_iter` points at random, then tries the
    grid's neighbours of the best one (each parameter's adjacent values): fewer fits on big grids.
    """
    pipeline = build_pipeline(plan.schema, spec.encoding, spec.make(), memory=plan.memory)
    started, wall = time.perf_counter(), time.time()
    n_iter = plan.settings.n_iter
    if plan.settings.strategy == "halving" and len(ParameterGrid(grid)) >= MIN_POINTS:
        return _halving(spec, grid, pipeline, plan)
    if plan.settings.strategy == "two_stage" and len(ParameterGrid(grid)) > n_iter:
        random = RandomizedSearchCV(
            pipeline, prefixed(grid), n_iter=n_iter, random_state=plan.random_state, **_cv_kwargs(plan)
        )
        broad = _run_search(spec.name, grid, random, pipeline, plan)
        column = f"mean_test_{plan.task.score_column()}"
        best = _unprefix(broad["params"][int(np.argmax(broad[column]))])
        fine_search = GridSearchCV(pipeline, [prefixed(_neighbours(grid, best))], **_cv_kwargs(plan))
        fine = _run_search(spec.name, grid, fine_search, pipeline, plan)
        results = pd.concat([pd.DataFrame(broad), pd.DataFrame(fine)], ignore_index=True)
        results = results.loc[~results["params"].map(param_label_raw).duplicated()].reset_index(drop=True)
    else:
        search = GridSearchCV(pipeline, [prefixed(grid)], **_cv_kwargs(plan))
        results = pd.DataFrame(_run_search(spec.name, grid, search, pipeline, plan))
    return _summarize(spec.name, spec.complexity, results, time.perf_counter() - started, wall, plan)


def _halving(spec: CandidateSpec, grid: Grid, pipeline: Pipeline, plan: SearchPlan) -> CandidateResult:
    """`halving`: see trainer/halving.py; the result counts every point and fit halving tried."""
    started, wall = time.perf_counter(), time.time()
    run = partial(_run_search, spec.name, grid, pipeline=pipeline, plan=plan)
    scorer = plan.task.scorers()[plan.task.metric]
    found = halving_search(pipeline, prefixed(grid), _cv_kwargs(plan), scorer, plan.random_state, run)
    result = _summarize(spec.name, spec.complexity, found.results, time.perf_counter() - started, wall, plan)
    return replace(
        result, grid_size=found.points, estimator_seconds=result.estimator_seconds + found.estimator_seconds
    )


def prefixed(grid: Grid) -> Grid:
    """A candidate's grid as parameters of the Pipeline's `model` step."""
    return {f"model__{k}": v for k, v in grid.items()}


def _cv_kwargs(plan: SearchPlan) -> dict[str, Any]:
    scoring = plan.task.search_scoring()
    return {"scoring": scoring, "cv": plan.cv, "refit": False, "error_score": "raise", "n_jobs": plan.n_jobs}


def param_label_raw(params: dict[str, Any]) -> str:
    """`param_label` of a Pipeline-prefixed grid point."""
    return param_label(_unprefix(params))


def _neighbours(grid: Grid, best: dict[str, Any]) -> Grid:
    """Each parameter's best value and its adjacent values in the declared grid."""
    out = {}
    for key, values in grid.items():
        i = next(j for j, v in enumerate(values) if v == best[key])
        out[key] = values[max(0, i - 1) : i + 2]
    return out


def _run_search(name: str, grid: Grid, search: Any, pipeline: Pipeline, plan: SearchPlan) -> dict[str, Any]:
    try:
        search.fit(plan.X, plan.y, groups=plan.groups)
    except Exception as exc:
        bad = _failing_params(pipeline, grid, plan)
        raise TrainerError(
            f"candidate '{name}' failed to fit with {param_label(bad)}: {type(exc).__name__}: {one_line(exc)}"
        ) from exc
    return search.cv_results_


def _summarize(
    name: str, complexity: int, results: pd.DataFrame, elapsed: float, wall: float, plan: SearchPlan
) -> CandidateResult:
    task = plan.task
    scores = results[f"mean_test_{task.score_column()}"].to_numpy()
    if not np.all(np.isfinite(scores)):
        raise TrainerError(f"candidate '{name}' produced a non-finite CV score")
    best = int(np.argmax(scores))
    cv_metrics = {
        m: (
            sign(m) * float(results[f"mean_test_{task.score_column(m)}"].iloc[best]),
            float(results[f"std_test_{task.score_column(m)}"].iloc[best]),
        )
        for m in task.metrics
    }
    best_params = _unprefix(results["params"].iloc[best])
    results = results.assign(params=[param_label_raw(p) for p in results["params"]])
    folds = plan.cv.get_n_splits()
    estimator_seconds = float((results["mean_fit_time"] + results["mean_score_time"]).sum() * folds)
    return CandidateResult(
        name=name,
        complexity=complexity,
        grid_size=len(results),
        best_params=best_params,
        cv_mean=cv_metrics[task.metric][0],
        cv_std=cv_metrics[task.metric][1],
        fit_seconds=elapsed,
        estimator_seconds=estimator_seconds,
        cv_results=results,
        started_at=wall,
        metric=task.metric,
        greater_is_better=task.greater_is_better,
        cv_metrics=cv_metrics,
    )


def blend_pipeline(
    members: list[tuple[CandidateSpec, dict[str, Any]]], schema: Schema, classify: bool = False
) -> Pipeline:
    """An averaging VotingRegressor (or soft-voting VotingClassifier) of whole member Pipelines,
    itself inside a Pipeline."""
    from sklearn.ensemble import VotingClassifier, VotingRegressor
    from sklearn.pipeline import Pipeline

    estimators = [
        (spec.name, build_pipeline(schema, spec.encoding, spec.make().set_params(**params)))
        for spec, params in members
    ]
    voting = VotingClassifier(estimators, voting="soft") if classify else VotingRegressor(estimators)
    return Pipeline([("model", voting)])


def blend_members(results: list[CandidateResult], top: int, exclude: str) -> list[CandidateResult]:
    """The `top` best candidates by the ranking rule (the baseline excluded)."""
    return rank([r for r in results if r.name != exclude])[:top]


def blend_params(
    winner_params: dict[str, Any], task: str = "regression"
) -> list[tuple[CandidateSpec, dict[str, Any]]]:
    """A blend's recorded parameters back into (member spec, member parameters) pairs."""
    return [
        (
            catalogue(task)[name],
            {k.split("__", 1)[1]: v for k, v in winner_params.items() if k.startswith(f"{name}__")},
        )
        for name in winner_params["members"]
    ]


def search_blend(members: list[CandidateResult], plan: SearchPlan) -> CandidateResult:
    """Score the blend of the best members with the same CV, like any other candidate."""
    specs = catalogue(plan.task.kind)
    pipeline = blend_pipeline(
        [(specs[m.name], m.best_params) for m in members], plan.schema, plan.task.is_classification
    )
    started, wall = time.perf_counter(), time.time()
    search = GridSearchCV(pipeline, [{}], **_cv_kwargs(plan))
    results = pd.DataFrame(_run_search(BLEND, {}, search, pipeline, plan))
    results["params"] = [{"members": "+".join(m.name for m in members)}] * len(results)
    result = _summarize(BLEND, BLEND_COMPLEXITY, results, time.perf_counter() - started, wall, plan)
    best_params = {
        "members": [m.name for m in members],
        **{f"{m.name}__{k}": v for m in members for k, v in m.best_params.items()},
    }
    return CandidateResult(**{**vars(result), "best_params": best_params})


def _unprefix(params: dict[str, Any]) -> dict[str, Any]:
    return {k.removeprefix("model__"): _plain(v) for k, v in params.items()}


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _failing_params(pipeline: Pipeline, grid: Grid, plan: SearchPlan) -> dict[str, Any]:
    """Refit grid points on the first fold, one by one, to name the one that raises."""
    train_idx, _ = next(iter(plan.cv.split(plan.X, plan.y, plan.groups)))
    for params in ParameterGrid(prefixed(grid)):
        try:
            clone(pipeline).set_params(**params).fit(plan.X.iloc[train_idx], plan.y[train_idx])
        except Exception:  # noqa: BLE001 - this is the failing point we are looking for
            return _unprefix(params)
    return {"(grid point not isolated)": "see cross-validation"}
