"""`trainer predict MODEL_URI --data CSV --out CSV [--skip-bad-rows]`: a batch scored by a registered
version under that version's own contract, streamed in chunks, recorded as a run linked to the version.

A row that breaks the contract stops the batch (exit 2) naming its line, column and value, and no
output is left behind; with `--skip-bad-rows` such rows go to a rejects CSV (line, column, value,
reason, then the row as read) and the rest are scored. The output keeps the input's identifier
columns (the CSV line when it has none), then `prediction` and a classifier's `probability_<label>`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from trainer.data.csv_reader import check_readable, header
from trainer.errors import ContractError
from trainer.monitoring.batches import CHUNK_ROWS, checked_chunks, model_input, prediction_frame, scored
from trainer.monitoring.recording import version_run
from trainer.monitoring.rows import Checked, RowContract, row_contract
from trainer.monitoring.version import Version, opened
from trainer.text import csv_safe, some

log = logging.getLogger(__name__)
SHOWN_REJECTS = 5  # bad rows named in the error line
MAX_LOGGED_REJECTS_BYTES = 50 << 20  # a larger rejects file stays beside the output, not in the run


@dataclass(frozen=True)
class PredictRequest:
    model_uri: str
    data: Path
    out: Path
    skip_bad_rows: bool = False
    rejects: Path | None = None  # default: <out stem>.rejects.csv beside the output
    chunk_rows: int = CHUNK_ROWS

    @property
    def rejects_path(self) -> Path:
        return self.rejects or self.out.with_name(f"{self.out.stem}.rejects.csv")


@dataclass
class PredictCounts:
    rows: int = 0
    predicted: int = 0
    rejected: int = 0


def describe_rejects(rejects: pd.DataFrame, total: int) -> str:
    """`N row(s) break the contract, e.g. line 7: column 'x' value 'abc': not a number (...)`."""
    shown = "; ".join(
        f"line {r.line}: column {r.column!r} value {r.value!r}: {r.reason}"
        for r in rejects.head(SHOWN_REJECTS).itertuples()
    )
    return f"{total} row(s) break the contract, e.g. {shown}"


class _Writer:
    """The outputs, written under temporary names and renamed once the whole batch is scored."""

    def __init__(self, request: PredictRequest) -> None:
        self.targets = {"out": request.out, "rejects": request.rejects_path}
        self.partial = {k: p.with_name(f".{p.name}.partial") for k, p in self.targets.items()}
        self.started: set[str] = set()

    def append(self, key: str, frame: pd.DataFrame) -> None:
        path = self.partial[key]
        if key not in self.started:
            path.parent.mkdir(parents=True, exist_ok=True)
        csv_safe(frame).to_csv(  # identifiers and rejected values are user text (see trainer.text)
            path, mode="a" if key in self.started else "w", header=key not in self.started, index=False
        )
        self.started.add(key)

    def commit(self) -> None:
        for key in self.started:
            os.replace(self.partial[key], self.targets[key])

    def discard(self) -> None:
        for key in self.started:
            self.partial[key].unlink(missing_ok=True)


def _keys(frame: pd.DataFrame, contract: RowContract) -> pd.DataFrame:
    """The input's identifier columns of the scored rows, or their CSV line when it has none."""
    ids = [c for c in contract.schema.identifiers if c in contract.columns]
    return frame[ids] if ids else pd.DataFrame({"line": frame.index + 2}, index=frame.index)


def _score(
    version: Version, contract: RowContract, request: PredictRequest, writer: _Writer
) -> PredictCounts:
    model, counts = version.load_model(), PredictCounts()
    chunks = checked_chunks(request.data, contract, f"predict {version.label}", request.chunk_rows)
    for checked in chunks:
        counts.rows += len(checked.frame)
        _refuse_or_set_aside(checked, request, writer, counts)
        good = checked.frame[~checked.bad]
        predictions, proba = scored(model, version.task, model_input(good, version.schema.feature_columns))
        out = pd.concat(
            [_keys(good, contract), prediction_frame(model, predictions, proba, good.index)], axis=1
        )
        writer.append("out", out)
        counts.predicted += len(good)
    return counts


def _refuse_or_set_aside(
    checked: Checked, request: PredictRequest, writer: _Writer, counts: PredictCounts
) -> None:
    if not checked.bad.any():
        return
    if not request.skip_bad_rows:
        raise ContractError(
            f"{describe_rejects(checked.rejects, int(checked.bad.sum()))}; nothing written "
            "(--skip-bad-rows scores the other rows and writes these to a rejects file)"
        )
    writer.append("rejects", checked.rejects)
    counts.rejected += int(checked.bad.sum())


def _record(request: PredictRequest, contract: RowContract, counts: PredictCounts) -> None:
    import mlflow

    mlflow.log_metrics(
        {"rows_read": counts.rows, "rows_predicted": counts.predicted, "rows_rejected": counts.rejected}
    )
    failures = contract.batch_failures()
    mlflow.set_tags(
        {
            "contract_batch_failures": "; ".join(failures)[:5000],
            "contract_left_out": ", ".join(contract.left_out)[:5000],
            "predictions_path": str(request.out.resolve()),
        }
    )
    for failure in failures:
        log.warning("the batch as a whole breaks %s (no row refused for it)", failure)
    if counts.rejected and request.rejects_path.stat().st_size <= MAX_LOGGED_REJECTS_BYTES:
        mlflow.log_artifact(str(request.rejects_path), "rejects")
    description = f"{counts.predicted} of {counts.rows} rows scored" + (
        f"; {counts.rejected} rejected (`{request.rejects_path.name}`)" if counts.rejected else ""
    )
    mlflow.set_tag("mlflow.note.content", description)
    log.info("%s; predictions in %s", description, request.out)


def predict(request: PredictRequest) -> PredictCounts:
    """Score the batch; raises ContractError (exit 2) for a row that breaks the contract unless the
    request skips bad rows, or for a missing feature column."""
    check_readable(request.data)
    with opened(request.model_uri) as version:
        contract = row_contract(version.schema, version.suite, header(request.data), keep_target=False)
        if contract.left_out:
            log.info("not checked row by row (whole-file properties): %s", some(contract.left_out))
        params = {"out_path": str(request.out.resolve()), "skip_bad_rows": request.skip_bad_rows}
        with version_run("predict", version, request.data, params):
            writer = _Writer(request)
            try:
                counts = _score(version, contract, request, writer)
                writer.commit()
            except BaseException:
                writer.discard()
                raise
            _record(request, contract, counts)
    return counts
