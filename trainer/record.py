"""What each training step records in the parent MLflow run: recipe, contract, features, candidates,
leaderboard, selection, holdout and timings. The steps themselves never call MLflow."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
from mlflow import MlflowClient
from mlflow.data.pandas_dataset import from_pandas
from mlflow.entities import Metric, Param, RunTag

from trainer.report import leaderboard_plot, markdown_table, timing_table
from trainer.results import param_label

if TYPE_CHECKING:
    import pandas as pd
    from mlflow.entities import Run

    from trainer.config import Recipe
    from trainer.contract import ContractResult
    from trainer.features import FeatureSummary
    from trainer.results import CandidateResult
    from trainer.schema import Schema
    from trainer.select import Selection
    from trainer.split import Split

log = logging.getLogger(__name__)
MAX_PARAMS = 100  # MLflow accepts at most 100 params per log_batch call


def recipe(r: Recipe) -> None:
    """The recipe file as an artifact, every setting as a param under its YAML name."""
    mlflow.log_artifact(str(r.path), "recipe")
    mlflow.log_params(r.params())


def contract(result: ContractResult, schema: Schema) -> None:
    """One validation: dataset lineage, GE JSON, Data Docs HTML, Markdown, metrics."""
    dataset = from_pandas(
        result.frame,
        source=str(result.data_path.resolve()),
        targets=schema.target if schema.target in result.frame.columns else None,
        name=result.data_path.name,
        digest=result.data_digest[:32],
    )
    mlflow.log_input(dataset, context="training")
    mlflow.log_params(
        {
            "data_path": str(result.data_path),
            "data_digest": result.data_digest,
            "data_rows": len(result.frame),
            "schema_path": str(schema.path),
            "schema_digest": schema.digest,
            "suite_digest": result.suite_digest,
        }
    )
    mlflow.log_metrics({"contract_expectations": result.evaluated, "contract_failed": result.failed})
    mlflow.set_tags(
        {
            "contract_status": "passed" if result.success else "failed",
            "ignored_columns": ",".join(result.extra_columns),
        }
    )
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
    frame.client.log_batch(
        cid,
        metrics=[
            Metric("cv_r2_mean", result.cv_r2_mean, frame.end, 0),
            Metric("cv_r2_std", result.cv_r2_std, frame.end, 0),
            Metric("fit_seconds", result.fit_seconds, frame.end, 0),
            Metric("grid_size", result.grid_size, frame.end, 0),
        ],
        params=[Param(k, str(v)) for k, v in sorted(result.best_params.items())][:MAX_PARAMS],
        tags=[RunTag("best_params", param_label(result.best_params))],
    )
    frame.client.log_text(cid, result.cv_results.to_csv(index=False), "cv_results.csv")
    if result.grid_size > 1:  # a one-point grid's only point is the candidate run itself
        for row in result.cv_results.to_dict(orient="records"):
            _grid_point(frame, row, result.name, cid)
    frame.close(cid)
    return cid


def _grid_point(frame: _RunFrame, row: dict[str, Any], candidate: str, parent_id: str) -> None:
    point = frame.open(f"{candidate}: {row['params']}", parent_id, "grid_point", candidate)
    params = {
        k.removeprefix("param_model__"): str(v) for k, v in row.items() if k.startswith("param_model__")
    }
    frame.client.log_batch(
        point,
        metrics=[
            Metric("cv_r2_mean", float(row["mean_test_score"]), frame.end, 0),
            Metric("cv_r2_std", float(row["std_test_score"]), frame.end, 0),
        ],
        params=[Param(k, v) for k, v in sorted(params.items())][:MAX_PARAMS],
    )
    frame.close(point)


def leaderboard(board: pd.DataFrame, out: Path) -> None:
    """The ranked candidates as CSV, Markdown and a plot under `leaderboard/`."""
    board.to_csv(out / "leaderboard.csv", index=False)
    (out / "leaderboard.md").write_text(markdown_table(board))
    leaderboard_plot(board, out / "leaderboard.png")
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
    mlflow.log_metrics(
        {
            "best_cv_r2": chosen.winner.cv_r2_mean,
            "best_cv_r2_std": chosen.winner.cv_r2_std,
            "baseline_cv_r2": chosen.baseline.cv_r2_mean,
        }
    )


def holdout(winner: str, cv_r2: float, metrics: dict[str, float]) -> None:
    """The refitted winner's holdout metrics."""
    mlflow.log_metrics(metrics)
    log.info(
        "selected %s (cv_r2 %.4f): holdout r2 %.4f, rmse %.2f, mae %.2f",
        winner,
        cv_r2,
        metrics["test_r2"],
        metrics["test_rmse"],
        metrics["test_mae"],
    )


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
            "estimator_seconds": estimator_seconds,
        }
    )
    mlflow.log_dict(phases, "timings.json")
    log.info("phase timings (wall):\n%s", timing_table(phases))
