"""The command line of `trainer predict` and `trainer monitor` (the monitoring stage)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from trainer.cli.arguments import yes_no
from trainer.errors import EXIT_OK

MODEL_URI_HELP = (
    "models:/NAME/N, models:/NAME@alias, models:/NAME/latest, models:/m-<model_id> or runs:/<run_id>/model"
)


def _predict_parser(sub: Any, epilog: str) -> None:
    help_predict = "score a CSV with a registered version, under the version's own data contract"
    p = sub.add_parser("predict", help=help_predict, epilog=epilog)
    p.add_argument("model_uri", help=MODEL_URI_HELP)
    p.add_argument("--data", type=Path, required=True, help="the CSV to score (only read)")
    p.add_argument("--out", type=Path, required=True, help="the predictions CSV to write")
    skip = "score the other rows and write rows that break the contract to a rejects CSV"
    p.add_argument("--skip-bad-rows", nargs="?", const="yes", default="no", type=yes_no, help=skip)
    p.add_argument("--rejects", type=Path, help="the rejects CSV (default: OUT's stem + .rejects.csv)")


def _monitor_parser(sub: Any, epilog: str) -> None:
    help_monitor = "check new data (labelled or not) against what a version was trained on"
    p = sub.add_parser("monitor", help=help_monitor, epilog=epilog)
    p.add_argument("model_uri", help=MODEL_URI_HELP)
    p.add_argument("--data", type=Path, required=True, help="the new CSV (only read)")
    p.add_argument(
        "--recipe", type=Path, help="thresholds from this recipe's monitoring: (default: the version's)"
    )
    p.add_argument("--out", type=Path, help="also write report.html and report.json into this folder")


def after_promotion_parsers(sub: Any, epilog: str) -> None:
    """`predict` and `monitor` with their options."""
    _predict_parser(sub, epilog)
    _monitor_parser(sub, epilog)


def after_promotion(args: argparse.Namespace) -> int:
    """`predict` and `monitor`: the monitoring stage."""
    if args.command == "predict":
        from trainer.monitoring.predict import PredictRequest, predict

        predict(PredictRequest(args.model_uri, args.data, args.out, args.skip_bad_rows, args.rejects))
        return EXIT_OK
    from trainer.monitoring.monitor import MonitorRequest, monitor

    return monitor(MonitorRequest(args.model_uri, args.data, args.recipe, args.out))
