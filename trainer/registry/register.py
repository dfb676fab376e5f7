"""Registration: log the winning Pipeline, prove the logged copy, create and describe its version."""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from trainer.errors import TrainerError
from trainer.files import absolute
from trainer.model.environment import (
    choose_serialization,
    distribution_versions,
    model_code,
    model_requirements,
)
from trainer.model.provenance import TrainingContext
from trainer.registry.audit import VALIDATION_TAG, git_state
from trainer.registry.card import model_card, registered_model_description
from trainer.registry.consistency import contract_tags
from trainer.registry.importance import importance_by_column
from trainer.registry.signature import schema_signature
from trainer.registry.training_profile import record_profile
from trainer.search.local_workers import in_background
from trainer.text import write_csv
from trainer.tracking.lineage import logged_despite_a_concurrent_run
from trainer.tracking.report import importance_plot, prediction_plots, timing_table
from trainer.tracking.timing import PhaseTimer

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.models.model import ModelInfo
    from sklearn.pipeline import Pipeline

    from trainer.data.schema import Schema

log = logging.getLogger(__name__)

# the logged-model tag MLflow keeps its links to registered versions in (mlflow.utils.mlflow_tags)
MODEL_VERSIONS_TAG = "mlflow.modelVersions"


def version_tags(ctx: TrainingContext) -> dict[str, str]:
    """The audit tags every registered version carries (they filter in the UI)."""
    commit, dirty = git_state()
    winner, m = ctx.selection.winner, ctx.task.metric
    return {
        "candidate": winner.name,
        **_task_tags(ctx),
        f"cv_{m}": f"{winner.cv_mean:.6f}",
        f"cv_{m}_std": f"{winner.cv_std:.6f}",
        **{k: f"{v:.6f}" for k, v in ctx.test_metrics.items()},
        f"baseline_cv_{m}": f"{ctx.selection.baseline.cv_mean:.6f}",
        "data_digest": ctx.contract.data_digest,
        "data_path": absolute(ctx.contract.data_path),
        "schema_digest": ctx.schema.digest,
        "suite_digest": ctx.contract.suite_digest,
        "recipe_digest": ctx.recipe.digest,
        "feature_digest": ctx.feature_digest,
        "git_commit": commit,
        "git_dirty": str(dirty).lower(),
        "training_run_id": ctx.run_id,
        **contract_tags(ctx.schema),
        "best_params": json.dumps(winner.best_params, sort_keys=True, default=str),
    }


def _task_tags(ctx: TrainingContext) -> dict[str, str]:
    """A classifier's task, labels, selection metric, calibration and threshold (none for regression)."""
    if not ctx.task.is_classification:
        return {}
    finishing = ctx.finishing.tags() if ctx.finishing else {}
    return {
        "task": ctx.task.kind,
        "selection_metric": ctx.task.metric,
        "labels": json.dumps(list(ctx.task.labels), default=str),
        "positive_class": "" if ctx.task.positive_class is None else str(ctx.task.positive_class),
        **finishing,
    }


def _log_evaluation(importance: pd.DataFrame, ctx: TrainingContext, out: Path) -> None:
    import mlflow

    names = ["permutation_importance.png", "permutation_importance.csv"]
    if ctx.task.is_classification:
        write_csv(per_class_report(ctx), out / "per_class.csv")
        names.append("per_class.csv")
    else:
        prediction_plots(ctx.split.y_test, ctx.predictions, out / "predicted_vs_actual.png")
        names.insert(0, "predicted_vs_actual.png")
    write_csv(importance, out / "permutation_importance.csv")
    importance_plot(importance, out / "permutation_importance.png")
    for name in names:
        mlflow.log_artifact(str(out / name), "evaluation")


def per_class_report(ctx: TrainingContext) -> pd.DataFrame:
    """Holdout precision, recall, F1 and support of every label."""
    from sklearn.metrics import precision_recall_fscore_support

    labels = list(ctx.task.labels)
    p, r, f, n = precision_recall_fscore_support(
        ctx.split.y_test, ctx.predictions, labels=labels, zero_division=0
    )
    return pd.DataFrame({"label": labels, "precision": p, "recall": r, "f1": f, "support": n})


def log_and_register(pipeline: Pipeline, ctx: TrainingContext, out: Path) -> str:
    """Log the Pipeline, register it, attach tags and card. Returns `models:/NAME/VERSION`, still
    `pending`: the caller marks it `passed` last, or withdraws it (`trainer.registry.validation_status`)."""
    name, split, timer = str(ctx.recipe.registered_model), ctx.split, PhaseTimer()
    scoring = ctx.task.scorers()[ctx.task.metric]
    # importance predicts on the worker processes while this thread serializes, logs and evaluates
    # the model on one core: registration 6.1 s against 6.9 s one after the other (default recipe)
    importance_done = in_background(
        importance_by_column, pipeline, (split.X_test, split.y_test), scoring, ctx.recipe.n_jobs
    )
    try:
        info, serialization = _log_model(pipeline, ctx, timer)
    except Exception:
        with contextlib.suppress(Exception):  # its work ends with the failed registration's, not after
            importance_done()
        raise
    with timer.phase("permutation importance (rest of it)"):
        importance = importance_done()
    with timer.phase("evaluation plots"):
        _log_evaluation(importance, ctx, out)
    with timer.phase("training profile"):  # what `trainer monitor` compares new data with
        profile_tags = record_profile(pipeline, ctx)
    with timer.phase("version, tags, card"):
        version = _register_version(info, {"serialization": serialization, **profile_tags}, ctx, name)
    log.debug("registration (wall):\n%s", timing_table(timer.phases))
    return f"models:/{name}/{version}"


def _register_version(info: ModelInfo, tags: dict[str, str], ctx: TrainingContext, name: str) -> str:
    """Create the version (`pending`, with its audit tags and `tags`: serialization, profile digest),
    link it, describe it; returns its number."""
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient()
    _create_registered_model(client, name, ctx.schema)
    # the audit tags travel with the version's creation (one store write): one set_model_version_tag
    # per tag took 1.27 s for 25 tags on a local SQLite store
    mv = client.create_model_version(
        name,
        source=info.model_uri,
        run_id=ctx.run_id,
        tags={VALIDATION_TAG: "pending", **version_tags(ctx), **tags},
        model_id=info.model_id,
    )
    _link_logged_model(client, info.model_id, name, mv.version)
    card = model_card(ctx, tags["serialization"], name, mv.version)
    mlflow.log_text(card, "model_card.md")
    client.update_model_version(name, mv.version, description=card)
    mlflow.set_tags({"registered_model": name, "registered_version": mv.version})
    return str(mv.version)


def _log_model(pipeline: Pipeline, ctx: TrainingContext, timer: PhaseTimer) -> tuple[ModelInfo, str]:
    """Log the Pipeline as an MLflow model with its metrics, and prove the logged copy.

    Returns the model info and the serialization format.
    """
    import mlflow
    from mlflow.models import infer_signature

    mlflow.log_dict(distribution_versions(), "environment.json")
    with timer.phase("serialization check (skops)"):
        serialization, trusted = choose_serialization(pipeline)
    sample = ctx.split.X_train.head(200)
    # the output type from the holdout predictions already made, not a second predict
    inferred = infer_signature(sample, ctx.predictions[: len(sample)])
    winner = ctx.selection.winner
    with tempfile.TemporaryDirectory(prefix="trainer-model-code-") as tmp, timer.phase("log_model"):
        info = mlflow.sklearn.log_model(
            pipeline,
            name="model",
            signature=schema_signature(ctx.schema, inferred),
            input_example=ctx.split.X_test.head(5),
            serialization_format=serialization,
            skops_trusted_types=trusted,
            code_paths=[str(model_code(Path(tmp)))],  # just trainer/transforms.py
            pip_requirements=model_requirements(pipeline),
            params={k: str(v) for k, v in winner.best_params.items()},
            tags={"candidate": winner.name},
            model_type=winner.name,
        )
    m = winner.metric
    metrics = {f"cv_{m}": winner.cv_mean, f"cv_{m}_std": winner.cv_std, **ctx.test_metrics}
    mlflow.log_metrics(metrics, model_id=info.model_id)
    with timer.phase("evaluate logged copy"):
        evaluate_logged_model(info, ctx)
    mlflow.set_tags({"serialization": serialization, "model_id": info.model_id})
    return info, serialization


def evaluate_logged_model(info: ModelInfo, ctx: TrainingContext) -> dict[str, float]:
    """Score the *logged* model on the holdout with `mlflow.models.evaluate` (metrics and the holdout
    dataset are linked to the model); it must match the trained pipeline, or nothing is registered."""
    import mlflow
    from mlflow.data.pandas_dataset import from_pandas

    target = ctx.schema.target
    holdout = ctx.split.X_test.assign(**{target: ctx.split.y_test})
    dataset = from_pandas(
        holdout, source=str(Path(ctx.contract.data_path).resolve()), targets=target, name="holdout"
    )
    # SHAP explanations: not installed, and they cannot read pandas 3 text columns
    config: dict[str, object] = {"log_model_explainability": False}
    if ctx.task.is_classification:
        config["label_list"] = list(ctx.task.labels)
    if ctx.task.binary:
        config["pos_label"] = ctx.task.positive_class
    # MLflow guesses the task from the label values and warns when whole-number classes look like
    # something else to it ("the model type looks like None"); ours comes from the schema
    logging.getLogger("mlflow.models.evaluation.evaluators.classifier").addFilter(_not_a_model_type_guess)
    # logged first, surviving a concurrent run's identical insert; `evaluate` then links this row
    logged_despite_a_concurrent_run(lambda: mlflow.log_input(dataset, context="holdout"), "holdout")
    result = mlflow.models.evaluate(
        info.model_uri,
        dataset,
        model_type=ctx.task.model_type,
        evaluators=["default"],
        evaluator_config={"default": config},
    )
    # R² for a regressor; accuracy (labels after the decision threshold) for a classifier
    key, trained = (
        ("accuracy_score", "test_accuracy") if ctx.task.is_classification else ("r2_score", "test_r2")
    )
    logged_value, trained_value = result.metrics[key], ctx.test_metrics[trained]
    if abs(logged_value - trained_value) > 1e-9:
        raise TrainerError(
            f"the logged model scores holdout {key} {logged_value:.6f} but the trained pipeline "
            f"{trained_value:.6f}: serialization changed the model; nothing registered"
        )
    return result.metrics


def _not_a_model_type_guess(record: logging.LogRecord) -> bool:
    return "the model type looks like" not in record.getMessage()


def _create_registered_model(client: MlflowClient, name: str, schema: Schema) -> None:
    """Create the registered model with its description; an existing one keeps its own (UI edits),
    and one created without any (the team server's roles tool creates it) is given it."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import ALREADY_EXISTS, RESOURCE_ALREADY_EXISTS, ErrorCode

    description = registered_model_description(schema)
    try:
        client.create_registered_model(name, description=description)
    except MlflowException as exc:
        if exc.error_code not in (ErrorCode.Name(RESOURCE_ALREADY_EXISTS), ErrorCode.Name(ALREADY_EXISTS)):
            raise
        if not client.get_registered_model(name).description:  # created empty (`make roles`)
            client.update_registered_model(name, description=description)


def _linked_versions(client: MlflowClient, model_id: str) -> list[dict[str, str]]:
    return json.loads(client.get_logged_model(model_id).tags.get(MODEL_VERSIONS_TAG) or "[]")


def _link_logged_model(client: MlflowClient, model_id: str, name: str, version: str) -> None:
    """Record the version on the logged model, as `mlflow.register_model` does (the UI reads it).

    A tracking server already does this in create_model_version; a local store does not.
    """
    entry = {"name": name, "version": version}
    linked = _linked_versions(client, model_id)
    if entry not in linked:
        client.set_logged_model_tags(model_id, {MODEL_VERSIONS_TAG: json.dumps([*linked, entry])})


def unlink_logged_model(client: MlflowClient, model_id: str, name: str, version: str) -> None:
    """Drop a withdrawn version from the logged model's links (best effort)."""
    try:
        linked = _linked_versions(client, model_id)
        kept = [e for e in linked if (e.get("name"), str(e.get("version"))) != (name, str(version))]
        if kept:
            client.set_logged_model_tags(model_id, {MODEL_VERSIONS_TAG: json.dumps(kept)})
        elif linked:
            client.delete_logged_model_tag(model_id, MODEL_VERSIONS_TAG)
    except Exception as exc:  # noqa: BLE001 - the version itself is gone; a stale link is cosmetic
        log.warning(
            "could not unlink logged model %s from version %s of %s: %s", model_id, version, name, exc
        )
