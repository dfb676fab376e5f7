"""Model behaviour: ranking, gates, and a whole (small) training run as MLflow records it.

(integration layer)"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from helpers import RAW_CSV, SCHEMA, sha256
from support.search import recipe, result  # noqa: F401 (fixtures)

from trainer.catalogue.regressors import CATALOGUE
from trainer.cli.main import main
from trainer.data.features import build_pipeline
from trainer.data.schema import load_schema
from trainer.data.split import split_data
from trainer.errors import EXIT_ERROR, EXIT_GATE, EXIT_OK
from trainer.recipe.settings import Recipe, SearchSettings
from trainer.search.candidate_search import prefixed, search_candidate
from trainer.search.plan import SearchPlan, make_plan
from trainer.search.results import CandidateResult

LEADERBOARD = {"leaderboard/leaderboard.csv", "leaderboard/leaderboard.md", "leaderboard/leaderboard.png"}


def train(data: Path, recipe: Path, schema: Path = SCHEMA) -> int:
    return main(
        ["train", "--no-register", "--data", str(data), "--schema", str(schema), "--recipe", str(recipe)]
    )


def errors(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)


def _parent(all_runs: Callable[..., list[Any]]) -> Any:
    parents = all_runs("tags.trainer_command = 'train'")
    assert len(parents) == 1
    return parents[0]


def _children(all_runs: Callable[..., list[Any]], run_id: str) -> list[Any]:
    return all_runs(f"tags.mlflow.parentRunId = '{run_id}'")


def test_small_training_run_records_parent_children_and_grid_points(
    tracking_store: str,
    sample_csv: Path,
    small_recipe: Path,
    all_runs: Callable[..., list[Any]],
    artifact_paths: Callable[[str], set[str]],
) -> None:
    raw_before = sha256(RAW_CSV)

    assert train(sample_csv, small_recipe) == EXIT_OK

    parent = _parent(all_runs)
    assert parent.info.status == "FINISHED"
    tags, metrics, params = parent.data.tags, parent.data.metrics, parent.data.params
    assert tags["selected_candidate"] in {"linear", "ridge"}
    assert len(tags["feature_digest"]) == 64
    assert tags["contract_status"] == "passed"
    assert metrics["best_cv_r2"] >= 0.3
    assert 0.2 < metrics["test_r2"] <= 1.0
    assert metrics["test_rmse"] > metrics["test_mae"] > 0
    assert metrics["contract_failed"] == 0
    assert params["train_rows"] == "1200" and params["test_rows"] == "300"
    assert params["cv.folds"] == "3"
    assert params["data_digest"] == sha256(sample_csv)
    assert parent.inputs.dataset_inputs[0].dataset.digest == sha256(sample_csv)[:32]
    assert LEADERBOARD | {"recipe/recipe.yaml", "timings.json"} <= artifact_paths(parent.info.run_id)

    board = pd.read_csv(
        mlflow.artifacts.download_artifacts(f"runs:/{parent.info.run_id}/leaderboard/leaderboard.csv")
    )
    assert set(board["candidate"]) == {"dummy", "linear", "ridge"}
    assert board.iloc[0]["candidate"] == tags["selected_candidate"]
    assert board.iloc[0]["status"] == "selected"
    assert board.iloc[0]["cv_r2_mean"] == pytest.approx(metrics["best_cv_r2"], abs=1e-6)

    children = _children(all_runs, parent.info.run_id)
    assert sorted(c.info.run_name for c in children) == ["dummy", "linear", "ridge"]
    grid_sizes = {"dummy": 1, "linear": 1, "ridge": 2}
    for child in children:
        name = child.info.run_name
        assert child.info.status == "FINISHED"
        assert child.data.tags["candidate"] == name
        assert {"cv_r2_mean", "cv_r2_std", "fit_seconds"} <= set(child.data.metrics)
        assert child.data.metrics["grid_size"] == grid_sizes[name]
        assert "cv_results.csv" in artifact_paths(child.info.run_id)
        cv = pd.read_csv(mlflow.artifacts.download_artifacts(f"runs:/{child.info.run_id}/cv_results.csv"))
        assert len(cv) == grid_sizes[name]
        assert child.data.metrics["cv_r2_mean"] == pytest.approx(cv["mean_test_score"].max())

        points = _children(all_runs, child.info.run_id)
        assert len(points) == (grid_sizes[name] if grid_sizes[name] > 1 else 0), "no run for a one-point grid"
        for point in points:
            assert point.info.status == "FINISHED"
            assert point.info.run_name.startswith(f"{name}: ")
            assert point.data.tags["level"] == "grid_point"
            assert "cv_r2_mean" in point.data.metrics
            assert not _children(all_runs, point.info.run_id)
        if name == "ridge":
            assert sorted(p.data.params["alpha"] for p in points) == ["1.0", "10.0"]
            assert sorted(p.info.run_name for p in points) == ["ridge: alpha=1.0", "ridge: alpha=10.0"]

    winner = next(c for c in children if c.info.run_name == tags["selected_candidate"])
    assert winner.data.metrics["cv_r2_mean"] == pytest.approx(metrics["best_cv_r2"])
    # parent + 3 candidates + 4 grid points, nothing else
    assert len(all_runs()) == 1 + 3 + 2, "parent, 3 candidates, 2 grid points (ridge)"
    assert sha256(RAW_CSV) == raw_before


def test_training_twice_gives_the_same_selection_and_digest(
    sqlite_store: str, sample_csv: Path, small_recipe: Path, all_runs: Callable[..., list[Any]]
) -> None:
    assert train(sample_csv, small_recipe) == EXIT_OK
    assert train(sample_csv, small_recipe) == EXIT_OK
    first, second = all_runs("tags.trainer_command = 'train'")
    for key in ("selected_candidate", "feature_digest", "best_params"):
        assert first.data.tags[key] == second.data.tags[key]
    for key in ("best_cv_r2", "test_r2", "test_rmse"):
        assert first.data.metrics[key] == pytest.approx(second.data.metrics[key], abs=1e-12)


def test_unknown_candidate_fails_before_any_run_has_children(
    sqlite_store: str,
    sample_csv: Path,
    make_recipe: Callable[..., Path],
    caplog: pytest.LogCaptureFixture,
    all_runs: Callable[..., list[Any]],
) -> None:
    recipe = make_recipe(candidates={"dummy": {}, "linear": {}, "deep_forest": {"depth": [3]}})

    assert train(sample_csv, recipe) == EXIT_ERROR

    assert "unknown candidate 'deep_forest'" in errors(caplog)
    assert not [r for r in all_runs() if "mlflow.parentRunId" in r.data.tags]
    assert not all_runs(), "the recipe is checked before the parent run starts"


def test_unknown_parameter_fails_before_training(
    sqlite_store: str,
    sample_csv: Path,
    make_recipe: Callable[..., Path],
    caplog: pytest.LogCaptureFixture,
    all_runs: Callable[..., list[Any]],
) -> None:
    recipe = make_recipe(candidates={"dummy": {}, "ridge": {"alpha": [1.0], "alpah": [2.0]}})

    assert train(sample_csv, recipe) == EXIT_ERROR

    error = errors(caplog)
    assert "candidate 'ridge'" in error and "alpah" in error
    assert not all_runs()


def test_recipe_errors_exit_1(
    sqlite_store: str, sample_csv: Path, make_recipe: Callable[..., Path], caplog: pytest.LogCaptureFixture
) -> None:
    assert train(sample_csv, make_recipe(cv={"folds": 1})) == EXIT_ERROR
    assert "cv.folds" in errors(caplog)
    assert train(sample_csv, make_recipe(gates={"baseline": "knn"})) == EXIT_ERROR
    assert "gates.baseline 'knn'" in errors(caplog)


BAD_GRIDS = {
    "ridge-text-alpha": ("ridge", {"alpha": ["not-a-number"]}),
    "lasso-negative-alpha": ("lasso", {"alpha": [0.1, -1.0]}),
}


@pytest.mark.parametrize("case", list(BAD_GRIDS))
def test_candidate_whose_fit_raises_fails_the_parent_run(
    case: str,
    sqlite_store: str,
    sample_csv: Path,
    make_recipe: Callable[..., Path],
    caplog: pytest.LogCaptureFixture,
    all_runs: Callable[..., list[Any]],
) -> None:
    name, grid = BAD_GRIDS[case]
    recipe = make_recipe(candidates={"dummy": {}, "linear": {}, name: grid})

    code = train(sample_csv, recipe)

    assert code != EXIT_OK
    error = errors(caplog)
    assert f"candidate '{name}' failed to fit" in error
    bad_value = str(grid["alpha"][-1])
    assert f"alpha={bad_value}" in error, "the failing grid point is named"
    assert "Traceback" not in caplog.text
    parent = _parent(all_runs)
    assert parent.info.status == "FAILED"
    assert f"candidate '{name}'" in parent.data.tags["failure_reason"]
    assert "selected_candidate" not in parent.data.tags


def test_gate_failure_exits_3_and_still_logs_the_leaderboard(
    tracking_store: str,
    sample_csv: Path,
    make_recipe: Callable[..., Path],
    caplog: pytest.LogCaptureFixture,
    all_runs: Callable[..., list[Any]],
    artifact_paths: Callable[[str], set[str]],
) -> None:
    recipe = make_recipe(gates={"min_cv_r2": 0.99})

    assert train(sample_csv, recipe) == EXIT_GATE

    assert "no candidate passed the quality gates" in errors(caplog)
    parent = _parent(all_runs)
    assert parent.info.status == "FAILED"
    assert "gates" in parent.data.tags["failure_reason"]
    assert "selected_candidate" not in parent.data.tags
    assert "best_cv_r2" not in parent.data.metrics
    assert LEADERBOARD <= artifact_paths(parent.info.run_id)
    board = pd.read_csv(
        mlflow.artifacts.download_artifacts(f"runs:/{parent.info.run_id}/leaderboard/leaderboard.csv")
    )
    assert "selected" not in set(board["status"])
    assert len(_children(all_runs, parent.info.run_id)) == 3, "every candidate was still searched"


def test_contract_failure_stops_training_before_any_search(
    sqlite_store: str,
    sample_frame: pd.DataFrame,
    write_csv: Callable[..., Path],
    small_recipe: Path,
    all_runs: Callable[..., list[Any]],
) -> None:
    sample_frame.loc[0, "math3"] = 99999.0

    assert train(write_csv(sample_frame, "bad.csv"), small_recipe) == 2

    parent = _parent(all_runs)
    assert parent.info.status == "FAILED"
    assert "data contract failed" in parent.data.tags["failure_reason"]
    assert not _children(all_runs, parent.info.run_id)


def test_too_few_rows_for_the_folds_is_a_contract_error(
    sqlite_store: str,
    sample_frame: pd.DataFrame,
    write_csv: Callable[..., Path],
    make_recipe: Callable[..., Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    recipe = make_recipe(cv={"folds": 100})
    assert train(write_csv(sample_frame.head(150), "few.csv"), recipe) == 2
    assert "too few for 100-fold" in errors(caplog)


WIDE_RIDGE = {"alpha": [0.01, 0.1, 1.0, 10.0, 100.0, 1000.0, 10_000.0]}  # 7 points: halving halves


def _plan(frame: pd.DataFrame, recipe: Recipe) -> SearchPlan:
    schema = load_schema(SCHEMA)
    return make_plan(recipe, schema, split_data(frame, schema, recipe.split))


def _halving(plan: SearchPlan) -> SearchPlan:
    return replace(plan, settings=SearchSettings(strategy="halving"))


def test_halving_scores_the_last_rounds_best_point_on_every_row(
    sample_frame: pd.DataFrame, recipe: Recipe, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingGridSearchCV

    from trainer.search import candidate_search as search

    real, rounds = search.halving_search, []

    def counted(*args: Any) -> Any:
        rounds.append(real(*args))
        return rounds[-1]

    monkeypatch.setattr(search, "halving_search", counted)
    plan = _plan(sample_frame, recipe)
    spec = CATALOGUE["ridge"]
    result = search_candidate(spec, WIDE_RIDGE, _halving(plan))

    pipeline = build_pipeline(plan.schema, spec.encoding, spec.make())
    library = HalvingGridSearchCV(
        pipeline, prefixed(WIDE_RIDGE), cv=plan.cv, refit=False, random_state=plan.random_state
    ).fit(plan.X, plan.y)
    assert result.best_params == {"alpha": library.best_params_["model__alpha"]}  # the last round's best
    assert result.grid_size == len(WIDE_RIDGE["alpha"])
    assert len(result.cv_results) == 1
    # its CV score is a grid search's on every training row, not the last round's on a sample
    grid = search_candidate(spec, {"alpha": [result.best_params["alpha"]]}, plan)
    assert np.isfinite(result.cv_mean)
    assert (result.cv_mean, result.cv_std) == pytest.approx((grid.cv_mean, grid.cv_std))
    [found] = rounds
    assert result.estimator_seconds > found.estimator_seconds > 0  # the halving rounds are counted too


def test_halving_on_a_grid_too_small_to_halve_is_the_grid_search(
    sample_frame: pd.DataFrame, recipe: Recipe
) -> None:
    plan = _plan(sample_frame, recipe)
    small = {"alpha": [1.0, 10.0, 100.0]}
    grid = search_candidate(CATALOGUE["ridge"], small, plan)
    halving = search_candidate(CATALOGUE["ridge"], small, _halving(plan))
    assert len(halving.cv_results) == grid.grid_size == 3
    assert (halving.best_params, halving.cv_mean) == (grid.best_params, grid.cv_mean)


def test_two_stage_samples_as_randomized_search_then_tries_the_best_points_neighbours(
    sample_frame: pd.DataFrame, recipe: Recipe
) -> None:
    from sklearn.model_selection import ParameterSampler

    plan = replace(_plan(sample_frame, recipe), settings=SearchSettings(strategy="two_stage", n_iter=3))
    result = search_candidate(CATALOGUE["ridge"], WIDE_RIDGE, plan)
    sampled = [p["alpha"] for p in ParameterSampler(WIDE_RIDGE, 3, random_state=plan.random_state)]
    tried = [float(label.removeprefix("alpha=")) for label in result.cv_results["params"]]
    assert tried[:3] == sampled  # the broad stage: RandomizedSearchCV's own sample
    best_broad = sampled[int(np.argmax(result.cv_results["mean_test_score"].iloc[:3]))]
    i = WIDE_RIDGE["alpha"].index(best_broad)
    assert set(tried) == set(sampled) | set(WIDE_RIDGE["alpha"][max(0, i - 1) : i + 2])
    assert result.best_params["alpha"] in tried and result.oof is not None
    assert result.cv_mean == pytest.approx(result.cv_results["mean_test_score"].max())


def test_a_child_run_that_cannot_be_written_fails_the_training(
    sqlite_store: str,
    sample_csv: Path,
    small_recipe: Path,
    caplog: pytest.LogCaptureFixture,
    all_runs: Callable[..., list[Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mlflow.exceptions import MlflowException

    from trainer.recording import steps as record

    def refused(result: CandidateResult, parent: Any) -> str:
        raise MlflowException(f"store refused the run of '{result.name}'")

    monkeypatch.setattr(record, "candidate", refused)

    assert train(sample_csv, small_recipe) == EXIT_ERROR

    assert "recording candidate '" in errors(caplog)
    assert "store refused the run of" in errors(caplog)
    assert "unexpected error" not in errors(caplog)
    assert _parent(all_runs).info.status == "FAILED"
    assert not mlflow.MlflowClient().search_registered_models()
