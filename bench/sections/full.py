"""Section a: the full default run (`mlflow run .`), its logged phases and the overhead outside estimator fits."""

from __future__ import annotations

import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml

from bench.constants import TARGET_OVERHEAD, VENV_BIN
from bench.measure import check, run_measured
from bench.overhead import full_phases, median_run, overhead_model
from bench.report import Report, fmt_pressure, table
from bench.store import fresh_store, read_parent_run, tracking_env


def full_run_once(recipe: Path, rep: int, out_dir: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        tmp_path = Path(tmp)
        # the recipe's experiment, made up front with its artifacts in the temp folder: the trainer
        # records there whatever experiment `mlflow run` starts in
        experiment = yaml.safe_load(recipe.read_text())["experiment"]
        uri, experiment_id = fresh_store(tmp_path, experiment)
        cmd = [
            str(VENV_BIN / "mlflow"), "run", ".", "--env-manager", "local",
            "--experiment-name", experiment, "-P", f"recipe={recipe}",
        ]  # fmt: skip
        m = check(run_measured(cmd, out_dir / f"full_run_{rep}.log", env=tracking_env(uri)), "mlflow run")
        logged = read_parent_run(uri, experiment_id, tmp_path)
    return {"process": asdict(m), "logged": logged}


def _print_phases(report: Report, phases: list, wall: float, reps: int, logged: dict[str, Any]) -> None:
    rows = [[name, secs, f"{100 * secs / wall:.1f}%"] for name, secs in phases]
    rows.append([f"process wall (median of {reps})" if reps > 1 else "process wall", wall, "100.0%"])
    report.print(
        table(
            ["phase", "wall s", "% of wall"],
            rows,
            f"a. Full default run: mlflow run . --env-manager local ({reps} run(s); "
            f"winner {logged['selected_candidate']}, {logged['runs_in_store']} MLflow runs logged)",
        )
    )


def _print_process(report: Report, proc: dict[str, Any]) -> None:
    report.print(
        f"CPU time {proc['user_s'] + proc['sys_s']:.1f} s (user {proc['user_s']:.1f} + sys {proc['sys_s']:.1f}) "
        f"= {(proc['user_s'] + proc['sys_s']) / proc['wall_s']:.2f} cores busy on average; "
        f"peak RSS of one process {proc['maxrss_mib']:.0f} MiB, of the process tree "
        f"{proc['tree_rss_peak_mib']:.0f} MiB; other work on the machine used "
        f"{fmt_pressure(proc['others_cpu'])} of its CPUs meanwhile (load {proc['load_before']:.2f} -> "
        f"{proc['load_after']:.2f})"
    )
    report.print()


def _print_overhead(report: Report, model: dict[str, float], workers: int) -> None:
    verdict = "met" if model["overhead_fraction"] <= TARGET_OVERHEAD else "NOT met"
    rows = [
        ["estimator_seconds", model["estimator_seconds"], "sum of (fit + score) s of every CV fit"],
        ["time_search_s", model["time_search_s"], "wall time of all GridSearchCV calls"],
        ["W", workers, "effective parallel workers (joblib)"],
        ["utilisation u", f"{model['utilisation']:.2f}", "estimator_seconds / (time_search_s * W)"],
        ["fit_wall", model["fit_wall"], "estimator_seconds / W = time_search_s * u"],
        ["+ refit", model["refit"], "the winner's refit (and holdout predict)"],
        ["= fit time", model["fit_time"], ""],
        ["overhead", model["overhead"], "process wall - fit time"],
        [
            "overhead fraction",
            f"{100 * model['overhead_fraction']:.1f}%",
            f"target <= {100 * TARGET_OVERHEAD:.0f}%: " + verdict,
        ],
    ]
    report.print(table(["term", "seconds", "note"], rows, "Overhead (time not spent inside estimator fits)"))
    report.print()


def section_full(report: Report, recipe: Path, reps: int, out_dir: Path, workers: int) -> dict[str, Any]:
    runs = []
    for rep in range(reps):
        report.progress(f"a. full run {rep + 1}/{reps}: mlflow run . --env-manager local")
        runs.append(full_run_once(recipe, rep, out_dir))
    best = median_run(runs)
    proc, logged = best["process"], best["logged"]
    model = overhead_model(proc["wall_s"], logged, workers)
    t, m = logged["timings"], logged["metrics"]
    search_phases = {k.removeprefix("search: "): v for k, v in t.items() if k.startswith("search: ")}
    phases = full_phases(t, m, model, workers)
    _print_phases(report, phases, model["wall"], reps, logged)
    _print_process(report, proc)
    _print_overhead(report, model, workers)
    return {
        "runs": runs,
        "process": proc,
        "wall_s_median": model["wall"],
        "best_cv_r2": m["best_cv_r2"],
        "selected_candidate": logged["selected_candidate"],
        "overhead": model,
        "phases": dict(phases),
        "search_by_candidate": search_phases,
    }
