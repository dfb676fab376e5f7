"""Bare scikit-learn baseline: the recipe's searches with no contract, no tracking, no registry.

What a person would write by hand to get the same model: read the CSV with pandas, sort by the
identifiers, take the recipe's holdout split and CV folds, run one GridSearchCV per candidate with
the trainer's own Pipeline (`trainer.data.features.build_pipeline` + `trainer.catalogue.regressors.CATALOGUE`) and
the trainer's GridSearchCV settings (scoring r2, refit False, error_score raise, the recipe's n_jobs),
score the recipe's blend (search.blend_top: an averaging VotingRegressor of the best candidates'
Pipelines) with the same CV, pick the best mean CV R², refit it on the training rows and score the
holdout. The recipe and schema are read with `yaml.safe_load`, not with trainer.recipe.settings / trainer.data.schema.

    .venv/bin/python bench/bare.py [--recipe train.yaml] [--n-jobs N] [--cache] [--json OUT]

Prints a JSON summary of its own phase timings (seconds, wall) on stdout, or writes it to --json.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402 - the clock starts before the imports, which are part of the cost
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402
from sklearn.ensemble import VotingRegressor  # noqa: E402
from sklearn.metrics import r2_score  # noqa: E402
from sklearn.model_selection import (  # noqa: E402
    GridSearchCV,
    GroupKFold,
    GroupShuffleSplit,
    KFold,
    ShuffleSplit,
)
from sklearn.pipeline import Pipeline  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from trainer.catalogue.regressors import CATALOGUE  # noqa: E402
from trainer.data.features import build_pipeline  # noqa: E402
from trainer.data.schema import DerivedFeature, Schema  # noqa: E402

IMPORTED = time.perf_counter()


def load_schema(path: Path) -> Schema:
    """The column roles, straight from YAML (no role checks, no digests)."""
    data = yaml.safe_load(path.read_text())
    return Schema(
        path=path,
        name=data.get("name", ""),
        suite_path=path.parent / data["suite"],
        target=data["target"],
        identifiers=tuple(data.get("identifiers") or ()),
        numerical=tuple(data.get("numerical") or ()),
        categorical=tuple(data.get("categorical") or ()),
        derived=tuple(DerivedFeature(**d) for d in data.get("derived") or ()),
    )


def grid_of(params: dict[str, Any] | None) -> dict[str, list[Any]]:
    return {f"model__{k}": v if isinstance(v, list) else [v] for k, v in (params or {}).items()}


def blend(members: list[str], candidates: dict[str, Any], schema: Schema) -> Pipeline:
    estimators = [
        (
            n,
            build_pipeline(
                schema, CATALOGUE[n].encoding, CATALOGUE[n].make().set_params(**candidates[n]["best_params"])
            ),
        )
        for n in members
    ]
    return Pipeline([("model", VotingRegressor(estimators))])


@dataclass
class Split:
    """The recipe's holdout split and CV folds over the sorted frame."""

    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_train: np.ndarray
    y_test: np.ndarray
    g_train: np.ndarray | None
    cv: Any
    folds: int


def read_sorted(data: Path, schema: Schema) -> pd.DataFrame:
    """The CSV as pandas reads it, sorted by the identifiers (stable) like the trainer sorts it."""
    frame = pd.read_csv(data)
    keys = [c for c in schema.identifiers if c in frame.columns] or list(frame.columns)
    return frame.sort_values(keys, kind="mergesort").reset_index(drop=True)


def split_frame(recipe: dict[str, Any], frame: pd.DataFrame, X: pd.DataFrame, y: np.ndarray) -> Split:
    split, cv_cfg = recipe.get("split") or {}, recipe.get("cv") or {}
    group_by = split.get("group_by")
    groups = frame[group_by].to_numpy() if group_by else None
    splitter_cls = GroupShuffleSplit if group_by else ShuffleSplit
    splitter = splitter_cls(
        1, test_size=split.get("test_size", 0.2), random_state=split.get("random_state", 42)
    )
    train, test = (np.sort(i) for i in next(splitter.split(X, y, groups)))
    shuffle = bool(cv_cfg.get("shuffle", True))
    seed = cv_cfg.get("random_state", 42) if shuffle else None
    folds = int(cv_cfg.get("folds", 5))
    return Split(
        X_train=X.iloc[train].reset_index(drop=True),
        X_test=X.iloc[test].reset_index(drop=True),
        y_train=y[train],
        y_test=y[test],
        g_train=None if groups is None else groups[train],
        cv=(GroupKFold if group_by else KFold)(n_splits=folds, shuffle=shuffle, random_state=seed),
        folds=folds,
    )


def timed_search(search: GridSearchCV, data: Split) -> tuple[dict[str, Any], float]:
    """Fit a GridSearchCV on the training rows: its cv_results_ and wall seconds."""
    t = time.perf_counter()
    search.fit(data.X_train, data.y_train, groups=data.g_train)
    return search.cv_results_, time.perf_counter() - t


def search_candidates(
    recipe: dict[str, Any], schema: Schema, data: Split, n_jobs: int, memory: Any
) -> dict[str, Any]:
    """One GridSearchCV per candidate with the trainer's settings: wall, fits, best CV R2 and params."""
    candidates: dict[str, Any] = {}
    for name, params in recipe["candidates"].items():
        spec = CATALOGUE[name]
        search = GridSearchCV(
            build_pipeline(schema, spec.encoding, spec.make(), memory=memory),
            [grid_of(params)],
            scoring="r2",
            cv=data.cv,
            refit=False,
            error_score="raise",
            n_jobs=n_jobs,
        )
        res, wall = timed_search(search, data)
        best = int(np.argmax(res["mean_test_score"]))
        candidates[name] = {
            "wall_s": wall,
            "estimator_s": float((res["mean_fit_time"] + res["mean_score_time"]).sum() * data.folds),
            "fits": len(res["params"]) * data.folds,
            "cv_r2": float(res["mean_test_score"][best]),
            "best_params": {k.removeprefix("model__"): v for k, v in res["params"][best].items()},
        }
    return candidates


def search_blend(
    recipe: dict[str, Any], schema: Schema, data: Split, n_jobs: int, candidates: dict[str, Any]
) -> list[str]:
    """Score the recipe's blend (added to `candidates` as "blend" when it has 2+ members); its members."""
    blend_top = int((recipe.get("search") or {}).get("blend_top", 0) or 0)
    baseline = (recipe.get("gates") or {}).get("baseline", "dummy")
    members = sorted(
        (n for n in candidates if n != baseline),
        key=lambda n: (-round(candidates[n]["cv_r2"], 10), CATALOGUE[n].complexity, n),
    )[:blend_top]
    if blend_top >= 2 and len(members) >= 2:
        # The recipe's blend: an averaging VotingRegressor of the best members' whole Pipelines.
        search = GridSearchCV(blend(members, candidates, schema), [{}], scoring="r2", cv=data.cv, refit=False,
                              error_score="raise", n_jobs=n_jobs)  # fmt: skip
        res, wall = timed_search(search, data)
        candidates["blend"] = {
            "wall_s": wall,
            "estimator_s": float((res["mean_fit_time"] + res["mean_score_time"]).sum() * data.folds),
            "fits": data.folds,
            "cv_r2": float(res["mean_test_score"][0]),
            "best_params": {},
        }
    return members


def refit_winner(
    winner: str, members: list[str], candidates: dict[str, Any], schema: Schema, data: Split
) -> float:
    """Refit the best candidate on the training rows; its holdout R2."""
    if winner == "blend":
        pipeline = blend(members, candidates, schema).fit(data.X_train, data.y_train)
    else:
        spec = CATALOGUE[winner]
        model = spec.make().set_params(**candidates[winner]["best_params"])
        pipeline = build_pipeline(schema, spec.encoding, model).fit(data.X_train, data.y_train)
    return float(r2_score(data.y_test, pipeline.predict(data.X_test)))


def run(args: argparse.Namespace) -> dict[str, Any]:
    t = time.perf_counter()
    recipe = yaml.safe_load(args.recipe.read_text())
    strategy = (recipe.get("search") or {}).get("strategy", "grid")
    if strategy != "grid":
        raise SystemExit(f"bench/bare.py implements the grid search strategy only, not {strategy!r}")
    schema = load_schema(args.schema)
    frame = read_sorted(args.data, schema)
    X = frame[list(schema.feature_columns)]
    y = frame[schema.target].to_numpy(dtype=np.float64)
    read_s = time.perf_counter() - t

    t = time.perf_counter()
    data = split_frame(recipe, frame, X, y)
    n_jobs = args.n_jobs if args.n_jobs is not None else (recipe.get("n_jobs", -1) or 1)
    split_s = time.perf_counter() - t

    memory = None
    cache = tempfile.TemporaryDirectory(prefix="bare-cache-") if args.cache else None
    if cache is not None:
        from joblib import Memory

        memory = Memory(cache.name, verbose=0)
    candidates = search_candidates(recipe, schema, data, n_jobs, memory)
    if cache is not None:
        cache.cleanup()
    members = search_blend(recipe, schema, data, n_jobs, candidates)

    t = time.perf_counter()
    winner = max(candidates, key=lambda n: candidates[n]["cv_r2"])
    test_r2 = refit_winner(winner, members, candidates, schema, data)
    refit_s = time.perf_counter() - t
    return {
        "n_jobs": n_jobs,
        "cache": bool(args.cache),
        "rows": len(frame),
        "import_s": IMPORTED - STARTED,
        "read_s": read_s,
        "split_s": split_s,
        "search_s": sum(c["wall_s"] for c in candidates.values()),
        "estimator_s": sum(c["estimator_s"] for c in candidates.values()),
        "fits": sum(c["fits"] for c in candidates.values()),
        "refit_s": refit_s,
        "total_s": time.perf_counter() - STARTED,
        "winner": winner,
        "winner_cv_r2": candidates[winner]["cv_r2"],
        "test_r2": test_r2,
        "candidates": {n: {k: v for k, v in c.items() if k != "best_params"} for n, c in candidates.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data/raw/star_grade3.csv")
    parser.add_argument("--schema", type=Path, default=ROOT / "data/schema.yaml")
    parser.add_argument("--recipe", type=Path, default=ROOT / "train.yaml")
    parser.add_argument("--n-jobs", type=int, default=None, help="override the recipe's n_jobs")
    parser.add_argument("--cache", action="store_true", help="cache the preprocessing like the trainer")
    parser.add_argument("--json", type=Path, help="write the summary here instead of stdout")
    args = parser.parse_args(argv)
    summary = json.dumps(run(args), indent=2, default=str)
    if args.json:
        args.json.write_text(summary + "\n")
    else:
        print(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
