"""Reproducibility: the same inputs give the same model, whatever the store, process or row order.

Trainings run as separate `python -m trainer train` processes, each into its own SQLite store:

- two stores, same data: same feature digest, leaderboard (every printed digit), winner,
  parameters, metrics and byte-equal holdout predictions from the two registered models;
- a row-shuffled copy of the data: same feature digest, leaderboard and winner;
- `trainer reproduce` reports a match, and names "data" once the data file changed;
- deleting data/processed/ and the default store (mlflow.db, mlruns/) and training again works.

The small recipe (every boosting library, parallel CV, the blend) keeps this fast; the full default
recipe runs once, through `mlflow run .` as users run it, in the `slow` end-to-end test.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import (
    RAW_CSV,
    ROOT,
    SCHEMA,
    SUITE,
    VENV_BIN,
    init_store,
    raw_sample,
    reap,
    run_trainer,
    sha256,
    sqlite_uri,
    start,
    start_trainer,
    train_runs,
    trainer_lines,
    using_store,
    versions,
    write_recipe,
)
from mlflow import MlflowClient

EXPERIMENT = "reproducibility"
MODEL = "reproducibility-model"
RAW_DIGEST = sha256(RAW_CSV)
# Deterministic but non-trivial: seeded tree ensembles and all four boosting libraries (small
# grids), next to linear models, searched in parallel (n_jobs 2) with the blend of the top two.
CANDIDATES = {
    "dummy": {},
    "linear": {},
    "ridge": {"alpha": [1.0, 10.0]},
    "random_forest": {"n_estimators": [30], "max_depth": [6]},
    "hist_gradient_boosting": {"max_iter": [40], "learning_rate": [0.1]},
    "xgboost": {"n_estimators": [40], "max_depth": [3], "subsample": [0.8]},
    "catboost": {"iterations": [60], "depth": [4]},
    "lightgbm": {"n_estimators": [40], "num_leaves": [7], "subsample": [0.8], "subsample_freq": [1]},
}
SEARCH = {"strategy": "grid", "blend_top": 2}
# What may differ between two trainings of the same inputs (the rest of the version's tags may not).
RUN_SPECIFIC_TAGS = {"training_run_id", "data_path", "git_commit", "git_dirty"}
PROGRESS = re.compile(r"^\[\s*\d+/\d+\] ")  # per-candidate lines: "[ 1/4] dummy  grid 1  cv_r2 ... s"


@pytest.fixture(autouse=True, scope="module")
def _no_child_left_behind() -> Iterator[None]:
    yield
    reap()


@dataclass
class Trained:
    """One training's record, read back from its own store."""

    uri: str
    data: Path
    recipe: Path
    stderr: str
    run: Any
    version: Any
    leaderboard: pd.DataFrame
    candidate_metrics: dict[str, tuple[float, float]]

    def progress(self) -> list[str]:
        """The progress lines without their timings (the last column)."""
        lines = [x for x in trainer_lines(self.stderr, "INFO") if PROGRESS.match(x)]
        return [x.rsplit(maxsplit=2)[0] for x in lines]

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        with using_store(self.uri):
            return mlflow.sklearn.load_model(f"models:/{MODEL}/{self.version.version}").predict(rows)


def start_training(folder: Path, data: Path, recipe: Path, experiment: str = EXPERIMENT) -> tuple[str, Any]:
    uri = init_store(folder / "mlflow.db", [experiment])
    args = ["train", "--data", str(data), "--schema", str(SCHEMA), "--recipe", str(recipe)]
    return uri, start_trainer(args, uri, folder / "stderr.txt")


def collect(
    uri: str, proc: subprocess.Popen, folder: Path, data: Path, recipe: Path, timeout: float
) -> Trained:
    code = proc.wait(timeout)
    stderr = (folder / "stderr.txt").read_text()
    assert code == 0, stderr[-3000:]
    client = MlflowClient(tracking_uri=uri)
    model = yaml.safe_load(recipe.read_text())["registered_model"]
    experiment = yaml.safe_load(recipe.read_text())["experiment"]
    [version] = versions(client, model)
    run = client.get_run(version.tags["training_run_id"])
    board = pd.read_csv(
        client.download_artifacts(run.info.run_id, "leaderboard/leaderboard.csv", str(folder))
    )
    children = client.search_runs(
        [run.info.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}'", max_results=100
    )
    metrics = {
        c.data.tags["candidate"]: (c.data.metrics["cv_r2_mean"], c.data.metrics["cv_r2_std"])
        for c in children
    }
    assert [r.info.run_id for r in train_runs(client, experiment)] == [run.info.run_id]
    return Trained(uri, data, recipe, stderr, run, version, board, metrics)


def assert_same_model(a: Trained, b: Trained) -> None:
    """Same features, leaderboard, winner, parameters and metrics (exactly, not approximately)."""
    assert a.run.data.tags["feature_digest"] == b.run.data.tags["feature_digest"]
    assert a.version.tags["feature_digest"] == a.run.data.tags["feature_digest"]
    pd.testing.assert_frame_equal(
        a.leaderboard.drop(columns=["fit_seconds"]),
        b.leaderboard.drop(columns=["fit_seconds"]),
        check_exact=True,
    )
    assert a.candidate_metrics == b.candidate_metrics  # full float precision
    assert a.progress() == b.progress() and len(a.progress()) == len(a.leaderboard)
    assert a.run.data.tags["selected_candidate"] == b.run.data.tags["selected_candidate"]
    assert a.run.data.tags["best_params"] == b.run.data.tags["best_params"]
    for key in ("best_cv_r2", "best_cv_r2_std", "test_r2", "test_rmse", "test_mae"):
        assert a.run.data.metrics[key] == b.run.data.metrics[key], key
    same = {k: v for k, v in a.version.tags.items() if k not in RUN_SPECIFIC_TAGS | {"data_digest"}}
    assert same == {k: v for k, v in b.version.tags.items() if k not in RUN_SPECIFIC_TAGS | {"data_digest"}}


def holdout_rows(data: Path, recipe: Path) -> pd.DataFrame:
    from trainer.data.schema import load_schema
    from trainer.data.split import split_data
    from trainer.recipe.settings import load_recipe

    schema = load_schema(SCHEMA)
    return split_data(pd.read_csv(data), schema, load_recipe(recipe).split).X_test


@pytest.fixture(scope="module")
def trainings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Trained]:
    """Three trainings at once, each in its own process and store: a, b (same file) and shuffled."""
    root = tmp_path_factory.mktemp("repro")
    frame = raw_sample(1500, seed=3)
    data = root / "data.csv"
    frame.to_csv(data, index=False)
    shuffled = root / "shuffled.csv"
    frame.sample(frac=1.0, random_state=11).to_csv(shuffled, index=False)
    recipe = write_recipe(
        root / "recipe.yaml", EXPERIMENT, MODEL, candidates=CANDIDATES, n_jobs=2, search=SEARCH
    )
    started = {}
    for name, path in (("a", data), ("b", data), ("shuffled", shuffled)):
        (root / name).mkdir()
        started[name] = (root / name, path, *start_training(root / name, path, recipe))
    out = {
        name: collect(uri, proc, folder, path, recipe, timeout=900)
        for name, (folder, path, uri, proc) in started.items()
    }
    assert sha256(RAW_CSV) == RAW_DIGEST
    return out


def test_two_stores_two_processes_same_model(trainings: dict[str, Trained]) -> None:
    a, b = trainings["a"], trainings["b"]
    assert a.uri != b.uri
    assert_same_model(a, b)
    assert a.version.tags["data_digest"] == b.version.tags["data_digest"]
    rows = holdout_rows(a.data, a.recipe)
    assert len(rows) == 300
    pred_a, pred_b = a.predict(rows), b.predict(rows)
    np.testing.assert_array_equal(pred_a, pred_b)  # bit for bit
    assert np.all(np.isfinite(pred_a))


def test_shuffled_rows_same_model(trainings: dict[str, Trained]) -> None:
    a, shuffled = trainings["a"], trainings["shuffled"]
    assert a.version.tags["data_digest"] != shuffled.version.tags["data_digest"]  # really another file
    assert_same_model(a, shuffled)
    rows = holdout_rows(a.data, a.recipe)
    pd.testing.assert_frame_equal(rows, holdout_rows(shuffled.data, shuffled.recipe))
    np.testing.assert_array_equal(a.predict(rows), shuffled.predict(rows))


def reproduce_runs(client: MlflowClient) -> list[Any]:
    experiment = client.get_experiment_by_name(EXPERIMENT).experiment_id
    return client.search_runs([experiment], "tags.trainer_command = 'reproduce'")


def test_reproduce_matches_then_names_changed_data(trainings: dict[str, Trained]) -> None:
    a = trainings["a"]
    done = run_trainer(["reproduce", f"models:/{MODEL}/1"], a.uri)
    assert done.returncode == 0, done.stderr[-3000:]
    assert trainer_lines(done.stderr) == []
    assert any(
        x.startswith(f"reproduced models:/{MODEL}/1 in run ") for x in trainer_lines(done.stderr, "INFO")
    )
    client = MlflowClient(tracking_uri=a.uri)
    assert not [r for r in train_runs(client, EXPERIMENT) if r.data.tags.get("reproduces")]
    [rerun] = reproduce_runs(client)
    assert rerun.data.tags["feature_digest"] == a.run.data.tags["feature_digest"]
    assert (rerun.data.tags["reproduces"], rerun.data.tags["reproduction"]) == (f"models:/{MODEL}/1", "same")
    assert len(versions(client, MODEL)) == 1  # reproduce never registers

    original = a.data.read_bytes()
    try:
        frame = pd.read_csv(a.data)
        frame.loc[0, "math3"] = frame.loc[0, "math3"] + 1
        frame.to_csv(a.data, index=False)
        done = run_trainer(["reproduce", f"models:/{MODEL}/1"], a.uri)
    finally:
        a.data.write_bytes(original)
    assert done.returncode == 1, done.stderr[-3000:]
    [line] = trainer_lines(done.stderr)
    assert line.startswith("cannot reproduce: inputs differ from the recorded ones: data (recorded ")
    assert "schema" not in line and "recipe" not in line
    assert len(reproduce_runs(client)) == 1  # refused before any training


def test_deleting_processed_data_and_store_then_training_again(tmp_path: Path) -> None:
    """A project whose caches and default store (./mlflow.db, ./mlruns) are deleted trains again, the same."""
    project = tmp_path / "project"
    (project / "data" / "raw").mkdir(parents=True)
    (project / "data" / "processed").mkdir()
    raw_sample(600, seed=5).to_csv(project / "data" / "raw" / "students.csv", index=False)
    (project / "data" / "processed" / "stale.csv").write_text("garbage,from,an,old,run\n")
    schema = yaml.safe_load(SCHEMA.read_text())
    schema["suite"] = str(SUITE)
    (project / "data" / "schema.yaml").write_text(yaml.safe_dump(schema))
    write_recipe(project / "train.yaml", EXPERIMENT, MODEL)
    args = [
        "train",
        "--data",
        "data/raw/students.csv",
        "--schema",
        "data/schema.yaml",
        "--recipe",
        "train.yaml",
    ]

    def train() -> str:
        done = run_trainer(args, None, cwd=project)  # no MLFLOW_TRACKING_URI: the default store
        assert done.returncode == 0, done.stderr[-3000:]
        assert f"registered models:/{MODEL}/1" in trainer_lines(done.stderr, "INFO")[-2:]
        with using_store(sqlite_uri(project / "mlflow.db")) as client:
            return client.get_model_version(MODEL, "1").tags["feature_digest"]

    first = train()
    assert (project / "mlflow.db").is_file() and (project / "mlruns").is_dir()
    for path in ("data/processed", "mlruns", "mlflow.db"):
        target = project / path
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    assert train() == first
    assert not (project / "data" / "processed").exists()  # training never needed (or made) a cache


@pytest.mark.slow
def test_full_default_recipe_end_to_end(tmp_path: Path) -> None:
    """The real thing, as users run it: plain `mlflow run .` (the MLproject's `main`, every default)
    on all of the default data, into a fresh store: >= 12 candidates, the promised quality, a
    version, recorded in the recipe's experiment with a pointer left in `Default`.

    Its reproducibility is the small-recipe tests above (same libraries, parallel CV, the blend).
    """
    recipe_data = yaml.safe_load((ROOT / "train.yaml").read_text())
    experiment, model = recipe_data["experiment"], recipe_data["registered_model"]
    mlflow_cli = str(VENV_BIN / "mlflow") if (VENV_BIN / "mlflow").exists() else "mlflow"
    uri = init_store(tmp_path / "mlflow.db", [experiment])
    cmd = [mlflow_cli, "run", ".", "--env-manager", "local"]
    proc = start(cmd, uri, tmp_path / "stderr.txt")
    trained = collect(uri, proc, tmp_path, RAW_CSV, ROOT / "train.yaml", timeout=1800)

    run, board = trained.run, trained.leaderboard
    assert run.info.status == "FINISHED"
    assert run.data.tags.get("mlflow.project.entryPoint") == "main"
    assert len(trained.candidate_metrics) >= 12 and len(board) == len(trained.candidate_metrics)
    assert len(trained.progress()) == len(board)  # one progress line per candidate
    assert run.data.metrics["best_cv_r2"] >= 0.56
    assert run.data.metrics["test_r2"] > 0.45
    assert run.data.tags["selected_candidate"] == board.loc[0, "candidate"] != "dummy"
    assert trained.version.tags["validation_status"] == "passed"
    assert trainer_lines(trained.stderr, "INFO")[-2:] == [
        f"registered models:/{model}/1",  # train.yaml: promotion.on_register if_better, so it took champion
        f'next: mlflow.sklearn.load_model("models:/{model}@champion")  (or: trainer explain models:/{model}@champion)',
    ]
    with using_store(uri):
        pred = mlflow.sklearn.load_model(f"models:/{model}/1").predict(
            holdout_rows(RAW_CSV, ROOT / "train.yaml")
        )
    assert np.all(np.isfinite(pred))
    assert sha256(RAW_CSV) == RAW_DIGEST
    assert_recorded_in_the_recipes_experiment(uri, run, experiment, trained.stderr)


def assert_recorded_in_the_recipes_experiment(uri: str, parent: Any, experiment: str, stderr: str) -> None:
    """`mlflow run` opens its run in `Default`: the trainer records in the recipe's experiment and
    leaves MLflow's run as a finished pointer; the parent run and the winner's child say what won."""
    client = MlflowClient(tracking_uri=uri)
    (stub,) = client.search_runs([client.get_experiment_by_name("Default").experiment_id])
    assert stub.info.status == "FINISHED"
    assert parent.info.run_id in stub.data.tags["recorded_in"]
    assert parent.info.run_name.startswith("train star_grade3 ")  # command, dataset, time
    assert stub.info.run_name == f"{parent.info.run_name} (in '{experiment}')"
    assert parent.data.tags["mlflow.source.type"] == "PROJECT"
    assert "mlflow run ." in parent.data.tags["mlflow_run"]
    assert parent.data.tags["registered_model"] == experiment
    note = parent.data.tags["mlflow.note.content"]  # the run's description in the UI
    assert re.match(
        r"\*\*\w+\*\* selected by CV r2 0\.\d{4} ± 0\.\d{4} \(baseline `dummy` -?0\.\d{4}\); holdout r2 0\.\d{4}\.",
        note,
    ), note
    assert "passed the data contract" in note and f"Registered as `models:/{experiment}/1`" in note, note
    marked = client.search_runs([parent.info.experiment_id], "tags.selected = 'true'")
    assert [r.data.tags["candidate"] for r in marked] == [parent.data.tags["selected_candidate"]]
    assert marked[0].data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert re.fullmatch(
        r"\*\*Selected\*\*: the winner of this training, CV r2 0\.\d{4} ± 0\.\d{4} against the baseline "
        r"`dummy`'s -?0\.\d{4}\.",
        marked[0].data.tags["mlflow.note.content"],
    )
    assert f"recording in the recipe's experiment '{experiment}'" in stderr
    assert not Path(stub.info.artifact_uri.removeprefix("file://")).exists()  # the pointer holds nothing
