"""The one training path: contract -> features -> search -> select -> register, in one parent run."""

from __future__ import annotations

import json
import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trainer import tracking
from trainer.config import Recipe, Schema, load_recipe, load_schema
from trainer.contract import ContractResult
from trainer.errors import ContractError
from trainer.split import Split, split_data

log = logging.getLogger(__name__)


@dataclass
class Timings:
    """Wall seconds per phase, in the order the phases ran."""

    phases: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    def add(self, name: str, since: float) -> float:
        now = time.perf_counter()
        self.phases[name] = self.phases.get(name, 0.0) + now - since
        return now

    def with_total(self) -> dict[str, float]:
        return {**self.phases, "total": time.perf_counter() - self.started}


@dataclass
class TrainingOutcome:
    """What a training hands back: the run, the fitted winner, scores and (maybe) the version."""

    run_id: str
    selection: Any
    pipeline: Any
    test_metrics: dict[str, float]
    feature_digest: str
    timings: dict[str, float]
    model_version: str | None = None


def _validate_in_run(data_path: Path, schema: Schema) -> ContractResult:
    from trainer import contract

    result = contract.validate(data_path, schema)
    tracking.log_contract(result, schema)
    if not result.success:
        raise ContractError(result.summary())
    log.info(result.summary())
    return result


def run_validate(data_path: Path, schema_path: Path, experiment: str) -> ContractResult:
    """Run the data contract alone, recorded as its own MLflow run."""
    tracking.quiet_libraries()
    tracking.check_tracking_store()
    tracking.use_experiment(experiment)
    with tracking.parent_run("validate", {"trainer_command": "validate"}):
        schema = load_schema(schema_path)
        return _validate_in_run(data_path, schema)


def _log_recipe(recipe: Recipe) -> None:
    import mlflow

    mlflow.log_artifact(str(recipe.path), "recipe")
    mlflow.log_params(
        {
            "recipe_digest": recipe.digest,
            "recipe_path": str(recipe.path),
            "cv_folds": recipe.folds,
            "search_strategy": recipe.strategy,
            "min_cv_r2": recipe.min_cv_r2,
            "min_improvement": recipe.min_improvement,
        }
    )


def _search_all(
    specs: list[Any], recipe: Recipe, schema: Schema, split: Split, timings: Timings, run: Any
) -> list[Any]:
    from joblib import Memory

    from trainer.search import blend_members, make_cv, search_blend, search_candidate

    cv = make_cv(recipe, len(split.X_train))
    results = []
    with tempfile.TemporaryDirectory(prefix="trainer-cache-") as cache_dir:
        from trainer.distributed import active_scheduler

        # the cache directory is local: remote Dask workers must not be handed its path
        memory = None if active_scheduler() else Memory(cache_dir, verbose=0)
        for i, spec in enumerate(specs, 1):
            grid = recipe.candidates[spec.name]
            t0 = time.perf_counter()
            result = search_candidate(
                spec,
                grid,
                schema,
                split.X_train,
                split.y_train,
                cv,
                split.groups,
                recipe.n_jobs,
                memory,
                strategy=recipe.strategy,
                n_iter=recipe.n_iter,
                random_state=recipe.cv_seed,
            )
            results.append(_record(result, i, len(specs), t0, timings, run))
    members = blend_members(results, recipe.blend_top, recipe.baseline) if recipe.blend_top >= 2 else []
    if len(members) >= 2:
        t0 = time.perf_counter()
        result = search_blend(members, schema, split.X_train, split.y_train, cv, split.groups, recipe.n_jobs)
        results.append(_record(result, len(specs) + 1, len(specs) + 1, t0, timings, run))
    return results


def _record(result: Any, i: int, n: int, t0: float, timings: Timings, run: Any) -> Any:
    """Time, log (child + grandchild runs) and print one candidate's progress line."""
    from trainer.search import log_candidate

    t1 = timings.add(f"search: {result.name}", t0)
    result.run_id = log_candidate(result, run.info.experiment_id, run.info.run_id)
    timings.add("logging", t1)
    log.info(
        "[%2d/%d] %-22s grid %3d  cv_r2 %.4f ± %.4f  %6.1f s",
        i,
        n,
        result.name,
        result.grid_size,
        result.cv_r2_mean,
        result.cv_r2_std,
        result.fit_seconds,
    )
    return result


def _holdout_metrics(pipeline: Any, split: Split) -> tuple[dict[str, float], np.ndarray]:
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    pred = pipeline.predict(split.X_test)
    metrics = {
        "test_r2": float(r2_score(split.y_test, pred)),
        "test_rmse": float(np.sqrt(mean_squared_error(split.y_test, pred))),
        "test_mae": float(mean_absolute_error(split.y_test, pred)),
    }
    return metrics, pred


def _log_leaderboard(board: pd.DataFrame, out: Path) -> None:
    import mlflow

    from trainer.report import leaderboard_plot, markdown_table

    board.to_csv(out / "leaderboard.csv", index=False)
    (out / "leaderboard.md").write_text(markdown_table(board))
    leaderboard_plot(board, out / "leaderboard.png")
    for name in ("leaderboard.csv", "leaderboard.md", "leaderboard.png"):
        mlflow.log_artifact(str(out / name), "leaderboard")


def _fit_winner(selection: Any, schema: Schema, split: Split) -> Any:
    from trainer.candidates import CATALOGUE
    from trainer.features import build_pipeline
    from trainer.search import BLEND, blend_pipeline

    winner = selection.winner
    if winner.name == BLEND:
        members = [
            (
                CATALOGUE[name],
                {k.split("__", 1)[1]: v for k, v in winner.best_params.items() if k.startswith(f"{name}__")},
            )
            for name in winner.best_params["members"]
        ]
        return blend_pipeline(members, schema).fit(split.X_train, split.y_train)
    spec = CATALOGUE[winner.name]
    model = spec.make().set_params(**winner.best_params)
    return build_pipeline(schema, spec.encoding, model).fit(split.X_train, split.y_train)


def run_train(
    data_path: Path,
    schema_path: Path,
    recipe_path: Path,
    register: bool = True,
    run_tags: dict[str, str] | None = None,
) -> TrainingOutcome:
    """The whole training path inside one parent run; FAILED (with reason) on any error."""
    import mlflow

    from trainer.candidates import check_candidates
    from trainer.features import summarize_features
    from trainer.select import select

    timings = Timings()
    tracking.quiet_libraries()
    recipe = load_recipe(recipe_path)
    specs = check_candidates(recipe.candidates)
    tracking.check_tracking_store()
    tracking.use_experiment(recipe.experiment)
    with (
        tracking.parent_run("train", {"trainer_command": "train", **(run_tags or {})}) as run,
        tempfile.TemporaryDirectory() as tmp,
    ):
        out = Path(tmp)
        _log_recipe(recipe)
        t = timings.add("setup", timings.started)
        schema = load_schema(schema_path)
        contract_result = _validate_in_run(data_path, schema)
        t = timings.add("contract", t)
        split = split_data(contract_result.frame, schema, recipe)
        features = summarize_features(schema, split.X_train)
        mlflow.log_params(
            {
                "train_rows": len(split.X_train),
                "test_rows": len(split.X_test),
                "feature_rows": features.rows,
                "feature_columns": features.columns,
                "split_seed": recipe.split_seed,
                "group_by": recipe.group_by or "",
            }
        )
        mlflow.set_tag("feature_digest", features.digest)
        log.info(
            "features: %d rows x %d columns, digest %s", features.rows, features.columns, features.digest[:12]
        )
        t = timings.add("features", t)
        results = _search_all(specs, recipe, schema, split, timings, run)
        t = time.perf_counter()
        try:
            selection = select(results, recipe)
        except Exception as exc:
            board = getattr(exc, "leaderboard", None)
            if board is not None:
                _log_leaderboard(board, out)
            raise
        _log_leaderboard(selection.leaderboard, out)
        mlflow.set_tags(
            {
                "selected_candidate": selection.winner.name,
                "best_params": json.dumps(selection.winner.best_params, sort_keys=True, default=str),
            }
        )
        mlflow.log_metrics(
            {
                "best_cv_r2": selection.winner.cv_r2_mean,
                "best_cv_r2_std": selection.winner.cv_r2_std,
                "baseline_cv_r2": selection.baseline.cv_r2_mean,
            }
        )
        t = timings.add("select", t)
        pipeline = _fit_winner(selection, schema, split)
        test_metrics, pred = _holdout_metrics(pipeline, split)
        mlflow.log_metrics(test_metrics)
        log.info(
            "selected %s (cv_r2 %.4f): holdout r2 %.4f, rmse %.2f, mae %.2f",
            selection.winner.name,
            selection.winner.cv_r2_mean,
            test_metrics["test_r2"],
            test_metrics["test_rmse"],
            test_metrics["test_mae"],
        )
        t = timings.add("refit + holdout", t)
        outcome = TrainingOutcome(
            run_id=run.info.run_id,
            selection=selection,
            pipeline=pipeline,
            test_metrics=test_metrics,
            feature_digest=features.digest,
            timings={},
        )
        if register:
            from trainer.register import TrainingContext, log_and_register

            context = TrainingContext(
                schema=schema,
                recipe=recipe,
                contract=contract_result,
                split=split,
                selection=selection,
                test_metrics=test_metrics,
                feature_digest=features.digest,
                predictions=pred,
                run_id=run.info.run_id,
            )
            outcome.model_version = log_and_register(pipeline, context, out)
            t = timings.add("registration", t)
        outcome.timings = _finish_timings(timings, results)
    return outcome


def _finish_timings(timings: Timings, results: list[Any]) -> dict[str, float]:
    import mlflow

    from trainer.report import timing_table

    total = timings.with_total()
    estimator = sum(r.estimator_seconds for r in results)
    mlflow.log_metrics(
        {
            "time_total_s": total["total"],
            "time_contract_s": total.get("contract", 0.0),
            "time_features_s": total.get("features", 0.0),
            "time_search_s": sum(v for k, v in total.items() if k.startswith("search: ")),
            "time_logging_s": total.get("logging", 0.0),
            "time_registration_s": total.get("registration", 0.0),
            "estimator_seconds": estimator,
        }
    )
    mlflow.log_dict(total, "timings.json")
    log.info("phase timings (wall):\n%s", timing_table(total))
    return total
