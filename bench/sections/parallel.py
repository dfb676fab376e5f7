"""Section d: parallel efficiency, bench/bare.py with n_jobs 1 against the recipe's n_jobs, per candidate."""

from __future__ import annotations

from bench.overhead import parallel_speedup
from bench.report import Report, table


def section_parallel(report: Report, parallel: dict, serial: dict, workers: int, full: dict | None) -> dict:
    p, s = parallel["chosen"]["summary"], serial["chosen"]["summary"]
    rows = []
    for name, cp in p["candidates"].items():
        cs = s["candidates"][name]
        ours = full["search_by_candidate"].get(name) if full else None
        rows.append(
            [name, cp["fits"], ours, cp["wall_s"], cs["wall_s"], f"{cs['wall_s'] / cp['wall_s']:.2f}x"]
        )
    sp = parallel_speedup(
        s["search_s"], p["search_s"], serial["wall_s_median"], parallel["wall_s_median"], workers
    )
    speedup, wall_speedup = sp["search_speedup"], sp["wall_speedup"]
    ours_total = full["overhead"]["time_search_s"] if full else None
    rows.append(["all candidates", p["fits"], ours_total, p["search_s"], s["search_s"], f"{speedup:.2f}x"])
    report.print(
        table(
            ["candidate", "CV fits", "ours n_jobs=-1 s", "bare n_jobs=-1 s", "bare n_jobs=1 s", "speedup"],
            rows,
            f"d. Parallel efficiency: search wall with n_jobs 1 against n_jobs -1 (W={workers})",
        )
    )
    report.print(
        f"search speedup {speedup:.2f}x on {workers} workers = parallel efficiency "
        f"{100 * speedup / workers:.0f}%; whole-process speedup {wall_speedup:.2f}x "
        f"({serial['wall_s_median']:.1f} s -> {parallel['wall_s_median']:.1f} s)"
    )
    report.print()
    return {**sp, "serial_search_s": s["search_s"], "parallel_search_s": p["search_s"]}
