"""What each training step records in the parent MLflow run: recipe, contract, features, leakage, candidates,
leaderboard, selection, holdout and timings. The steps themselves never call MLflow."""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
from mlflow import MlflowClient
from mlflow.data.pandas_dataset import from_pandas
from mlflow.entities import Metric, Param, RunTag

from trainer.data.contract import ignored_columns_tag
from trainer.files import absolute
from trainer.leakage.detector import plot
from trainer.search.results import param_label
from trainer.text import csv_text, markdown_table, md, write_csv
from trainer.tracking.lineage import logged_despite_a_concurrent_run
from trainer.tracking.report import leaderboard_plot, timing_table

if TYPE_CHECKING:
    import pandas as pd
    from mlflow.entities import Run

    from trainer.data.contract import ContractResult
    from trainer.data.features import FeatureSummary
    from trainer.data.schema import Schema
    from trainer.data.split import Split
    from trainer.leakage.detector import LeakageReport
    from trainer.model.calibration import DecisionRule
    from trainer.recipe.settings import Recipe
    from trainer.recipe.task import PositiveRates, Task
    from trainer.search.results import CandidateResult
    from trainer.search.selection import Selection

log = logging.getLogger(__name__)
MAX_PARAMS = 100  # MLflow accepts at most 100 params per log_batch call


def recipe(r: Recipe) -> None:
    """The recipe file as an artifact, every setting as a param under its YAML name."""
    mlflow.log_artifact(str(r.path), "recipe")
    mlflow.log_params(r.params())


def inputs(data_path: Path, schema: Schema) -> None:
    """The files a training reads, as params before they are read."""
    mlflow.log_params({"data_path": absolute(data_path), "schema_path": absolute(schema.path)})


def contract(result: ContractResult, schema: Schema) -> None:
    """One validation: dataset lineage, GE JSON, Data Docs HTML, Markdown, metrics."""
    dataset = from_pandas(
        result.frame,
        source=str(result.data_path.resolve()),
        targets=schema.target if schema.target in result.frame.columns else None,
        name=result.data_path.name,
        digest=result.data_digest[:32],
    )
    logged_despite_a_concurrent_run(lambda: mlflow.log_input(dataset, context="training"), dataset.name)
    mlflow.log_params(
        {
            "data_digest": result.data_digest,
            "data_rows": len(result.frame),
            "schema_digest": schema.digest,
            "suite_digest": result.suite_digest,
        }
    )
    mlflow.log_metrics({"contract_expectations": result.evaluated, "contract_failed": result.failed})
    mlflow.set_tags(
        {
            "contract_status": "passed" if result.success else "failed",
            "ignored_columns": ignored_columns_tag(result.extra_columns),
        }
    )
    for path in (schema.path, schema.suite_path):  # what the data was validated against, as it was
        mlflow.log_artifact(str(path), "contract")
    mlflow.log_dict(result.result_json, "contract/validation_result.json")
    mlflow.log_text(result.report_markdown(), "contract/report.md")
    if result.report_html:
        mlflow.log_text(result.report_html, "contract/data_docs.html")


def features(split: Split, summary: FeatureSummary) -> None:
    """The split's sizes and the encoded training matrix's shape and digest."""
    mlflow.log_params(
        {
            "train_rows": len(split.X_train),
            "test_rows": len(split.X_test),
            "feature_rows": summary.rows,
            "feature_columns": summary.columns,
        }
    )
    mlflow.set_tag("feature_digest", summary.digest)
    log.info("features: %d rows x %d columns, digest %s", summary.rows, summary.columns, summary.digest[:12])


def leakage(report: LeakageReport) -> None:
    """The leakage detector's table (CSV, Markdown), plot and verdict; acknowledged columns as a tag."""
    blocked, warned = report.found("block"), report.found("warn")
    status = "blocked" if len(blocked) else "warned" if len(warned) else "passed"
    mlflow.set_tags(
        {
            "leakage_status": status if report.enabled else "disabled",
            "leakage_flagged": ",".join([*blocked["column"], *warned["column"]]),
            "leakage_acknowledged": ",".join(report.acknowledged),
        }
    )
    if not report.enabled:
        return
    mlflow.log_metric("leakage_all_r2", report.all_r2)
    with tempfile.TemporaryDirectory(prefix="trainer-leakage-") as tmp:
        out = Path(tmp)
        write_csv(report.table, out / "leakage.csv")
        (out / "leakage.md").write_text(f"{md(report.summary())}\n\n{markdown_table(report.table)}")
        plot(report, out / "leakage.png")
        mlflow.log_artifacts(tmp, "leakage")
    log.info(report.summary())


@dataclass(frozen=True)
class _RunFrame:
    """Where and when a candidate's runs sit: experiment, search span (ms) and inherited tags."""

    client: MlflowClient
    experiment_id: str
    start: int
    end: int
    tags: dict[str, str]

    def open(self, name: str, parent_id: str, level: str, candidate: str) -> str:
        run = self.client.create_run(
            self.experiment_id,
            start_time=self.start,
            run_name=name,
            tags={**self.tags, "mlflow.parentRunId": parent_id, "candidate": candidate, "level": level},
        )
        return run.info.run_id

    def close(self, run_id: str) -> None:
        self.client.set_terminated(run_id, "FINISHED", end_time=self.end)


def skipped(names: list[str]) -> None:
    """The candidates the time budget left out, named on the parent run."""
    mlflow.set_tag("skipped_candidates", ",".join(names))


def candidate(result: CandidateResult, parent: Run) -> str:
    """One child run for the candidate (its real search start and end), one grandchild per grid point
    when the grid has more than one."""
    start = int(result.started_at * 1000)
    frame = _RunFrame(
        MlflowClient(),
        parent.info.experiment_id,
        start,
        start + int(result.fit_seconds * 1000),
        {k: v for k, v in parent.data.tags.items() if k.startswith(("mlflow.user", "mlflow.source"))},
    )
    cid = frame.open(result.name, parent.info.run_id, "candidate", result.name)
    if result.skipped:  # left out by the time budget: the reason, no score
        frame.client.set_tag(cid, "skipped", result.skipped)
        frame.close(cid)
        return cid
    frame.client.log_batch(
        cid,
        metrics=[
            *(
                Metric(f"cv_{name}_{stat}", value, frame.end, 0)
                for name, pair in (
                    result.cv_metrics or {result.metric: (result.cv_mean, result.cv_std)}
                ).items()
                for stat, value in zip(("mean", "std"), pair, strict=True)
            ),
            Metric("fit_seconds", result.fit_seconds, frame.end, 0),
            Metric("grid_size", result.grid_size, frame.end, 0),
        ],
        params=[Param(k, str(v)) for k, v in sorted(result.best_params.items())][:MAX_PARAMS],
        tags=[RunTag("best_params", param_label(result.best_params))],
    )
    frame.client.log_text(cid, csv_text(result.cv_results), "cv_results.csv")
    if result.grid_size > 1:  # a one-point grid's only point is the candidate run itself
        for row in result.cv_results.to_dict(orient="records"):
            _grid_point(frame, row, result, cid)
    frame.close(cid)
    return cid


def _grid_point(frame: _RunFrame, row: dict[str, Any], result: CandidateResult, parent_id: str) -> None:
    candidate, metric = result.name, result.metric
    column = "score" if len(result.cv_metrics) <= 1 else metric
    sign = 1.0 if result.greater_is_better else -1.0
    point = frame.open(f"{candidate}: {row['params']}", parent_id, "grid_point", candidate)
    params = {
        k.removeprefix("param_model__"): str(v) for k, v in row.items() if k.startswith("param_model__")
    }
    frame.client.log_batch(
        point,
        metrics=[
            Metric(f"cv_{metric}_mean", sign * float(row[f"mean_test_{column}"]), frame.end, 0),
            Metric(f"cv_{metric}_std", float(row[f"std_test_{column}"]), frame.end, 0),
        ],
        params=[Param(k, v) for k, v in sorted(params.items())][:MAX_PARAMS],
    )
    frame.close(point)


def leaderboard(board: pd.DataFrame, out: Path) -> None:
    """The ranked candidates as CSV, Markdown and a plot under `leaderboard/`."""
    write_csv(board, out / "leaderboard.csv")
    (out / "leaderboard.md").write_text(markdown_table(board))
    metric = next(c for c in board.columns if c.startswith("cv_")).removeprefix("cv_").removesuffix("_mean")
    leaderboard_plot(board, out / "leaderboard.png", metric)
    for name in ("leaderboard.csv", "leaderboard.md", "leaderboard.png"):
        mlflow.log_artifact(str(out / name), "leaderboard")
    # a sortable table in the run's Artifacts view and the experiment's Evaluation tab
    mlflow.log_table(board, "leaderboard/leaderboard_table.json")


def selection(chosen: Selection, out: Path) -> None:
    """The leaderboard, the winner and its parameters, the best and baseline CV scores."""
    leaderboard(chosen.leaderboard, out)
    mlflow.set_tags(
        {
            "selected_candidate": chosen.winner.name,
            "best_params": json.dumps(chosen.winner.best_params, sort_keys=True, default=str),
        }
    )
    m = chosen.winner.metric
    mlflow.log_metrics(
        {
            f"best_cv_{m}": chosen.winner.cv_mean,
            f"best_cv_{m}_std": chosen.winner.cv_std,
            f"baseline_cv_{m}": chosen.baseline.cv_mean,
        }
    )


def holdout(
    winner: str,
    cv_r2: float,
    metrics: dict[str, float],
    metric: str = "r2",
    rates: PositiveRates | None = None,
) -> None:
    """The refitted winner's holdout metrics; a yes/no model that labels few of the positives
    positive is warned about (its accuracy is then mostly the majority label's)."""
    mlflow.log_metrics(metrics)
    if metric != "r2":
        shown = ", ".join(f"{k.removeprefix('test_')} {v:.4f}" for k, v in metrics.items())
        log.info("selected %s (cv_%s %.4f): holdout %s", winner, metric, cv_r2, shown)
        if rates is not None and (advice := rates.advice()):
            log.warning("%s", advice)
        return
    r2, rmse, mae = metrics["test_r2"], metrics["test_rmse"], metrics["test_mae"]
    log.info("selected %s (cv_r2 %.4f): holdout r2 %.4f, rmse %.2f, mae %.2f", winner, cv_r2, r2, rmse, mae)


def finishing(done: DecisionRule, task: Task) -> None:
    """A classifier's calibration (holdout log loss / Brier before and after) and decision threshold."""
    if done.metrics:
        mlflow.log_metrics(done.metrics)
    mlflow.set_tags({"task": task.kind, "selection_metric": task.metric, **done.tags()})
    if done.metrics:
        log.info(
            "calibration %s: %s", done.calibration, ", ".join(f"{k} {v:.4f}" for k, v in done.metrics.items())
        )
    if done.threshold is not None:
        log.info("decision threshold %.4f (%s)", done.threshold, done.threshold_source)


def description(markdown: str) -> None:
    """The run's description in the MLflow UI (MLflow's `mlflow.note.content` tag): Markdown whose
    user text is escaped already (trainer.text)."""
    mlflow.set_tag("mlflow.note.content", markdown)


def timings(phases: dict[str, float], estimator_seconds: float) -> None:
    """Wall seconds per phase (metrics `time_*_s`, `timings.json`) and the time inside estimator fits."""
    mlflow.log_metrics(
        {
            "time_total_s": phases["total"],
            "time_contract_s": phases.get("contract", 0.0),
            "time_features_s": phases.get("features", 0.0),
            "time_search_s": sum(v for k, v in phases.items() if k.startswith("search: ")),
            "time_logging_s": phases.get("logging", 0.0),
            "time_registration_s": phases.get("registration", 0.0),
            "time_leakage_s": phases.get("leakage", 0.0),
            "estimator_seconds": estimator_seconds,
        }
    )
    mlflow.log_dict(phases, "timings.json")
    log.info("phase timings (wall):\n%s", timing_table(phases))
