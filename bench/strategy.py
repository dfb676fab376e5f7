"""Grid, two-stage and halving search on wider grids: best CV R², grid points tried, wall and CPU time.

The default recipe's grids are small (1-3 points), where every strategy tries the same points. This
runs the trainer's own `search.search_candidate` on the default data, with the recipe's split,
folds and n_jobs, over wider grids (4 values per parameter), once per strategy:

    .venv/bin/python bench/strategy.py [--recipe train.yaml] [--n-iter 6] [--strategies grid,halving]
                                       [--json OUT]

`two_stage` samples `--n-iter` grid points at random, then tries the best one's neighbours (each
parameter's adjacent values), so it can miss the grid's best point: the table shows by how much.
`halving` (trainer/search/halving.py) races every point on growing row samples, then scores the last
round's best on every row; it can miss the best point too, when small samples favour other points.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from trainer.catalogue.regressors import CATALOGUE  # noqa: E402
from trainer.data.contract import read_csv  # noqa: E402
from trainer.data.schema import load_schema  # noqa: E402
from trainer.data.split import split_data  # noqa: E402
from trainer.recipe.settings import SearchSettings, load_recipe  # noqa: E402
from trainer.search.candidate_search import search_candidate  # noqa: E402
from trainer.search.plan import make_plan  # noqa: E402

STRATEGIES = ("grid", "two_stage", "halving")
WIDE_GRIDS: dict[str, dict[str, list[Any]]] = {
    "hist_gradient_boosting": {
        "max_iter": [200],
        "learning_rate": [0.02, 0.05, 0.1, 0.2],
        "max_leaf_nodes": [7, 15, 31, 63],
        "min_samples_leaf": [10, 20, 40, 80],
    },
    "xgboost": {
        "n_estimators": [300],
        "subsample": [0.8],
        "learning_rate": [0.01, 0.03, 0.1, 0.3],
        "max_depth": [2, 3, 4, 6],
        "min_child_weight": [1, 5, 10, 20],
    },
}


def _tree_cpu() -> float:
    """CPU seconds of this process and its live children (the loky workers, reused between searches):
    unlike wall time, barely moved by other work on a shared machine."""
    import psutil

    me = psutil.Process()
    procs = [me, *me.children(recursive=True)]
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += t.user + t.system
    return total


def compare(
    recipe_path: Path, data: Path, schema_path: Path, n_iter: int, strategies: list[str]
) -> dict[str, Any]:
    """Each strategy on every wide grid; the seeds, split and folds are the recipe's."""
    from threadpoolctl import threadpool_limits

    recipe, schema = load_recipe(recipe_path), load_schema(schema_path)
    split = split_data(read_csv(data), schema, recipe.split)  # read as the trainer reads it
    base = make_plan(recipe, schema, split)
    out: dict[str, Any] = {}
    with threadpool_limits(limits=1):  # as the trainer runs: parallelism from n_jobs only
        for name, grid in WIDE_GRIDS.items():
            for strategy in strategies:
                settings = SearchSettings(strategy=strategy, n_iter=n_iter)
                started, cpu = time.perf_counter(), _tree_cpu()
                result = search_candidate(CATALOGUE[name], grid, replace(base, settings=settings))
                out.setdefault(name, {})[strategy] = {
                    "wall_s": time.perf_counter() - started,
                    "cpu_s": _tree_cpu() - cpu,
                    "points": result.grid_size,
                    "cv_r2": result.cv_r2_mean,
                    "best_params": result.best_params,
                }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data/raw/star_grade3.csv")
    parser.add_argument("--schema", type=Path, default=ROOT / "data/schema.yaml")
    parser.add_argument("--recipe", type=Path, default=ROOT / "train.yaml")
    parser.add_argument("--n-iter", type=int, default=6, help="random points in the first stage")
    parser.add_argument("--strategies", default=",".join(STRATEGIES), help="comma-separated")
    parser.add_argument("--json", type=Path, help="write the summary here instead of stdout")
    args = parser.parse_args(argv)
    summary = json.dumps(
        compare(args.recipe, args.data, args.schema, args.n_iter, args.strategies.split(",")),
        indent=2,
        default=str,
    )
    if args.json:
        args.json.write_text(summary + "\n")
    else:
        print(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
