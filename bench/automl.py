"""FLAML AutoML on the recipe's holdout split and CV folds: its best CV R2 and holdout R2, as JSON.

The split and the folds come from bench/bare.py's helpers (the CSV sorted by the identifiers, the
recipe's ShuffleSplit / GroupShuffleSplit holdout, its KFold / GroupKFold), and FLAML gets the fold
object itself (`eval_method="cv"`, `split_type=<the KFold>`, FLAML 2.8's documented custom splitter):
it then keeps the row order (only "uniform" and "stratified" split types shuffle the data first) and
scores the same folds the trainer scores. FLAML's loss for metric "r2" is 1 - R2 averaged over the
folds, so its best CV R2 is 1 - best_loss, comparable with the trainer's best_cv_r2 (mean fold R2).
FLAML gets the raw feature columns (it encodes categoricals itself), all its default estimators and
n_jobs -1; after the search it refits the best configuration on the training rows (retrain_full), and
that model scores the holdout.

    .venv/bin/python bench/automl.py --time-budget 60 [--recipe train.yaml] [--json OUT]

FLAML is a benchmark-only requirement (bench/requirements.txt, installed by `make bench`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sklearn.metrics import r2_score

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bare import load_schema, read_sorted, split_frame  # noqa: E402

log = logging.getLogger("bench.automl")


def run(args: argparse.Namespace) -> dict[str, Any]:
    try:
        import flaml
        from flaml import AutoML
    except ImportError as exc:
        raise SystemExit(
            f"bench/automl.py: FLAML is not importable ({exc}); `make bench` installs bench/requirements.txt"
        )
    recipe = yaml.safe_load(args.recipe.read_text())
    here = args.recipe.resolve().parent  # the recipe's data and schema paths are relative to it
    schema = load_schema(args.schema or here / recipe["schema"])
    frame = read_sorted(args.data or here / recipe["data"], schema)
    X = frame[list(schema.feature_columns)]
    y = frame[schema.target].to_numpy(dtype=np.float64)
    data = split_frame(recipe, frame, X, y)
    automl = AutoML()
    started = time.perf_counter()
    # FLAML's CatBoost estimator writes catboost_<time>/ into the working directory while it fits
    with tempfile.TemporaryDirectory(prefix="bench-automl-") as tmp, contextlib.chdir(tmp):
        automl.fit(
            data.X_train,
            data.y_train,
            task="regression",
            metric="r2",
            eval_method="cv",
            split_type=data.cv,
            groups=data.g_train,  # FLAML hands these to a GroupKFold (None for the plain KFold)
            time_budget=args.time_budget,
            n_jobs=args.n_jobs,
            seed=int((recipe.get("cv") or {}).get("random_state", 42) or 0),
            verbose=0,
            log_file_name="",
        )
    fit_s = time.perf_counter() - started
    return {
        "flaml_version": flaml.__version__,
        "time_budget_s": args.time_budget,
        "fit_s": fit_s,
        "rows_train": len(data.X_train),
        "rows_test": len(data.X_test),
        "folds": data.folds,
        "best_estimator": automl.best_estimator,
        "best_config": automl.best_config,
        "best_cv_r2": 1.0 - float(automl.best_loss),
        "test_r2": float(r2_score(data.y_test, automl.predict(data.X_test))),
        "trials": len(automl.config_history),
        "time_to_find_best_s": automl.time_to_find_best_model,
        "best_config_train_s": automl.best_config_train_time,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-budget", type=float, required=True, help="FLAML's time_budget, seconds")
    parser.add_argument("--data", type=Path, help="CSV (default: the recipe's data)")
    parser.add_argument("--schema", type=Path, help="schema YAML (default: the recipe's schema)")
    parser.add_argument("--recipe", type=Path, default=ROOT / "train.yaml")
    parser.add_argument("--n-jobs", type=int, default=-1, help="FLAML's n_jobs (default -1, all cores)")
    parser.add_argument("--json", type=Path, help="write the summary here instead of stdout")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    summary = json.dumps(run(args), indent=2, default=str)
    if args.json:
        args.json.write_text(summary + "\n")
    else:
        sys.stdout.write(summary + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
