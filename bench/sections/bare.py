"""Section b: bench/bare.py runs (plain scikit-learn, with and without the cache) against ours; wall ratio."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.constants import BENCH, PYTHON, TARGET_RATIO
from bench.measure import check, run_measured
from bench.overhead import bare_comparison, median_run
from bench.report import Report, fmt_pressure, table


def bare_once(recipe: Path, out_dir: Path, label: str, extra: list[str]) -> dict[str, Any]:
    json_path = out_dir / f"bare_{label}.json"
    cmd = [PYTHON, str(BENCH / "bare.py"), "--recipe", str(recipe), "--json", str(json_path), *extra]
    m = check(run_measured(cmd, out_dir / f"bare_{label}.log"), f"bench/bare.py {' '.join(extra)}")
    return {"process": asdict(m), "summary": json.loads(json_path.read_text())}


def bare_runs(report: Report, recipe: Path, out_dir: Path, reps: int, label: str, extra: list[str]) -> dict:
    runs = []
    for rep in range(reps):
        report.progress(f"bare scikit-learn ({label}) {rep + 1}/{reps}")
        runs.append(bare_once(recipe, out_dir, f"{label}_{rep}", extra))
    chosen = median_run(runs)
    return {"runs": runs, "wall_s_median": chosen["process"]["wall_s"], "chosen": chosen}


def _row(label: str, wall: float, search: float, proc: dict[str, Any]) -> list[Any]:
    cpu = proc["user_s"] + proc["sys_s"]
    return [label, wall, search, cpu, proc["maxrss_mib"], fmt_pressure(proc["others_cpu"])]


def section_bare(report: Report, full: dict[str, Any] | None, bare: dict, cached: dict | None) -> dict:
    b = bare["chosen"]
    rows = [
        _row(
            "bare scikit-learn (bench/bare.py)", bare["wall_s_median"], b["summary"]["search_s"], b["process"]
        )
    ]
    if cached:
        c = cached["chosen"]
        label = "bare + joblib.Memory cache (--cache)"
        rows.append(_row(label, cached["wall_s_median"], c["summary"]["search_s"], c["process"]))
    result: dict[str, Any] = {"bare_wall_s": bare["wall_s_median"], "bare_search_s": b["summary"]["search_s"]}
    if full:
        ours_search = full["overhead"]["time_search_s"]
        label = "ours: mlflow run . (contract, tracking, registry)"
        rows.insert(0, _row(label, full["wall_s_median"], ours_search, full["process"]))
        result.update(
            bare_comparison(
                full["wall_s_median"], ours_search, bare["wall_s_median"], b["summary"]["search_s"]
            )
        )
    report.print(
        table(
            ["", "wall s", "search s", "CPU s", "peak RSS MiB", "others' CPU"],
            rows,
            "b. Ours against a bare scikit-learn script (same recipe, split, folds, grids, Pipeline)",
        )
    )
    if full:
        verdict = "met" if result["ratio_wall"] <= TARGET_RATIO else "NOT met"
        report.print(
            f"wall ratio ours / bare = {result['ratio_wall']:.2f} (target <= {TARGET_RATIO}: {verdict}); "
            f"search-only ratio = {result['ratio_search']:.2f}; the framework adds "
            f"{result['framework_cost_s']:.1f} s"
        )
    report.print()
    return result
