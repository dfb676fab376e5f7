"""Cross-validated search per candidate (grid or two-stage), within the run's time budget, then the
blend of the best; no MLflow here."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from functools import partial
from itertools import islice
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import ParameterGrid, ParameterSampler

from trainer.catalogue.regressors import search_order, stream_order
from trainer.data.features import build_pipeline
from trainer.errors import TrainerError, typed_line
from trainer.recipe.task import Task
from trainer.search.blend import blend_members, search_blend
from trainer.search.folds import (
    FoldFit,
    Folds,
    _unprefix,
    fit_folds,
    fold_indices,
    param_label_raw,
    stream_fits,
    summarize,
    tabulate,
)
from trainer.search.halving import MIN_POINTS, halving_search
from trainer.search.plan import SearchPlan
from trainer.search.results import CandidateResult, OutOfFold, param_label

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

    from trainer.catalogue.regressors import CandidateSpec
    from trainer.recipe.settings import Recipe

Grid = dict[str, list[Any]]


def planned_count(specs: list[CandidateSpec], recipe: Recipe) -> int:
    """How many results `search_all` yields: the candidates, plus the blend when it will run."""
    others = [s for s in specs if s.name != recipe.gates.baseline]
    blends = recipe.search.blend_top >= 2 and len(others) >= 2
    return len(specs) + int(blends)


def search_all(specs: list[CandidateSpec], recipe: Recipe, plan: SearchPlan) -> Iterator[CandidateResult]:
    """Each candidate's result as soon as it is known (skipped ones too), then the blend of the best
    (if asked for). Under a time budget the cheapest candidates go first."""
    results = []
    if plan.budget.limited:
        specs = search_order(specs)
    one_by_one = plan.budget.limited or plan.settings.strategy != "grid"
    searches = (
        (search_candidate(spec, recipe.candidates[spec.name], plan) for spec in specs)
        if one_by_one
        else _streamed(specs, recipe, plan)
    )
    for result in searches:
        results.append(result)
        yield result
    searched = [r for r in results if not r.skipped]
    members = blend_members(searched, recipe.search.blend_top, recipe.gates.baseline)
    if recipe.search.blend_top >= 2 and len(members) >= 2:
        yield search_blend(members, plan)


def search_candidate(spec: CandidateSpec, grid: Grid, plan: SearchPlan) -> CandidateResult:
    """Cross-validated search over one candidate (no refit); any fit error names candidate and params.

    `grid` fits every point on every fold once and keeps the best point's out-of-fold predictions
    (a blend is scored from them). `two_stage` samples `n_iter` points at random, then tries the
    grid's neighbours of the best one (each parameter's adjacent values): fewer fits on big grids.
    `halving` narrows a grid of 6+ points with HalvingGridSearchCV on row samples.
    Under a time budget the first fits estimate the rest: a candidate that would not finish in
    time is returned skipped, with the reason.
    """
    pipeline = build_pipeline(plan.schema, spec.encoding, spec.make(), memory=plan.memory)
    if plan.settings.strategy == "halving" and len(ParameterGrid(grid)) >= MIN_POINTS:
        return _halving(spec, grid, pipeline, plan)
    if plan.settings.strategy == "two_stage" and len(ParameterGrid(grid)) > plan.settings.n_iter:
        return _two_stage(spec, grid, pipeline, plan)
    return _grid_search(spec, list(ParameterGrid(prefixed(grid))), pipeline, plan)


def _two_stage(spec: CandidateSpec, grid: Grid, pipeline: Pipeline, plan: SearchPlan) -> CandidateResult:
    """`n_iter` points sampled as RandomizedSearchCV samples them, then the best one's neighbours
    not tried yet; every point fitted once by the same fold runner as the grid."""
    started, wall = time.perf_counter(), time.time()
    broad = list(ParameterSampler(prefixed(grid), plan.settings.n_iter, random_state=plan.random_state))
    first, first_oofs = _scored_points(spec.name, broad, pipeline, plan)
    best = _unprefix(broad[_best_index(first, plan)])
    tried = {param_label_raw(p) for p in broad}
    fine = [p for p in ParameterGrid(prefixed(_neighbours(grid, best))) if param_label_raw(p) not in tried]
    second, second_oofs = _scored_points(spec.name, fine, pipeline, plan) if fine else (pd.DataFrame(), [])
    results = pd.concat([first, second], ignore_index=True)
    oofs = [*first_oofs, *second_oofs]
    timing = (time.perf_counter() - started, wall)
    result = summarize(spec.name, spec.complexity, results, timing, plan.task, plan.cv.get_n_splits())
    return replace(result, oof=oofs[_best_index(results, plan)])


def _scored_points(
    name: str, points: list[dict[str, Any]], pipeline: Pipeline, plan: SearchPlan
) -> tuple[pd.DataFrame, list[OutOfFold]]:
    folds = fold_indices(plan.cv, plan.X, plan.y, plan.groups)
    jobs = [(p, f) for p in range(len(points)) for f in range(len(folds))]
    fits = fit_folds(pipeline, points, (plan.X, plan.y), jobs, folds, plan.n_jobs)
    _raise_failed(name, points, fits)
    return tabulate(points, fits, folds, plan.task, plan.y)


def _halving(spec: CandidateSpec, grid: Grid, pipeline: Pipeline, plan: SearchPlan) -> CandidateResult:
    """`halving`: see trainer/search/halving.py; its best point cross-validated as the grid does it, the
    result counting every point and fit halving tried."""
    started = time.perf_counter()
    run = partial(_run_search, spec.name, grid, pipeline=pipeline, plan=plan)
    scorer = plan.task.scorers()[plan.task.metric]
    found = halving_search(pipeline, prefixed(grid), _cv_kwargs(plan), scorer, plan.random_state, run)
    result = _grid_search(spec, [found.best], pipeline, plan)
    return replace(
        result,
        grid_size=found.points,
        estimator_seconds=result.estimator_seconds + found.estimator_seconds,
        fit_seconds=time.perf_counter() - started,
    )


def _grid_search(
    spec: CandidateSpec, points: list[dict[str, Any]], pipeline: Pipeline, plan: SearchPlan
) -> CandidateResult:
    """Every (Pipeline-prefixed) point on every fold; under a time budget the first round of fits
    prices the rest, and a candidate that would not finish is returned skipped."""
    started, wall = time.perf_counter(), time.time()
    folds = fold_indices(plan.cv, plan.X, plan.y, plan.groups)
    jobs = [(p, f) for p in range(len(points)) for f in range(len(folds))]
    run = partial(fit_folds, pipeline, points, (plan.X, plan.y), folds=folds, n_jobs=plan.n_jobs)
    fits: list[FoldFit] = []
    budget = plan.budget
    if budget.limited:
        if budget.left() <= 0:
            return skipped(spec, budget.reason(None), wall, plan.task)
        probe = jobs[: budget.workers]
        fits = run(probe)
        _raise_failed(spec.name, points, fits)
        needed = budget.estimate(time.perf_counter() - started, fits, len(jobs), len(folds))
        if not budget.admits(needed):
            return skipped(spec, budget.reason(needed), wall, plan.task)
        jobs = jobs[len(probe) :]
    fits += run(jobs)
    return _result(spec, points, fits, folds, plan, (started, wall))


def _result(
    spec: CandidateSpec,
    points: list[dict[str, Any]],
    fits: list[FoldFit],
    folds: Folds,
    plan: SearchPlan,
    clock: tuple[float, float],
) -> CandidateResult:
    """A candidate's result from all its fold fits (a failed fit named), with the best point's
    out-of-fold predictions; `clock` is when its search started (perf_counter, wall clock)."""
    _raise_failed(spec.name, points, fits)
    results, oofs = tabulate(points, fits, folds, plan.task, plan.y)
    timing = (time.perf_counter() - clock[0], clock[1])
    result = summarize(spec.name, spec.complexity, results, timing, plan.task, len(folds))
    return replace(result, oof=oofs[_best_index(results, plan)])


def skipped(spec: CandidateSpec, reason: str, wall: float, task: Task) -> CandidateResult:
    """A candidate the time budget left out: no score, the reason on its run."""
    nan = float("nan")
    return CandidateResult(
        name=spec.name,
        complexity=spec.complexity,
        grid_size=0,
        best_params={},
        cv_mean=nan,
        cv_std=nan,
        fit_seconds=time.time() - wall,
        estimator_seconds=0.0,
        cv_results=pd.DataFrame(),
        started_at=wall,
        metric=task.metric,
        greater_is_better=task.greater_is_better,
        skipped=reason,
    )


def _streamed(specs: list[CandidateSpec], recipe: Recipe, plan: SearchPlan) -> Iterator[CandidateResult]:
    """Every candidate's grid as one stream of fold fits on the plan's workers, the longest first;
    each candidate's result as soon as its last fold is in (its seconds: since the previous one's)."""
    folds = fold_indices(plan.cv, plan.X, plan.y, plan.groups)
    points = {spec.name: list(ParameterGrid(prefixed(recipe.candidates[spec.name]))) for spec in specs}
    specs = stream_order(specs, {name: len(grid) for name, grid in points.items()})
    grids = [points[spec.name] for spec in specs]
    pipelines = [build_pipeline(plan.schema, s.encoding, s.make(), memory=plan.memory) for s in specs]
    tasks = [
        (pipelines[c], params, p, f)
        for c, points in enumerate(grids)
        for p, params in enumerate(points)
        for f in range(len(folds))
    ]
    stream = stream_fits(tasks, (plan.X, plan.y), folds, plan.n_jobs)
    started, wall = time.perf_counter(), time.time()
    try:
        for c, spec in enumerate(specs):
            fits = list(islice(stream, len(grids[c]) * len(folds)))
            yield _result(spec, grids[c], fits, folds, plan, (started, wall))
            started, wall = time.perf_counter(), time.time()
    finally:
        stream.close()  # a failed fit or a signal: the fits not yet started are dropped


def _raise_failed(name: str, points: list[dict[str, Any]], fits: list[FoldFit]) -> None:
    failed = next((f for f in fits if f.error is not None), None)
    if failed is not None:
        label = param_label_raw(points[failed.point])
        raise TrainerError(f"candidate '{name}' failed to fit with {label}: {failed.error}")


def _best_index(results: pd.DataFrame, plan: SearchPlan) -> int:
    return int(np.argmax(results[f"mean_test_{plan.task.score_column()}"].to_numpy()))


def prefixed(grid: Grid) -> Grid:
    """A candidate's grid as parameters of the Pipeline's `model` step."""
    return {f"model__{k}": v for k, v in grid.items()}


def _cv_kwargs(plan: SearchPlan) -> dict[str, Any]:
    scoring = plan.task.search_scoring()
    return {"scoring": scoring, "cv": plan.cv, "refit": False, "error_score": "raise", "n_jobs": plan.n_jobs}


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
            f"candidate '{name}' failed to fit with {param_label(bad)}: {typed_line(exc)}"
        ) from exc
    return search.cv_results_


def _failing_params(pipeline: Pipeline, grid: Grid, plan: SearchPlan) -> dict[str, Any]:
    """Refit grid points on the first fold, one by one, to name the one that raises."""
    train_idx, _ = next(iter(plan.cv.split(plan.X, plan.y, plan.groups)))
    for params in ParameterGrid(prefixed(grid)):
        try:
            clone(pipeline).set_params(**params).fit(plan.X.iloc[train_idx], plan.y[train_idx])
        except Exception:  # noqa: BLE001 - this is the failing point we are looking for
            return _unprefix(params)
    return {"(grid point not isolated)": "see cross-validation"}
