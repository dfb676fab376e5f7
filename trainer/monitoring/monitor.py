"""`trainer monitor MODEL_URI --data CSV`: is the version still good on new data?

Each feature's drift against the profile the version recorded at registration (PSI, a two-sample test,
new categories, null shares), the predictions' drift against the holdout's and, when the batch holds
the target, the version's metric on it against its holdout metric with a bootstrap interval. The
report (HTML and JSON) is a run linked to the version, the version's `monitor_*` tags hold the last
check, and crossing a threshold of the recipe's `monitoring:` exits 3 with the retraining command.
"""

from __future__ import annotations

import json
import logging
import shlex
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trainer.data.csv_reader import check_readable, header
from trainer.errors import EXIT_GATE, EXIT_OK
from trainer.files import absolute
from trainer.monitoring.batches import CHUNK_ROWS, checked_chunks, model_input, scored
from trainer.monitoring.drift import tracker
from trainer.monitoring.performance import check_metric
from trainer.monitoring.recording import version_run
from trainer.monitoring.report import html_report
from trainer.monitoring.rows import RowContract, row_contract
from trainer.monitoring.tracked import Batch, allowed_categories
from trainer.monitoring.version import Version, opened
from trainer.recipe.settings import MonitoringSettings
from trainer.registry.training_profile import load_profile

log = logging.getLogger(__name__)
MIN_LABELLED_ROWS = 20  # fewer labelled rows give no metric verdict
TAG_PREFIX = "monitor_"


@dataclass(frozen=True)
class MonitorRequest:
    model_uri: str
    data: Path
    recipe: Path | None = None  # thresholds (default: the recipe the version recorded)
    out: Path | None = None  # also write report.html and report.json here
    chunk_rows: int = CHUNK_ROWS


def _counted(
    version: Version, contract: RowContract, profile: dict[str, Any], request: MonitorRequest
) -> Batch:
    """Every chunk counted into the drift trackers; the good rows scored."""
    model = version.load_model()
    allowed = allowed_categories(version.suite)
    batch = Batch(
        {name: tracker(entry, allowed.get(name)) for name, entry in profile["features"].items()},
        {name: tracker(entry) for name, entry in profile["predictions"].items()},
        tracker(profile["target_profile"]) if version.schema.target in contract.columns else None,
        list(model.classes_) if version.task.is_classification else [],
    )
    for checked in checked_chunks(request.data, contract, f"monitor {version.label}", request.chunk_rows):
        batch.add_features(version.schema, checked.frame)
        batch.rejected.update(checked.rejects["column"].astype(str))
        good = checked.frame[~checked.bad]
        predictions, proba = scored(model, version.task, model_input(good, version.schema.feature_columns))
        batch.add_predictions(version.task, predictions, proba)
        if batch.target is not None:
            batch.add_labels(version.task, good[version.schema.target], predictions, proba)
    return batch


def crossed(result: dict[str, Any], limits: MonitoringSettings) -> list[str]:
    """Every threshold the check crossed, each in a phrase naming the feature and the numbers."""
    out = []
    for name, f in result["features"].items():
        if f["psi"] is not None and f["psi"] > limits.max_psi:
            out.append(f"{name}: PSI {f['psi']:.3f} > max_psi {limits.max_psi:g}")
        rise = f["null_share"]["new"] - f["null_share"]["training"]
        if rise > limits.max_null_share_increase:
            out.append(
                f"{name}: null share {f['null_share']['training']:.1%} -> {f['null_share']['new']:.1%} "
                f"(max_null_share_increase {limits.max_null_share_increase:g})"
            )
        if f.get("new_category_share", 0.0) > limits.max_new_category_share:
            values = ", ".join(repr(c["value"]) for c in f["new_categories"][:5])
            out.append(
                f"{name}: {f['new_category_share']:.1%} of the rows are categories never trained on ({values}; "
                f"max_new_category_share {limits.max_new_category_share:g})"
            )
    psi = result["prediction_psi"]
    if psi is not None and psi > limits.max_prediction_psi:
        out.append(f"predictions: PSI {psi:.3f} > max_prediction_psi {limits.max_prediction_psi:g}")
    m = result["metric"]
    if m and m["drop"] > limits.max_metric_drop and m["beyond_interval"]:
        out.append(
            f"{m['name']}: {m['new']:.4f} on the new data against {m['holdout']:.4f} on the holdout: drop "
            f"{m['drop']:.4f} (interval {m['drop_low']:.4f} to {m['drop_high']:.4f}) > max_metric_drop "
            f"{limits.max_metric_drop:g}"
        )
    return out


def retrain_command(version: Version, data: Path, labelled: bool) -> str:
    """The training the version recorded, on the new data when it is labelled."""
    params = version.run.data.params
    source = absolute(data) if labelled else params.get("data_path", "DATA.csv")
    words = ["trainer train", "--recipe", params.get("recipe_path", "RECIPE.yaml")]
    words += ["--schema", params.get("schema_path", "SCHEMA.yaml"), "--data", source]
    return " ".join(shlex.quote(w) if i else w for i, w in enumerate(words))


def _result(
    version: Version,
    request: MonitorRequest,
    batch: Batch,
    profile: dict[str, Any],
    limits: MonitoringSettings,
) -> dict[str, Any]:
    features = {name: t.result() for name, t in batch.features.items()}
    predictions = {name: t.result() for name, t in batch.predictions.items()}
    main = predictions.get("probability") or predictions["prediction"]
    metric = None
    if batch.labelled_rows >= MIN_LABELLED_ROWS:
        check = check_metric(
            version.task,
            batch.labels(),
            batch.classes,
            profile["holdout_metric"],
            (limits.bootstrap, limits.confidence),
        )
        metric = check.as_dict()
    result = {
        "model": version.uri,
        "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": absolute(request.data),
        "rows": batch.rows,
        "rows_rejected": sum(batch.rejected.values()),
        "rejected_by_column": dict(batch.rejected.most_common()),
        "labelled_rows": batch.labelled_rows,
        "features": dict(sorted(features.items(), key=lambda kv: -(kv[1]["psi"] or 0.0))),
        "predictions": predictions,
        "prediction_psi": main["psi"],
        "target": batch.target.result() if batch.target is not None else None,
        "metric": metric,
        "thresholds": asdict(limits),
    }
    result["crossed"] = crossed(result, limits)
    result["status"] = "drift" if result["crossed"] else "passed"
    result["retrain"] = (
        retrain_command(version, request.data, batch.labelled_rows > 0) if result["crossed"] else None
    )
    return result


def version_tags(result: dict[str, Any], run_id: str) -> dict[str, str]:
    """The version's `monitor_*` tags: the last check in a few values."""
    worst = next(iter(result["features"].items()), (None, {"psi": None}))
    metric = result["metric"]
    tags = {
        "status": result["status"],
        "at": result["checked_at"],
        "run_id": run_id,
        "data": result["data"],
        "rows": str(result["rows"]),
        "rows_rejected": str(result["rows_rejected"]),
        "max_psi": "" if worst[1]["psi"] is None else f"{worst[1]['psi']:.6f}",
        "max_psi_feature": str(worst[0] or ""),
        "prediction_psi": "" if result["prediction_psi"] is None else f"{result['prediction_psi']:.6f}",
        "metric": "" if not metric else f"{metric['name']}={metric['new']:.6f}",
        "metric_drop": "" if not metric else f"{metric['drop']:.6f}",
        "crossed": "; ".join(result["crossed"])[:4900],
    }
    return {TAG_PREFIX + k: v for k, v in tags.items()}


def _tag_version(version: Version, tags: dict[str, str]) -> None:
    """Replace the version's previous check with this one."""
    from mlflow import MlflowClient

    client = MlflowClient()
    for key in version.mv.tags:
        if key.startswith(TAG_PREFIX) and key not in tags:
            client.delete_model_version_tag(version.name, version.number, key)
    for key, value in tags.items():
        client.set_model_version_tag(version.name, version.number, key, value)


def _record(version: Version, result: dict[str, Any], request: MonitorRequest, run_id: str) -> None:
    import mlflow

    page, text = html_report(result), json.dumps(result, indent=1, default=str)
    mlflow.log_text(page, "monitor/report.html")
    mlflow.log_text(text, "monitor/report.json")
    if request.out is not None:
        request.out.mkdir(parents=True, exist_ok=True)
        (request.out / "report.html").write_text(page)
        (request.out / "report.json").write_text(text)
    tags = version_tags(result, run_id)
    mlflow.set_tags({**tags, "mlflow.note.content": _summary(result)})
    mlflow.log_metrics(
        {
            k.removeprefix(TAG_PREFIX): float(v)
            for k, v in tags.items()
            if k.endswith(("psi", "drop", "rows", "rejected")) and v
        }
    )
    _tag_version(version, tags)


def _summary(result: dict[str, Any]) -> str:
    head = f"{result['model']} on {result['rows']} rows of {Path(result['data']).name}: {result['status']}"
    return "\n".join([head, *(f"- {line}" for line in result["crossed"])])


def monitor(request: MonitorRequest) -> int:
    """Check the batch; returns 0, or 3 when a threshold is crossed (the retraining command printed)."""
    check_readable(request.data)
    with opened(request.model_uri) as version:
        from mlflow import MlflowClient

        profile = load_profile(MlflowClient(), version.mv, version.run.info.run_id)
        limits = version.monitoring(request.recipe)
        contract = row_contract(version.schema, version.suite, header(request.data), keep_target=True)
        with version_run("monitor", version, request.data, {"thresholds": json.dumps(asdict(limits))}) as run:
            batch = _counted(version, contract, profile, request)
            result = _result(version, request, batch, profile, limits)
            _record(version, result, request, run.info.run_id)
    print(_summary(result))
    if result["crossed"]:
        print(f"retrain: {result['retrain']}")
        return EXIT_GATE
    return EXIT_OK
