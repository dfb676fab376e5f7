"""Command line: argument parsing, logging setup, one-line errors and stable exit codes."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, NoReturn

from trainer.cli.after_promotion import after_promotion, after_promotion_parsers
from trainer.cli.arguments import Parser, dataset_name, path_or_recipes, seconds, yes_no
from trainer.errors import EXIT_ERROR, EXIT_OK, ConfigError, TrainerError, failure_line, redact_uri

log = logging.getLogger("trainer")

DEFAULT_RECIPE = Path("train.yaml")

EPILOG = (
    "exit codes: 0 success, 1 other error, 2 data contract failure, 3 quality gate failure, "
    "64 usage error (unknown option, missing argument), 130 interrupted (SIGINT), "
    "143 terminated (SIGTERM)"
)


class Terminated(BaseException):
    """SIGTERM arrived: unwind so the MLflow run is marked FAILED, then exit 143.

    A BaseException, like KeyboardInterrupt: no `except Exception` on the way up (ours around a
    grid search, MLflow's around a store call) may mistake the signal for an ordinary failure.
    """

    exit_code = 143


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated("terminated by SIGTERM")


def _inputs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", type=path_or_recipes, help="raw CSV (left out, or `recipe`: the recipe's `data:`)"
    )
    parser.add_argument(
        "--schema", type=path_or_recipes, help="column roles (left out, or `recipe`: the recipe's)"
    )
    parser.add_argument(
        "--recipe", type=Path, default=DEFAULT_RECIPE, help="training recipe (default: %(default)s)"
    )


def _resolve_inputs(args: argparse.Namespace) -> None:
    """Fill a left-out --data / --schema from the recipe's `data:` / `schema:` keys."""
    if args.data is not None and args.schema is not None:
        return
    from trainer.recipe.settings import load_recipe

    recipe = load_recipe(args.recipe)
    for key in ("data", "schema"):
        if getattr(args, key) is None:
            path = recipe.input_path(key)
            if path is None:
                raise ConfigError(f"no --{key} given and recipe {args.recipe} sets no '{key}:'")
            setattr(args, key, path)


def _init_parser(sub: Any) -> None:
    p = sub.add_parser("init", help="draft a schema, suite and recipe from a CSV, for review", epilog=EPILOG)
    p.add_argument("--data", type=Path, required=True, help="the dataset's CSV (only read)")
    p.add_argument("--target", required=True, help="the column to predict")
    p.add_argument(
        "--task", choices=("regression", "classification"), help="default: inferred from the target"
    )
    p.add_argument(
        "--categorical",
        nargs="+",
        default=[],
        metavar="COLUMN",
        help="draft these columns as categories whatever their type (e.g. codes 1..5)",
    )
    p.add_argument(
        "--name",
        type=dataset_name,
        help="dataset, experiment and registered model name (default: the CSV's stem)",
    )
    p.add_argument("--out", type=Path, help="folder for the three drafts (default: datasets/NAME)")
    p.add_argument("--force", action="store_true", help="overwrite existing drafts")


def _train_parser(sub: Any) -> None:
    """`trainer train`'s options."""
    p = sub.add_parser("train", help="contract, search, select and register", epilog=EPILOG)
    _inputs(p)
    p.add_argument("--no-register", action="store_true", help="select but do not register a model version")
    p.add_argument(
        "--time-budget",
        type=seconds,
        default=0.0,
        metavar="SECONDS",
        help="return the best model found within this many seconds (0: the recipe's search.time_budget)",
    )
    p.add_argument(
        "--dask-scheduler",
        default=os.environ.get("TRAINER_DASK_SCHEDULER"),
        help="run the CV fits on a Dask cluster (tcp://HOST:PORT; env TRAINER_DASK_SCHEDULER)",
    )


def build_parser() -> argparse.ArgumentParser:
    """All subcommands; kept import-light so `--help` answers instantly."""
    parser = Parser(prog="trainer", description=__doc__, epilog=EPILOG)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    _init_parser(sub)

    p = sub.add_parser("validate", help="run the data contract alone", epilog=EPILOG)
    _inputs(p)

    _train_parser(sub)

    help_promote = "move an alias to a version if it scores at least as well"
    p = sub.add_parser("promote", help=help_promote, epilog=EPILOG)
    _inputs(p)
    p.add_argument("--version", required=True, help="model version number to promote")
    p.add_argument("--alias", default="champion")
    p.add_argument("--name", help="registered model (default: the recipe's)")
    force = "promote even if it scores worse (recorded on the version)"
    p.add_argument("--force", nargs="?", const="yes", default="no", type=yes_no, help=force)

    p = sub.add_parser("explain", help="how a model version was trained, from the registry alone")
    p.add_argument(
        "model_uri",
        help="models:/NAME/N, models:/NAME@alias, models:/NAME/latest, models:/m-<model_id> or runs:/<run_id>/model",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("reproduce", help="re-run the training a model version recorded, and compare")
    p.add_argument("model_uri", help="models:/NAME/N or models:/NAME@alias")
    after_promotion_parsers(sub, EPILOG)
    return parser


def next_step(args: argparse.Namespace, model_uri: str, alias: str | None) -> str:
    """The exact command after a training: load the alias it took, or promote the new version."""
    from trainer.recipe.settings import load_recipe

    name, _, version = model_uri.removeprefix("models:/").rpartition("/")
    if alias:
        return f'mlflow.sklearn.load_model("models:/{name}@{alias}")  (or: trainer explain models:/{name}@{alias})'
    recipe = load_recipe(args.recipe)
    words = ["trainer promote --version", version]
    for key in ("data", "schema"):
        if Path(getattr(args, key)) != recipe.input_path(key):
            words.append(f"--{key} {getattr(args, key)}")
    if args.recipe != DEFAULT_RECIPE:
        words.append(f"--recipe {args.recipe}")
    if recipe.promotion.alias != "champion":
        words.append(f"--alias {recipe.promotion.alias}")
    return " ".join(words)


def setup_logging(verbose: bool) -> None:
    """Our own concise log lines on stderr."""
    level = logging.DEBUG if verbose else logging.INFO
    root = logging.getLogger()
    if root.handlers:  # called in-process (tests, notebooks): keep the caller's handlers
        root.setLevel(level)
        return
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)-7s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr
    )


def dispatch(args: argparse.Namespace) -> int:
    """Run one subcommand with single-threaded native libraries (see `_run`)."""
    from threadpoolctl import threadpool_limits

    if args.command == "init":  # drafting reads one CSV and fits nothing
        from trainer.onboarding.draft import Asked, write_drafts

        asked = Asked(args.target, args.task, args.name, tuple(args.categorical))
        print(write_drafts(args.data, asked, args.out, args.force))
        return EXIT_OK
    # Parallelism comes from n_jobs (one process per CV fit). Letting OpenMP/BLAS also spread every
    # fit and predict over all cores oversubscribes the machine: measured 36x slower permutation
    # importance on a busy 2-core host. One thread per process also matches how CV fits ran.
    with threadpool_limits(limits=1):
        if args.command in ("predict", "monitor"):
            return after_promotion(args)
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    """Run one subcommand; expected failures raise TrainerError."""
    if args.command in ("validate", "train", "promote"):
        _resolve_inputs(args)
    if args.command == "validate":
        from trainer.data.schema import schema_name, with_names
        from trainer.pipeline import run_validate
        from trainer.recipe.settings import load_recipe

        try:  # the recipe only names the experiment here; a broken one must not block validation
            experiment = str(with_names(load_recipe(args.recipe), args.schema).experiment)
        except TrainerError:
            experiment = schema_name(args.schema)
        run_validate(args.data, args.schema, experiment)
    elif args.command == "train":
        if args.dask_scheduler:
            from trainer.search.dask_workers import use_dask

            use_dask(args.dask_scheduler)
        from trainer.search.local_workers import warm_up_for

        warm_up_for(args.recipe, args.schema)  # before the training's imports
        from trainer.pipeline import run_train

        budget = args.time_budget or None
        outcome = run_train(
            args.data, args.schema, args.recipe, register=not args.no_register, time_budget=budget
        )
        if outcome.model_version:
            log.info("registered %s", outcome.model_version)
            log.info("next: %s", next_step(args, outcome.model_version, outcome.promoted_alias))
    elif args.command == "promote":
        from trainer.registry.promote import PromotionRequest, promote

        promote(
            PromotionRequest(
                args.version, args.alias, args.name, args.force, args.data, args.schema, args.recipe
            )
        )
    elif args.command == "explain":
        from trainer.registry.explain import explain

        print(explain(args.model_uri, as_json=args.json))
    elif args.command == "reproduce":
        from trainer.pipeline import run_train
        from trainer.registry.reproduce import reproduce

        return reproduce(args.model_uri, run_train)
    return EXIT_OK


def run() -> NoReturn:
    """The process entry point (`trainer`, `python -m trainer`): `main`, then a quick exit.

    The libraries leave ~2 million objects for every full garbage collection to walk. Collections
    took 0.7 s of a training's main process instead of 1.9 s with thresholds (10,000, 50, 100) in
    place of (700, 10, 10) (peak memory not measurably changed), and exit 0.6 s instead of 2.5 s
    with the objects frozen once `main` has closed everything (`gc.freeze`: atexit handlers and
    `weakref.finalize` still run; `__del__` of objects in reference cycles may not)."""
    gc.set_threshold(10_000, 50, 100)
    code = main()
    gc.freeze()
    sys.exit(code)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `trainer` / `python -m trainer`; returns the process exit code."""
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    # Installed explicitly in the main thread, and restored afterwards. SIGINT too: a process whose
    # parent ignores SIGINT (started in the background by a non-interactive shell, `make test &`,
    # many CI runners) inherits SIG_IGN, and Python then installs no KeyboardInterrupt handler, so
    # Ctrl-C / `kill -INT` would be silently ignored and the training would run on and register.
    previous: dict[int, signal._HANDLER] = {}
    if threading.current_thread() is threading.main_thread():
        previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, _on_sigterm)
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return dispatch(args)
    except TrainerError as exc:
        log.error("%s", exc)
        return exc.exit_code
    except Terminated as exc:
        log.error("%s", exc)
        return Terminated.exit_code
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130
    except Exception as exc:
        log.error("%s", redact_uri(failure_line(exc)), exc_info=args.verbose)
        return EXIT_ERROR
    finally:
        for signum, handler in previous.items():
            # None: the handler was not installed from Python; the default is the closest we can restore
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
