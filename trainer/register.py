"""Registration: log the winning Pipeline, prove the logged copy, create and describe its version."""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from trainer.audit import VALIDATION_TAG, git_state
from trainer.card import model_card, registered_model_description
from trainer.context import TrainingContext
from trainer.environment import choose_serialization, distribution_versions, model_code, model_requirements
from trainer.errors import TrainerError
from trainer.report import importance_plot, prediction_plots

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.models import ModelSignature
    from mlflow.models.model import ModelInfo
    from sklearn.pipeline import Pipeline

    from trainer.schema import Schema

log = logging.getLogger(__name__)

# the logged-model tag MLflow keeps its links to registered versions in (mlflow.utils.mlflow_tags)
MODEL_VERSIONS_TAG = "mlflow.modelVersions"


def version_tags(ctx: TrainingContext) -> dict[str, str]:
    """The audit tags every registered version carries (they filter in the UI)."""
    commit, dirty = git_state()
    winner = ctx.selection.winner
    return {
        "candidate": winner.name,
        "cv_r2": f"{winner.cv_r2_mean:.6f}",
        "cv_r2_std": f"{winner.cv_r2_std:.6f}",
        "test_r2": f"{ctx.test_metrics['test_r2']:.6f}",
        "test_rmse": f"{ctx.test_metrics['test_rmse']:.6f}",
        "test_mae": f"{ctx.test_metrics['test_mae']:.6f}",
        "baseline_cv_r2": f"{ctx.selection.baseline.cv_r2_mean:.6f}",
        "data_digest": ctx.contract.data_digest,
        "data_path": str(ctx.contract.data_path),
        "schema_digest": ctx.schema.digest,
        "suite_digest": ctx.contract.suite_digest,
        "recipe_digest": ctx.recipe.digest,
        "feature_digest": ctx.feature_digest,
        "git_commit": commit,
        "git_dirty": str(dirty).lower(),
        "training_run_id": ctx.run_id,
        "best_params": json.dumps(winner.best_params, sort_keys=True, default=str),
    }


def importance_by_column(pipeline: Pipeline, ctx: TrainingContext) -> pd.DataFrame:
    """Permutation importance of every raw input column on the holdout (R² lost when shuffled)."""
    from sklearn.inspection import permutation_importance

    result = permutation_importance(
        pipeline,
        ctx.split.X_test,
        ctx.split.y_test,
        scoring="r2",
        n_repeats=5,
        random_state=0,
        n_jobs=ctx.recipe.n_jobs,
    )
    return pd.DataFrame(
        {
            "column": list(ctx.split.X_test.columns),
            "importance_mean": result.importances_mean,
            "importance_std": result.importances_std,
        }
    ).sort_values("importance_mean", ascending=False, kind="mergesort")


def _log_evaluation(importance: pd.DataFrame, ctx: TrainingContext, out: Path) -> None:
    import mlflow

    prediction_plots(ctx.split.y_test, ctx.predictions, out / "predicted_vs_actual.png")
    importance.to_csv(out / "permutation_importance.csv", index=False)
    importance_plot(importance, out / "permutation_importance.png")
    for name in ("predicted_vs_actual.png", "permutation_importance.png", "permutation_importance.csv"):
        mlflow.log_artifact(str(out / name), "evaluation")


def log_and_register(pipeline: Pipeline, ctx: TrainingContext, out: Path) -> str:
    """Log the Pipeline, register it, attach tags and card; all-or-nothing. Returns `name/version`."""
    import mlflow
    from mlflow import MlflowClient

    name = str(ctx.recipe.registered_model)
    _log_evaluation(importance_by_column(pipeline, ctx), ctx, out)
    info, serialization = _log_model(pipeline, ctx)
    tags = {**version_tags(ctx), "serialization": serialization}
    client = MlflowClient()
    _create_registered_model(client, name, ctx.schema)
    mv = client.create_model_version(
        name,
        source=info.model_uri,
        run_id=ctx.run_id,
        tags={VALIDATION_TAG: "pending"},
        model_id=info.model_id,
    )
    try:
        _link_logged_model(client, info.model_id, name, mv.version)
        for key, value in tags.items():
            client.set_model_version_tag(name, mv.version, key, value)
        card = model_card(ctx, serialization, name, mv.version)
        mlflow.log_text(card, "model_card.md")
        client.update_model_version(name, mv.version, description=card)
        client.set_model_version_tag(name, mv.version, VALIDATION_TAG, "passed")
    except BaseException:
        _withdraw(client, name, mv.version, info.model_id)
        raise
    mlflow.set_tags({"registered_model": name, "registered_version": mv.version})
    return f"models:/{name}/{mv.version}"


def _log_model(pipeline: Pipeline, ctx: TrainingContext) -> tuple[ModelInfo, str]:
    """Log the Pipeline as an MLflow model with its metrics, and prove the logged copy.

    Returns the model info and the serialization format.
    """
    import mlflow
    from mlflow.models import infer_signature

    mlflow.log_dict(distribution_versions(), "environment.json")
    serialization, trusted = choose_serialization(pipeline)
    sample = ctx.split.X_train.head(200)
    winner = ctx.selection.winner
    with tempfile.TemporaryDirectory(prefix="trainer-model-code-") as tmp:
        info = mlflow.sklearn.log_model(
            pipeline,
            name="model",
            signature=schema_signature(ctx.schema, infer_signature(sample, pipeline.predict(sample))),
            input_example=ctx.split.X_test.head(5),
            serialization_format=serialization,
            skops_trusted_types=trusted,
            code_paths=[str(model_code(Path(tmp)))],  # just trainer/transforms.py
            pip_requirements=model_requirements(pipeline),
            params={k: str(v) for k, v in winner.best_params.items()},
            tags={"candidate": winner.name},
            model_type=winner.name,
        )
    metrics = {"cv_r2": winner.cv_r2_mean, "cv_r2_std": winner.cv_r2_std, **ctx.test_metrics}
    mlflow.log_metrics(metrics, model_id=info.model_id)
    evaluate_logged_model(info, ctx)
    mlflow.set_tags({"serialization": serialization, "model_id": info.model_id})
    return info, serialization


def schema_signature(schema: Schema, inferred: ModelSignature) -> ModelSignature:
    """The input signature from the schema, not from a sample: every feature column required,
    typed by its role (numerical: double; categorical and derived sources: string); a null is
    accepted wherever the contract allows one (MLflow checks presence and type, not nulls)."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, DataType, TensorSpec
    from mlflow.types import Schema as ColumnSchema

    numerical = set(schema.numerical)
    columns: list[ColSpec | TensorSpec] = [
        ColSpec(DataType.double if c in numerical else DataType.string, c, required=True)
        for c in schema.feature_columns
    ]
    return ModelSignature(inputs=ColumnSchema(columns), outputs=inferred.outputs)


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
    result = mlflow.models.evaluate(
        info.model_uri,
        dataset,
        model_type="regressor",
        evaluators=["default"],
        # SHAP explanations: not installed, and they cannot read pandas 3 text columns
        evaluator_config={"default": {"log_model_explainability": False}},
    )
    logged_r2, trained_r2 = result.metrics["r2_score"], ctx.test_metrics["test_r2"]
    if abs(logged_r2 - trained_r2) > 1e-9:
        raise TrainerError(
            f"the logged model scores holdout R² {logged_r2:.6f} but the trained pipeline {trained_r2:.6f}: "
            "serialization changed the model; nothing registered"
        )
    return result.metrics


def _create_registered_model(client: MlflowClient, name: str, schema: Schema) -> None:
    """Create the registered model with its description; an existing one keeps its own (UI edits)."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import ALREADY_EXISTS, RESOURCE_ALREADY_EXISTS, ErrorCode

    try:
        client.create_registered_model(name, description=registered_model_description(schema))
    except MlflowException as exc:
        if exc.error_code not in (ErrorCode.Name(RESOURCE_ALREADY_EXISTS), ErrorCode.Name(ALREADY_EXISTS)):
            raise


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


def _unlink_logged_model(client: MlflowClient, model_id: str, name: str, version: str) -> None:
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


def _withdraw(client: MlflowClient, name: str, version: str, model_id: str) -> None:
    """Leave no version that looks valid: delete it, or at least mark it failed."""
    try:
        client.set_model_version_tag(name, version, VALIDATION_TAG, "failed")
        client.delete_model_version(name, version)
    except Exception as exc:  # noqa: BLE001 - the tag above already marks it failed
        log.error("registration failed: version %s of %s marked failed (%s)", version, name, exc)
        return
    log.error("registration failed: version %s of %s withdrawn", version, name)
    _unlink_logged_model(client, model_id, name, version)
