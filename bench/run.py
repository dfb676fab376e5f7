"""Benchmark for "Speed and scale": where a training's time goes, what the framework costs, how it scales.

One command, from the project root:

    .venv/bin/python bench/run.py                    # everything (~25 min on 2 cores)
    .venv/bin/python bench/run.py --quick            # smoke run: small recipe, 2k/20k rows, 1 rep
    .venv/bin/python bench/run.py --sizes 10000,100000,1000000 --reps 3 --skip-scaling
    .venv/bin/python bench/run.py --sections full,automl      # a. then g. alone (FLAML gets a.'s wall)
    .venv/bin/python bench/run.py --sections automl --automl-budget 110   # g. alone, budget given

It prints plain-text tables (also written to bench/out/report.txt) and writes every number to
bench/out/results.json (bench/out/ is git-ignored). Sections:

a. Full default run: `mlflow run . --env-manager local` (PATH with .venv/bin first, a fresh SQLite
   tracking store in a temp dir, cwd the project root) as a subprocess: its wall time, CPU time and
   peak RSS (os.wait4 on the child: the same accounting as getrusage(RUSAGE_CHILDREN), but for this
   child and its reaped descendants alone), plus the peak RSS summed over the live process tree
   (psutil, sampled every 0.2 s: counts shared pages once per process, so an upper bound). The
   phase timings the run logged (metrics time_*_s, estimator_seconds, artifact timings.json on the
   parent run, tag trainer_command=train) are read back with MlflowClient.

   Overhead. `estimator_seconds` is the sum over every CV fit of (fit + score) seconds, each
   measured inside the worker that ran it, so with W parallel workers it counts CPU-side work up to
   W times per wall second. The wall time the fits need on W fully busy workers is therefore

       fit_wall   = estimator_seconds / W                 (= time_search_s * u,
                                                            u = estimator_seconds / (time_search_s * W),
                                                            the workers' utilisation in the search)
       fit_time   = fit_wall + refit                       (the winner's refit is one more fit)
       overhead   = process wall - fit_time                (target <= 15 % of the process wall)

   W = joblib.effective_n_jobs(recipe n_jobs) (2 here for n_jobs = -1). The overhead therefore holds
   everything that is not fitting: interpreter start and imports, `mlflow run` itself, the contract,
   features, tracking, selection, registration, and the search's idle worker time (loky start-up,
   dispatch, and the last round of folds when fits do not divide evenly over W workers).
   `search_idle = time_search_s - fit_wall` is listed on its own, since a bare script pays it too.

b. Bare scikit-learn (bench/bare.py): the same searches from the same recipe with no contract, no
   tracking, no registry; wall ratio ours / bare (target <= 0.8). Also run with the trainer's
   joblib.Memory preprocessing cache (--cache) to show what the cache costs or saves.
c. Scaling on synthetic data (bench.synthetic; 10k, 100k, 1M rows by default): contract, feature
   and one-fit times (HistGradientBoosting and XGBoost with the recipe's parameters), peak memory,
   and the ratios between sizes (10.0 = linear for a 10x size step). One fresh process per size and
   repetition (bench/scale_worker.py). Target: 1M rows through contract + features + one boosted fit
   in <= 3 min and <= 8 GiB.
d. Parallel efficiency: bench/bare.py with --n-jobs 1 against the recipe's n_jobs (-1).
e. Search strategy (bench/strategy.py): the recipe options `search.strategy: two_stage` and `halving`
   against the plain grid on wider grids (4 values per parameter): best CV R², grid points tried,
   wall and CPU time.
f. Dask: `python -m trainer train --no-register` on local processes against the same with
   `--dask-scheduler` on an in-process 2-worker LocalCluster (wall, search time, same best CV R²).
h. After promotion (bench/sections/monitoring.py): a small model (dummy, ridge, HistGB) registered
   into a fresh store, then `trainer predict` and `trainer monitor` on 1 M synthetic rows, each a
   measured process: wall and peak RSS. Targets: predict <= 60 s and <= 2 GiB, monitor <= 90 s.
g. AutoML (bench/automl.py, FLAML from bench/requirements.txt, which `make bench` installs): FLAML's
   AutoML on the same holdout split and the same CV folds as the recipe (bench/bare.py's helpers;
   FLAML gets the KFold object as split_type with eval_method "cv"), with time_budget = the wall of
   a. in this run (or --automl-budget): its best CV R² (1 - best_loss, the mean fold R²) and the
   holdout R² of its refit model. Then the trainer's anytime run, `python -m trainer train
   --time-budget T --no-register` with T = a third of that wall, into a fresh store: its logged
   best_cv_r2. Target: the trainer at 1/3 wall >= FLAML at the full wall. When `trainer train --help`
   shows no --time-budget, the anytime run is reported "not available".

Targets (table at the end): default run wall <= 120 s and best CV R² >= 0.5644; overhead <= 15 %;
wall ratio ours / bare <= 0.8; 1M rows <= 3 min and <= 8 GiB; anytime quality (g.).

Sections to run: all by default; `--sections NAME[,NAME...]` runs only those named (startup, full,
bare, cache, parallel, strategy, dask, automl, scaling; cache and parallel bring bare along), and each
`--skip-NAME` flag drops one.

Short phases are repeated (--reps; start-up timings at least 5 times) and the median is reported.
Other work on the machine slows a benchmark down badly on 2 cores (an OpenMP fit whose second thread
is descheduled waits at every barrier), so before each long measurement (full, bare and scaling runs) the
benchmark waits (--quiet-wait) until other processes use < 25 % of the CPUs, and every measurement records the share of the CPUs
that other processes used meanwhile (/proc/stat busy time minus the child's own CPU time), the
1-minute load average and the CPU pressure (PSI). Compare numbers only when that share is low.

Code: this file parses the flags and runs the sections in order; bench/sections/<name>.py holds one
section each, bench/measure.py the process measurement, bench/report.py the tables, bench/overhead.py
the arithmetic (overhead model, ratios, target verdicts; pure and unit-tested).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/run.py` puts bench/ itself first, not the project root
    sys.path.insert(0, str(ROOT))

from bench.constants import BENCH, DEFAULT_SIZES, QUICK_CANDIDATES, QUICK_SIZES, VENV_BIN  # noqa: E402
from bench.machine import machine, print_machine  # noqa: E402
from bench.measure import QUIET  # noqa: E402
from bench.report import Report  # noqa: E402
from bench.sections.automl import section_automl  # noqa: E402
from bench.sections.bare import bare_runs, section_bare  # noqa: E402
from bench.sections.dask import section_dask  # noqa: E402
from bench.sections.full import section_full  # noqa: E402
from bench.sections.monitoring import section_monitoring  # noqa: E402
from bench.sections.parallel import section_parallel  # noqa: E402
from bench.sections.scaling import section_scaling  # noqa: E402
from bench.sections.startup import section_startup  # noqa: E402
from bench.sections.strategy import section_strategy  # noqa: E402
from bench.sections.targets import targets  # noqa: E402

# Section names for --sections, in run order (cache and parallel are parts of bare and need its run).
SECTIONS = (
    "startup",
    "full",
    "bare",
    "cache",
    "parallel",
    "strategy",
    "dask",
    "automl",
    "scaling",
    "monitoring",
)


def quick_recipe(recipe: Path, tmp: Path) -> Path:
    data = yaml.safe_load(recipe.read_text())
    data["candidates"] = {k: v for k, v in data["candidates"].items() if k in QUICK_CANDIDATES}
    path = tmp / "quick_recipe.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(s.replace("_", "")) for s in text.split(",") if s.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes: expected comma-separated integers, got {text!r}")
    if not sizes or sizes[0] < 100:
        raise argparse.ArgumentTypeError(
            "--sizes: every size must be at least 100 rows (the contract's minimum)"
        )
    return sizes


def parse_sections(text: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    unknown = sorted(set(names) - set(SECTIONS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"--sections: unknown section(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(SECTIONS)}"
        )
    return names


def apply_sections(args: argparse.Namespace) -> None:
    """--sections: skip every section not named (cache and parallel bring bare along)."""
    if args.sections is None:
        return
    wanted = set(args.sections)
    if wanted & {"cache", "parallel"}:
        wanted.add("bare")
    for name in SECTIONS:
        if name not in wanted:
            setattr(args, f"skip_{name}", True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: small recipe, 2k/20k rows, 1 rep")
    parser.add_argument("--sizes", type=parse_sizes, help="scaling sizes (default 10000,100000,1000000)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions of short phases (default 3)")
    parser.add_argument("--large-reps", type=int, default=1, help="repetitions at >= 1M rows (default 1)")
    parser.add_argument(
        "--full-reps", type=int, default=1, help="repetitions of the full and bare runs (default 1)"
    )
    parser.add_argument(
        "--recipe", type=Path, default=ROOT / "train.yaml", help="recipe (default train.yaml)"
    )
    parser.add_argument("--skip-startup", action="store_true", help="skip start-up/import timings")
    parser.add_argument("--skip-full", action="store_true", help="skip a. (the full mlflow run)")
    parser.add_argument("--skip-bare", action="store_true", help="skip b. and d. (bare scikit-learn runs)")
    parser.add_argument("--skip-parallel", action="store_true", help="skip d. (the n_jobs=1 run)")
    parser.add_argument("--skip-cache", action="store_true", help="skip the bare run with joblib.Memory")
    parser.add_argument("--skip-scaling", action="store_true", help="skip c. (synthetic data scaling)")
    parser.add_argument("--skip-strategy", action="store_true", help="skip e. (grid, two-stage, halving)")
    parser.add_argument("--skip-dask", action="store_true", help="skip f. (local against a LocalCluster)")
    parser.add_argument("--skip-automl", action="store_true", help="skip g. (FLAML and the anytime run)")
    parser.add_argument(
        "--skip-monitoring", action="store_true", help="skip h. (predict and monitor on 1 M synthetic rows)"
    )
    parser.add_argument(
        "--sections",
        type=parse_sections,
        help=f"run only these sections (comma-separated) of: {', '.join(SECTIONS)}; the --skip-* flags still apply",
    )
    parser.add_argument(
        "--automl-budget",
        type=float,
        help="g.: FLAML's time budget in seconds (default: the measured wall of a. in this run; "
        "required when a. is skipped); the trainer's anytime run gets a third of it",
    )
    parser.add_argument(
        "--out", type=Path, default=BENCH / "out", help="output directory (default bench/out)"
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=120.0,
        help="before each measurement wait up to this many seconds for other work to use < 25%% of the "
        "CPUs (10x this in all; 0 = never wait; default %(default)s)",
    )
    return parser


def describe_recipe(
    report: Report, args: argparse.Namespace, recipe: Path, sizes: list[int], reps: int
) -> int:
    """Record and print the settings; returns W, the effective number of parallel workers."""
    import joblib

    recipe_data = yaml.safe_load(recipe.read_text())
    workers = joblib.effective_n_jobs(recipe_data.get("n_jobs", -1) or 1)
    report.results["settings"] = {
        "recipe": str(recipe), "candidates": list(recipe_data["candidates"]), "sizes": sizes,
        "reps": reps, "large_reps": args.large_reps, "full_reps": args.full_reps, "workers": workers,
        "quick": args.quick,
    }  # fmt: skip
    report.print(
        f"recipe {args.recipe.name}{' (quick subset)' if args.quick else ''}: "
        f"{len(recipe_data['candidates'])} candidates, n_jobs {recipe_data.get('n_jobs', -1)} -> W = {workers}"
    )
    report.print()
    return workers


def run_bare(report: Report, args: argparse.Namespace, recipe: Path, workers: int, full: Any) -> None:
    """Sections b. and d.: the bare scikit-learn runs (parallel, cached, serial)."""
    bare = bare_runs(report, recipe, args.out, args.full_reps, "parallel", [])
    cached = None
    if not args.skip_cache:
        cached = bare_runs(report, recipe, args.out, args.full_reps, "cache", ["--cache"])
    report.results["bare"] = section_bare(report, full, bare, cached)
    report.results["bare"]["runs"] = {"parallel": bare, "cache": cached}
    report.save()
    if not args.skip_parallel:
        serial = bare_runs(report, recipe, args.out, args.full_reps, "serial", ["--n-jobs", "1"])
        report.results["parallel"] = section_parallel(report, bare, serial, workers, full)
        report.results["parallel"]["serial_runs"] = serial
        report.save()


def run_automl(report: Report, args: argparse.Namespace, recipe: Path, full: dict[str, Any] | None) -> None:
    """Section g., with FLAML's budget from --automl-budget or else this run's a. (skipped without either)."""
    budget = args.automl_budget or (full["wall_s_median"] if full else None)
    if budget is None:
        report.print("g. AutoML skipped: a. did not run and no --automl-budget was given")
        report.print()
        return
    automl = section_automl(report, recipe, args.out, budget, full)
    if automl is not None:
        report.results["automl"] = automl
        report.save()


def run_sections(report: Report, args: argparse.Namespace, recipe: Path, sizes: list[int], reps: int) -> None:
    """Every section not skipped, in order, saving the results after each."""
    workers = describe_recipe(report, args, recipe, sizes, reps)
    if not args.skip_startup:
        report.results["startup"] = section_startup(report, max(reps, 3 if args.quick else 5), args.out)
        report.save()
    full = None
    if not args.skip_full:
        full = section_full(report, recipe, args.full_reps, args.out, workers)
        report.results["full"] = full
        report.save()
    if not args.skip_bare:
        run_bare(report, args, recipe, workers, full)
    if not args.skip_strategy and not args.quick:
        report.results["strategy"] = section_strategy(report, recipe, args.out)
        report.save()
    if not args.skip_dask:
        report.results["dask"] = section_dask(report, recipe, args.out)
        report.save()
    if not args.skip_automl:
        run_automl(report, args, recipe, full)
    if not args.skip_scaling:
        report.results["scaling"] = section_scaling(
            report, recipe, sizes, reps, 1 if args.quick else args.large_reps, args.out
        )
        report.save()
    if not args.skip_monitoring:
        rows = max(sizes) if args.quick else 1_000_000
        report.results["monitoring"] = section_monitoring(report, recipe, rows, args.out)
        report.save()
    targets(report, report.results, sizes)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.reps < 1 or args.large_reps < 1 or args.full_reps < 1:
        parser.error("repetitions must be at least 1")
    apply_sections(args)
    if args.sections and "automl" in args.sections and args.skip_full and not args.automl_budget:
        parser.error(
            "--sections automl without full: pass --automl-budget SECONDS (a.'s wall is the default)"
        )
    sizes = args.sizes or (list(QUICK_SIZES) if args.quick else list(DEFAULT_SIZES))
    reps = 1 if args.quick else args.reps
    if shutil.which("mlflow", path=str(VENV_BIN)) is None and not args.skip_full:
        parser.error(f"mlflow not found in {VENV_BIN}; run `make venv` first")

    QUIET.update(max_wait_s=args.quiet_wait, budget_s=10 * args.quiet_wait)
    report = Report(args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    info = machine()
    report.results["machine"] = info
    print_machine(report, info)
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        recipe = quick_recipe(args.recipe.resolve(), Path(tmp)) if args.quick else args.recipe.resolve()
        run_sections(report, args, recipe, sizes, reps)
    elapsed = time.perf_counter() - started
    report.results["benchmark_wall_s"] = elapsed
    report.results["load_1m_at_end"] = os.getloadavg()[0]
    report.print(
        f"benchmark took {elapsed / 60:.1f} min; load (1 min) at end {os.getloadavg()[0]:.2f}; "
        f"results in {args.out / 'results.json'}"
    )
    report.save()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
