"""The data contract: reading the CSV safely, column-role rules, and the Great Expectations suite."""

from __future__ import annotations

import codecs
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from trainer.errors import ConfigError, ContractError
from trainer.files import file_digest, read_json
from trainer.schema import Schema

log = logging.getLogger(__name__)

SAMPLE_SIZE = 5


@dataclass
class ContractResult:
    """What one validation found: the kept frame, the GE result and a readable summary."""

    data_path: Path
    data_digest: str
    suite_digest: str
    frame: pd.DataFrame
    extra_columns: list[str]
    evaluated: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)
    result_json: dict[str, Any] = field(default_factory=dict)
    report_html: str = ""

    @property
    def success(self) -> bool:
        return self.failed == 0

    def summary(self) -> str:
        """One line: the verdict, and every failed expectation with its column and sample."""
        head = f"{self.evaluated - self.failed}/{self.evaluated} expectations passed"
        if self.success:
            return f"data contract passed: {head}"
        return f"data contract failed ({head}): " + "; ".join(self.failures)

    def report_markdown(self) -> str:
        """A short Markdown report of the validation (the HTML Data Docs carry the detail)."""
        lines = [
            "# Data contract report",
            "",
            f"- data: `{self.data_path}` (sha256 `{self.data_digest}`)",
            f"- rows: {len(self.frame)}; columns kept: {len(self.frame.columns)}",
            f"- suite sha256: `{self.suite_digest}`",
            f"- result: **{'passed' if self.success else 'FAILED'}** "
            f"({self.evaluated - self.failed}/{self.evaluated} expectations)",
        ]
        if self.extra_columns:
            lines.append(f"- ignored extra columns: {', '.join(self.extra_columns)}")
        lines += ["", *(f"- failed: {f}" for f in self.failures)]
        return "\n".join(lines) + "\n"


def read_csv(path: Path | str) -> pd.DataFrame:
    """Read a CSV strictly as UTF-8; empty, binary or header-only files fail with one line."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"data file not found: {path}")
    if not path.is_file():
        raise ConfigError(f"data path is not a file: {path}")
    with open(path, "rb") as fh:
        head = fh.read(8192)
    if not head.strip():
        raise ContractError(f"data file {path} is empty")
    if b"\x00" in head:
        raise ContractError(f"data file {path} is not a CSV text file (binary bytes)")
    try:
        frame = pd.read_csv(path, encoding="utf-8", encoding_errors="strict", low_memory=False)
    except UnicodeDecodeError:
        line, offset = first_non_utf8(path)
        where = f" (line {line}, byte {offset})" if offset >= 0 else ""
        raise ContractError(f"data file {path} is not UTF-8 text{where}")
    except pd.errors.EmptyDataError:
        raise ContractError(f"data file {path} has no columns")
    except pd.errors.ParserError as exc:
        raise ContractError(f"data file {path} is not a well-formed CSV: {str(exc).strip()}")
    if frame.empty:
        raise ContractError(f"data file {path} has a header but no data rows")
    return frame


def first_non_utf8(path: Path, chunk_size: int = 1 << 20) -> tuple[int, int]:
    """(line, byte offset) of the first byte that is not UTF-8, counted from the file's start.

    pandas reports the offset inside its read buffer; this streams the file once to find the
    position a user can look up (`(0, -1)` if the whole file decodes).
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, lines = 0, 1
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(chunk_size)
            pending = decoder.getstate()[0]  # bytes of a character split across chunks (never a newline)
            try:
                decoder.decode(chunk, final=not chunk)  # the last call also rejects a cut-off character
            except UnicodeDecodeError as exc:
                return lines + (pending + chunk)[: exc.start].count(b"\n"), offset - len(pending) + exc.start
            if not chunk:
                return 0, -1
            offset += len(chunk)
            lines += chunk.count(b"\n")


def check_columns(frame: pd.DataFrame, schema: Schema, path: Path) -> list[str]:
    """Fail on missing required columns; return (and warn about) unexpected extra ones."""
    missing = [c for c in schema.required_columns if c not in frame.columns]
    if missing:
        hint = ""
        if len(frame.columns) == 1 and any(s in frame.columns[0] for s in ";\t|"):
            hint = " (the file does not look comma-separated)"
        raise ContractError(f"data file {path}: missing required column(s) {missing}{hint}")
    extra = [c for c in frame.columns if c not in schema.declared_columns]
    if extra:
        log.warning("ignoring unexpected column(s) %s in %s: never used as features", extra, path)
    return extra


def suite_columns(suite: dict[str, Any]) -> set[str]:
    """Every column an expectation suite names."""
    cols: set[str] = set()
    for exp in suite.get("expectations", []):
        kwargs = exp.get("kwargs", {})
        if "column" in kwargs:
            cols.add(kwargs["column"])
        cols.update(kwargs.get("column_set") or kwargs.get("column_list") or [])
    return cols


def check_schema_matches_suite(schema: Schema, suite: dict[str, Any]) -> None:
    """Schema and suite must describe the same columns; say where they don't."""
    in_suite = suite_columns(suite)
    declared = set(schema.declared_columns)
    problems = []
    if declared - in_suite:
        problems.append(f"in schema but not in suite: {sorted(declared - in_suite)}")
    if in_suite - declared:
        problems.append(f"in suite but not in schema: {sorted(in_suite - declared)}")
    by_type: dict[str, set[str]] = {}
    for exp in suite.get("expectations", []):
        by_type.setdefault(exp.get("type", ""), set()).add(exp.get("kwargs", {}).get("column"))
    unsets = [
        c for c in schema.categorical if c not in by_type.get("expect_column_values_to_be_in_set", set())
    ]
    if unsets:
        problems.append(f"categorical column(s) {unsets} have no allowed-value set in the suite")
    if schema.target not in by_type.get("expect_column_values_to_not_be_null", set()):
        problems.append(f"target '{schema.target}' has no not-null expectation in the suite")
    if problems:
        raise ContractError(
            f"schema {schema.path} and suite {schema.suite_path} disagree: " + "; ".join(problems)
        )


def load_suite(schema: Schema) -> dict[str, Any]:
    """Load the schema's expectation suite (plain GX 1.x JSON) and check it matches the schema."""
    suite = read_json(schema.suite_path, "expectation suite")
    if not isinstance(suite.get("expectations"), list) or not suite["expectations"]:
        raise ConfigError(f"expectation suite {schema.suite_path}: no 'expectations' list")
    check_schema_matches_suite(schema, suite)
    return suite


def _describe_failure(res: Any) -> str:
    cfg = res.expectation_config
    column = cfg.kwargs.get("column")
    name = f"{cfg.type}({column})" if column else cfg.type
    exc = res.exception_info or {}
    if exc.get("raised_exception"):
        return f"{name}: error {str(exc.get('exception_message', '')).splitlines()[0][:200]}"
    result = res.result or {}
    if result.get("unexpected_count"):
        sample = list(dict.fromkeys(map(repr, result.get("partial_unexpected_list") or [])))
        return (
            f"{name}: {result['unexpected_count']} unexpected "
            f"({result.get('unexpected_percent', 0):.1f}%), e.g. {', '.join(sample[:SAMPLE_SIZE])}"
        )
    return f"{name}: observed {result.get('observed_value')!r}"


def _text_as_object(frame: pd.DataFrame) -> pd.DataFrame:
    """GX 1.24 cannot type-check pandas 3 `str` columns; as object, each value's type is checked."""
    text = [c for c in frame.columns if pd.api.types.is_string_dtype(frame[c].dtype)]
    return frame.astype({c: object for c in text}) if text else frame


def run_suite(frame: pd.DataFrame, suite: dict[str, Any]) -> Any:
    """Validate a frame against a suite in an ephemeral GX context (no files written)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.data_context.types.base import ProgressBarsConfig

    for name in ("great_expectations", "great_expectations.data_context.types.base"):
        logging.getLogger(name).setLevel(logging.ERROR)  # GX sets INFO on its own module loggers
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    source = context.data_sources.add_pandas("trainer")
    batch_definition = source.add_dataframe_asset("data").add_batch_definition_whole_dataframe("all rows")
    batch = batch_definition.get_batch(batch_parameters={"dataframe": _text_as_object(frame)})
    fields = {k: v for k, v in suite.items() if k in ("name", "expectations", "meta")}
    return batch.validate(ExpectationSuite(**fields), result_format="SUMMARY")


def render_data_docs(result: Any) -> str:
    """Render a validation result as a GX Data Docs HTML page."""
    from great_expectations.render.renderer import ValidationResultsPageRenderer
    from great_expectations.render.view import DefaultJinjaPageView

    return DefaultJinjaPageView().render(ValidationResultsPageRenderer().render(result))


def validate(data_path: Path | str, schema: Schema) -> ContractResult:
    """Run the whole contract on a CSV; the returned frame holds only declared columns."""
    data_path = Path(data_path)
    suite = load_suite(schema)
    frame = read_csv(data_path)
    extra = check_columns(frame, schema, data_path)
    kept = frame[[c for c in frame.columns if c not in extra]]
    result = run_suite(kept, suite)
    failures = [_describe_failure(r) for r in result.results if not r.success]
    return ContractResult(
        data_path=data_path,
        data_digest=file_digest(data_path),
        suite_digest=file_digest(schema.suite_path),
        frame=kept,
        extra_columns=extra,
        evaluated=len(result.results),
        failed=len(failures),
        failures=failures,
        result_json=result.to_json_dict(),
        report_html=render_data_docs(result),
    )
