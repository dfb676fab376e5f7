"""Section f: `python -m trainer train --no-register` on local processes against a 2-worker Dask LocalCluster."""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any
from unittest import mock

import yaml

from bench.constants import PYTHON
from bench.measure import check, run_measured
from bench.report import Report, fmt_pressure, table
from bench.store import fresh_store, read_parent_run, tracking_env


def train_once(recipe: Path, out_dir: Path, label: str, extra: list[str]) -> dict[str, Any]:
    """`python -m trainer train --no-register` into a fresh SQLite store; process and logged numbers."""
    experiment = yaml.safe_load(recipe.read_text())["experiment"]
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        tmp_path = Path(tmp)
        uri, experiment_id = fresh_store(tmp_path, experiment)
        cmd = [PYTHON, "-m", "trainer", "train", "--recipe", str(recipe), "--no-register", *extra]
        m = check(
            run_measured(cmd, out_dir / f"train_{label}.log", env=tracking_env(uri)), f"train ({label})"
        )
        logged = read_parent_run(uri, experiment_id, tmp_path)
    return {"process": asdict(m), "logged": logged}


def _on_cluster(recipe: Path, out_dir: Path) -> tuple[dict[str, Any], float]:
    """The training on an in-process 2-worker LocalCluster, and the cluster's start-up seconds."""
    from distributed import LocalCluster

    started = time.perf_counter()
    # LocalCluster sets OMP_NUM_THREADS=1 in this process's environment for its workers and leaves it
    # there: restore it, or every later measurement's subprocess would run OpenMP single-threaded
    with (
        mock.patch.dict(os.environ),
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
    ):
        cluster_start_s = time.perf_counter() - started
        dask = train_once(recipe, out_dir, "dask", ["--dask-scheduler", cluster.scheduler_address])
    return dask, cluster_start_s


def section_dask(report: Report, recipe: Path, out_dir: Path) -> dict[str, Any]:
    import distributed  # noqa: F401 - fail before the local run when Dask is missing

    report.progress("f. local processes, then a 2-worker LocalCluster")
    local = train_once(recipe, out_dir, "local", [])
    dask, cluster_start_s = _on_cluster(recipe, out_dir)
    rows = []
    for name, r in (("local processes (n_jobs -1)", local), ("LocalCluster, 2 workers x 1 thread", dask)):
        m = r["logged"]["metrics"]
        rows.append(
            [name, r["process"]["wall_s"], m["time_search_s"], f"{m['best_cv_r2']:.6f}",
             r["logged"]["selected_candidate"], fmt_pressure(r["process"]["others_cpu"])]
        )  # fmt: skip
    report.print(
        table(
            ["", "wall s", "search s", "best CV R2", "selected", "others' CPU"],
            rows,
            "f. Dask: the same training on local processes and on a 2-worker LocalCluster",
        )
    )
    same = local["logged"]["metrics"]["best_cv_r2"] == dask["logged"]["metrics"]["best_cv_r2"]
    report.print(
        f"cluster start {cluster_start_s:.1f} s (not in the wall above); wall ratio dask / local "
        f"{dask['process']['wall_s'] / local['process']['wall_s']:.2f}; same best CV R2: {same}; the "
        "cluster's workers are not the trainer's children, so their CPU shows as others'"
    )
    report.print()
    return {"local": local, "dask": dask, "cluster_start_s": cluster_start_s, "same_best_cv_r2": same}
