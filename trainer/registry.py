"""The model registry: log and register the winning Pipeline with its card, promote, explain."""

from __future__ import annotations

import getpass
import io
import json
import logging
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trainer.errors import ConfigError, GateError, TrainerError

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MODEL_DISTRIBUTIONS = ("mlflow", "scikit-learn", "pandas", "numpy", "scipy", "joblib", "skops", "cloudpickle")
# needed to load a model only when its pipeline holds an estimator from that library; the
# distributions that provide it, first installed wins (xgboost-cpu is xgboost without NCCL)
ESTIMATOR_DISTRIBUTIONS = {"xgboost": ("xgboost-cpu", "xgboost"), "catboost": ("catboost",)}
AUDIT_DISTRIBUTIONS = (
    *MODEL_DISTRIBUTIONS,
    *(name for names in ESTIMATOR_DISTRIBUTIONS.values() for name in names),
    "great-expectations",
    "PyYAML",
)
TRUSTED_TYPE_PREFIXES = ("trainer.transforms.", "numpy.", "sklearn.", "xgboost.", "catboost.")
VALIDATION_TAG = "validation_status"


@dataclass
class TrainingContext:
    """Everything registration needs to know about the training that produced the model."""

    schema: Any
    recipe: Any
    contract: Any
    split: Any
    selection: Any
    test_metrics: dict[str, float]
    feature_digest: str
    predictions: np.ndarray
    run_id: str


def distribution_versions(names: tuple[str, ...] = AUDIT_DISTRIBUTIONS) -> dict[str, str]:
    """Installed versions of the libraries a model depends on."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def git_state(root: Path = PROJECT_ROOT) -> tuple[str, bool]:
    """(commit, dirty) of the project tree; ("unknown", True) outside a git checkout."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown", True
    return commit, bool(status)


def _serialization(pipeline: Any) -> tuple[str, list[str] | None]:
    """skops with an explicit, audited trusted-type list; cloudpickle only if skops cannot."""
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(data=sio.dumps(pipeline))
    except Exception as exc:  # noqa: BLE001 - skops cannot represent it: fall back, recorded
        log.warning("skops cannot serialize this pipeline (%s); falling back to cloudpickle", exc)
        return "cloudpickle", None
    unexpected = [t for t in untrusted if not t.startswith(TRUSTED_TYPE_PREFIXES)]
    if unexpected:
        log.warning("pipeline holds types outside the trusted list %s; using cloudpickle", unexpected)
        return "cloudpickle", None
    return "skops", untrusted


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


def model_card(ctx: TrainingContext, serialization: str, name: str) -> str:
    """The version description: data, features, candidates, choice, metrics, gates, loading."""
    from trainer.report import markdown_table

    s, r, w = ctx.schema, ctx.recipe, ctx.selection.winner
    roles = s.roles()
    derived = (
        ", ".join(f"{d['name']} (from `{d['source']}`, {d['kind']})" for d in roles["derived"]) or "none"
    )
    board = ctx.selection.leaderboard[["rank", "candidate", "cv_r2_mean", "cv_r2_std", "status"]]
    pickle_note = (
        "Serialized with **skops**; the trusted types are declared explicitly at logging time "
        "(CatBoost/XGBoost boosters inside are restored through their own pickle state)."
        if serialization == "skops"
        else "Serialized with **cloudpickle**: only load it from a registry you trust."
    )
    return f"""# {name}: predicts `{s.target}` (grade-3 math score)

Predicts a student's `{s.target}` from demographic, class and earlier-grade attributes.

## Data
- source: `{ctx.contract.data_path}`, sha256 `{ctx.contract.data_digest}`
- rows: {len(ctx.contract.frame)} (train {len(ctx.split.X_train)}, holdout {len(ctx.split.X_test)}; \
test_size {r.test_size}, seed {r.split_seed}, grouped by {r.group_by or "nothing"})
- contract: {ctx.contract.summary()}; suite sha256 `{ctx.contract.suite_digest}`

## Features (schema sha256 `{s.digest}`)
- numerical: {", ".join(roles["numerical"])}
- categorical: {", ".join(roles["categorical"])}
- derived: {derived}
- never used: identifiers {roles["identifiers"]}, leakage {roles["leakage"]}, ignored {roles["ignore"]}
- feature digest: `{ctx.feature_digest}`

## Candidates ({r.folds}-fold CV R², recipe sha256 `{r.digest}`)
{markdown_table(board)}
## Chosen model
- candidate: **{w.name}**, parameters `{json.dumps(w.best_params, sort_keys=True, default=str)}`
- CV R² {w.cv_r2_mean:.4f} ± {w.cv_r2_std:.4f}; baseline `{ctx.selection.baseline.name}` \
{ctx.selection.baseline.cv_r2_mean:.4f}
- holdout: R² {ctx.test_metrics["test_r2"]:.4f}, RMSE {ctx.test_metrics["test_rmse"]:.3f}, \
MAE {ctx.test_metrics["test_mae"]:.3f}

## Gates
- min_cv_r2 {r.min_cv_r2}; must beat `{r.baseline}` by ≥ {r.min_improvement}: passed

## Loading
```python
import mlflow
model = mlflow.sklearn.load_model("models:/{name}@champion")  # or models:/{name}/<version>
model.predict(raw_rows)  # a DataFrame with the raw input columns
```
{pickle_note}
"""


def importance_by_column(pipeline: Any, ctx: TrainingContext) -> pd.DataFrame:
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

    from trainer.report import importance_plot, prediction_plots

    prediction_plots(ctx.split.y_test, ctx.predictions, out / "predicted_vs_actual.png")
    importance.to_csv(out / "permutation_importance.csv", index=False)
    importance_plot(importance, out / "permutation_importance.png")
    for name in ("predicted_vs_actual.png", "permutation_importance.png", "permutation_importance.csv"):
        mlflow.log_artifact(str(out / name), "evaluation")


def libraries_in(pipeline: Any) -> set[str]:
    """Top-level library of every estimator in a pipeline (an adapter names the library it wraps)."""
    return {
        getattr(obj, "wrapped_library", type(obj).__module__.split(".")[0])
        for obj in (pipeline, *pipeline.get_params(deep=True).values())
        if hasattr(obj, "fit")
    }


def model_requirements(pipeline: Any) -> list[str]:
    """Exact pins of what loading this model needs: the core stack, plus XGBoost/CatBoost if used."""
    used = libraries_in(pipeline) & ESTIMATOR_DISTRIBUTIONS.keys()
    pins = distribution_versions(MODEL_DISTRIBUTIONS)
    for library in sorted(used):
        found = distribution_versions(ESTIMATOR_DISTRIBUTIONS[library])
        if not found:
            raise TrainerError(
                f"the model uses {library} but none of {list(ESTIMATOR_DISTRIBUTIONS[library])} is installed"
            )
        name = next(iter(found))
        pins[name] = found[name]
    return [f"{name}=={version}" for name, version in pins.items()]


def log_and_register(
    pipeline: Any, ctx: TrainingContext, out: Path, fail_after_register: bool = False
) -> str:
    """Log the Pipeline, register it, attach tags and card; all-or-nothing. Returns `name/version`."""
    import mlflow
    from mlflow import MlflowClient

    name = ctx.recipe.registered_model
    _log_evaluation(importance_by_column(pipeline, ctx), ctx, out)
    info, serialization, card = _log_model(pipeline, ctx, name)
    tags = version_tags(ctx)
    client = MlflowClient()
    _describe_registered_model(client, name, ctx)
    mv = client.create_model_version(
        name,
        source=info.model_uri,
        run_id=ctx.run_id,
        tags={VALIDATION_TAG: "pending"},
        model_id=info.model_id,
    )
    try:
        for key, value in {**tags, "serialization": serialization}.items():
            client.set_model_version_tag(name, mv.version, key, value)
        client.update_model_version(name, mv.version, description=card)
        if fail_after_register:
            raise TrainerError("injected failure after registration (test hook)")
        client.set_model_version_tag(name, mv.version, VALIDATION_TAG, "passed")
    except BaseException:
        _withdraw(client, name, mv.version)
        raise
    mlflow.set_tags({"registered_model": name, "registered_version": mv.version})
    return f"models:/{name}/{mv.version}"


def _log_model(pipeline: Any, ctx: TrainingContext, name: str) -> tuple[Any, str, str]:
    """Log the Pipeline as an MLflow model with its card, metrics and holdout evaluation.

    Returns the model info, the serialization format and the card.
    """
    import mlflow
    from mlflow.models import infer_signature

    mlflow.log_dict(distribution_versions(), "environment.json")
    serialization, trusted = _serialization(pipeline)
    card = model_card(ctx, serialization, name)
    mlflow.log_text(card, "model_card.md")
    sample = ctx.split.X_train.head(200)
    info = mlflow.sklearn.log_model(
        pipeline,
        name="model",
        signature=infer_signature(sample, pipeline.predict(sample)),
        input_example=ctx.split.X_test.head(5),
        serialization_format=serialization,
        skops_trusted_types=trusted,
        code_paths=[str(Path(__file__).parent)],  # trainer.transforms is referenced by the pipeline
        pip_requirements=model_requirements(pipeline),
        params={k: str(v) for k, v in ctx.selection.winner.best_params.items()},
        tags={"candidate": ctx.selection.winner.name},
        model_type=ctx.selection.winner.name,
    )
    metrics = {
        "cv_r2": ctx.selection.winner.cv_r2_mean,
        "cv_r2_std": ctx.selection.winner.cv_r2_std,
        **ctx.test_metrics,
    }
    mlflow.log_metrics(metrics, model_id=info.model_id)
    evaluate_logged_model(info, ctx)
    mlflow.set_tags({"serialization": serialization, "model_id": info.model_id})
    return info, serialization, card


def evaluate_logged_model(info: Any, ctx: TrainingContext) -> dict[str, float]:
    """Score the *logged* model on the holdout with `mlflow.models.evaluate` (metrics and the holdout
    dataset are linked to the model); it must match the trained pipeline, or nothing is registered."""
    import mlflow

    target = ctx.schema.target
    holdout = ctx.split.X_test.assign(**{target: ctx.split.y_test})
    dataset = mlflow.data.from_pandas(
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


def _describe_registered_model(client: Any, name: str, ctx: TrainingContext) -> None:
    from mlflow.exceptions import MlflowException

    description = (
        f"Predicts `{ctx.schema.target}` (a student's grade-3 math score) from the columns in "
        f"{Path(ctx.schema.path).name}: {', '.join(ctx.schema.feature_columns)}. Every version was trained "
        "behind the data contract and quality gates; its description is its model card."
    )
    try:
        client.create_registered_model(name, description=description)
    except MlflowException:
        client.update_registered_model(name, description=description)


def _withdraw(client: Any, name: str, version: str) -> None:
    """Leave no version that looks valid: delete it, or at least mark it failed."""
    try:
        client.set_model_version_tag(name, version, VALIDATION_TAG, "failed")
        client.delete_model_version(name, version)
        log.error("registration failed: version %s of %s withdrawn", version, name)
    except Exception as exc:  # noqa: BLE001 - the tag above already marks it failed
        log.error("registration failed: version %s of %s marked failed (%s)", version, name, exc)


# ---- promotion ---------------------------------------------------------------------------


def _get_version(client: Any, name: str, version: str) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version(name, str(version))
    except MlflowException:
        raise ConfigError(f"model version {version} of '{name}' not found in the registry")


def _alias_holder(client: Any, name: str, alias: str) -> Any | None:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def _holdout(data: Path, schema_path: Path, recipe: Any) -> Any:
    from trainer import contract
    from trainer.config import load_schema
    from trainer.errors import ContractError
    from trainer.pipeline import split_data

    schema = load_schema(schema_path)
    result = contract.validate(data, schema)
    if not result.success:
        raise ContractError(result.summary())
    return split_data(result.frame, schema, recipe)


def score_version(name: str, version: str, split: Any) -> float:
    """Holdout R² of a registered version, loaded from the configured registry."""
    import mlflow
    from sklearn.metrics import r2_score

    model = mlflow.sklearn.load_model(f"models:/{name}/{version}")
    return float(r2_score(split.y_test, model.predict(split.X_test)))


def promote(
    version: str,
    alias: str,
    name: str | None,
    force: bool,
    data: Path,
    schema_path: Path,
    recipe_path: Path,
) -> None:
    """Move `alias` to `version` if it scores at least as well as the holder (within tolerance)."""
    import mlflow
    from mlflow import MlflowClient

    from trainer import tracking
    from trainer.config import load_recipe

    tracking.quiet_libraries()
    recipe = load_recipe(recipe_path)
    name = name or recipe.registered_model
    tracking.check_tracking_store()
    client = MlflowClient()
    mv = _get_version(client, name, version)
    status = mv.tags.get(VALIDATION_TAG, "unknown")
    if status != "passed":
        raise GateError(
            f"version {version} of '{name}' has {VALIDATION_TAG}={status}: it can never be promoted"
        )
    split = _holdout(data, schema_path, recipe)
    # read the holder, compare and move the alias as one step: two promotions at once are serialised
    with tracking.sqlite_lock(mlflow.get_registry_uri(), "promote"):
        _move_alias(client, name, mv, alias, split, recipe.promotion_tolerance, force, data)


def _move_alias(
    client: Any, name: str, mv: Any, alias: str, split: Any, tolerance: float, force: bool, data: Path
) -> None:
    version = str(mv.version)
    holder = _alias_holder(client, name, alias)
    if holder is not None and str(holder.version) == version:
        log.info("'%s' already points at version %s of %s", alias, version, name)
        return
    candidate_r2 = score_version(name, mv.version, split)
    holder_r2 = score_version(name, holder.version, split) if holder is not None else None
    forced = False
    if holder_r2 is not None and candidate_r2 < holder_r2 - tolerance:
        if not force:
            raise GateError(
                f"refused: version {version} scores R² {candidate_r2:.4f} on the holdout, below version "
                f"{holder.version} ('{alias}') at {holder_r2:.4f} - tolerance {tolerance}; "
                "use --force to promote anyway"
            )
        forced = True
    client.set_registered_model_alias(name, alias, mv.version)
    record = {
        "promoted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "promoted_alias": alias,
        "promoted_by": getpass.getuser(),
        "promoted_from_version": str(holder.version) if holder is not None else "none",
        "promotion_r2": f"{candidate_r2:.6f}",
        "promotion_previous_r2": f"{holder_r2:.6f}" if holder_r2 is not None else "none",
        "promotion_forced": str(forced).lower(),
        "promotion_data_digest": _digest(data),
    }
    for key, value in record.items():
        client.set_model_version_tag(name, mv.version, key, value)
    log.info(
        "'%s' -> version %s of %s (R² %.4f%s)%s",
        alias,
        mv.version,
        name,
        candidate_r2,
        f" vs {holder_r2:.4f} of version {holder.version}" if holder_r2 is not None else "",
        " FORCED" if forced else "",
    )


def _digest(path: Path) -> str:
    from trainer.config import file_digest

    return file_digest(path)


# ---- audit -------------------------------------------------------------------------------


def parse_model_uri(uri: str) -> tuple[str, str | None, str | None]:
    """`models:/NAME/N` -> (NAME, N, None); `models:/NAME@alias` -> (NAME, None, alias)."""
    if not uri.startswith("models:/"):
        raise ConfigError(f"not a model URI: {uri!r} (expected models:/NAME/N or models:/NAME@alias)")
    rest = uri.removeprefix("models:/")
    if "@" in rest:
        name, alias = rest.split("@", 1)
        if name and alias:
            return name, None, alias
    else:
        name, _, version = rest.rpartition("/")
        if name and version.isdigit():
            return name, version, None
    raise ConfigError(f"not a model URI: {uri!r} (expected models:/NAME/N or models:/NAME@alias)")


def resolve_version(uri: str) -> Any:
    """The registered model version a URI names."""
    from mlflow import MlflowClient

    name, version, alias = parse_model_uri(uri)
    client = MlflowClient()
    if alias:
        holder = _alias_holder(client, name, alias)
        if holder is None:
            raise ConfigError(f"no version of '{name}' holds alias '{alias}'")
        return holder
    return _get_version(client, name, version)


def _run_artifact_text(client: Any, run_id: str, path: str) -> str | None:
    import tempfile

    try:
        with tempfile.TemporaryDirectory() as tmp:
            local = client.download_artifacts(run_id, path, tmp)
            return Path(local).read_text()
    except Exception:  # noqa: BLE001 - an absent artifact is reported as missing
        return None


def explain_record(uri: str) -> dict[str, Any]:
    """How a version was trained, gathered from the tracking server and registry only."""
    from mlflow import MlflowClient

    from trainer import tracking

    tracking.quiet_libraries()
    tracking.check_tracking_store()
    client = MlflowClient()
    mv = resolve_version(uri)
    tags = dict(mv.tags)
    run_id = tags.get("training_run_id") or mv.run_id
    run = client.get_run(run_id)
    params, run_tags, metrics = run.data.params, run.data.tags, run.data.metrics
    board_csv = _run_artifact_text(client, run_id, "leaderboard/leaderboard.csv")
    env_json = _run_artifact_text(client, run_id, "environment.json")
    contract_md = _run_artifact_text(client, run_id, "contract/report.md")
    return {
        "model": f"models:/{mv.name}/{mv.version}",
        "aliases": list(mv.aliases or []),
        "validation_status": tags.get(VALIDATION_TAG),
        "training_run_id": run_id,
        "trained_at": datetime.fromtimestamp(run.info.start_time / 1000, UTC).isoformat(timespec="seconds"),
        "data": {
            "path": params.get("data_path"),
            "digest": tags.get("data_digest"),
            "rows": params.get("data_rows"),
        },
        "contract": {
            "status": run_tags.get("contract_status"),
            "expectations": metrics.get("contract_expectations"),
            "failed": metrics.get("contract_failed"),
            "report": contract_md,
        },
        "digests": {
            k: tags.get(k)
            for k in ("data_digest", "schema_digest", "suite_digest", "recipe_digest", "feature_digest")
        },
        "winner": {"candidate": tags.get("candidate"), "params": json.loads(tags.get("best_params", "{}"))},
        "metrics": {
            k: tags.get(k)
            for k in ("cv_r2", "cv_r2_std", "baseline_cv_r2", "test_r2", "test_rmse", "test_mae")
        },
        "split": {
            "train_rows": params.get("train_rows"),
            "test_rows": params.get("test_rows"),
            "seed": params.get("split_seed"),
        },
        "leaderboard": pd.read_csv(io.StringIO(board_csv)).to_dict(orient="records") if board_csv else None,
        "code": {"git_commit": tags.get("git_commit"), "git_dirty": tags.get("git_dirty")},
        "dependencies": json.loads(env_json) if env_json else None,
        "serialization": tags.get("serialization"),
        "promotion": {k: v for k, v in tags.items() if k.startswith("promot")},
    }


def _count(value: Any) -> str:
    return "?" if value is None else str(int(value))


def explain(uri: str, as_json: bool = False) -> str:
    """`trainer explain`: the record as readable text, or JSON."""
    record = explain_record(uri)
    if as_json:
        return json.dumps(record, indent=2, sort_keys=True, default=str)
    lines = [
        f"{record['model']}  aliases: {', '.join(record['aliases']) or 'none'}  "
        f"validation: {record['validation_status']}",
        f"trained: {record['trained_at']} in run {record['training_run_id']}",
        f"data: {record['data']['path']} ({record['data']['rows']} rows) sha256 {record['data']['digest']}",
        f"contract: {record['contract']['status']} "
        f"({_count(record['contract']['failed'])} of {_count(record['contract']['expectations'])} "
        "expectations failed)",
        "digests: " + ", ".join(f"{k}={str(v)[:16]}" for k, v in record["digests"].items()),
        f"winner: {record['winner']['candidate']} {json.dumps(record['winner']['params'], sort_keys=True)}",
        "metrics: " + ", ".join(f"{k}={v}" for k, v in record["metrics"].items()),
        f"split: {record['split']}",
        f"code: commit {record['code']['git_commit']} (dirty: {record['code']['git_dirty']}); "
        f"serialized with {record['serialization']}",
        "dependencies: " + ", ".join(f"{k}=={v}" for k, v in (record["dependencies"] or {}).items()),
        "promotion: " + (", ".join(f"{k}={v}" for k, v in record["promotion"].items()) or "never promoted"),
    ]
    if record["leaderboard"]:
        from trainer.report import markdown_table

        board = pd.DataFrame(record["leaderboard"])[
            ["rank", "candidate", "cv_r2_mean", "cv_r2_std", "status"]
        ]
        lines += ["leaderboard:", markdown_table(board)]
    return "\n".join(lines)
