"""The quality benchmark's peers: FLAML or AutoGluon on train.csv, scored on holdout.csv, as JSON.

Runs inside .venv-peers (bench/requirements-peers.txt: AutoGluon 1.6 needs pandas < 3, the product
pins pandas 3), started by bench/quality.py once per tool and dataset. What crosses between the venvs
is files and numbers only: in, two CSV paths (the trainer's own training and holdout rows, the feature
columns its schema declares plus the target), the target, the task, the metric, the positive class
and the time limit; out, a JSON object of numbers and names. Neither the trainer nor bench/ is
imported here, and this module imports neither peer at the top: `holdout_score` (numpy and
scikit-learn only) is the one scoring rule, used here for the peers and by bench/quality.py to rescore
our registered model, so all three are scored by the same code.

Each peer gets its defaults and the whole time limit: FLAML `AutoML(time_budget=T)` with its default
estimators and evaluation; AutoGluon `TabularPredictor(...).fit(time_limit=T, presets="medium_quality")`.
Both optimise the benchmark's metric (`PEER_METRICS`): R2 for a regression; ROC AUC of the positive
class for two classes; one-vs-rest ROC AUC weighted by class frequency for more (what the trainer
calls roc_auc there); log loss when the trainer selects by it.

    .venv-peers/bin/python bench/quality_peers.py --tool flaml --train T.csv --holdout H.csv \\
        --target y --task regression --metric r2 --time-limit 60 [--positive-class yes] [--json OUT]
    .venv-peers/bin/python bench/quality_peers.py --versions
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import shutil
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("bench.quality_peers")

TOOLS = ("flaml", "autogluon")
LOWER_IS_BETTER = frozenset({"log_loss"})
# (task kind, benchmark metric) -> the name FLAML and AutoGluon each give the same metric
PEER_METRICS = {
    ("regression", "r2"): {"flaml": "r2", "autogluon": "r2"},
    ("binary", "roc_auc"): {"flaml": "roc_auc", "autogluon": "roc_auc"},
    ("multiclass", "roc_auc"): {"flaml": "roc_auc_ovr_weighted", "autogluon": "roc_auc_ovr_weighted"},
    ("binary", "log_loss"): {"flaml": "log_loss", "autogluon": "log_loss"},
    ("multiclass", "log_loss"): {"flaml": "log_loss", "autogluon": "log_loss"},
}
VERSIONED = (
    "flaml",
    "autogluon.tabular",
    "pandas",
    "numpy",
    "scikit-learn",
    "lightgbm",
    "catboost",
    "xgboost-cpu",
)


def kind_of(task: str, labels: int) -> str:
    """regression, binary or multiclass."""
    return "regression" if task == "regression" else ("binary" if labels == 2 else "multiclass")


def holdout_score(
    metric: str, y: Any, prediction: Any, classes: list[Any] | None = None, positive: Any = None
) -> float:
    """The benchmark's metric on the holdout: `prediction` is the predicted values for r2, else the
    class probabilities with columns in `classes` order. Labels are compared as text, so a label read
    back from a CSV as a number still matches. roc_auc: of `positive` for two classes, one-vs-rest
    weighted by class frequency for more (the trainer's `roc_auc_ovr_weighted`)."""
    from sklearn.metrics import log_loss, r2_score, roc_auc_score

    if metric == "r2":
        return float(r2_score(np.asarray(y, dtype=np.float64), np.asarray(prediction, dtype=np.float64)))
    truth = np.asarray(y).astype(str)
    names = [str(c) for c in classes or ()]
    proba = np.asarray(prediction, dtype=np.float64)
    if metric == "log_loss":
        return float(log_loss(truth, proba, labels=names))
    if metric != "roc_auc":
        raise ValueError(f"unknown metric {metric!r}")
    if len(names) == 2:
        return float(roc_auc_score(truth == str(positive), proba[:, names.index(str(positive))]))
    return float(roc_auc_score(truth, proba, multi_class="ovr", average="weighted", labels=names))


def read_frames(args: argparse.Namespace) -> tuple[Any, Any]:
    import pandas as pd

    train, holdout = pd.read_csv(args.train, low_memory=False), pd.read_csv(args.holdout, low_memory=False)
    if args.task == "classification":  # labels as text on both sides (a 0/1 target too)
        train[args.target] = train[args.target].astype(str)
        holdout[args.target] = holdout[args.target].astype(str)
    return train, holdout


def run_flaml(args: argparse.Namespace, train: Any, holdout: Any, kind: str) -> dict[str, Any]:
    from flaml import AutoML

    X, y = train.drop(columns=[args.target]), train[args.target]
    automl = AutoML()
    started = time.perf_counter()
    # FLAML's CatBoost writes catboost_info/ into the working directory
    with tempfile.TemporaryDirectory(prefix="quality-flaml-", dir=args.workdir) as tmp, contextlib.chdir(tmp):
        automl.fit(
            X,
            y,
            task="regression" if kind == "regression" else "classification",
            metric=PEER_METRICS[(kind, args.metric)]["flaml"],
            time_budget=args.time_limit,
            n_jobs=-1,
            seed=42,
            verbose=0,
            log_file_name="",
        )
    fit_s = time.perf_counter() - started
    Xh = holdout.drop(columns=[args.target])
    if kind == "regression":
        prediction, classes = automl.predict(Xh), None
    else:
        prediction, classes = automl.predict_proba(Xh), [str(c) for c in automl.classes_]
    return {
        "fit_s": fit_s,
        "score": holdout_score(args.metric, holdout[args.target], prediction, classes, args.positive_class),
        "best_model": automl.best_estimator,
        "best_config": automl.best_config,
        # config_history holds the trials that improved on the best so far, not every trial
        "improvements": len(automl.config_history),
        "trials": sum(getattr(automl, "_iter_per_learner", {}).values()) or None,
        "time_to_find_best_s": automl.time_to_find_best_model,
    }


def run_autogluon(args: argparse.Namespace, train: Any, holdout: Any, kind: str) -> dict[str, Any]:
    from autogluon.tabular import TabularPredictor

    folder = Path(tempfile.mkdtemp(prefix="quality-autogluon-", dir=args.workdir))
    try:
        predictor = TabularPredictor(
            label=args.target,
            problem_type=kind,
            eval_metric=PEER_METRICS[(kind, args.metric)]["autogluon"],
            path=str(folder),
            verbosity=1,
            positive_class=args.positive_class if kind == "binary" else None,
        )
        started = time.perf_counter()
        predictor.fit(train, time_limit=args.time_limit, presets="medium_quality")
        fit_s = time.perf_counter() - started
        Xh = holdout.drop(columns=[args.target])
        if kind == "regression":
            prediction, classes = predictor.predict(Xh), None
        else:
            proba = predictor.predict_proba(Xh)
            prediction, classes = proba.to_numpy(), [str(c) for c in proba.columns]
        board = predictor.leaderboard(silent=True)
        return {
            "fit_s": fit_s,
            "score": holdout_score(
                args.metric, holdout[args.target], prediction, classes, args.positive_class
            ),
            "best_model": predictor.model_best,
            "models": int(len(board)),
            "leaderboard": board[["model", "score_val", "fit_time"]].head(10).to_dict("records"),
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # a few hundred MB of saved models per dataset


def versions() -> dict[str, str]:
    found = {"python": sys.version.split()[0]}
    for name in VERSIONED:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    train, holdout = read_frames(args)
    labels = int(train[args.target].nunique()) if args.task == "classification" else 0
    kind = kind_of(args.task, labels)
    if (kind, args.metric) not in PEER_METRICS:
        raise SystemExit(f"quality_peers: no peer metric for {kind} / {args.metric}")
    if kind == "binary" and args.positive_class is None:
        raise SystemExit("quality_peers: --positive-class is required for two classes")
    runner = run_flaml if args.tool == "flaml" else run_autogluon
    result = runner(args, train, holdout, kind)
    return {
        "tool": args.tool,
        "kind": kind,
        "metric": args.metric,
        "time_limit_s": args.time_limit,
        "rows_train": len(train),
        "rows_holdout": len(holdout),
        **result,
        "wall_in_process_s": time.perf_counter() - started,
        "versions": versions(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tool", choices=TOOLS)
    parser.add_argument("--train", type=Path)
    parser.add_argument("--holdout", type=Path)
    parser.add_argument("--target")
    parser.add_argument("--task", choices=("regression", "classification"))
    parser.add_argument("--metric", choices=("r2", "roc_auc", "log_loss"))
    parser.add_argument("--positive-class", help="the positive label of a two-class target")
    parser.add_argument(
        "--time-limit", type=float, help="seconds: FLAML's time_budget, AutoGluon's time_limit"
    )
    parser.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: the system's)")
    parser.add_argument("--json", type=Path, help="write the result here instead of stdout")
    parser.add_argument("--versions", action="store_true", help="print the peers' package versions and exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    if args.versions:
        result: dict[str, Any] = versions()
    else:
        missing = [a for a in ("tool", "train", "holdout", "target", "task", "metric", "time_limit")
                   if getattr(args, a) is None]  # fmt: skip
        if missing:
            parser.error("missing " + ", ".join("--" + m.replace("_", "-") for m in missing))
        result = run(args)
        log.info("%s: holdout %s %.4f (fit %.1f s)", args.tool, args.metric, result["score"], result["fit_s"])
    text = json.dumps(result, indent=2, default=str)
    if args.json:
        args.json.write_text(text + "\n")
    else:
        sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
