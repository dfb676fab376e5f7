"""MLflow for the measured trainings: a fresh temp SQLite store, the child's environment, the parent run read back."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from bench.constants import VENV_BIN


def tracking_env(uri: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(
        {
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "MLFLOW_TRACKING_URI": uri,
            "GX_ANALYTICS_ENABLED": "false",
        }
    )
    return env


def read_parent_run(uri: str, experiment_id: str, workdir: Path) -> dict[str, Any]:
    """Metrics, timings.json and run counts of the run tagged trainer_command=train."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    parents = client.search_runs([experiment_id], "tags.trainer_command = 'train'", max_results=5)
    if len(parents) != 1:
        raise SystemExit(f"benchmark: expected one parent training run, found {len(parents)}")
    parent = parents[0]
    dest = workdir / f"artifacts-{parent.info.run_id}"
    dest.mkdir(parents=True, exist_ok=True)
    timings_path = client.download_artifacts(parent.info.run_id, "timings.json", str(dest))
    all_runs = client.search_runs([experiment_id], max_results=5000)
    return {
        "run_id": parent.info.run_id,
        "status": parent.info.status,
        "metrics": dict(parent.data.metrics),
        "selected_candidate": parent.data.tags.get("selected_candidate"),
        "registered_version": parent.data.tags.get("registered_version"),
        "timings": json.loads(Path(timings_path).read_text()),
        "runs_in_store": len(all_runs),
        "mlflow_run_duration_s": (parent.info.end_time - parent.info.start_time) / 1000,
    }


def fresh_store(folder: Path, experiment: str) -> tuple[str, str]:
    """A SQLite store in `folder` with the experiment created up front (URI, experiment id): the
    store's one-time schema migration is not part of a training, and artifacts stay in `folder`."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{folder / 'mlflow.db'}"
    (folder / "artifacts").mkdir()
    client = MlflowClient(tracking_uri=uri)
    return uri, client.create_experiment(experiment, artifact_location=(folder / "artifacts").as_uri())
