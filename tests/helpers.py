"""Plain helpers for every test module (the fixtures built on them live in conftest.py).

One recipe writer (`write_recipe`) and one store helper (`init_store`): every store is a SQLite
file (or a file store) under a temporary directory whose experiments are created up front with
their artifacts beside it, so nothing is ever written into the project (`mlruns/`, `mlflow.db`)
or into `data/raw/`. Trainer subprocesses: `run_trainer`, `start_trainer`, `wait_for`, `reap`.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
RAW_CSV = ROOT / "data" / "raw" / "star_grade3.csv"
SCHEMA = ROOT / "data" / "schema.yaml"
SUITE = ROOT / "expectations" / "star_grade3.json"
DEFAULT_RECIPE = ROOT / "train.yaml"
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable

SMALL_CANDIDATES: dict[str, Any] = {"dummy": {}, "linear": {}, "ridge": {"alpha": [1.0]}}
# Experiments the in-process tests record into (conftest's stores create them up front): a SQLite
# store's default artifact root is `./mlruns` of the working directory, which is the project root.
EXPERIMENTS = ("student-math-score", "test-small", "test", "registry-test")


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def raw_frame() -> pd.DataFrame:
    """data/raw/star_grade3.csv as pandas reads it (read-only access to data/raw/)."""
    return pd.read_csv(RAW_CSV)


def raw_sample(rows: int, seed: int = 0) -> pd.DataFrame:
    """A fixed sample of the real data (read-only access to data/raw/)."""
    return raw_frame().sample(rows, random_state=seed).reset_index(drop=True)


def write_recipe(
    path: Path,
    experiment: str = "test-small",
    model: str = "test-small",
    candidates: dict[str, Any] | None = None,
    folds: int = 3,
    gates: dict[str, Any] | None = None,
    **extra: Any,
) -> Path:
    """The one recipe writer. Default: dummy, linear, ridge(alpha 1); n_jobs 1; 3 folds; gates 0.3 / 0.05.

    `extra` adds or replaces top-level sections (`n_jobs=2`, `search={...}`, `cv={...}`).
    """
    recipe = {
        "experiment": experiment,
        "registered_model": model,
        "data": str(RAW_CSV),
        "schema": str(SCHEMA),
        "split": {"test_size": 0.2, "random_state": 42, "group_by": None},
        "cv": {"folds": folds, "shuffle": True, "random_state": 42},
        "n_jobs": 1,
        "gates": {"min_cv_r2": 0.3, "baseline": "dummy", "min_improvement": 0.05, **(gates or {})},
        "promotion": {"tolerance": 0.0},
        "candidates": SMALL_CANDIDATES if candidates is None else candidates,
    }
    recipe.update(extra)
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def sqlite_uri(db: Path) -> str:
    return f"sqlite:///{db}"


def init_store(
    path: Path, experiments: Iterable[str] = EXPERIMENTS, template: Path | None = None, kind: str = "sqlite"
) -> str:
    """The one store helper: a tracking store at `path`, its experiments created up front with
    their artifacts beside it (`path.parent/artifacts/NAME`); returns its URI.

    kind "sqlite": `path` is the database file, copied from `template` (an already migrated or
    already trained database) when given; kind "file": `path` is a file-store folder.
    """
    if kind == "file":
        uri = f"file:{path}"
    else:
        if template is not None:
            shutil.copy(template, path)
        uri = sqlite_uri(path)
    client = mlflow.MlflowClient(tracking_uri=uri)
    for name in experiments:
        if client.get_experiment_by_name(name) is None:
            client.create_experiment(name, artifact_location=(path.parent / "artifacts" / name).as_uri())
    return uri


def subprocess_env(uri: str | None = None, **extra: str) -> dict[str, str]:
    """The environment for `python -m trainer`: the venv first on PATH, the checkout importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT)
    env["PYTHONUNBUFFERED"] = "1"
    env["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    env["GX_ANALYTICS_ENABLED"] = "false"
    if uri is not None:
        env["MLFLOW_TRACKING_URI"] = uri
    env.update(extra)
    return env


def trainer_cmd(*args: str) -> list[str]:
    return [PYTHON, "-m", "trainer", *args]


def run_trainer(
    args: list[str], uri: str | None, timeout: float = 300, cwd: Path = ROOT, **env: str
) -> subprocess.CompletedProcess[str]:
    """`python -m trainer ARGS` to completion; stdout/stderr captured as text."""
    return subprocess.run(
        trainer_cmd(*args),
        cwd=cwd,
        env=subprocess_env(uri, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


STARTED: list[subprocess.Popen] = []


def start(
    cmd: list[str], uri: str | None, stderr: Path, cwd: Path = ROOT, ignore_sigint: bool = False, **env: str
) -> subprocess.Popen:
    """A command in the background, its stderr streamed into a file (the child keeps the fd).

    ignore_sigint: start it as a background job of a non-interactive shell would be, SIGINT
    ignored (SIG_IGN is inherited across exec).
    """
    preexec = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint else None
    with open(stderr, "w") as fh:
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=subprocess_env(uri, **env),
            stdout=subprocess.DEVNULL,
            stderr=fh,
            preexec_fn=preexec,
        )
    STARTED.append(proc)
    return proc


def reap() -> None:
    """Kill (by pid) any child this module started that a failed test left running."""
    while STARTED:
        proc = STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)


def start_trainer(
    args: list[str], uri: str | None, stderr: Path, cwd: Path = ROOT, ignore_sigint: bool = False, **env: str
) -> Any:
    """`python -m trainer ARGS` in the background, its stderr streamed into a file."""
    return start(trainer_cmd(*args), uri, stderr, cwd, ignore_sigint, **env)


def wait_for(predicate: Any, timeout: float, interval: float = 0.1, what: str = "condition") -> Any:
    """Poll until `predicate()` is truthy; return its value or fail with `what`.

    The timeout is a hang guard only (generous): what a test waits for is the event itself.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def train_runs(client: Any, experiment: str) -> list[Any]:
    """Every parent `train` run of one experiment, newest first."""
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return []
    return client.search_runs(
        [exp.experiment_id],
        "tags.trainer_command = 'train'",
        order_by=["attributes.start_time DESC"],
        max_results=1000,
    )


def versions(client: Any, model: str) -> list[Any]:
    """Every version of a registered model, oldest first (empty if it does not exist)."""
    found = client.search_model_versions(f"name='{model}'")
    return sorted(found, key=lambda v: int(v.version))


def alias_version(client: Any, model: str, alias: str = "champion") -> str | None:
    try:
        return str(client.get_model_version_by_alias(model, alias).version)
    except Exception:  # noqa: BLE001 - no such alias / model
        return None


@contextmanager
def using_store(uri: str) -> Iterator[mlflow.MlflowClient]:
    """Point this process (env and mlflow's global URI) at a store, for in-process trainings."""
    import pytest

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        for var in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
            mp.delenv(var, raising=False)
        mlflow.set_tracking_uri(uri)
        try:
            yield mlflow.MlflowClient()
        finally:
            while mlflow.active_run() is not None:
                mlflow.end_run("KILLED")
            mlflow.set_tracking_uri(None)


TRAINER_LINE = re.compile(r"^\d\d:\d\d:\d\d (ERROR|WARNING|INFO) +(.*)$", re.MULTILINE)


def trainer_lines(stderr: str, level: str = "ERROR") -> list[str]:
    """The trainer's own log lines of one level (its format: `HH:MM:SS LEVEL   message`)."""
    return [m.group(2) for m in TRAINER_LINE.finditer(stderr) if m.group(1) == level]


def free_ports(count: int) -> list[int]:
    """`count` distinct ports free on 127.0.0.1 (each held until all are found, so none repeats)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def serving_python(requirements: Path, shared: Path) -> Path:
    """The interpreter of a fresh venv holding exactly `requirements` (a model's requirements.txt),
    built once per test run for identical files: `shared` is seen by every xdist worker, and a file
    lock makes a second worker wait for the first's build instead of repeating it (about 40 s)."""
    venv = shared / f"serve-venv-{sha256(requirements)[:16]}"
    with open(f"{venv}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / ".complete").exists():
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
            python = str(venv / "bin" / "python")
            # uv, as `make venv` fills the project's venv (pip took about 40 s here); it does not
            # byte-compile, which was a quarter of pip's install
            install = [sys.executable, "-m", "uv", "pip", "install", "-q", "--python", python]
            subprocess.run([*install, "-r", str(requirements)], check=True)
            (venv / ".complete").touch()
    return venv / "bin" / "python"
