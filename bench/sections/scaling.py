"""Section c: scaling on synthetic data (bench.synthetic + bench/scale_worker.py per size and repetition)."""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import asdict
from itertools import pairwise
from pathlib import Path
from typing import Any

from bench.constants import BENCH, PYTHON
from bench.measure import Measured, check, run_measured
from bench.overhead import median, one_fit_seconds, step_ratios, us_per_row
from bench.report import Report, fmt_pressure, table

STAGES = (
    ("contract", "contract"),
    ("features_fit_transform", "features: one-hot fit_transform"),
    ("features_summarize", "features: summarize (+ sha256)"),
    ("fit_hist_gradient_boosting", "fit: hist_gradient_boosting (OpenMP)"),
    ("fit_hist_gradient_boosting_1thread", "fit: hist_gradient_boosting (1 thread)"),
    ("fit_xgboost", "fit: xgboost (n_jobs=1)"),
)
CONTRACT_STEPS = ("read_csv", "_text_as_object", "run_suite", "render_data_docs", "file_digest")


def _generate(report: Report, size: int, csv: Path, out_dir: Path) -> Measured:
    report.progress(f"c. scaling: generating {size:,} rows")
    return check(
        run_measured(
            [PYTHON, "-m", "bench.synthetic", "--rows", str(size), "--out", str(csv)],
            out_dir / f"synthetic_{size}.log",
            quiet=False,
        ),
        "python -m bench.synthetic",
    )


def _worker_runs(report: Report, recipe: Path, size: int, csv: Path, n: int, out_dir: Path) -> list[dict]:
    runs = []
    for rep in range(n):
        report.progress(f"c. scaling: {size:,} rows, run {rep + 1}/{n}")
        json_path = out_dir / f"scale_{size}_{rep}.json"
        cmd = [PYTHON, str(BENCH / "scale_worker.py"), "--data", str(csv), "--recipe", str(recipe)]
        m = check(
            run_measured([*cmd, "--json", str(json_path)], out_dir / f"scale_{size}_{rep}.log"),
            f"scale worker ({size} rows)",
        )
        data = json.loads(json_path.read_text())
        if not data["contract_success"]:
            raise SystemExit(
                f"benchmark: synthetic {size} rows failed the contract: {data['contract_summary']}"
            )
        runs.append({"process": asdict(m), "worker": data})
    return runs


def _summary(size: int, csv: Path, gen: Measured, runs: list[dict]) -> dict[str, Any]:
    match = re.search(r"generate ([\d.]+) s, write ([\d.]+) s", Path(gen.log).read_text())
    return {
        "rows": size,
        "csv_mib": csv.stat().st_size / 1024**2,
        "generate_s": float(match.group(1)) if match else None,
        "write_csv_s": float(match.group(2)) if match else None,
        "runs": runs,
        "stage_s": {
            key: median([r["worker"]["stages"][key] for r in runs])
            for key, _ in STAGES
            if key in runs[0]["worker"]["stages"]
        },
        "contract_steps_s": {
            key: median([r["worker"]["contract_steps"].get(key, 0.0) for r in runs]) for key in CONTRACT_STEPS
        },
        "import_s": median([r["worker"]["import_s"] for r in runs]),
        "maxrss_mib": max(r["process"]["maxrss_mib"] for r in runs),
        "maxrss_by_stage_mib": runs[0]["worker"]["maxrss_mib"],
        "others_cpu": max((r["process"]["others_cpu"] or 0.0) for r in runs),
        "reps": len(runs),
        "openmp_threads": runs[0]["worker"].get("openmp_threads"),
    }


def section_scaling(
    report: Report, recipe: Path, sizes: list[int], reps: int, large_reps: int, out_dir: Path
) -> dict[str, Any]:
    results: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-synthetic-") as tmp:
        for size in sizes:
            csv = Path(tmp) / f"synthetic_{size}.csv"
            gen = _generate(report, size, csv, out_dir)
            n = reps if size < 1_000_000 else large_reps
            runs = _worker_runs(report, recipe, size, csv, n, out_dir)
            results[size] = _summary(size, csv, gen, runs)
    print_scaling(report, results, sizes)
    return {str(k): v for k, v in results.items()}


def short(rows: int) -> str:
    """10000 -> "10k", 1000000 -> "1M"."""
    for unit, div in (("M", 1_000_000), ("k", 1_000)):
        if rows >= div and rows % (div // 10) == 0:
            return f"{rows / div:g}{unit}"
    return str(rows)


def _ratio_cells(values: list[float | None]) -> list[str]:
    return [f"{r:.1f}x" if r is not None else "-" for r in step_ratios(values)]


def _stage_rows(results: dict[int, dict[str, Any]], sizes: list[int]) -> list[list[Any]]:
    def row(label: str, values: list[float | None]) -> list[Any]:
        return [label, *values, *_ratio_cells(values), us_per_row(values[-1], sizes[-1])]

    rows = [row("generate (bench.synthetic)", [results[s]["generate_s"] for s in sizes])]
    rows.append(row("write CSV", [results[s]["write_csv_s"] for s in sizes]))
    for key, label in STAGES:
        if key in results[sizes[0]]["stage_s"]:
            rows.append(row(label, [results[s]["stage_s"][key] for s in sizes]))
            if key == "contract":
                for step in CONTRACT_STEPS:
                    rows.append(row(f"  {step}", [results[s]["contract_steps_s"][step] for s in sizes]))
    rows.append(row("contract + features + HGB fit", [one_fit_seconds(results[s]["stage_s"]) for s in sizes]))
    mem = [results[s]["maxrss_mib"] for s in sizes]
    rows.append(["peak RSS MiB (worker)", *mem, *_ratio_cells(mem), None])
    rows.append(["CSV size MiB", *(results[s]["csv_mib"] for s in sizes), *([""] * (len(sizes) - 1)), None])
    return rows


def print_scaling(report: Report, results: dict[int, dict[str, Any]], sizes: list[int]) -> None:
    headers = ["stage", *(f"{s:,} rows" for s in sizes)]
    headers += [f"{short(b)}/{short(a)}" for a, b in pairwise(sizes)]
    headers.append(f"us/row @{sizes[-1]:,}")
    reps = ", ".join(f"{s:,}: {results[s]['reps']}" for s in sizes)
    report.print(
        table(
            headers,
            _stage_rows(results, sizes),
            f"c. Scaling on synthetic data: seconds (median of reps: {reps}); ratio columns: 10.0x = linear",
        )
    )
    threads = results[sizes[0]].get("openmp_threads")
    report.print(
        f"HGB uses OpenMP ({threads} threads); XGBoost as catalogued (n_jobs=1). Libraries are imported "
        f"before the clocks start (import {results[sizes[0]]['import_s']:.1f} s). Peak RSS by stage at "
        f"{sizes[-1]:,} rows: "
        + ", ".join(f"{k} {v:.0f}" for k, v in results[sizes[-1]]["maxrss_by_stage_mib"].items())
        + f" MiB; other work used at most {fmt_pressure(max(results[s]['others_cpu'] for s in sizes))} of the CPUs"
    )
    report.print()
