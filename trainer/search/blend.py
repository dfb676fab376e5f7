"""The blend of the best candidates: scored from their out-of-fold predictions (no fit), refitted as
one averaging VotingRegressor / soft VotingClassifier Pipeline when it wins."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pandas as pd

from trainer.catalogue.classifiers import catalogue
from trainer.data.features import build_pipeline
from trainer.errors import TrainerError
from trainer.search.folds import averaged, cv_row, fold_indices, scores, summarize
from trainer.search.results import CandidateResult, OutOfFold, rank

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

    from trainer.catalogue.regressors import CandidateSpec
    from trainer.data.schema import Schema
    from trainer.search.plan import SearchPlan

BLEND = "blend"
BLEND_COMPLEXITY = 100


def blend_pipeline(
    members: list[tuple[CandidateSpec, dict[str, Any]]], schema: Schema, classify: bool = False
) -> Pipeline:
    """An averaging VotingRegressor (or soft-voting VotingClassifier) of whole member Pipelines,
    itself inside a Pipeline. Its members fit in parallel under joblib's `parallel_config(n_jobs=...)`."""
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
    """Score the blend of the best members on the same folds, from their out-of-fold predictions:
    the scores a refitted VotingRegressor/VotingClassifier gets, without fitting anything."""
    started, wall = time.perf_counter(), time.time()
    folds = fold_indices(plan.cv, plan.X, plan.y, plan.groups)
    oof = averaged([member_oof(m) for m in members], plan.task.is_classification)
    label = {"members": "+".join(m.name for m in members)}
    row = cv_row(label, [], scores(plan.task, plan.y, folds, oof), plan.task)
    results = pd.DataFrame([row])
    timing = (time.perf_counter() - started, wall)
    result = summarize(BLEND, BLEND_COMPLEXITY, results, timing, plan.task, len(folds))
    best_params = {
        "members": [m.name for m in members],
        **{f"{m.name}__{k}": v for m in members for k, v in m.best_params.items()},
    }
    return replace(result, best_params=best_params, oof=oof)


def member_oof(member: CandidateResult) -> OutOfFold:
    """A member's out-of-fold predictions at its best point, as its search kept them (every search
    strategy does)."""
    if member.oof is None:
        raise TrainerError(f"candidate '{member.name}' kept no out-of-fold predictions to blend")
    return member.oof
