"""The one training path, read top to bottom: contract -> split -> features -> leakage -> search ->
select -> refit -> register, inside one parent MLflow run. Steps are pure; `record` logs what they return."""

from __future__ import annotations

import logging
import tempfile
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from trainer.catalogue.training_recipe import loaded
from trainer.data import contract
from trainer.data.features import summarize_features
from trainer.data.schema import load_schema, schema_name
from trainer.data.split import Split, split_data
from trainer.errors import ContractError
from trainer.leakage import detector as leakage
from trainer.model import environment
from trainer.model.provenance import TrainingOutcome
from trainer.model.refit import refit
from trainer.recipe.task import Task, check_two_class_settings, make_task, positive_rates
from trainer.recording import steps as record
from trainer.recording.candidate_runs import ChildRuns, ParentRun, mark_winner, searched
from trainer.registry import validation_status
from trainer.registry.card import run_description
from trainer.registry.consistency import check_same_contract
from trainer.search import local_workers as workers
from trainer.search.plan import fit_cache, make_plan
from trainer.search.selection import GatesFailed, Selection, select
from trainer.tracking import runs as tracking
from trainer.tracking.progress import Progress
from trainer.tracking.timing import PhaseTimer

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

    from trainer.catalogue.regressors import CandidateSpec
    from trainer.data.features import FeatureSummary
    from trainer.data.schema import Schema
    from trainer.model.calibration import DecisionRule
    from trainer.recipe.settings import Recipe
    from trainer.search.plan import SearchPlan
    from trainer.search.results import CandidateResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prepared:
    """The validated data, its holdout split and the digest of what the model will see."""

    schema: Schema
    contract: contract.ContractResult
    split: Split
    features: FeatureSummary
    leakage: leakage.LeakageReport
    task: Task = Task()


def validated(data_path: Path, schema: Schema) -> contract.ContractResult:
    """The contract, recorded in the active run (its inputs first); a failure stops everything (exit 2)."""
    record.inputs(data_path, schema)
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


def _experiment_opened(recipe: Recipe, warm: workers.WarmUp) -> str | None:
    """The store checked and the recipe's experiment in use (`tracking.use_experiment`); on a
    failure the warm-up is waited for, so its head start ends with the failure."""
    with workers.waited_on_failure(warm):
        tracking.check_tracking_store()
        return tracking.use_experiment(str(recipe.experiment))


def run_train(
    data_path: Path,
    schema_path: Path,
    recipe_path: Path,
    register: bool = True,
    run_tags: dict[str, str] | None = None,
    time_budget: float | None = None,
) -> TrainingOutcome:
    """The whole training path inside one parent run; FAILED (with reason) on any error."""
    timer = PhaseTimer()
    tracking.quiet_libraries()
    recipe, specs = loaded(recipe_path, schema_path, time_budget)
    warm = workers.warm_up(recipe.n_jobs, [spec.make for spec in specs])  # (`cli` may have started it)
    launched = _experiment_opened(recipe, warm)
    command = "reproduce" if run_tags and "reproduces" in run_tags else "train"
    tags = {"trainer_command": command, **(run_tags or {})}
    name = tracking.run_name(command, schema_name(schema_path))
    # `passed_last` encloses the run: the version is marked `passed` after the run has closed, or
    # withdrawn on any failure or signal before that
    with (
        closing(warm),
        validation_status.passed_last() as registration,
        tracking.parent_run(name, tags, launched) as run,
        tempfile.TemporaryDirectory() as tmp,
        ChildRuns() as children,
    ):
        record.recipe(recipe)
        timer.add("setup", timer.elapsed())
        prepared = prepare(data_path, schema_path, recipe, timer, warm, registering=register)
        parent = ParentRun(run, timer, children)
        plan, results = search_step(specs, recipe, prepared, parent)
        with timer.phase("select"):
            selection = select_step(results, recipe, Path(tmp), parent)
        children.check()
        if register:
            children.submit("importing registration's libraries", environment.preload)  # beside the refit
        with timer.phase("refit + holdout"), Progress(f"refit {selection.winner.name}"):
            outcome = refit_step(selection, recipe, prepared, plan, run.info.run_id)
        with timer.phase("logging"):  # what is left of the child runs' writes
            children.wait()
        if register:
            registration.run_id = run.info.run_id  # from here on the run may own a version
            with timer.phase("registration"), Progress("registration"):
                registration.uri = register_step(outcome, recipe, prepared, Path(tmp))
            outcome = replace(outcome, model_version=registration.uri)
        phases = _recorded_end(outcome, prepared, timer, results)
    if outcome.model_version and recipe.promotion.on_register == "if_better":
        with Progress("promotion"):  # only once the version is `passed`: a promotion never races it
            outcome = promote_step(outcome, recipe, prepared, data_path, schema_path)
    return replace(outcome, timings=phases)


def _recorded_end(
    outcome: TrainingOutcome, prepared: Prepared, timer: PhaseTimer, results: list[CandidateResult]
) -> dict[str, float]:
    """The last a training records: the run's description and its phase timings."""
    version = outcome.model_version
    record.description(run_description(outcome.selection, outcome.test_metrics, prepared.contract, version))
    phases = timer.with_total()
    record.timings(phases, sum(r.estimator_seconds for r in results))
    return phases


def search_step(
    specs: list[CandidateSpec], recipe: Recipe, prepared: Prepared, parent: ParentRun
) -> tuple[SearchPlan, list[CandidateResult]]:
    """The search plan and every candidate's result (a fit cache for the search's duration)."""
    run, timer, children = parent.run, parent.timer, parent.children
    with tempfile.TemporaryDirectory(prefix="trainer-cache-") as cache:
        plan = make_plan(
            recipe, prepared.schema, prepared.split, fit_cache(cache), prepared.task, timer.started
        )
        return plan, searched(specs, recipe, plan, run, timer, children)


def promote_step(
    outcome: TrainingOutcome, recipe: Recipe, prepared: Prepared, data_path: Path, schema_path: Path
) -> TrainingOutcome:
    """The new version takes the recipe's alias if it scores at least as well as its holder."""
    from trainer.registry.promote import Holdout, PromotionRequest, promote_on_register

    name, _, version = str(outcome.model_version).removeprefix("models:/").rpartition("/")
    alias = recipe.promotion.alias
    request = PromotionRequest(version, alias, name, False, data_path, schema_path, recipe.path)
    holdout = Holdout(prepared.split, prepared.task)
    moved = promote_on_register(request, holdout, recipe.promotion.tolerance)
    return replace(outcome, promoted_alias=alias if moved else None)


def prepare(
    data_path: Path,
    schema_path: Path,
    recipe: Recipe,
    timer: PhaseTimer,
    warm: workers.WarmUp,
    registering: bool = False,
) -> Prepared:
    """Contract, holdout split, feature digest and leakage check: everything the search starts from
    (`warm`: the worker processes being started meanwhile; `registering`: a version will be made)."""
    with timer.phase("contract"), Progress("contract"):
        schema = load_schema(schema_path)
        if registering:  # one registered model, one contract: refused before any work
            check_same_contract(str(recipe.registered_model), schema)
        data = validated(data_path, schema)
    with timer.phase("features"):
        split = split_data(data.frame, schema, recipe.split)
        features = summarize_features(schema, split.X_train)
        record.features(split, features)
    task = make_task(schema.task, data.labels, schema.positive_class, recipe.classification.metric)
    check_two_class_settings(task, recipe.classification, f"recipe {recipe.path}")
    with timer.phase("leakage"):
        warm.wait()
        report = leakage_step(split, recipe, task)
    return Prepared(schema, data, split, features, report, task)


def leakage_step(split: Split, recipe: Recipe, task: Task) -> leakage.LeakageReport:
    """The leakage detector on the training part, recorded; an unacknowledged block stops here (exit 2).
    A class label is scored by a classifier (`leakage_scores`)."""
    settings = recipe.leakage
    if settings.enabled:
        # its tiny fits stay local: only the search's CV fits go to a Dask cluster
        n_jobs = recipe.n_jobs if workers.local_pool() else 1
        y = task.as_numbers(split.y_train)
        report = leakage.detect(split.X_train, y, settings, n_jobs, classes=task.is_classification)
    else:
        report = leakage.disabled(settings)
    record.leakage(report)
    leakage.enforce(report)
    return report


def select_step(results: list[CandidateResult], recipe: Recipe, out: Path, parent: ParentRun) -> Selection:
    """The gates' verdict; the leaderboard is recorded whether or not a candidate passed, and the
    winner's child run is marked (in the background, after its own creation)."""
    try:
        selection = select(results, recipe.gates, str(recipe.path))
    except GatesFailed as failed:
        record.leaderboard(failed.leaderboard, out)
        raise
    record.selection(selection, out)
    parent.children.submit(
        "marking the winner's run", mark_winner, selection.winner, selection.baseline, parent.run
    )
    return selection


def calibration_step(
    model: Pipeline, recipe: Recipe, prepared: Prepared, plan: SearchPlan
) -> tuple[Pipeline, DecisionRule | None]:
    """A classifier calibrated and thresholded as the recipe says (recorded); a regressor as it is."""
    if not prepared.task.is_classification:
        return model, None
    from trainer.model.calibration import calibrate_and_threshold

    model, finishing = calibrate_and_threshold(
        model, prepared.task, recipe.classification, prepared.split, plan.cv
    )
    record.finishing(finishing, prepared.task)
    return model, finishing


def refit_step(
    selection: Selection, recipe: Recipe, prepared: Prepared, plan: SearchPlan, run_id: str
) -> TrainingOutcome:
    """The winner refitted on the whole training part (calibrated and thresholded for a classifier)
    and scored on the holdout, recorded."""
    winner = refit(selection.winner, prepared.schema, prepared.split, prepared.task, recipe.n_jobs)
    model, finishing = calibration_step(winner, recipe, prepared, plan)
    metrics, predictions = prepared.task.holdout_metrics(model, prepared.split.X_test, prepared.split.y_test)
    rates = positive_rates(prepared.task, prepared.split.y_test, predictions)
    record.holdout(selection.winner.name, selection.winner.cv_mean, metrics, prepared.task.metric, rates)
    digest = prepared.features.digest
    return TrainingOutcome(
        run_id, selection, model, metrics, digest, {}, finishing=finishing, predictions=predictions
    )


def register_step(outcome: TrainingOutcome, recipe: Recipe, prepared: Prepared, out: Path) -> str:
    """Log, prove and register the winner; returns `models:/NAME/VERSION`, still `pending`."""
    from trainer.model.provenance import TrainingContext
    from trainer.registry import register

    context = TrainingContext(
        schema=prepared.schema,
        recipe=recipe,
        contract=prepared.contract,
        split=prepared.split,
        selection=outcome.selection,
        test_metrics=outcome.test_metrics,
        feature_digest=outcome.feature_digest,
        predictions=np.asarray(outcome.predictions),
        run_id=outcome.run_id,
        task=prepared.task,
        finishing=outcome.finishing,
        leakage=prepared.leakage,
    )
    return register.log_and_register(outcome.pipeline, context, out)
