"""The winner refitted on the whole training part, on every core the recipe allows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from trainer.catalogue.classifiers import catalogue
from trainer.data.features import build_pipeline
from trainer.search.blend import BLEND, blend_params, blend_pipeline
from trainer.search.local_workers import local_pool

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

    from trainer.catalogue.regressors import CandidateSpec
    from trainer.data.schema import Schema
    from trainer.data.split import Split
    from trainer.recipe.task import Task
    from trainer.search.results import CandidateResult


def refit(winner: CandidateResult, schema: Schema, split: Split, task: Task, n_jobs: int = 1) -> Pipeline:
    """The winner's Pipeline at its best parameters, fitted on the whole training part: a blend's
    members side by side on `n_jobs` workers (76 s one after the other under load), and an estimator
    whose model does not depend on its threads (`CandidateSpec.threads`) on this machine's cores
    (local processes only: a Dask worker's cores are not ours to count)."""
    from joblib import cpu_count, effective_n_jobs, parallel_config

    cores = min(effective_n_jobs(n_jobs), cpu_count()) if local_pool() else 1
    if winner.name == BLEND:
        members = blend_params(winner.best_params, task.kind)
        blend = blend_pipeline(members, schema, task.is_classification)
        voting = blend.named_steps["model"]
        specs = [spec for spec, _ in members]
        with parallel_config(n_jobs=n_jobs), threads(specs, voting.estimators, cores):
            blend.fit(split.X_train, split.y_train)
        _restore(specs, voting.estimators_)  # the fitted clones (`threads` restores the templates)
        return blend
    spec = catalogue(task.kind)[winner.name]
    pipeline = build_pipeline(schema, spec.encoding, spec.make().set_params(**winner.best_params))
    with threads([spec], [(spec.name, pipeline)], cores):
        return pipeline.fit(split.X_train, split.y_train)


@contextmanager
def threads(specs: list[CandidateSpec], pipelines: list[tuple[str, Any]], cores: int) -> Iterator[None]:
    """Each member Pipeline's model whose spec names a thread parameter fits on `cores` threads; its
    catalogue value is back when the block ends, so the model's parameters (logged, compared by
    `reproduce`) are the searched ones; the fitted CatBoost object inside keeps the count it used."""
    for spec, (_, pipeline) in zip(specs, pipelines, strict=True):
        if spec.threads:
            pipeline.named_steps["model"].set_params(**{spec.threads: cores})
    try:
        yield
    finally:
        _restore(specs, [pipeline for _, pipeline in pipelines])


def _restore(specs: list[CandidateSpec], pipelines: list[Any]) -> None:
    for spec, pipeline in zip(specs, pipelines, strict=True):
        if spec.threads:
            default = spec.make().get_params()[spec.threads]
            pipeline.named_steps["model"].set_params(**{spec.threads: default})
