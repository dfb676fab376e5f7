"""The training profile a version records at registration: what a later drift check compares new data
with, so that it never needs the training data itself.

Per feature of the training part: a number's null share, its decile bin edges with the share of values
in each bin (the bins PSI is computed on) and its empirical distribution at 101 quantiles (the
two-sample KS test's grid); a category's null share and frequencies. Also the target's distribution,
the holdout predictions' (a classifier's labels and, for two classes, the positive class's
probability), and the holdout metric a new labelled sample is compared with. Logged as
`monitoring/profile.json` in the training run; its sha256 is the version's `profile_digest` tag.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from trainer.data.features import DERIVED_STEPS
from trainer.errors import ConfigError
from trainer.files import text_digest
from trainer.recipe.metric_interval import bootstrap
from trainer.transforms import as_category_text

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion
    from sklearn.pipeline import Pipeline

    from trainer.data.schema import Schema
    from trainer.model.provenance import TrainingContext

PROFILE_ARTIFACT = "monitoring/profile.json"
PROFILE_TAG = "profile_digest"
FORMAT = 1
BINS = 10  # deciles: PSI's usual bins
GRID = 100  # the KS grid: the 0th to 100th percentiles
MAX_CATEGORIES = 1_000  # a category column's most frequent values kept; the rest counted as one


def bin_index(values: np.ndarray, edges: np.ndarray | list[float]) -> np.ndarray:
    """Each value's bin: (-inf, e0], (e0, e1], ..., (e_last, inf) for inner edges e (NaN excluded
    by the caller). The profile's bins and a check's counts both come from here."""
    return np.searchsorted(np.asarray(edges, dtype=np.float64), values, side="left")


def _number(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def numerical(values: Any) -> dict[str, Any]:
    """A number's profile: rows, null share, decile edges and bin shares, quantile grid with the
    exact share of values at or below each point, mean, std, min and max."""
    x = np.asarray(values, dtype=np.float64)
    finite = np.sort(x[~np.isnan(x)])
    rows = int(x.size)
    out: dict[str, Any] = {"kind": "numerical", "rows": rows, "null_share": 1.0 - finite.size / max(rows, 1)}
    if not finite.size:
        return {**out, "edges": [], "shares": [], "grid": [], "cdf": []}
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, BINS + 1)[1:-1]))
    counts = np.bincount(bin_index(finite, edges), minlength=edges.size + 1)
    grid = np.unique(np.quantile(finite, np.linspace(0, 1, GRID + 1)))
    cdf = np.searchsorted(finite, grid, side="right") / finite.size
    return {
        **out,
        "edges": edges.tolist(),
        "shares": (counts / finite.size).tolist(),
        "grid": grid.tolist(),
        "cdf": cdf.tolist(),
        "mean": _number(finite.mean()),
        "std": _number(finite.std()),
        "min": _number(finite[0]),
        "max": _number(finite[-1]),
    }


def category_text(values: pd.Series) -> pd.Series:
    """Categories spelt as the model's own preprocessing spells them (True -> "True", 3.0 -> "3")."""
    return as_category_text(values.to_frame())[values.name]


def categorical(values: pd.Series) -> dict[str, Any]:
    """A category's profile: rows, null share and each category's share of the non-null values."""
    text = category_text(values)
    counts = text.value_counts(dropna=True)
    known = int(counts.sum())
    frequencies = {str(k): int(v) / known for k, v in counts.head(MAX_CATEGORIES).items()}
    rest = counts.iloc[MAX_CATEGORIES:].sum()
    return {
        "kind": "categorical",
        "rows": int(len(values)),
        "null_share": 1.0 - known / max(len(values), 1),
        "frequencies": frequencies,
        "other_share": float(rest / known) if known else 0.0,
    }


def feature_frames(schema: Schema, X: pd.DataFrame) -> dict[str, tuple[str, pd.Series]]:
    """Each profiled feature as (kind, values): the schema's numbers and categories, and a derived
    feature as the number the model computes from its source column."""
    out: dict[str, tuple[str, pd.Series]] = {c: ("numerical", X[c]) for c in schema.numerical}
    out.update({c: ("categorical", X[c]) for c in schema.categorical})
    for feature in schema.derived:
        derive = DERIVED_STEPS[feature.kind][0]
        out[feature.name] = ("numerical", derive(X[[feature.source]])[feature.source])
    return out


def profile_of(kind: str, values: pd.Series) -> dict[str, Any]:
    return numerical(pd.to_numeric(values, errors="coerce")) if kind == "numerical" else categorical(values)


def _predictions(ctx: TrainingContext, proba: np.ndarray | None, classes: list[Any]) -> dict[str, Any]:
    """The holdout predictions' profile: numbers, or labels and the positive class's probability."""
    task = ctx.task
    if not task.is_classification:
        return {"prediction": numerical(ctx.predictions)}
    out = {"prediction": categorical(pd.Series(ctx.predictions, name="prediction"))}
    if task.binary and proba is not None:
        out["probability"] = numerical(proba[:, classes.index(task.positive_class)])
    return out


def _holdout_metric(ctx: TrainingContext, proba: np.ndarray | None, classes: list[Any]) -> dict[str, Any]:
    """The selection metric on the holdout with its bootstrap interval and standard error."""
    settings = ctx.recipe.monitoring
    scored = (np.asarray(ctx.split.y_test), np.asarray(ctx.predictions), proba)
    interval = bootstrap(ctx.task, scored, classes, settings.bootstrap, settings.confidence)
    return {
        "name": ctx.task.metric,
        "greater_is_better": ctx.task.greater_is_better,
        "rows": len(ctx.split.X_test),
        **vars(interval),
    }


def build_profile(pipeline: Pipeline, ctx: TrainingContext) -> dict[str, Any]:
    """The version's training profile (see the module's docstring)."""
    schema, task, split = ctx.schema, ctx.task, ctx.split
    target = pd.Series(split.y_train, name=schema.target)
    classes = list(pipeline.classes_) if task.is_classification else []
    proba = np.asarray(pipeline.predict_proba(split.X_test)) if task.is_classification else None
    return {
        "format": FORMAT,
        "task": task.kind,
        "target": schema.target,
        "labels": [str(v) for v in task.labels],
        "positive_class": None if task.positive_class is None else str(task.positive_class),
        "rows": {"train": len(split.X_train), "holdout": len(split.X_test)},
        "features": {
            name: profile_of(kind, values)
            for name, (kind, values) in feature_frames(schema, split.X_train).items()
        },
        "derived": {d.name: d.source for d in schema.derived},
        "target_profile": categorical(target) if task.is_classification else numerical(target),
        "predictions": _predictions(ctx, proba, classes),
        "holdout_metric": _holdout_metric(ctx, proba, classes),
    }


def record_profile(pipeline: Pipeline, ctx: TrainingContext) -> dict[str, str]:
    """Log the profile in the active (training) run; returns the version's `profile_digest` tag."""
    import mlflow

    text = json.dumps(build_profile(pipeline, ctx), sort_keys=True, indent=1)
    mlflow.log_text(text, PROFILE_ARTIFACT)
    return {PROFILE_TAG: text_digest(text)}


def load_profile(client: MlflowClient, mv: ModelVersion, run_id: str) -> dict[str, Any]:
    """The profile a version recorded, checked against its `profile_digest` tag."""
    import tempfile
    from pathlib import Path

    digest = mv.tags.get(PROFILE_TAG)
    if not digest:
        raise ConfigError(
            f"version {mv.version} of '{mv.name}' recorded no training profile (registered before "
            "profiles were recorded): retrain it to monitor it"
        )
    with tempfile.TemporaryDirectory(prefix="trainer-profile-") as tmp:
        text = Path(client.download_artifacts(run_id, PROFILE_ARTIFACT, tmp)).read_text()
    if text_digest(text) != digest:
        raise ConfigError(
            f"the training profile of version {mv.version} of '{mv.name}' does not match its "
            f"{PROFILE_TAG} tag: it was changed after registration"
        )
    profile: dict[str, Any] = json.loads(text)
    return profile
