"""The benchmark's arithmetic (bench/overhead.py) on small hand-computed cases: no subprocess, no store."""

from __future__ import annotations

import math

import pytest

from bench.constants import EMPTY_RUN_LABEL
from bench.overhead import (
    anytime_row,
    automl_budgets,
    bare_comparison,
    full_phases,
    median,
    median_run,
    ok,
    one_fit_seconds,
    overhead_model,
    parallel_speedup,
    ratio,
    step_ratios,
    target_rows,
    us_per_row,
)


def logged(refit: float | None = 2.0, **metrics: float) -> dict:
    """A parent run as read back: 24 s of fits on 2 workers inside a 15 s search, 36 s in the trainer."""
    timings = {"setup": 1.0, "contract": 2.0, "search: ridge": 3.0, "search: xgboost": 4.0}
    if refit is not None:
        timings["refit + holdout"] = refit
    timings["total"] = 36.0
    base = {"estimator_seconds": 24.0, "time_search_s": 15.0, "time_total_s": 36.0}
    return {"metrics": {**base, **metrics}, "timings": timings}


def test_overhead_model_term_by_term() -> None:
    model = overhead_model(40.0, logged(), workers=2)
    assert model == pytest.approx(
        {
            "workers": 2,
            "wall": 40.0,
            "estimator_seconds": 24.0,
            "time_search_s": 15.0,
            "utilisation": 0.8,  # 24 / (15 * 2)
            "fit_wall": 12.0,  # 24 / 2
            "refit": 2.0,
            "fit_time": 14.0,  # 12 + 2
            "search_idle": 3.0,  # 15 - 12
            "overhead": 26.0,  # 40 - 14
            "overhead_fraction": 0.65,  # 26 / 40
            "outside_trainer": 4.0,  # 40 - 36
        }
    )


def test_overhead_without_a_refit_and_on_one_worker() -> None:
    model = overhead_model(30.0, logged(refit=None), workers=1)
    assert model["refit"] == 0.0
    assert model["fit_wall"] == model["fit_time"] == 24.0
    assert model["utilisation"] == pytest.approx(1.6)  # 24 s of fits in a 15 s search on 1 worker
    assert model["search_idle"] == pytest.approx(-9.0)
    assert model["overhead"] == pytest.approx(6.0)
    assert model["overhead_fraction"] == pytest.approx(0.2)


def test_overhead_is_zero_when_the_wall_is_all_fitting() -> None:
    model = overhead_model(14.0, logged(), workers=2)
    assert model["overhead"] == 0.0 and model["overhead_fraction"] == 0.0


def test_full_phases_in_run_order_with_the_search_split_and_the_rest_unaccounted() -> None:
    data = logged()
    data["timings"]["custom phase"] = 0.5
    model = overhead_model(40.0, data, workers=2)
    phases = full_phases(data["timings"], data["metrics"], model, workers=2)
    assert [name for name, _ in phases] == [
        "outside the trainer: mlflow run, interpreter, imports, exit",
        "setup (recipe logged, run opened)",
        "contract (read CSV, GE suite, Data Docs, lineage)",
        "search (GridSearchCV, all candidates)",
        "  of which fitting: estimator_seconds / W (W=2)",
        "  of which idle workers / dispatch",
        "refit + holdout",
        "custom phase",
        "unaccounted (between phases)",
    ]
    # the search is the logged metric (15 s), not the sum of the per-candidate timings (7 s);
    # unaccounted = 40 - (4 outside + 1 + 2 + 2 + 0.5 + 15 search) = 15.5
    assert [secs for _, secs in phases] == pytest.approx([4.0, 1.0, 2.0, 15.0, 12.0, 3.0, 2.0, 0.5, 15.5])


def test_bare_comparison() -> None:
    assert bare_comparison(60.0, 30.0, 50.0, 25.0) == pytest.approx(
        {"ratio_wall": 1.2, "ratio_search": 1.2, "framework_cost_s": 10.0}
    )


def test_parallel_speedup_and_efficiency() -> None:
    assert parallel_speedup(19.0, 10.0, 30.0, 20.0, workers=2) == pytest.approx(
        {"search_speedup": 1.9, "efficiency": 0.95, "wall_speedup": 1.5}
    )


def test_ratios_between_sizes() -> None:
    assert step_ratios([1.0, 10.0, 120.0]) == pytest.approx([10.0, 12.0])
    assert step_ratios([None, 2.0, 0.0, 5.0]) == [None, None, None]
    assert step_ratios([3.0]) == []
    assert ratio(6.0, 3.0) == 2.0 and ratio(6.0, 0.0) is None and ratio(None, 3.0) is None


def test_microseconds_per_row() -> None:
    assert us_per_row(2.0, 1_000_000) == pytest.approx(2.0)
    assert us_per_row(0.5, 10_000) == pytest.approx(50.0)
    assert us_per_row(None, 10_000) is None and us_per_row(0.0, 10_000) is None


def test_one_fit_is_contract_features_and_the_hgb_fit() -> None:
    stages = {
        "contract": 1.0,
        "features_summarize": 2.0,
        "fit_hist_gradient_boosting": 3.0,
        "fit_xgboost": 99.0,
    }
    assert one_fit_seconds(stages) == 6.0
    assert one_fit_seconds({"contract": 1.5}) == 1.5


def test_medians() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 2.0, 3.0]) == 2.5
    assert math.isnan(median([]))
    runs = [{"process": {"wall_s": w}, "id": i} for i, w in enumerate([9.0, 5.0, 7.0, 6.0])]
    assert median_run(runs)["id"] == 3  # walls 5, 6, 7, 9: the lower middle one
    assert median_run(runs[:3])["id"] == 2  # walls 5, 7, 9


def test_verdict() -> None:
    assert ok(True) == "met" and ok(False) == "NOT met"


def results(
    quick: bool = False, fraction: float = 0.08, bare_ratio: float = 1.25, anytime: float = 0.56
) -> dict:
    million = {
        "stage_s": {"contract": 200.0, "features_summarize": 100.0, "fit_hist_gradient_boosting": 200.0}
    }
    return {
        "settings": {"quick": quick},
        "full": {"wall_s_median": 100.0, "best_cv_r2": 0.57, "overhead": {"overhead_fraction": fraction}},
        "bare": {"ratio_wall": bare_ratio},
        "scaling": {"1000000": {**million, "maxrss_mib": 9216.0}},
        "parallel": {"efficiency": 0.9},
        "automl": {"flaml": {"best_cv_r2": 0.555}, "anytime": {"best_cv_r2": anytime}},
    }


def test_target_rows_with_every_section() -> None:
    assert target_rows(results(), [10_000, 1_000_000]) == [
        ["default run: mlflow run . wall", "100 s", "<= 120 s", "met"],
        ["default run: best CV R2", "0.5700", ">= 0.5644", "met"],
        ["overhead outside estimator fits", "8.0%", "<= 15%", "met"],
        ["wall ratio ours / bare scikit-learn", "1.25", "<= 0.8", "NOT met"],
        ["1,000,000 rows: contract + features + HGB fit", "500 s", "<= 180 s", "NOT met"],
        ["1,000,000 rows: peak memory", "9.00 GiB", "<= 8 GiB", "NOT met"],
        [
            "anytime quality: trainer CV R2 at 1/3 wall",
            "0.5600",
            ">= 0.5550 (FLAML CV R2 at full wall)",
            "met",
        ],
        ["parallel efficiency of the search", "90%", "(informative)", ""],
    ]


def test_targets_on_the_boundary_are_met() -> None:
    rows = target_rows(results(fraction=0.15, bare_ratio=0.8, anytime=0.555), [1_000_000])
    assert ["overhead outside estimator fits", "15.0%", "<= 15%", "met"] in rows
    assert ["wall ratio ours / bare scikit-learn", "0.80", "<= 0.8", "met"] in rows
    assert ["default run: best CV R2", "0.5700", ">= 0.5644", "met"] in target_rows(results(), [10_000])
    data = results()
    data["full"]["best_cv_r2"] = 0.5643
    assert ["default run: best CV R2", "0.5643", ">= 0.5644", "NOT met"] in target_rows(data, [10_000])
    assert anytime_row(results(anytime=0.555)["automl"])[3] == "met"  # equal CV R2 meets it


def test_quick_runs_and_small_sizes_judge_fewer_targets() -> None:
    data = results(quick=True)
    data["scaling"] = {"20000": {"stage_s": {}, "maxrss_mib": 500.0}}
    names = [row[0] for row in target_rows(data, [2_000, 20_000])]
    assert names == [
        "overhead outside estimator fits",
        "wall ratio ours / bare scikit-learn",
        "anytime quality: trainer CV R2 at 1/3 wall",
        "parallel efficiency of the search",
    ]


def test_no_results_no_targets() -> None:
    assert target_rows({"settings": {"quick": False}}, [10_000]) == []


def test_a_missing_1m_stage_is_an_error_not_a_met_target() -> None:
    data = results()
    del data["scaling"]["1000000"]["stage_s"]["fit_hist_gradient_boosting"]
    with pytest.raises(KeyError):
        target_rows(data, [1_000_000])


def test_automl_budgets_give_flaml_the_wall_and_the_trainer_a_third() -> None:
    assert automl_budgets(90.0) == pytest.approx({"automl_s": 90.0, "anytime_s": 30.0, "anytime_arg": "30"})
    assert automl_budgets(100.0)["anytime_s"] == pytest.approx(33.333, abs=1e-3)
    assert automl_budgets(100.0)["anytime_arg"] == "33"  # whole seconds: an int or float option parses it
    assert automl_budgets(2.0)["anytime_arg"] == "1" and automl_budgets(0.5)["anytime_arg"] == "1"


def test_anytime_row_against_flaml_and_before_the_cli_has_a_time_budget() -> None:
    target = ">= 0.5600 (FLAML CV R2 at full wall)"
    worse = {"flaml": {"best_cv_r2": 0.56}, "anytime": {"best_cv_r2": 0.5599}}
    assert anytime_row(worse) == ["anytime quality: trainer CV R2 at 1/3 wall", "0.5599", target, "NOT met"]
    assert anytime_row({**worse, "anytime": {"best_cv_r2": 0.57}})[3] == "met"
    unavailable = {"flaml": {"best_cv_r2": 0.56}, "anytime": None}
    assert anytime_row(unavailable) == [
        "anytime quality: trainer CV R2 at 1/3 wall",
        "not available",
        target,
        "",
    ]


def test_sections_select_what_runs() -> None:
    from bench.run import SECTIONS, apply_sections, build_parser

    args = build_parser().parse_args(["--sections", "automl", "--automl-budget", "60"])
    apply_sections(args)
    assert [n for n in SECTIONS if not getattr(args, f"skip_{n}")] == ["automl"]
    args = build_parser().parse_args(["--sections", "full,parallel", "--skip-cache"])
    apply_sections(args)  # parallel needs the bare run; --skip-* still applies
    assert [n for n in SECTIONS if not getattr(args, f"skip_{n}")] == ["full", "bare", "parallel"]
    args = build_parser().parse_args([])
    apply_sections(args)
    assert not any(getattr(args, f"skip_{n}") for n in SECTIONS)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--sections", "automl,nope"])


def test_the_empty_mlflow_run_is_shown_as_a_share_of_the_default_run() -> None:
    data = results()
    data["startup"] = {"commands": {EMPTY_RUN_LABEL: {"wall_s_median": 3.6}}}
    rows = target_rows(data, [10_000])
    assert rows[3] == ["  of it: mlflow run on an empty project", "3.6 s = 3.6%", "(MLflow's own)", "-"]
    assert "  of it: mlflow run on an empty project" not in [r[0] for r in target_rows(results(), [10_000])]
