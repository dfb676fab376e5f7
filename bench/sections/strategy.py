"""Section e: bench/strategy.py, grid against two-stage and halving search on wider grids
(best CV R2, points, wall and CPU seconds)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.constants import BENCH, PYTHON
from bench.measure import check, run_measured
from bench.report import Report, fmt_pressure, table


def _rows(result: dict[str, Any]) -> list[list[Any]]:
    """One row per candidate and strategy; the other strategies against the grid's R2 and wall."""
    rows = []
    for name, by in result.items():
        g = by["grid"]
        rows.append([name, "grid", g["points"], f"{g['cv_r2']:.4f}", g["wall_s"], g.get("cpu_s", ""), "", ""])
        for strategy, t in by.items():
            if strategy != "grid":
                rows.append(
                    [name, strategy, t["points"], f"{t['cv_r2']:.4f}", t["wall_s"], t.get("cpu_s", ""),
                     f"{t['cv_r2'] - g['cv_r2']:+.4f}", f"{g['wall_s'] / t['wall_s']:.2f}x"]
                )  # fmt: skip
    return rows


def section_strategy(report: Report, recipe: Path, out_dir: Path) -> dict[str, Any]:
    json_path = out_dir / "strategy.json"
    cmd = [PYTHON, str(BENCH / "strategy.py"), "--recipe", str(recipe), "--json", str(json_path)]
    report.progress("grid against two-stage and halving search on wider grids")
    m = check(run_measured(cmd, out_dir / "strategy.log"), "bench/strategy.py")
    result = json.loads(json_path.read_text())
    report.print(
        table(
            ["candidate", "strategy", "points", "best CV R2", "wall s", "CPU s", "R2 vs grid", "speedup"],
            _rows(result),
            "e. Grid against two-stage and halving search (wider grids, 4 values per parameter; bench/strategy.py)",
        )
    )
    report.print(f"others' CPU meanwhile {fmt_pressure(m.others_cpu)}")
    report.print()
    return {"candidates": result, "process": asdict(m)}
