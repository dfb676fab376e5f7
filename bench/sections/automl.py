"""Section g: FLAML AutoML (bench/automl.py) with the default run's wall as its budget, on our split and
folds, and the trainer's anytime run (`trainer train --time-budget`) at a third of that wall."""

from __future__ import annotations

import json
import subprocess
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.constants import BENCH, PYTHON, ROOT
from bench.measure import check, run_measured
from bench.overhead import anytime_row, automl_budgets, median_run
from bench.report import Report, fmt_pressure, table
from bench.sections.dask import train_once


def flaml_once(recipe: Path, budget_s: float, out_dir: Path) -> dict[str, Any]:
    """bench/automl.py in its own process: the process measured, FLAML's JSON summary."""
    json_path = out_dir / "automl.json"
    cmd = [PYTHON, str(BENCH / "automl.py"), "--recipe", str(recipe), "--time-budget", f"{budget_s:.1f}",
           "--json", str(json_path)]  # fmt: skip
    m = check(run_measured(cmd, out_dir / "automl.log"), "bench/automl.py (FLAML)")
    return {"process": asdict(m), "summary": json.loads(json_path.read_text())}


def flaml_installed() -> bool:
    """Whether the benchmark's interpreter imports FLAML (bench/requirements.txt; `make bench` installs it)."""
    return subprocess.run([PYTHON, "-c", "import flaml"], capture_output=True, check=False).returncode == 0


def cli_has_time_budget() -> bool:
    """Whether `trainer train` takes --time-budget (read from its --help, so this works before it lands)."""
    done = subprocess.run(
        [PYTHON, "-m", "trainer", "train", "--help"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return done.returncode == 0 and "--time-budget" in done.stdout


def _rows(
    full: dict[str, Any] | None, flaml: dict[str, Any], anytime: dict[str, Any] | None, budgets: dict
) -> list:
    s = flaml["summary"]
    rows = [
        ["FLAML AutoML (full budget)", budgets["automl_s"], flaml["process"]["wall_s"],
         f"{s['best_cv_r2']:.4f}", f"{s['test_r2']:.4f}", f"{s['best_estimator']} ({s['trials']} trials)",
         fmt_pressure(flaml["process"]["others_cpu"])],
    ]  # fmt: skip
    if full:
        m = median_run(full["runs"])["logged"]["metrics"]
        rows.append(
            ["trainer: default run (a.)", None, full["wall_s_median"], f"{full['best_cv_r2']:.4f}",
             f"{m.get('test_r2', float('nan')):.4f}", full["selected_candidate"],
             fmt_pressure(full["process"]["others_cpu"])]
        )  # fmt: skip
    label = f"trainer train --time-budget {budgets['anytime_arg']} (1/3 wall)"
    if anytime is None:
        rows.append([label, None, None, "not available", "-", "the CLI has no --time-budget", "-"])
    else:
        m = anytime["logged"]["metrics"]
        rows.append(
            [label, budgets["anytime_s"], anytime["process"]["wall_s"], f"{m['best_cv_r2']:.4f}",
             f"{m.get('test_r2', float('nan')):.4f}", anytime["logged"]["selected_candidate"],
             fmt_pressure(anytime["process"]["others_cpu"])]
        )  # fmt: skip
    return rows


def section_automl(
    report: Report, recipe: Path, out_dir: Path, default_wall: float, full: dict[str, Any] | None
) -> dict[str, Any] | None:
    """FLAML, then the anytime run; None (after saying why) when FLAML is not installed."""
    if not flaml_installed():
        report.print(
            f"g. AutoML skipped: {PYTHON} cannot import flaml (`make bench` installs bench/requirements.txt)"
        )
        report.print()
        return None
    budgets = automl_budgets(default_wall)
    report.progress(f"g. FLAML AutoML, time_budget {budgets['automl_s']:.1f} s")
    flaml = flaml_once(recipe, budgets["automl_s"], out_dir)
    anytime = None
    if cli_has_time_budget():
        report.progress(f"g. trainer train --time-budget {budgets['anytime_arg']} --no-register")
        anytime = train_once(recipe, out_dir, "anytime", ["--time-budget", budgets["anytime_arg"]])
    result: dict[str, Any] = {
        "budgets": budgets,
        "flaml": {**flaml["summary"], "process": flaml["process"]},
        "anytime": None
        if anytime is None
        else {**anytime, "best_cv_r2": anytime["logged"]["metrics"]["best_cv_r2"]},
    }
    report.print(
        table(
            ["", "budget s", "wall s", "best CV R2", "holdout R2", "model", "others' CPU"],
            _rows(full, flaml, anytime, budgets),
            "g. AutoML: FLAML on the same holdout split and CV folds, budget = a.'s wall (or --automl-budget)",
        )
    )
    row = anytime_row(result)
    report.print(f"{row[0]}: {row[1]} (target {row[2]}{': ' + row[3] if row[3] else ''})")
    report.print()
    return result
