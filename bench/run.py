"""Benchmark for "Speed and scale": where a training's time goes, what the framework costs, how it scales.

One command, from the project root:

    .venv/bin/python bench/run.py                    # everything (~25 min on 2 cores)
    .venv/bin/python bench/run.py --quick            # smoke run: small recipe, 2k/20k rows, 1 rep
    .venv/bin/python bench/run.py --sizes 10000,100000,1000000 --reps 3 --skip-scaling

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
       overhead   = process wall - fit_time                (target <= 10 % of the process wall)

   W = joblib.effective_n_jobs(recipe n_jobs) (2 here for n_jobs = -1). The overhead therefore holds
   everything that is not fitting: interpreter start and imports, `mlflow run` itself, the contract,
   features, tracking, selection, registration, and the search's idle worker time (loky start-up,
   dispatch, and the last round of folds when fits do not divide evenly over W workers).
   `search_idle = time_search_s - fit_wall` is listed on its own, since a bare script pays it too.

b. Bare scikit-learn (bench/bare.py): the same searches from the same recipe with no contract, no
   tracking, no registry; wall ratio ours / bare (target <= 1.2). Also run with the trainer's
   joblib.Memory preprocessing cache (--cache) to show what the cache costs or saves.
c. Scaling on synthetic data (trainer.synthetic; 10k, 100k, 1M rows by default): contract, feature
   and one-fit times (HistGradientBoosting and XGBoost with the recipe's parameters), peak memory,
   and the ratios between sizes (10.0 = linear for a 10x size step). One fresh process per size and
   repetition (bench/scale_worker.py). Target: 1M rows through contract + features + one boosted fit
   in <= 10 min and <= 8 GiB.
d. Parallel efficiency: bench/bare.py with --n-jobs 1 against the recipe's n_jobs (-1).
e. Search strategy (bench/strategy.py): the recipe option `search.strategy: two_stage` against the
   plain grid on wider grids (4 values per parameter): best CV R², grid points tried, wall time.
f. Dask: `python -m trainer train --no-register` on local processes against the same with
   `--dask-scheduler` on an in-process 2-worker LocalCluster (wall, search time, same best CV R²).

Short phases are repeated (--reps; start-up timings at least 5 times) and the median is reported.
Other work on the machine slows a benchmark down badly on 2 cores (an OpenMP fit whose second thread
is descheduled waits at every barrier), so before each long measurement (full, bare and scaling runs) the
benchmark waits (--quiet-wait) until other processes use < 25 % of the CPUs, and every measurement records the share of the CPUs
that other processes used meanwhile (/proc/stat busy time minus the child's own CPU time), the
1-minute load average and the CPU pressure (PSI). Compare numbers only when that share is low.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from itertools import pairwise
from pathlib import Path
from typing import Any
from unittest import mock

import yaml

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (2_000, 20_000)
QUICK_CANDIDATES = ("dummy", "linear", "ridge", "hist_gradient_boosting", "xgboost")
PACKAGES = ("scikit-learn", "pandas", "numpy", "great-expectations", "mlflow", "xgboost-cpu", "catboost")
TARGET_OVERHEAD = 0.10
TARGET_RATIO = 1.2
TARGET_1M_SECONDS = 600.0
TARGET_1M_GIB = 8.0
GIB = 1024.0**3


# --- measuring subprocesses ---------------------------------------------------------------------


def cpu_pressure_us() -> int | None:
    """Cumulative microseconds in which some runnable task waited for a CPU (Linux PSI)."""
    try:
        first = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except OSError:
        return None
    match = re.search(r"total=(\d+)", first)
    return int(match.group(1)) if match else None


def cpu_busy_s() -> float | None:
    """Seconds of CPU the whole machine has spent busy since boot (all cores, /proc/stat)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


QUIET = {"max_wait_s": 0.0, "budget_s": 0.0, "threshold": 0.25}


def wait_for_quiet() -> float:
    """Wait until other work uses < threshold of the CPUs: at most max_wait_s, budget_s in all."""
    limit = min(QUIET["max_wait_s"], QUIET["budget_s"])
    if limit <= 0 or cpu_busy_s() is None:
        return 0.0
    started = time.perf_counter()
    cores = os.cpu_count() or 1
    while time.perf_counter() - started < limit:
        before = cpu_busy_s() or 0.0
        time.sleep(1.0)
        if ((cpu_busy_s() or 0.0) - before) / cores < QUIET["threshold"]:
            break
    waited = time.perf_counter() - started
    QUIET["budget_s"] -= waited
    return waited


@dataclass
class Measured:
    """One subprocess: wall, CPU, peak memory, and how busy the machine was meanwhile."""

    cmd: list[str]
    returncode: int
    wall_s: float
    user_s: float
    sys_s: float
    maxrss_mib: float
    tree_rss_peak_mib: float
    load_before: float
    load_after: float
    cpu_pressure: float | None
    others_cpu: float | None = None
    waited_s: float = 0.0
    log: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.sys_s


def _tree_rss_sampler(pid: int, stop: threading.Event, peak: list[float]) -> None:
    try:
        import psutil
    except ImportError:
        return
    try:
        root = psutil.Process(pid)
    except psutil.Error:
        return
    while not stop.is_set():
        total = 0
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            break
        for proc in procs:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                continue
        peak[0] = max(peak[0], total / 1024**2)
        stop.wait(0.2)


def run_measured(
    cmd: list[str],
    log_path: Path | None = None,
    env: dict[str, str] | None = None,
    cwd: Path = ROOT,
    quiet: bool = True,
) -> Measured:
    """Run a command to completion and account for it alone (os.wait4 on this child)."""
    waited = wait_for_quiet() if quiet else 0.0
    load_before = os.getloadavg()[0]
    psi_before = cpu_pressure_us()
    busy_before = cpu_busy_s()
    out = open(log_path, "w") if log_path else subprocess.DEVNULL  # noqa: SIM115 - closed below
    try:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        stop, peak = threading.Event(), [0.0]
        sampler = threading.Thread(target=_tree_rss_sampler, args=(proc.pid, stop, peak), daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        stop.set()
        sampler.join()
    finally:
        if log_path:
            out.close()
    psi_after = cpu_pressure_us()
    busy_after = cpu_busy_s()
    others = None
    if busy_before is not None and busy_after is not None and wall > 0:
        own = usage.ru_utime + usage.ru_stime
        others = max(0.0, (busy_after - busy_before - own) / (wall * (os.cpu_count() or 1)))
    pressure = None
    if psi_before is not None and psi_after is not None and wall > 0:
        pressure = (psi_after - psi_before) / 1e6 / wall
    return Measured(
        cmd=[str(c) for c in cmd],
        returncode=proc.returncode,
        wall_s=wall,
        user_s=usage.ru_utime,
        sys_s=usage.ru_stime,
        maxrss_mib=usage.ru_maxrss / 1024,
        tree_rss_peak_mib=peak[0],
        load_before=load_before,
        load_after=os.getloadavg()[0],
        cpu_pressure=pressure,
        others_cpu=others,
        waited_s=waited,
        log=str(log_path or ""),
    )


def check(m: Measured, what: str) -> Measured:
    if m.returncode != 0:
        tail = Path(m.log).read_text()[-3000:] if m.log and Path(m.log).exists() else ""
        raise SystemExit(f"benchmark: {what} failed with exit code {m.returncode}\n{tail}")
    return m


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The repetition whose process wall time is the median (the lower middle one for even counts)."""
    ordered = sorted(runs, key=lambda r: r["process"]["wall_s"])
    return ordered[(len(ordered) - 1) // 2]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# --- tables -------------------------------------------------------------------------------------


def fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(headers: list[str], rows: list[list[Any]], title: str = "") -> str:
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    numeric = [
        all(re.fullmatch(r"[-+]?[\d,]*\.?\d*%?x?|-", r[i] or "-") for r in cells) for i in range(len(headers))
    ]

    def line(values: list[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    out = [title, "=" * len(title)] if title else []
    out += [line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)]
    return "\n".join(out)


class Report:
    """Collects printed text (also saved as report.txt) and the JSON results."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.text: list[str] = []
        self.results: dict[str, Any] = {}

    def print(self, text: str = "") -> None:
        print(text, flush=True)
        self.text.append(text)

    def progress(self, text: str) -> None:
        print(f"[{datetime.now().strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)

    def save(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / "results.json").write_text(json.dumps(self.results, indent=2, default=str) + "\n")
        (self.out_dir / "report.txt").write_text("\n".join(self.text) + "\n")


# --- machine ------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_model": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_1m_at_start": os.getloadavg()[0],
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["ram_gib"] = int(line.split()[1]) / 1024**2
    except OSError:
        pass
    try:
        import joblib

        info["joblib_cpu_count"] = joblib.cpu_count()
    except ImportError:
        pass
    info["packages"] = {}
    for name in PACKAGES:
        try:
            info["packages"][name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True)
        info["git"] = commit.stdout.strip() + (" (uncommitted changes)" if dirty.stdout.strip() else "")
    except OSError:
        info["git"] = "unknown"
    return info


def print_machine(report: Report, info: dict[str, Any]) -> None:
    report.print("Speed and scale benchmark")
    report.print("=========================")
    report.print(f"date        {info['date']}")
    report.print(f"cpu         {info['cpu_model']}")
    report.print(
        f"cores       {info['cores']} (usable {info['cores_usable']}, joblib {info.get('joblib_cpu_count')})"
    )
    report.print(f"ram         {info.get('ram_gib', float('nan')):.1f} GiB")
    report.print(f"python      {info['python']} on {info['platform']}")
    report.print("packages    " + ", ".join(f"{k} {v}" for k, v in info["packages"].items()))
    report.print(f"git         {info['git']}")
    report.print(f"load (1 min) at start: {info['load_1m_at_start']:.2f}")
    report.print()


# --- start-up -----------------------------------------------------------------------------------

STARTUP_COMMANDS = {
    "python -c pass (interpreter only)": ["-c", "pass"],
    "python -m trainer --help": ["-m", "trainer", "--help"],
    "python -m trainer explain --help": ["-m", "trainer", "explain", "--help"],
    "python -c 'import trainer.pipeline'": ["-c", "import trainer.pipeline"],
    "python -m trainer.synthetic --help": ["-m", "trainer.synthetic", "--help"],
}
TRAINING_IMPORTS = (
    "import trainer.pipeline, trainer.contract, trainer.search, trainer.register, mlflow, mlflow.sklearn, "
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


# --- a. full run --------------------------------------------------------------------------------


def tracking_env(uri: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(
        {
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "MLFLOW_TRACKING_URI": uri,
            "GX_ANALYTICS_ENABLED": "false",
        }
    )
    return env


def read_parent_run(uri: str, experiment_id: str, workdir: Path) -> dict[str, Any]:
    """Metrics, timings.json and run counts of the run tagged trainer_command=train."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    parents = client.search_runs([experiment_id], "tags.trainer_command = 'train'", max_results=5)
    if len(parents) != 1:
        raise SystemExit(f"benchmark: expected one parent training run, found {len(parents)}")
    parent = parents[0]
    dest = workdir / f"artifacts-{parent.info.run_id}"
    dest.mkdir(parents=True, exist_ok=True)
    timings_path = client.download_artifacts(parent.info.run_id, "timings.json", str(dest))
    all_runs = client.search_runs([experiment_id], max_results=5000)
    return {
        "run_id": parent.info.run_id,
        "status": parent.info.status,
        "metrics": dict(parent.data.metrics),
        "selected_candidate": parent.data.tags.get("selected_candidate"),
        "registered_version": parent.data.tags.get("registered_version"),
        "timings": json.loads(Path(timings_path).read_text()),
        "runs_in_store": len(all_runs),
        "mlflow_run_duration_s": (parent.info.end_time - parent.info.start_time) / 1000,
    }


def fresh_store(folder: Path, experiment: str) -> tuple[str, str]:
    """A SQLite store in `folder` with the experiment created up front (URI, experiment id): the
    store's one-time schema migration is not part of a training, and artifacts stay in `folder`."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{folder / 'mlflow.db'}"
    (folder / "artifacts").mkdir()
    client = MlflowClient(tracking_uri=uri)
    return uri, client.create_experiment(experiment, artifact_location=(folder / "artifacts").as_uri())


def full_run_once(recipe: Path, rep: int, out_dir: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        tmp_path = Path(tmp)
        uri, experiment_id = fresh_store(tmp_path, "bench")
        cmd = [
            str(VENV_BIN / "mlflow"), "run", ".", "--env-manager", "local",
            "--experiment-name", "bench", "-P", f"recipe={recipe}",
        ]  # fmt: skip
        m = check(run_measured(cmd, out_dir / f"full_run_{rep}.log", env=tracking_env(uri)), "mlflow run")
        logged = read_parent_run(uri, experiment_id, tmp_path)
    return {"process": asdict(m), "logged": logged}


def overhead_model(wall: float, logged: dict[str, Any], workers: int) -> dict[str, float]:
    """The overhead formula of the module docstring, term by term (seconds)."""
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


def section_full(report: Report, recipe: Path, reps: int, out_dir: Path, workers: int) -> dict[str, Any]:
    runs = []
    for rep in range(reps):
        report.progress(f"a. full run {rep + 1}/{reps}: mlflow run . --env-manager local")
        runs.append(full_run_once(recipe, rep, out_dir))
    best = median_run(runs)
    proc, logged = best["process"], best["logged"]
    model = overhead_model(proc["wall_s"], logged, workers)
    t, m = logged["timings"], logged["metrics"]
    wall = model["wall"]
    search_phases = {k.removeprefix("search: "): v for k, v in t.items() if k.startswith("search: ")}
    known = {
        "setup": "setup (recipe logged, run opened)",
        "contract": "contract (read CSV, GE suite, Data Docs, lineage)",
        "features": "features (split, one-hot fit, digest)",
        "search": "search (GridSearchCV, all candidates)",
        "logging": "logging (child + grid-point runs)",
        "select": "select (leaderboard, plot)",
        "refit + holdout": "refit + holdout",
        "registration": "registration (evaluation, model, version)",
    }
    phases = [("outside the trainer: mlflow run, interpreter, imports, exit", model["outside_trainer"])]
    seen_search = False
    for key, secs in t.items():  # timings.json keeps the order the phases ran in
        if key == "total":
            continue
        if key.startswith("search: "):
            if not seen_search:
                seen_search = True
                phases.append((known["search"], m["time_search_s"]))
                phases.append((f"  of which fitting: estimator_seconds / W (W={workers})", model["fit_wall"]))
                phases.append(("  of which idle workers / dispatch", model["search_idle"]))
            continue
        phases.append((known.get(key, key), secs))
    accounted = (
        model["outside_trainer"]
        + sum(v for k, v in t.items() if k != "total" and not k.startswith("search: "))
        + m["time_search_s"]
    )
    phases.append(("unaccounted (between phases)", wall - accounted))
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
    report.print(
        f"CPU time {proc['user_s'] + proc['sys_s']:.1f} s (user {proc['user_s']:.1f} + sys {proc['sys_s']:.1f}) "
        f"= {(proc['user_s'] + proc['sys_s']) / proc['wall_s']:.2f} cores busy on average; "
        f"peak RSS of one process {proc['maxrss_mib']:.0f} MiB, of the process tree "
        f"{proc['tree_rss_peak_mib']:.0f} MiB; other work on the machine used "
        f"{fmt_pressure(proc['others_cpu'])} of its CPUs meanwhile (load {proc['load_before']:.2f} -> "
        f"{proc['load_after']:.2f})"
    )
    report.print()
    report.print(
        table(
            ["term", "seconds", "note"],
            [
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
                    f"target <= {100 * TARGET_OVERHEAD:.0f}%: "
                    + ("met" if model["overhead_fraction"] <= TARGET_OVERHEAD else "NOT met"),
                ],
            ],
            "Overhead (time not spent inside estimator fits)",
        )
    )
    report.print()
    return {
        "runs": runs,
        "process": proc,
        "wall_s_median": wall,
        "best_cv_r2": m["best_cv_r2"],
        "selected_candidate": logged["selected_candidate"],
        "overhead": model,
        "phases": dict(phases),
        "search_by_candidate": search_phases,
    }


def fmt_pressure(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f}%"


# --- b + d. bare scikit-learn -------------------------------------------------------------------


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


def section_bare(report: Report, full: dict[str, Any] | None, bare: dict, cached: dict | None) -> dict:
    b = bare["chosen"]
    rows = [
        [
            "bare scikit-learn (bench/bare.py)",
            bare["wall_s_median"],
            b["summary"]["search_s"],
            b["process"]["user_s"] + b["process"]["sys_s"],
            b["process"]["maxrss_mib"],
            fmt_pressure(b["process"]["others_cpu"]),
        ]
    ]
    if cached:
        c = cached["chosen"]
        rows.append(
            [
                "bare + joblib.Memory cache (--cache)",
                cached["wall_s_median"],
                c["summary"]["search_s"],
                c["process"]["user_s"] + c["process"]["sys_s"],
                c["process"]["maxrss_mib"],
                fmt_pressure(c["process"]["others_cpu"]),
            ]
        )
    result: dict[str, Any] = {"bare_wall_s": bare["wall_s_median"], "bare_search_s": b["summary"]["search_s"]}
    if full:
        proc = full["process"]
        rows.insert(
            0,
            [
                "ours: mlflow run . (contract, tracking, registry)",
                full["wall_s_median"],
                full["overhead"]["time_search_s"],
                proc["user_s"] + proc["sys_s"],
                proc["maxrss_mib"],
                fmt_pressure(proc["others_cpu"]),
            ],
        )
        result["ratio_wall"] = full["wall_s_median"] / bare["wall_s_median"]
        result["ratio_search"] = full["overhead"]["time_search_s"] / b["summary"]["search_s"]
        result["framework_cost_s"] = full["wall_s_median"] - bare["wall_s_median"]
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


def section_parallel(report: Report, parallel: dict, serial: dict, workers: int, full: dict | None) -> dict:
    p, s = parallel["chosen"]["summary"], serial["chosen"]["summary"]
    rows = []
    for name, cp in p["candidates"].items():
        cs = s["candidates"][name]
        ours = full["search_by_candidate"].get(name) if full else None
        rows.append(
            [name, cp["fits"], ours, cp["wall_s"], cs["wall_s"], f"{cs['wall_s'] / cp['wall_s']:.2f}x"]
        )
    speedup = s["search_s"] / p["search_s"]
    ours_total = full["overhead"]["time_search_s"] if full else None
    rows.append(["all candidates", p["fits"], ours_total, p["search_s"], s["search_s"], f"{speedup:.2f}x"])
    wall_speedup = serial["wall_s_median"] / parallel["wall_s_median"]
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
    return {
        "search_speedup": speedup,
        "efficiency": speedup / workers,
        "wall_speedup": wall_speedup,
        "serial_search_s": s["search_s"],
        "parallel_search_s": p["search_s"],
    }


# --- e. search strategy -------------------------------------------------------------------------


def section_strategy(report: Report, recipe: Path, out_dir: Path) -> dict[str, Any]:
    json_path = out_dir / "strategy.json"
    cmd = [PYTHON, str(BENCH / "strategy.py"), "--recipe", str(recipe), "--json", str(json_path)]
    report.progress("grid against two-stage search on wider grids")
    m = check(run_measured(cmd, out_dir / "strategy.log"), "bench/strategy.py")
    result = json.loads(json_path.read_text())
    rows = []
    for name, by in result.items():
        g, t = by["grid"], by["two_stage"]
        rows.append([name, "grid", g["points"], f"{g['cv_r2']:.4f}", g["wall_s"], "", ""])
        rows.append(
            [name, "two_stage", t["points"], f"{t['cv_r2']:.4f}", t["wall_s"],
             f"{t['cv_r2'] - g['cv_r2']:+.4f}", f"{g['wall_s'] / t['wall_s']:.2f}x"]
        )  # fmt: skip
    report.print(
        table(
            ["candidate", "strategy", "points", "best CV R2", "wall s", "R2 vs grid", "speedup"],
            rows,
            "e. Grid against two-stage search (wider grids, 4 values per parameter; bench/strategy.py)",
        )
    )
    report.print(f"others' CPU meanwhile {fmt_pressure(m.others_cpu)}")
    report.print()
    return {"candidates": result, "process": asdict(m)}


# --- f. dask ------------------------------------------------------------------------------------


def train_once(recipe: Path, out_dir: Path, label: str, extra: list[str]) -> dict[str, Any]:
    """`python -m trainer train --no-register` into a fresh SQLite store; process and logged numbers."""
    experiment = yaml.safe_load(recipe.read_text())["experiment"]
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        tmp_path = Path(tmp)
        uri, experiment_id = fresh_store(tmp_path, experiment)
        cmd = [PYTHON, "-m", "trainer", "train", "--recipe", str(recipe), "--no-register", *extra]
        m = check(
            run_measured(cmd, out_dir / f"train_{label}.log", env=tracking_env(uri)), f"train ({label})"
        )
        logged = read_parent_run(uri, experiment_id, tmp_path)
    return {"process": asdict(m), "logged": logged}


def section_dask(report: Report, recipe: Path, out_dir: Path) -> dict[str, Any]:
    from distributed import LocalCluster

    report.progress("f. local processes, then a 2-worker LocalCluster")
    local = train_once(recipe, out_dir, "local", [])
    started = time.perf_counter()
    # LocalCluster sets OMP_NUM_THREADS=1 in this process's environment for its workers and leaves it
    # there: restore it, or every later measurement's subprocess would run OpenMP single-threaded
    with (
        mock.patch.dict(os.environ),
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
    ):
        cluster_start_s = time.perf_counter() - started
        dask = train_once(recipe, out_dir, "dask", ["--dask-scheduler", cluster.scheduler_address])
    rows = []
    for name, r in (("local processes (n_jobs -1)", local), ("LocalCluster, 2 workers x 1 thread", dask)):
        m = r["logged"]["metrics"]
        rows.append(
            [name, r["process"]["wall_s"], m["time_search_s"], f"{m['best_cv_r2']:.6f}",
             r["logged"]["selected_candidate"], fmt_pressure(r["process"]["others_cpu"])]
        )  # fmt: skip
    report.print(
        table(
            ["", "wall s", "search s", "best CV R2", "selected", "others' CPU"],
            rows,
            "f. Dask: the same training on local processes and on a 2-worker LocalCluster",
        )
    )
    same = local["logged"]["metrics"]["best_cv_r2"] == dask["logged"]["metrics"]["best_cv_r2"]
    report.print(
        f"cluster start {cluster_start_s:.1f} s (not in the wall above); wall ratio dask / local "
        f"{dask['process']['wall_s'] / local['process']['wall_s']:.2f}; same best CV R2: {same}; the "
        "cluster's workers are not the trainer's children, so their CPU shows as others'"
    )
    report.print()
    return {"local": local, "dask": dask, "cluster_start_s": cluster_start_s, "same_best_cv_r2": same}


# --- c. scaling ---------------------------------------------------------------------------------

STAGES = (
    ("contract", "contract"),
    ("features_fit_transform", "features: one-hot fit_transform"),
    ("features_summarize", "features: summarize (+ sha256)"),
    ("fit_hist_gradient_boosting", "fit: hist_gradient_boosting (OpenMP)"),
    ("fit_hist_gradient_boosting_1thread", "fit: hist_gradient_boosting (1 thread)"),
    ("fit_xgboost", "fit: xgboost (n_jobs=1)"),
)
CONTRACT_STEPS = ("read_csv", "_text_as_object", "run_suite", "render_data_docs", "file_digest")


def section_scaling(
    report: Report, recipe: Path, sizes: list[int], reps: int, large_reps: int, out_dir: Path
) -> dict[str, Any]:
    results: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-synthetic-") as tmp:
        for size in sizes:
            csv = Path(tmp) / f"synthetic_{size}.csv"
            report.progress(f"c. scaling: generating {size:,} rows")
            gen = check(
                run_measured(
                    [PYTHON, "-m", "trainer.synthetic", "--rows", str(size), "--out", str(csv)],
                    out_dir / f"synthetic_{size}.log",
                    quiet=False,
                ),
                "python -m trainer.synthetic",
            )
            gen_log = Path(gen.log).read_text()
            match = re.search(r"generate ([\d.]+) s, write ([\d.]+) s", gen_log)
            n = reps if size < 1_000_000 else large_reps
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
            results[size] = {
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
                    key: median([r["worker"]["contract_steps"].get(key, 0.0) for r in runs])
                    for key in CONTRACT_STEPS
                },
                "import_s": median([r["worker"]["import_s"] for r in runs]),
                "maxrss_mib": max(r["process"]["maxrss_mib"] for r in runs),
                "maxrss_by_stage_mib": runs[0]["worker"]["maxrss_mib"],
                "others_cpu": max((r["process"]["others_cpu"] or 0.0) for r in runs),
                "reps": n,
                "openmp_threads": runs[0]["worker"].get("openmp_threads"),
            }
    print_scaling(report, results, sizes)
    return {str(k): v for k, v in results.items()}


def short(rows: int) -> str:
    """10000 -> "10k", 1000000 -> "1M"."""
    for unit, div in (("M", 1_000_000), ("k", 1_000)):
        if rows >= div and rows % (div // 10) == 0:
            return f"{rows / div:g}{unit}"
    return str(rows)


def print_scaling(report: Report, results: dict[int, dict[str, Any]], sizes: list[int]) -> None:
    headers = ["stage", *(f"{s:,} rows" for s in sizes)]
    headers += [f"{short(b)}/{short(a)}" for a, b in pairwise(sizes)]
    headers.append(f"us/row @{sizes[-1]:,}")

    def row(label: str, values: list[float | None]) -> list[Any]:
        ratios = [f"{b / a:.1f}x" if a and b else "-" for a, b in pairwise(values)]
        last = values[-1]
        return [label, *values, *ratios, (1e6 * last / sizes[-1]) if last else None]

    rows = [row("generate (trainer.synthetic)", [results[s]["generate_s"] for s in sizes])]
    rows.append(row("write CSV", [results[s]["write_csv_s"] for s in sizes]))
    for key, label in STAGES:
        if key in results[sizes[0]]["stage_s"]:
            rows.append(row(label, [results[s]["stage_s"][key] for s in sizes]))
            if key == "contract":
                for step in CONTRACT_STEPS:
                    rows.append(row(f"  {step}", [results[s]["contract_steps_s"][step] for s in sizes]))
    one_fit = [
        sum(
            results[s]["stage_s"].get(k, 0.0)
            for k in ("contract", "features_summarize", "fit_hist_gradient_boosting")
        )
        for s in sizes
    ]
    rows.append(row("contract + features + HGB fit", one_fit))
    mem = [results[s]["maxrss_mib"] for s in sizes]
    rows.append(["peak RSS MiB (worker)", *mem, *(f"{b / a:.1f}x" for a, b in pairwise(mem)), None])
    rows.append(["CSV size MiB", *(results[s]["csv_mib"] for s in sizes), *([""] * (len(sizes) - 1)), None])
    reps = ", ".join(f"{s:,}: {results[s]['reps']}" for s in sizes)
    report.print(
        table(
            headers,
            rows,
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


# --- main ---------------------------------------------------------------------------------------


def quick_recipe(recipe: Path, tmp: Path) -> Path:
    data = yaml.safe_load(recipe.read_text())
    data["candidates"] = {k: v for k, v in data["candidates"].items() if k in QUICK_CANDIDATES}
    path = tmp / "quick_recipe.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def targets(report: Report, results: dict[str, Any], sizes: list[int]) -> None:
    rows = []
    full, bare, scaling = results.get("full"), results.get("bare"), results.get("scaling")
    if full and not results["settings"]["quick"]:  # the targets are for the full default recipe
        wall, r2 = full["wall_s_median"], full["best_cv_r2"]
        rows.append(["default run: mlflow run . wall", f"{wall:.0f} s", "<= 120 s", ok(wall <= 120)])
        rows.append(["default run: best CV R2", f"{r2:.4f}", ">= 0.56", ok(r2 >= 0.56)])
    if full:
        f = full["overhead"]["overhead_fraction"]
        rows.append(
            ["overhead outside estimator fits", f"{100 * f:.1f}%", "<= 10%", ok(f <= TARGET_OVERHEAD)]
        )
    if bare and "ratio_wall" in bare:
        r = bare["ratio_wall"]
        rows.append(["wall ratio ours / bare scikit-learn", f"{r:.2f}", "<= 1.2", ok(r <= TARGET_RATIO)])
    big = str(max(sizes)) if scaling else None
    if scaling and int(big) >= 1_000_000:
        s = scaling[big]["stage_s"]
        secs = s["contract"] + s["features_summarize"] + s["fit_hist_gradient_boosting"]
        gib = scaling[big]["maxrss_mib"] / 1024
        rows.append(
            [
                f"{int(big):,} rows: contract + features + HGB fit",
                f"{secs:.0f} s",
                "<= 600 s",
                ok(secs <= 600),
            ]
        )
        rows.append(
            [f"{int(big):,} rows: peak memory", f"{gib:.2f} GiB", "<= 8 GiB", ok(gib <= TARGET_1M_GIB)]
        )
    par = results.get("parallel")
    if par:
        rows.append(
            ["parallel efficiency of the search", f"{100 * par['efficiency']:.0f}%", "(informative)", ""]
        )
    if rows:
        report.print(table(["target", "measured", "target", "verdict"], rows, "Targets"))
        report.print()


def ok(flag: bool) -> str:
    return "met" if flag else "NOT met"


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


def main(argv: list[str] | None = None) -> int:
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
    parser.add_argument("--skip-strategy", action="store_true", help="skip e. (grid against two-stage)")
    parser.add_argument("--skip-dask", action="store_true", help="skip f. (local against a LocalCluster)")
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
    args = parser.parse_args(argv)
    if args.reps < 1 or args.large_reps < 1 or args.full_reps < 1:
        parser.error("repetitions must be at least 1")
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

    import joblib

    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        recipe = quick_recipe(args.recipe.resolve(), Path(tmp)) if args.quick else args.recipe.resolve()
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
        if not args.skip_startup:
            report.results["startup"] = section_startup(report, max(reps, 3 if args.quick else 5), args.out)
            report.save()
        full = None
        if not args.skip_full:
            full = section_full(report, recipe, args.full_reps, args.out, workers)
            report.results["full"] = full
            report.save()
        if not args.skip_bare:
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
        if not args.skip_strategy and not args.quick:
            report.results["strategy"] = section_strategy(report, recipe, args.out)
            report.save()
        if not args.skip_dask:
            report.results["dask"] = section_dask(report, recipe, args.out)
            report.save()
        if not args.skip_scaling:
            report.results["scaling"] = section_scaling(
                report, recipe, sizes, reps, 1 if args.quick else args.large_reps, args.out
            )
            report.save()
        targets(report, report.results, sizes)
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
