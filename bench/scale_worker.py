"""One scaling measurement in a fresh process (run by bench/run.py; one process per size and repetition).

On one CSV: the data contract (`trainer.data.contract.validate`, with its steps timed), the features
(one-hot preprocessor fit_transform, and `summarize_features`, which adds the sha256 digest), and
one Pipeline fit each of the recipe's HistGradientBoosting and XGBoost candidates (first grid value
of every parameter, estimators exactly as `trainer.catalogue.regressors.CATALOGUE` builds them; an estimator
without an n_jobs of its own, i.e. HistGradientBoosting on OpenMP, is fitted a second time on one
thread, as it runs inside the search's workers). Libraries are
imported before the clocks start, so the stage times scale with the rows and nothing else. The
peak RSS (ru_maxrss) is read after every stage; it only grows, so the stage where it jumps is the one
that set the peak.

    .venv/bin/python bench/scale_worker.py --data X.csv --recipe train.yaml --json OUT.json
"""

from __future__ import annotations

import argparse
import functools
import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BOOSTED = ("hist_gradient_boosting", "xgboost")


def maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _timed(store: dict[str, float], name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def inner(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            store[name] = store.get(name, 0.0) + time.perf_counter() - started

    return inner


def contract_stage(out: dict[str, Any], data: Path, schema: Any) -> Any:
    """The data contract on `data`, with its steps timed; the validated frame."""
    from trainer.data import contract

    steps: dict[str, float] = {}
    for name in ("read_csv", "run_suite", "_text_as_object", "render_data_docs", "file_digest"):
        setattr(contract, name, _timed(steps, name, getattr(contract, name)))
    t = time.perf_counter()
    result = contract.validate(data, schema)
    out["stages"]["contract"] = time.perf_counter() - t
    out["contract_steps"] = steps
    out["contract_success"] = result.success
    out["contract_summary"] = result.summary()
    out["rows"] = len(result.frame)
    out["maxrss_mib"]["contract"] = maxrss_mib()
    return result.frame


def feature_stages(out: dict[str, Any], frame: Any, schema: Any) -> tuple[Any, Any]:
    """One-hot fit_transform and the feature summary, timed; the features and the target."""
    from trainer.data.features import build_preprocessor, summarize_features

    X = frame[list(schema.feature_columns)]
    y = frame[schema.target].to_numpy(dtype="float64")
    t = time.perf_counter()
    matrix = build_preprocessor(schema, "onehot").fit_transform(X)
    out["stages"]["features_fit_transform"] = time.perf_counter() - t
    out["feature_columns"] = int(matrix.shape[1])
    del matrix
    t = time.perf_counter()
    summarize_features(schema, X)
    out["stages"]["features_summarize"] = time.perf_counter() - t
    out["maxrss_mib"]["features"] = maxrss_mib()
    return X, y


def fit_stages(out: dict[str, Any], fits: tuple[str, ...], recipe: dict, schema: Any, X: Any, y: Any) -> dict:
    """One fit per candidate with the first value of every parameter, timed; threads per estimator."""
    import threadpoolctl

    from trainer.catalogue.regressors import CATALOGUE
    from trainer.data.features import build_pipeline

    threads = {}
    for name in fits:
        spec = CATALOGUE[name]
        grid = (recipe.get("candidates") or {}).get(name) or {}
        params = {k: (v[0] if isinstance(v, list) else v) for k, v in grid.items()}
        # As catalogued; HistGradientBoosting a second time on one OpenMP thread, which is how it
        # runs inside the search's loky workers (joblib caps their threads at cores // n_jobs).
        variants = [("", None)] + (
            [("_1thread", 1)] if spec.make().get_params().get("n_jobs") is None else []
        )
        for suffix, limit in variants:
            pipeline = build_pipeline(schema, spec.encoding, spec.make().set_params(**params))
            t = time.perf_counter()
            with threadpoolctl.threadpool_limits(limits=limit, user_api="openmp"):
                pipeline.fit(X, y)
            out["stages"][f"fit_{name}{suffix}"] = time.perf_counter() - t
            out["maxrss_mib"][f"fit_{name}{suffix}"] = maxrss_mib()
            del pipeline
        model = spec.make()
        threads[name] = getattr(model, "n_jobs", None) or "openmp"
    return threads


def measure(data: Path, schema_path: Path, recipe_path: Path, fits: tuple[str, ...]) -> dict[str, Any]:
    t = time.perf_counter()
    import great_expectations  # noqa: F401 - imported up front: import time is measured apart
    import sklearn.ensemble  # noqa: F401
    import threadpoolctl
    import xgboost  # noqa: F401
    import yaml

    from trainer.catalogue.regressors import CATALOGUE  # noqa: F401
    from trainer.data import contract  # noqa: F401
    from trainer.data.features import build_pipeline, build_preprocessor, summarize_features  # noqa: F401
    from trainer.data.schema import load_schema

    out: dict[str, Any] = {"import_s": time.perf_counter() - t, "stages": {}, "maxrss_mib": {}}
    out["maxrss_mib"]["imports"] = maxrss_mib()
    schema = load_schema(schema_path)
    recipe = yaml.safe_load(recipe_path.read_text())
    frame = contract_stage(out, data, schema)
    X, y = feature_stages(out, frame, schema)
    threads = fit_stages(out, fits, recipe, schema, X, y)
    out["fit_params"] = {n: (recipe.get("candidates") or {}).get(n) for n in fits}
    out["openmp_threads"] = max(
        (p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "openmp"), default=None
    )
    out["estimator_threads"] = threads
    out["maxrss_peak_mib"] = maxrss_mib()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--schema", type=Path, default=ROOT / "data/schema.yaml")
    parser.add_argument("--recipe", type=Path, default=ROOT / "train.yaml")
    parser.add_argument("--fits", default=",".join(BOOSTED), help="candidates to fit once (comma list)")
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args(argv)
    fits = tuple(f for f in args.fits.split(",") if f)
    args.json.write_text(json.dumps(measure(args.data, args.schema, args.recipe, fits), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
