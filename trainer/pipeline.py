"""The one training path, read top to bottom: contract -> split -> features -> search -> select ->
refit -> register, inside one parent MLflow run. Steps are pure; `record` logs what they return."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from trainer import contract, record, tracking
from trainer.candidates import CATALOGUE, check_candidates
from trainer.config import load_recipe
from trainer.errors import ContractError
from trainer.features import build_pipeline, summarize_features
from trainer.progress import Progress
from trainer.schema import load_schema, schema_name, with_names
from trainer.search import (
    BLEND,
    blend_params,
    blend_pipeline,
    fit_cache,
    make_plan,
    planned_count,
    search_all,
)
from trainer.select import GatesFailed, Selection, select
from trainer.split import Split, split_data
from trainer.timing import PhaseTimer

if TYPE_CHECKING:
    from mlflow.entities import Run
    from sklearn.pipeline import Pipeline

    from trainer.candidates import CandidateSpec
    from trainer.config import Recipe
    from trainer.features import FeatureSummary
    from trainer.results import CandidateResult
    from trainer.schema import Schema
    from trainer.search import SearchPlan

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prepared:
    """The validated data, its holdout split and the digest of what the model will see."""

    schema: Schema
    contract: contract.ContractResult
    split: Split
    features: FeatureSummary


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
    promoted_alias: str | None = None  # the alias the new version took (`promotion.on_register`)


def validated(data_path: Path, schema: Schema) -> contract.ContractResult:
    """The contract, recorded in the active run; a failure stops everything (exit 2)."""
    result = contract.validate(data_path, schema)
    record.contract(result, schema)
    if not result.success:
        raise ContractError(result.summary())
    log.info(result.summary())
    return result


def run_validate(data_path: Path, schema_path: Path, experiment: str) -> contract.ContractResult:
    """Run the data contract alone, recorded as its own MLflow run."""
    tracking.quiet_libraries()
    tracking.check_tracking_store()
    launched = tracking.use_experiment(experiment)
    name = tracking.run_name("validate", schema_name(schema_path))
    with tracking.parent_run(name, {"trainer_command": "validate"}, launched):
        return validated(data_path, load_schema(schema_path))


def run_train(
    data_path: Path,
    schema_path: Path,
    recipe_path: Path,
    register: bool = True,
    run_tags: dict[str, str] | None = None,
) -> TrainingOutcome:
    """The whole training path inside one parent run; FAILED (with reason) on any error."""
    timer = PhaseTimer()
    tracking.quiet_libraries()
    recipe = with_names(load_recipe(recipe_path), schema_path)
    specs = check_candidates(recipe.candidates, recipe.search.max_grid_points)
    tracking.check_tracking_store()
    launched = tracking.use_experiment(str(recipe.experiment))
    tags = {"trainer_command": "train", **(run_tags or {})}
    name = tracking.run_name("reproduce" if "reproduces" in tags else "train", schema_name(schema_path))
    with tracking.parent_run(name, tags, launched) as run, tempfile.TemporaryDirectory() as tmp:
        record.recipe(recipe)
        timer.add("setup", timer.elapsed())
        prepared = prepare(data_path, schema_path, recipe, timer)
        with tempfile.TemporaryDirectory(prefix="trainer-cache-") as cache:
            plan = make_plan(recipe, prepared.schema, prepared.split, fit_cache(cache))
            results = searched(specs, recipe, plan, run, timer)
        with timer.phase("select"):
            selection = selected(results, recipe, Path(tmp))
        with timer.phase("refit + holdout"), Progress(f"refit {selection.winner.name}"):
            model = refit(selection.winner, prepared.schema, prepared.split)
            metrics, predictions = holdout_metrics(model, prepared.split)
            record.holdout(selection.winner.name, selection.winner.cv_r2_mean, metrics)
        outcome = TrainingOutcome(run.info.run_id, selection, model, metrics, prepared.features.digest, {})
        if register:
            with timer.phase("registration"), Progress("registration"):
                version = registered(outcome, recipe, prepared, predictions, Path(tmp))
            outcome = replace(outcome, model_version=version)
            if recipe.promotion.on_register == "if_better":
                with timer.phase("promotion"), Progress("promotion"):
                    outcome = promoted(outcome, recipe, prepared, data_path, schema_path)
        phases = timer.with_total()
        record.timings(phases, sum(r.estimator_seconds for r in results))
    return replace(outcome, timings=phases)


def promoted(
    outcome: TrainingOutcome, recipe: Recipe, prepared: Prepared, data_path: Path, schema_path: Path
) -> TrainingOutcome:
    """The new version takes the recipe's alias if it scores at least as well as its holder."""
    from trainer.promote import PromotionRequest, promote_on_register

    name, _, version = str(outcome.model_version).removeprefix("models:/").rpartition("/")
    alias = recipe.promotion.alias
    request = PromotionRequest(version, alias, name, False, data_path, schema_path, recipe.path)
    moved = promote_on_register(request, prepared.split, recipe.promotion.tolerance)
    return replace(outcome, promoted_alias=alias if moved else None)


def prepare(data_path: Path, schema_path: Path, recipe: Recipe, timer: PhaseTimer) -> Prepared:
    """Contract, holdout split and the feature digest: everything the search starts from."""
    with timer.phase("contract"), Progress("contract"):
        schema = load_schema(schema_path)
        data = validated(data_path, schema)
    with timer.phase("features"):
        split = split_data(data.frame, schema, recipe.split)
        features = summarize_features(schema, split.X_train)
        record.features(split, features)
    return Prepared(schema, data, split, features)


def searched(
    specs: list[CandidateSpec], recipe: Recipe, plan: SearchPlan, run: Run, timer: PhaseTimer
) -> list[CandidateResult]:
    """Every candidate's search, each recorded as a child run with a progress line as it finishes."""
    total = planned_count(specs, recipe)
    results = []
    with Progress("search", total) as progress:
        for i, result in enumerate(search_all(specs, recipe, plan), 1):
            progress.advance(result.name)
            results.append(_logged(i, total, result, run, timer))
    return results


def _logged(i: int, total: int, result: CandidateResult, run: Run, timer: PhaseTimer) -> CandidateResult:
    """One candidate's child run, and its progress line `[ k/N] name ... cv_r2 ...`."""
    timer.add(f"search: {result.name}", result.fit_seconds)
    with timer.phase("logging"):
        record.candidate(result, run)
    log.info(
        "[%2d/%d] %-22s grid %3d  cv_r2 %.4f ± %.4f  %6.1f s",
        i,
        total,
        result.name,
        result.grid_size,
        result.cv_r2_mean,
        result.cv_r2_std,
        result.fit_seconds,
    )
    return result


def selected(results: list[CandidateResult], recipe: Recipe, out: Path) -> Selection:
    """The gates' verdict; the leaderboard is recorded whether or not a candidate passed."""
    try:
        selection = select(results, recipe.gates)
    except GatesFailed as failed:
        record.leaderboard(failed.leaderboard, out)
        raise
    record.selection(selection, out)
    return selection


def refit(winner: CandidateResult, schema: Schema, split: Split) -> Pipeline:
    """The winner's Pipeline at its best parameters, fitted on the whole training part."""
    if winner.name == BLEND:
        return blend_pipeline(blend_params(winner.best_params), schema).fit(split.X_train, split.y_train)
    spec = CATALOGUE[winner.name]
    model = spec.make().set_params(**winner.best_params)
    return build_pipeline(schema, spec.encoding, model).fit(split.X_train, split.y_train)


def holdout_metrics(model: Pipeline, split: Split) -> tuple[dict[str, float], np.ndarray]:
    """R², RMSE and MAE of the refitted winner on the holdout, and its predictions."""
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    pred = model.predict(split.X_test)
    metrics = {
        "test_r2": float(r2_score(split.y_test, pred)),
        "test_rmse": float(np.sqrt(mean_squared_error(split.y_test, pred))),
        "test_mae": float(mean_absolute_error(split.y_test, pred)),
    }
    return metrics, pred


def registered(
    outcome: TrainingOutcome, recipe: Recipe, prepared: Prepared, predictions: np.ndarray, out: Path
) -> str:
    """Log, prove and register the winner (all or nothing); returns `models:/NAME/VERSION`."""
    from trainer import register
    from trainer.context import TrainingContext

    context = TrainingContext(
        schema=prepared.schema,
        recipe=recipe,
        contract=prepared.contract,
        split=prepared.split,
        selection=outcome.selection,
        test_metrics=outcome.test_metrics,
        feature_digest=outcome.feature_digest,
        predictions=predictions,
        run_id=outcome.run_id,
    )
    return register.log_and_register(outcome.pipeline, context, out)
