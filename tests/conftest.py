"""Shared fixtures: isolated MLflow stores, the raw data, and small schema / recipe copies."""

from __future__ import annotations

import hashlib
import logging
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
RAW_CSV = ROOT / "data" / "raw" / "star_grade3.csv"
SCHEMA = ROOT / "data" / "schema.yaml"
SUITE = ROOT / "expectations" / "star_grade3.json"
DEFAULT_RECIPE = ROOT / "train.yaml"
SAMPLE_ROWS = 1500

# `make test` installs the package (editable) first; a bare venv still finds it from the checkout.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(autouse=True)
def _project_root_and_logging(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """Run every test from the project root, with the CLI's log lines visible to caplog.

    `trainer.cli.setup_logging` calls `logging.basicConfig(force=True)`, which removes every
    root handler, pytest's capture handler included; in-process CLI calls keep pytest's.
    """
    import trainer.cli

    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(trainer.cli, "setup_logging", lambda verbose: None)
    caplog.set_level(logging.INFO)


# Experiments the tests record into. On a SQLite store they are created up front with their
# artifacts under tmp_path: the store's default artifact root is `./mlruns` of the working
# directory, which here is the project root.
EXPERIMENTS = ("student-math-score", "test-small", "test", "registry-test")


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, fully migrated MLflow SQLite database, copied per test (migrations are slow)."""
    path = tmp_path_factory.mktemp("template") / "mlflow.db"
    mlflow.MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments(max_results=1)
    return path


def _use_store(uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    for var in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient()
    if uri.startswith("sqlite:"):
        for name in EXPERIMENTS:
            client.create_experiment(name, artifact_location=(tmp_path / "artifacts" / name).as_uri())
    try:
        yield uri
        leaked = [
            r.info.artifact_uri
            for r in client.search_runs([e.experiment_id for e in client.search_experiments()])
            if str(tmp_path) not in r.info.artifact_uri
        ]
        assert not leaked, (
            f"runs stored artifacts outside tmp_path (add the experiment to EXPERIMENTS): {leaked}"
        )
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run("KILLED")
        mlflow.set_tracking_uri(None)


@pytest.fixture(params=["sqlite", "file"])
def tracking_store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _sqlite_template: Path
) -> Any:
    """A fresh tracking store per test, once as SQLite and once as a file store."""
    if request.param == "sqlite":
        shutil.copy(_sqlite_template, tmp_path / "mlflow.db")
        uri = f"sqlite:///{tmp_path}/mlflow.db"
    else:
        monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        uri = f"file:{tmp_path}/mlruns"
    yield from _use_store(uri, tmp_path, monkeypatch)


@pytest.fixture
def sqlite_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _sqlite_template: Path) -> Any:
    """A fresh SQLite tracking store (the fast default for most tests)."""
    shutil.copy(_sqlite_template, tmp_path / "mlflow.db")
    yield from _use_store(f"sqlite:///{tmp_path}/mlflow.db", tmp_path, monkeypatch)


@pytest.fixture(scope="session")
def _raw_frame_cached() -> pd.DataFrame:
    return pd.read_csv(RAW_CSV)


@pytest.fixture
def raw_frame(_raw_frame_cached: pd.DataFrame) -> pd.DataFrame:
    """data/raw/star_grade3.csv as pandas reads it (a fresh copy per test)."""
    return _raw_frame_cached.copy()


@pytest.fixture
def sample_frame(raw_frame: pd.DataFrame) -> pd.DataFrame:
    """A fixed 1,500-row sample: enough for every expectation, fast to train on."""
    return raw_frame.sample(SAMPLE_ROWS, random_state=0).reset_index(drop=True)


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[..., Path]:
    """write_csv(frame, name, **to_csv_kwargs) -> path of the CSV written into tmp_path."""

    def write(frame: pd.DataFrame, name: str = "data.csv", **kwargs: Any) -> Path:
        path = tmp_path / name
        frame.to_csv(path, index=False, **kwargs)
        return path

    return write


@pytest.fixture
def sample_csv(sample_frame: pd.DataFrame, write_csv: Callable[..., Path]) -> Path:
    return write_csv(sample_frame, "sample.csv")


SMALL_CANDIDATES: dict[str, Any] = {"dummy": {}, "linear": {}, "ridge": {"alpha": [1.0, 10.0]}}


@pytest.fixture
def make_recipe(tmp_path: Path) -> Callable[..., Path]:
    """make_recipe(candidates=..., gates=..., name=..., **top_level) -> a recipe YAML path."""

    def make(
        candidates: dict[str, Any] | None = None,
        gates: dict[str, Any] | None = None,
        name: str = "recipe.yaml",
        **extra: Any,
    ) -> Path:
        recipe = {
            "experiment": "test-small",
            "registered_model": "test-small",
            "split": {"test_size": 0.2, "random_state": 42, "group_by": None},
            "cv": {"folds": 3, "shuffle": True, "random_state": 42},
            "n_jobs": 1,
            "gates": {"min_cv_r2": 0.3, "baseline": "dummy", "min_improvement": 0.05, **(gates or {})},
            "candidates": SMALL_CANDIDATES if candidates is None else candidates,
            **extra,
        }
        path = tmp_path / name
        path.write_text(yaml.safe_dump(recipe, sort_keys=False))
        return path

    return make


@pytest.fixture
def small_recipe(make_recipe: Callable[..., Path]) -> Path:
    """dummy, linear, ridge (2 alphas); 3 folds, n_jobs 1, min_cv_r2 0.3, min_improvement 0.05."""
    return make_recipe()


@pytest.fixture
def schema_copy(tmp_path: Path) -> Callable[..., Path]:
    """schema_copy(name=..., suite=..., **role_changes) -> a modified data/schema.yaml copy.

    The copy's `suite:` is absolute (the repository suite unless `suite` is given), because a
    schema's suite path is resolved relative to the schema file itself.
    """

    def make(name: str = "schema.yaml", suite: Path | None = None, **changes: Any) -> Path:
        data = yaml.safe_load(SCHEMA.read_text())
        data.update(changes)
        data["suite"] = str(Path(suite or SUITE).resolve())
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    return make


@pytest.fixture
def all_runs() -> Callable[..., list[Any]]:
    """all_runs(filter_string="") -> every run in the current store, newest first."""

    def runs(filter_string: str = "") -> list[Any]:
        client = mlflow.MlflowClient()
        ids = [e.experiment_id for e in client.search_experiments()]
        if not ids:
            return []
        return client.search_runs(
            ids, filter_string=filter_string, order_by=["attributes.start_time DESC"], max_results=1000
        )

    return runs


@pytest.fixture
def artifact_paths() -> Callable[[str], set[str]]:
    """artifact_paths(run_id) -> every artifact file path of a run (recursively)."""

    def paths(run_id: str) -> set[str]:
        client = mlflow.MlflowClient()
        found: set[str] = set()
        pending = [""]
        while pending:
            for info in client.list_artifacts(run_id, pending.pop() or None):
                (pending.append if info.is_dir else found.add)(info.path)
        return found

    return paths
