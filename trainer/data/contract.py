"""The data contract: reading the CSV safely, column-role rules, and the Great Expectations suite."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from trainer.data.contract_messages import SAMPLE_SIZE, date_checks, describe_failures, not_dates
from trainer.data.csv_reader import read_csv, separator_hint
from trainer.data.schema import Schema
from trainer.data.suite import load_suite, target_labels
from trainer.errors import ContractError
from trainer.files import file_digest
from trainer.recipe.task import check_labels
from trainer.text import code, md, names, some

log = logging.getLogger(__name__)


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
    labels: tuple[Any, ...] = ()  # a classification target's allowed labels (from the suite)

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
            f"- data: {code(self.data_path)} (sha256 `{self.data_digest}`)",
            f"- rows: {len(self.frame)}; columns checked: {len(self.frame.columns)} (the schema's)",
            f"- suite sha256: `{self.suite_digest}`",
            f"- result: **{'passed' if self.success else 'FAILED'}** "
            f"({self.evaluated - self.failed}/{self.evaluated} expectations)",
        ]
        if self.extra_columns:
            lines.append(f"- ignored extra columns: {names(self.extra_columns)}")
        lines += ["", *(f"- failed: {md(f)}" for f in self.failures)]
        return "\n".join(lines) + "\n"


def check_columns(frame: pd.DataFrame, schema: Schema, path: Path) -> list[str]:
    """Fail on missing required columns; return (and warn about) unexpected extra ones."""
    missing = [c for c in schema.required_columns if c not in frame.columns]
    extra = [c for c in frame.columns if c not in schema.declared_columns]
    if missing:
        hint = separator_hint(list(frame.columns)) or (
            f"; in the file but not in the schema: {some(extra)}" if extra else ""
        )
        raise ContractError(f"data file {path}: missing required column(s) {missing}{hint}")
    if extra:
        log.warning("ignoring unexpected column(s) %s in %s: never used as features", some(extra), path)
    return extra


TAG_CHARS = 500  # the `ignored_columns` tag, kept readable in the UI


def ignored_columns_tag(columns: list[str]) -> str:
    """The `ignored_columns` tag: the names, or their count and as many as fit, saying it is cut."""
    full = ",".join(map(str, columns))
    if len(full) <= TAG_CHARS:
        return full
    head = f"{len(columns)} columns (list truncated, all of them in contract/report.md): "
    kept: list[str] = []
    for name in map(str, columns):
        if len(head) + len(",".join([*kept, name])) + 4 > TAG_CHARS:
            break
        kept.append(name)
    return head + ",".join(kept) + ",..."


def _text_as_object(frame: pd.DataFrame) -> pd.DataFrame:
    """GX 1.24 cannot type-check pandas 3 `str` columns; as object, each value's type is checked."""
    text = [c for c in frame.columns if pd.api.types.is_string_dtype(frame[c].dtype)]
    return frame.astype({c: object for c in text}) if text else frame


def run_suite(
    frame: pd.DataFrame, suite: dict[str, Any], result_format: Literal["SUMMARY", "COMPLETE"] = "SUMMARY"
) -> Any:
    """Validate a frame against a suite in an ephemeral GX context (no files written); COMPLETE
    results list every failing row's index."""
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
    return batch.validate(ExpectationSuite(**fields), result_format=result_format)


REPORT_STYLE = (
    "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;width:100%}th,td{border:1px solid #ccc;padding:4px 8px;"
    "text-align:left;vertical-align:top}th{background:#f3f3f3}tr.fail td{background:#fde8e8}"
    ".ok{color:#176f2c;font-weight:bold}.bad{color:#b00020;font-weight:bold}code{font-size:12px}"
)


def _observed(res: Any) -> str:
    result = res.result or {}
    if res.exception_info and res.exception_info.get("raised_exception"):
        return f"error: {res.exception_info.get('exception_message', '')}"
    if "unexpected_count" in result:
        sample = ", ".join(map(repr, (result.get("partial_unexpected_list") or [])[:SAMPLE_SIZE]))
        return f"{result['unexpected_count']} unexpected ({result.get('unexpected_percent') or 0:.2f}%)" + (
            f", e.g. {sample}" if sample else ""
        )
    return f"observed {result.get('observed_value')!r}" if "observed_value" in result else ""


def render_data_docs(result: Any) -> str:
    """The validation result as one self-contained HTML page (inline style, no scripts or links):
    it renders offline, unlike GX Data Docs, which load their scripts from a CDN."""
    from html import escape

    rows = []
    for res in sorted(
        result.results, key=lambda r: (r.success, str(r.expectation_config.kwargs.get("column")))
    ):
        cfg = res.expectation_config
        kwargs = {k: v for k, v in cfg.kwargs.items() if k not in ("column", "batch_id")}
        rows.append(
            f"<tr class={'pass' if res.success else 'fail'}><td>{'passed' if res.success else 'FAILED'}</td>"
            f"<td>{escape(str(cfg.kwargs.get('column', '')))}</td><td>{escape(cfg.type)}</td>"
            f"<td><code>{escape(json.dumps(kwargs, default=str))}</code></td>"
            f"<td>{escape(_observed(res))}</td></tr>"
        )
    failed = sum(not r.success for r in result.results)
    verdict = "<span class=ok>passed</span>" if not failed else "<span class=bad>FAILED</span>"
    return (
        "<!DOCTYPE html><html><head><meta charset=utf-8><title>Data contract</title>"
        f"<style>{REPORT_STYLE}</style></head><body><h1>Data contract: {verdict}</h1>"
        f"<p>{len(result.results) - failed} of {len(result.results)} expectations passed "
        f"(suite <code>{escape(str(result.suite_name))}</code>); failures first.</p>"
        "<table><tr><th>result</th><th>column</th><th>expectation</th><th>arguments</th>"
        f"<th>observed</th></tr>{''.join(rows)}</table></body></html>\n"
    )


def check_target_varies(frame: pd.DataFrame, target: str) -> None:
    """A target with one value in every row leaves nothing to learn (every model scores R² 1 or 0)."""
    values = frame[target].dropna().unique()
    if len(values) < 2:
        what = f"a single value ({values.tolist()[0]!r})" if len(values) else "no value"
        raise ContractError(f"target '{target}' has {what} in every row: nothing to learn")


def validate(data_path: Path | str, schema: Schema) -> ContractResult:
    """Run the whole contract on a CSV; the returned frame holds only declared columns."""
    data_path = Path(data_path)
    suite = load_suite(schema)
    frame = read_csv(data_path)
    extra = check_columns(frame, schema, data_path)
    kept = frame[[c for c in frame.columns if c not in extra]]
    result = run_suite(kept, suite)
    if len(result.results) != len(suite["expectations"]):
        raise ContractError(
            f"expectation suite {schema.suite_path}: {len(suite['expectations'])} expectations in the file "
            f"but Great Expectations ran {len(result.results)}"
        )
    failures = describe_failures(result.results, kept, schema, suite)
    failures += not_dates(kept, schema, failures)  # by parsing: a pattern lets 2021-02-30 through
    labels = target_labels(suite, schema.target) if schema.task == "classification" else ()
    if not failures and labels:
        check_labels(kept[schema.target], labels, schema.target)
    elif not failures:
        check_target_varies(kept, schema.target)
    return ContractResult(
        data_path=data_path,
        data_digest=file_digest(data_path),
        suite_digest=file_digest(schema.suite_path),
        frame=kept,
        extra_columns=extra,
        evaluated=len(result.results) + date_checks(schema),
        failed=len(failures),
        failures=failures,
        result_json=result.to_json_dict(),
        report_html=render_data_docs(result),
        labels=labels,
    )
