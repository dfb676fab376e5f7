"""Cross-validated grid search per candidate, each in its own nested MLflow run."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, GroupKFold, KFold, ParameterGrid

from trainer.candidates import CandidateSpec
from trainer.config import Recipe, Schema
from trainer.errors import TrainerError
from trainer.features import build_pipeline

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
) -> CandidateResult:
    """GridSearchCV over one candidate (no refit); any fit error names candidate and params."""
    pipeline = build_pipeline(schema, spec.encoding, spec.make(), memory=memory)
    search = GridSearchCV(
        pipeline,
        [prefixed(grid)],
        scoring="r2",
        cv=cv,
        refit=False,
        error_score="raise",
        n_jobs=n_jobs,
    )
    started = time.perf_counter()
    try:
        search.fit(X, y, groups=groups)
    except Exception as exc:  # noqa: BLE001 - re-raised as one line naming the grid point
        bad = _failing_params(pipeline, grid, X, y, cv, groups)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TrainerError(
            f"candidate '{spec.name}' failed to fit with {param_label(bad)}: "
            f"{type(exc).__name__}: {first[:300]}"
        ) from exc
    elapsed = time.perf_counter() - started
    results = pd.DataFrame(search.cv_results_)
    results["params"] = [param_label(_unprefix(p)) for p in results["params"]]
    best = int(np.argmax(results["mean_test_score"].to_numpy()))
    scores = results["mean_test_score"].to_numpy()
    if not np.all(np.isfinite(scores)):
        raise TrainerError(f"candidate '{spec.name}' produced a non-finite CV score")
    estimator_seconds = float(
        (results["mean_fit_time"] + results["mean_score_time"]).sum() * cv.get_n_splits()
    )
    return CandidateResult(
        name=spec.name,
        complexity=spec.complexity,
        grid_size=len(results),
        best_params=_unprefix(search.cv_results_["params"][best]),
        cv_r2_mean=float(scores[best]),
        cv_r2_std=float(results["std_test_score"].iloc[best]),
        fit_seconds=elapsed,
        estimator_seconds=estimator_seconds,
        cv_results=results,
    )


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
