"""Start-up section: wall time of short commands, of `mlflow run` on an empty project (MLflow's own
share of every run's overhead), and the import cost of the training's libraries."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.constants import EMPTY_RUN_LABEL, PYTHON, ROOT, VENV_BIN
from bench.measure import check, run_measured
from bench.overhead import median
from bench.report import Report, table
from bench.store import fresh_store, tracking_env

STARTUP_COMMANDS = {
    "python -c pass (interpreter only)": ["-c", "pass"],
    "python -m trainer --help": ["-m", "trainer", "--help"],
    "python -m trainer explain --help": ["-m", "trainer", "explain", "--help"],
    "python -c 'import trainer.pipeline'": ["-c", "import trainer.pipeline"],
    "python -m bench.synthetic --help": ["-m", "bench.synthetic", "--help"],
}
TRAINING_IMPORTS = (
    "import trainer.pipeline, trainer.data.contract, trainer.search.candidate_search, trainer.registry.register, trainer.registry.promote, trainer.registry.audit, mlflow, mlflow.sklearn, "
    "great_expectations, sklearn.ensemble, sklearn.model_selection, xgboost, catboost, skops.io, "
    "matplotlib.pyplot"
)


def importtime_breakdown() -> tuple[float, list[tuple[str, float]]]:
    """Cumulative import seconds of the training's libraries (first importer gets the credit)."""
    proc = subprocess.run(
        [PYTHON, "-X", "importtime", "-c", TRAINING_IMPORTS], cwd=ROOT, capture_output=True, text=True
    )
    top: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2][1:]
        if name.startswith(" "):
            continue  # nested import: already inside its top-level importer's cumulative time
        package = name.strip().split(".")[0]
        top[package] = top.get(package, 0.0) + int(parts[1]) / 1e6
    ranked = sorted(top.items(), key=lambda kv: -kv[1])
    return sum(top.values()), ranked


EMPTY_PROJECT = "name: empty\nentry_points:\n  main:\n    command: python -c pass\n"


def empty_mlflow_runs(reps: int, out_dir: Path) -> list[float]:
    """Walls of `mlflow run --env-manager local` on a project whose command does nothing, into a
    fresh store: what `mlflow run` itself costs every training (its CLI's imports, the run it
    opens and closes, its interpreter's exit), a floor no trainer can go under."""
    walls = []
    with tempfile.TemporaryDirectory(prefix="bench-empty-") as tmp:
        folder = Path(tmp)
        (folder / "project").mkdir()
        (folder / "project" / "MLproject").write_text(EMPTY_PROJECT)
        uri, _ = fresh_store(folder, "empty")
        cmd = [str(VENV_BIN / "mlflow"), "run", str(folder / "project"), "--env-manager", "local"]
        cmd += ["--experiment-name", "empty"]
        for rep in range(reps):
            log = out_dir / f"empty_mlflow_run_{rep}.log"
            m = run_measured(cmd, log, env=tracking_env(uri), quiet=False)
            walls.append(check(m, EMPTY_RUN_LABEL).wall_s)
    return walls


def section_startup(report: Report, reps: int, out_dir: Path) -> dict[str, Any]:
    report.progress(f"start-up times ({reps} reps each)")
    rows, result = [], {}
    for label, args in STARTUP_COMMANDS.items():
        runs = [check(run_measured([PYTHON, *args], quiet=False), label) for _ in range(reps)]
        result[label] = {
            "wall_s_median": median([m.wall_s for m in runs]),
            "wall_s_all": [m.wall_s for m in runs],
            "maxrss_mib": max(m.maxrss_mib for m in runs),
        }
        rows.append(
            [label, result[label]["wall_s_median"], min(m.wall_s for m in runs), result[label]["maxrss_mib"]]
        )
    walls = empty_mlflow_runs(reps, out_dir)
    result[EMPTY_RUN_LABEL] = {"wall_s_median": median(walls), "wall_s_all": walls}
    rows.append([EMPTY_RUN_LABEL, median(walls), min(walls), ""])
    total, ranked = importtime_breakdown()
    report.print(table(["command", "median s", "min s", "peak RSS MiB"], rows, "Start-up and import time"))
    report.print()
    report.print(
        table(
            ["top-level import", "cumulative s", "% of total"],
            [[name, secs, f"{100 * secs / total:.1f}%"] for name, secs in ranked[:10]],
            f"Import cost of the training's libraries: {total:.2f} s in all (python -X importtime, one run)",
        )
    )
    report.print()
    return {"commands": result, "training_imports_s": total, "training_imports": dict(ranked)}
