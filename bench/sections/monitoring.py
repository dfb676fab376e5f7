"""Section h: after promotion at scale. A small model (dummy, ridge, hist_gradient_boosting of the
recipe) is trained and registered on the default data into a fresh store, then `trainer predict` and
`trainer monitor` run on 1 M synthetic rows (bench.synthetic: the same contract passes), each as its own
measured process. Targets: predict <= 60 s and <= 2 GiB peak memory, monitor <= 90 s."""

from __future__ import annotations

import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml

from bench.constants import GIB, PYTHON
from bench.measure import check, run_measured
from bench.report import Report, fmt_pressure, table
from bench.store import fresh_store, tracking_env

CANDIDATES = ("dummy", "ridge", "hist_gradient_boosting")
TARGET_PREDICT_S, TARGET_PREDICT_GIB, TARGET_MONITOR_S = 60.0, 2.0, 90.0


def _small_recipe(recipe: Path, folder: Path) -> Path:
    data = yaml.safe_load(recipe.read_text())
    data["candidates"] = {k: v for k, v in data["candidates"].items() if k in CANDIDATES}
    data["search"] = {**data.get("search", {}), "blend_top": 0}
    data["data"] = str(recipe.parent / data["data"])
    data["schema"] = str(recipe.parent / data["schema"])
    path = folder / "monitoring_recipe.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _trainer(args: list[str], uri: str, log: Path, what: str) -> dict[str, Any]:
    m = run_measured([PYTHON, "-m", "trainer", *args], log, env=tracking_env(uri))
    if m.returncode not in (0, 3):  # monitor exits 3 when synthetic data drifts from the real
        check(m, what)
    return asdict(m)


def section_monitoring(report: Report, recipe: Path, rows: int, out_dir: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-monitoring-") as tmp:
        folder = Path(tmp)
        small = _small_recipe(recipe, folder)
        experiment = yaml.safe_load(small.read_text())["experiment"]
        uri, _ = fresh_store(folder, experiment)
        model = yaml.safe_load(small.read_text())["registered_model"]
        report.progress("h. monitoring: training a small model")
        _trainer(["train", "--recipe", str(small)], uri, out_dir / "monitoring_train.log", "trainer train")
        csv = folder / f"synthetic_{rows}.csv"
        report.progress(f"h. monitoring: generating {rows:,} rows")
        gen = [PYTHON, "-m", "bench.synthetic", "--rows", str(rows), "--out", str(csv)]
        check(run_measured(gen, out_dir / "monitoring_synthetic.log", quiet=False), "bench.synthetic")
        uri_args = f"models:/{model}/1"
        report.progress(f"h. monitoring: trainer predict on {rows:,} rows")
        out = folder / "predictions.csv"
        predict = _trainer(
            ["predict", uri_args, "--data", str(csv), "--out", str(out)],
            uri,
            out_dir / "monitoring_predict.log",
            "predict",
        )
        predicted = sum(1 for _ in open(out)) - 1
        report.progress(f"h. monitoring: trainer monitor on {rows:,} rows")
        monitor = _trainer(
            ["monitor", uri_args, "--data", str(csv), "--out", str(folder / "report")],
            uri,
            out_dir / "monitoring_monitor.log",
            "monitor",
        )
    result = {"rows": rows, "predicted_rows": predicted, "predict": predict, "monitor": monitor}
    print_monitoring(report, result)
    return result


def monitoring_rows(result: dict[str, Any]) -> list[list[str]]:
    """[target, measured, target, verdict] rows of section h."""
    p, m, rows = result["predict"], result["monitor"], result["rows"]
    gib = p["maxrss_mib"] / 1024

    def ok(good: bool) -> str:
        return "met" if good else "NOT met"

    return [
        [f"predict {rows:,} rows: wall", f"{p['wall_s']:.1f} s", f"<= {TARGET_PREDICT_S:.0f} s", ok(p["wall_s"] <= TARGET_PREDICT_S)],
        [f"predict {rows:,} rows: peak memory", f"{gib:.2f} GiB", f"<= {TARGET_PREDICT_GIB:g} GiB", ok(gib <= TARGET_PREDICT_GIB)],
        [f"monitor {rows:,} rows: wall", f"{m['wall_s']:.1f} s", f"<= {TARGET_MONITOR_S:.0f} s", ok(m["wall_s"] <= TARGET_MONITOR_S)],
    ]  # fmt: skip


def print_monitoring(report: Report, result: dict[str, Any]) -> None:
    p, m = result["predict"], result["monitor"]
    report.print(
        table(["target", "measured", "target", "verdict"], monitoring_rows(result), "h. After promotion")
    )
    report.print(
        f"predict: CPU {p['user_s'] + p['sys_s']:.1f} s, {result['predicted_rows']:,} rows written; monitor: "
        f"CPU {m['user_s'] + m['sys_s']:.1f} s, peak {m['maxrss_mib'] / 1024:.2f} GiB; other work used "
        f"{fmt_pressure(max(p['others_cpu'] or 0.0, m['others_cpu'] or 0.0))} of the CPUs meanwhile "
        f"(load {p['load_before']:.2f} before predict)"
    )
    report.print()


__all__ = ["GIB", "section_monitoring"]
