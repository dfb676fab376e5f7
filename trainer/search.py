"""Cross-validated grid search per candidate, each in its own nested MLflow run."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, GroupKFold, KFold, ParameterGrid, RandomizedSearchCV

from trainer.candidates import CandidateSpec
from trainer.config import Recipe, Schema
from trainer.errors import TrainerError, one_line
from trainer.features import build_pipeline

BLEND = "blend"
BLEND_COMPLEXITY = 100

log = logging.getLogger(__name__)


@dataclass
class CandidateResult:
    """One candidate's search outcome (what the leaderboard and selection read)."""

    name: str
    complexity: int
    grid_size: int
    best_params: dict[str, Any]
    cv_r2_mean: float
    cv_r2_std: float
    fit_seconds: float
    estimator_seconds: float
    cv_results: pd.DataFrame = field(repr=False)
    run_id: str = ""
    status: str = "ok"


def make_cv(recipe: Recipe, n_rows: int) -> Any:
    """The CV splitter the recipe asks for (grouped when the holdout split is grouped)."""
    if n_rows < 2 * recipe.folds:
        from trainer.errors import ContractError

        raise ContractError(f"only {n_rows} training rows: too few for {recipe.folds}-fold cross-validation")
    if recipe.group_by:
        return GroupKFold(
            n_splits=recipe.folds,
            shuffle=recipe.shuffle,
            random_state=recipe.cv_seed if recipe.shuffle else None,
        )
    return KFold(
        n_splits=recipe.folds, shuffle=recipe.shuffle, random_state=recipe.cv_seed if recipe.shuffle else None
    )


def param_label(params: dict[str, Any]) -> str:
    """A grid point as a short run name, e.g. `alpha=1.0, l1_ratio=0.5` (or `default`)."""
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items())) or "default"


def prefixed(grid: dict[str, list[Any]]) -> dict[str, list[Any]]:
    return {f"model__{k}": v for k, v in grid.items()} or {}


def search_candidate(
    spec: CandidateSpec,
    grid: dict[str, list[Any]],
    schema: Schema,
    X: pd.DataFrame,
    y: np.ndarray,
    cv: Any,
    groups: np.ndarray | None,
    n_jobs: int,
    memory: Any = None,
    strategy: str = "grid",
    n_iter: int = 4,
    random_state: int = 0,
) -> CandidateResult:
    """Cross-validated search over one candidate (no refit); any fit error names candidate and params.

    `grid` tries every point. `two_stage` samples `n_iter` points at random, then tries the
    grid's neighbours of the best one (each parameter's adjacent values) — fewer fits on big grids.
    """
    pipeline = build_pipeline(schema, spec.encoding, spec.make(), memory=memory)
    started = time.perf_counter()
    size = len(ParameterGrid(grid))
    if strategy == "two_stage" and size > n_iter:
        broad = _run_search(
            spec,
            grid,
            RandomizedSearchCV(
                pipeline, prefixed(grid), n_iter=n_iter, random_state=random_state, **_cv_kwargs(cv, n_jobs)
            ),
            X,
            y,
            groups,
            pipeline,
            cv,
        )
        best = _unprefix(broad["params"][int(np.argmax(broad["mean_test_score"]))])
        fine = _run_search(
            spec,
            grid,
            GridSearchCV(pipeline, [prefixed(_neighbours(grid, best))], **_cv_kwargs(cv, n_jobs)),
            X,
            y,
            groups,
            pipeline,
            cv,
        )
        results = pd.concat([pd.DataFrame(broad), pd.DataFrame(fine)], ignore_index=True)
        results = results.loc[~results["params"].map(param_label_raw).duplicated()].reset_index(drop=True)
    else:
        results = pd.DataFrame(
            _run_search(
                spec,
                grid,
                GridSearchCV(pipeline, [prefixed(grid)], **_cv_kwargs(cv, n_jobs)),
                X,
                y,
                groups,
                pipeline,
                cv,
            )
        )
    return _summarize(spec.name, spec.complexity, results, time.perf_counter() - started, cv)


def _cv_kwargs(cv: Any, n_jobs: int) -> dict[str, Any]:
    return {"scoring": "r2", "cv": cv, "refit": False, "error_score": "raise", "n_jobs": n_jobs}


def param_label_raw(params: dict[str, Any]) -> str:
    return param_label(_unprefix(params))


def _neighbours(grid: dict[str, list[Any]], best: dict[str, Any]) -> dict[str, list[Any]]:
    """Each parameter's best value and its adjacent values in the declared grid."""
    out = {}
    for key, values in grid.items():
        i = next(j for j, v in enumerate(values) if v == best[key])
        out[key] = values[max(0, i - 1) : i + 2]
    return out


def _run_search(
    spec: CandidateSpec,
    grid: dict[str, list[Any]],
    search: Any,
    X: pd.DataFrame,
    y: np.ndarray,
    groups: Any,
    pipeline: Any,
    cv: Any,
) -> dict[str, Any]:
    try:
        search.fit(X, y, groups=groups)
    except Exception as exc:  # noqa: BLE001 - re-raised as one line naming the grid point
        bad = _failing_params(pipeline, grid, X, y, cv, groups)
        raise TrainerError(
            f"candidate '{spec.name}' failed to fit with {param_label(bad)}: {type(exc).__name__}: {one_line(exc)}"
        ) from exc
    return search.cv_results_


def _summarize(name: str, complexity: int, results: pd.DataFrame, elapsed: float, cv: Any) -> CandidateResult:
    scores = results["mean_test_score"].to_numpy()
    if not np.all(np.isfinite(scores)):
        raise TrainerError(f"candidate '{name}' produced a non-finite CV score")
    best = int(np.argmax(scores))
    best_params = _unprefix(results["params"].iloc[best])
    results = results.assign(params=[param_label_raw(p) for p in results["params"]])
    estimator_seconds = float(
        (results["mean_fit_time"] + results["mean_score_time"]).sum() * cv.get_n_splits()
    )
    return CandidateResult(
        name=name,
        complexity=complexity,
        grid_size=len(results),
        best_params=best_params,
        cv_r2_mean=float(scores[best]),
        cv_r2_std=float(results["std_test_score"].iloc[best]),
        fit_seconds=elapsed,
        estimator_seconds=estimator_seconds,
        cv_results=results,
    )


def blend_pipeline(members: list[tuple[CandidateSpec, dict[str, Any]]], schema: Schema) -> Any:
    """An averaging VotingRegressor of whole member Pipelines, itself inside a Pipeline."""
    from sklearn.ensemble import VotingRegressor
    from sklearn.pipeline import Pipeline

    estimators = [
        (spec.name, build_pipeline(schema, spec.encoding, spec.make().set_params(**params)))
        for spec, params in members
    ]
    return Pipeline([("model", VotingRegressor(estimators))])


def blend_members(results: list[CandidateResult], top: int, exclude: str) -> list[CandidateResult]:
    """The `top` best candidates by CV R² (the baseline excluded), deterministic on ties."""
    ranked = sorted(
        (r for r in results if r.name != exclude),
        key=lambda r: (-round(r.cv_r2_mean, 10), r.complexity, r.name),
    )
    return ranked[:top]


def search_blend(
    members: list[CandidateResult],
    schema: Schema,
    X: pd.DataFrame,
    y: np.ndarray,
    cv: Any,
    groups: Any,
    n_jobs: int,
) -> CandidateResult:
    """Score the blend of the best members with the same CV, like any other candidate."""
    from trainer.candidates import CATALOGUE

    pipeline = blend_pipeline([(CATALOGUE[m.name], m.best_params) for m in members], schema)
    spec = CandidateSpec(BLEND, lambda: pipeline, "onehot", BLEND_COMPLEXITY)
    started = time.perf_counter()
    results = pd.DataFrame(
        _run_search(
            spec, {}, GridSearchCV(pipeline, [{}], **_cv_kwargs(cv, n_jobs)), X, y, groups, pipeline, cv
        )
    )
    results["params"] = [{"members": "+".join(m.name for m in members)}] * len(results)
    result = _summarize(BLEND, BLEND_COMPLEXITY, results, time.perf_counter() - started, cv)
    result.best_params = {
        "members": [m.name for m in members],
        **{f"{m.name}__{k}": v for m in members for k, v in m.best_params.items()},
    }
    return result


def _unprefix(params: dict[str, Any]) -> dict[str, Any]:
    return {k.removeprefix("model__"): _plain(v) for k, v in params.items()}


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _failing_params(
    pipeline: Any, grid: dict[str, list[Any]], X: pd.DataFrame, y: np.ndarray, cv: Any, groups: Any
) -> dict[str, Any]:
    """Refit grid points on the first fold, one by one, to name the one that raises."""
    train_idx, _ = next(iter(cv.split(X, y, groups)))
    for params in ParameterGrid(prefixed(grid)):
        try:
            clone(pipeline).set_params(**params).fit(X.iloc[train_idx], y[train_idx])
        except Exception:  # noqa: BLE001 - this is the failing point we are looking for
            return _unprefix(params)
    return {"(grid point not isolated)": "see cross-validation"}


def log_candidate(result: CandidateResult, experiment_id: str, parent_run_id: str) -> str:
    """One child run for the candidate, one grandchild per grid point, logged in batches."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    client = MlflowClient()
    now = int(time.time() * 1000)
    child = client.create_run(
        experiment_id,
        run_name=result.name,
        tags={"mlflow.parentRunId": parent_run_id, "candidate": result.name, "level": "candidate"},
    )
    cid = child.info.run_id
    client.log_batch(
        cid,
        metrics=[
            Metric("cv_r2_mean", result.cv_r2_mean, now, 0),
            Metric("cv_r2_std", result.cv_r2_std, now, 0),
            Metric("fit_seconds", result.fit_seconds, now, 0),
            Metric("grid_size", result.grid_size, now, 0),
        ],
        params=[Param(k, str(v)) for k, v in sorted(result.best_params.items())][:100],
        tags=[RunTag("best_params", param_label(result.best_params))],
    )
    client.log_text(cid, result.cv_results.to_csv(index=False), "cv_results.csv")
    for row in result.cv_results.to_dict(orient="records"):
        point = client.create_run(
            experiment_id,
            run_name=f"{result.name}: {row['params']}",
            tags={"mlflow.parentRunId": cid, "candidate": result.name, "level": "grid_point"},
        )
        params = dict(
            (k.removeprefix("param_model__"), str(v)) for k, v in row.items() if k.startswith("param_model__")
        )
        client.log_batch(
            point.info.run_id,
            metrics=[
                Metric("cv_r2_mean", float(row["mean_test_score"]), now, 0),
                Metric("cv_r2_std", float(row["std_test_score"]), now, 0),
            ],
            params=[Param(k, v) for k, v in sorted(params.items())][:100],
        )
        client.set_terminated(point.info.run_id, "FINISHED")
    client.set_terminated(cid, "FINISHED")
    return cid
