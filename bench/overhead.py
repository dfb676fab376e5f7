"""Pure arithmetic of the benchmark: medians, the overhead model, phase accounting, ratios, target verdicts."""

from __future__ import annotations

import statistics
from itertools import pairwise
from typing import Any

from bench.constants import (
    ANYTIME_FRACTION,
    EMPTY_RUN_LABEL,
    TARGET_1M_GIB,
    TARGET_1M_SECONDS,
    TARGET_DEFAULT_CV_R2,
    TARGET_DEFAULT_WALL_S,
    TARGET_OVERHEAD,
    TARGET_RATIO,
)

# The 1M-rows target: contract + features + one HistGradientBoosting fit (stage keys of scale_worker).
ONE_FIT_STAGES = ("contract", "features_summarize", "fit_hist_gradient_boosting")
PHASE_LABELS = {
    "setup": "setup (recipe logged, run opened)",
    "contract": "contract (read CSV, GE suite, Data Docs, lineage)",
    "features": "features (split, one-hot fit, digest)",
    "leakage": "leakage detector (every feature alone and left out, 3-fold HistGB on <= 2,000 rows)",
    "search": "search (GridSearchCV, all candidates)",
    "logging": "logging (child + grid-point runs)",
    "select": "select (leaderboard, plot)",
    "refit + holdout": "refit + holdout",
    "registration": "registration (evaluation, model, version)",
}


def median(values: list[float]) -> float:
    """The median, NaN for no values."""
    return statistics.median(values) if values else float("nan")


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The repetition whose process wall time is the median (the lower middle one for even counts)."""
    ordered = sorted(runs, key=lambda r: r["process"]["wall_s"])
    return ordered[(len(ordered) - 1) // 2]


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, None when either is missing or zero."""
    return numerator / denominator if numerator and denominator else None


def overhead_model(wall: float, logged: dict[str, Any], workers: int) -> dict[str, float]:
    """The overhead formula of bench/run.py's docstring, term by term (seconds)."""
    m, t = logged["metrics"], logged["timings"]
    fit_wall = m["estimator_seconds"] / workers
    refit = t.get("refit + holdout", 0.0)
    fit_time = fit_wall + refit
    return {
        "workers": workers,
        "wall": wall,
        "estimator_seconds": m["estimator_seconds"],
        "time_search_s": m["time_search_s"],
        "utilisation": m["estimator_seconds"] / (m["time_search_s"] * workers),
        "fit_wall": fit_wall,
        "refit": refit,
        "fit_time": fit_time,
        "search_idle": m["time_search_s"] - fit_wall,
        "overhead": wall - fit_time,
        "overhead_fraction": (wall - fit_time) / wall,
        "outside_trainer": wall - m["time_total_s"],
    }


def full_phases(
    timings: dict[str, float], metrics: dict[str, float], model: dict[str, float], workers: int
) -> list[tuple[str, float]]:
    """(label, wall s) per phase of a full run, in run order, ending with what no phase accounts for."""
    phases = [("outside the trainer: mlflow run, interpreter, imports, exit", model["outside_trainer"])]
    seen_search = False
    for key, secs in timings.items():  # timings.json keeps the order the phases ran in
        if key == "total":
            continue
        if key.startswith("search: "):
            if not seen_search:
                seen_search = True
                phases.append((PHASE_LABELS["search"], metrics["time_search_s"]))
                phases.append((f"  of which fitting: estimator_seconds / W (W={workers})", model["fit_wall"]))
                phases.append(("  of which idle workers / dispatch", model["search_idle"]))
            continue
        phases.append((PHASE_LABELS.get(key, key), secs))
    accounted = (
        model["outside_trainer"]
        + sum(v for k, v in timings.items() if k != "total" and not k.startswith("search: "))
        + metrics["time_search_s"]
    )
    phases.append(("unaccounted (between phases)", model["wall"] - accounted))
    return phases


def bare_comparison(ours_wall: float, ours_search: float, bare_wall: float, bare_search: float) -> dict:
    """Ours against bare scikit-learn: wall and search-only ratios, and the seconds the framework adds."""
    return {
        "ratio_wall": ours_wall / bare_wall,
        "ratio_search": ours_search / bare_search,
        "framework_cost_s": ours_wall - bare_wall,
    }


def parallel_speedup(
    serial_search: float, parallel_search: float, serial_wall: float, parallel_wall: float, workers: int
) -> dict[str, float]:
    """Search speedup of W workers over one, its efficiency (speedup / W), and the whole-process speedup."""
    speedup = serial_search / parallel_search
    return {
        "search_speedup": speedup,
        "efficiency": speedup / workers,
        "wall_speedup": serial_wall / parallel_wall,
    }


def step_ratios(values: list[float | None]) -> list[float | None]:
    """Each value over the one before (10.0 = linear for a 10x size step); None where one is missing or 0."""
    return [ratio(b, a) for a, b in pairwise(values)]


def us_per_row(seconds: float | None, rows: int) -> float | None:
    """Microseconds per row, None when the seconds are missing or 0."""
    return 1e6 * seconds / rows if seconds else None


def one_fit_seconds(stage_s: dict[str, float]) -> float:
    """contract + features + one HistGradientBoosting fit (missing stages count 0)."""
    return sum(stage_s.get(k, 0.0) for k in ONE_FIT_STAGES)


def automl_budgets(default_wall: float) -> dict[str, Any]:
    """FLAML's time_budget (the default run's wall, s) and the trainer's anytime --time-budget (a third
    of it, whole seconds and at least 1, which an int or a float option both parse)."""
    return {
        "automl_s": default_wall,
        "anytime_s": default_wall * ANYTIME_FRACTION,
        "anytime_arg": str(max(1, round(default_wall * ANYTIME_FRACTION))),
    }


def anytime_row(automl: dict[str, Any]) -> list[str]:
    """The anytime target: the trainer's best CV R2 at a third of the wall against FLAML's at the full wall."""
    label = "anytime quality: trainer CV R2 at 1/3 wall"
    flaml = automl["flaml"]["best_cv_r2"]
    target = f">= {flaml:.4f} (FLAML CV R2 at full wall)"
    anytime = automl.get("anytime")
    if anytime is None:  # the trainer CLI has no --time-budget (yet)
        return [label, "not available", target, ""]
    ours = anytime["best_cv_r2"]
    return [label, f"{ours:.4f}", target, ok(ours >= flaml)]


def ok(flag: bool) -> str:
    return "met" if flag else "NOT met"


def _default_run_rows(full: dict[str, Any], quick: bool) -> list[list[str]]:
    rows = []
    if not quick:  # the wall and R2 targets are for the full default recipe
        wall, r2 = full["wall_s_median"], full["best_cv_r2"]
        rows.append(
            [
                "default run: mlflow run . wall",
                f"{wall:.0f} s",
                f"<= {TARGET_DEFAULT_WALL_S:.0f} s",
                ok(wall <= TARGET_DEFAULT_WALL_S),
            ]
        )
        rows.append(
            [
                "default run: best CV R2",
                f"{r2:.4f}",
                f">= {TARGET_DEFAULT_CV_R2:g}",
                ok(r2 >= TARGET_DEFAULT_CV_R2),
            ]
        )
    f = full["overhead"]["overhead_fraction"]
    rows.append(
        [
            "overhead outside estimator fits",
            f"{100 * f:.1f}%",
            f"<= {100 * TARGET_OVERHEAD:.0f}%",
            ok(f <= TARGET_OVERHEAD),
        ]
    )
    return rows


def floor_row(startup: dict[str, Any] | None, full: dict[str, Any] | None) -> list[list[str]]:
    """The share of the default run's wall that `mlflow run` of an empty project takes (no verdict:
    MLflow's own cost, inside the overhead)."""
    empty = (startup or {}).get("commands", {}).get(EMPTY_RUN_LABEL)
    if not empty or not full:
        return []
    secs = empty["wall_s_median"]
    return [
        [
            "  of it: mlflow run on an empty project",
            f"{secs:.1f} s = {100 * secs / full['wall_s_median']:.1f}%",
            "(MLflow's own)",
            "-",
        ]
    ]


def _scaling_rows(scaling: dict[str, Any], sizes: list[int]) -> list[list[str]]:
    big = str(max(sizes))
    if int(big) < 1_000_000:
        return []
    s = scaling[big]["stage_s"]
    secs = s[ONE_FIT_STAGES[0]] + s[ONE_FIT_STAGES[1]] + s[ONE_FIT_STAGES[2]]
    gib = scaling[big]["maxrss_mib"] / 1024
    return [
        [
            f"{int(big):,} rows: contract + features + HGB fit",
            f"{secs:.0f} s",
            f"<= {TARGET_1M_SECONDS:.0f} s",
            ok(secs <= TARGET_1M_SECONDS),
        ],
        [
            f"{int(big):,} rows: peak memory",
            f"{gib:.2f} GiB",
            f"<= {TARGET_1M_GIB:g} GiB",
            ok(gib <= TARGET_1M_GIB),
        ],
    ]


def target_rows(results: dict[str, Any], sizes: list[int]) -> list[list[str]]:
    """[target, measured, target, verdict] for every target the results can judge."""
    rows: list[list[str]] = []
    full, bare, scaling = results.get("full"), results.get("bare"), results.get("scaling")
    if full:
        rows += _default_run_rows(full, results["settings"]["quick"])
        rows += floor_row(results.get("startup"), full)
    if bare and "ratio_wall" in bare:
        r = bare["ratio_wall"]
        rows.append(
            ["wall ratio ours / bare scikit-learn", f"{r:.2f}", f"<= {TARGET_RATIO:g}", ok(r <= TARGET_RATIO)]
        )
    if scaling:
        rows += _scaling_rows(scaling, sizes)
    if results.get("automl"):
        rows.append(anytime_row(results["automl"]))
    par = results.get("parallel")
    if par:
        rows.append(
            ["parallel efficiency of the search", f"{100 * par['efficiency']:.0f}%", "(informative)", ""]
        )
    return rows
