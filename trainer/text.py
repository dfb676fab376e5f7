"""Text for people: column lists that fit one line, and everything the project writes that another
program renders or opens: Markdown (what the MLflow UI shows) and CSV (what a spreadsheet opens).

User text (column names, labels, dataset names, values) never reaches either as markup: in Markdown
it is escaped (`md`, `code`, `markdown_table`), in CSV a cell that a spreadsheet would take for a
formula is made text (`csv_cell`, OWASP's rule); numbers stay numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

SHOWN_COLUMNS = 10  # the names one line shows (the contract report lists every extra column)

# characters that start markup in Markdown (HTML, links and images, code spans, table cells, escapes)
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MARKDOWN = re.compile(r"([\\`\[\]|*])")
_LINE_BREAK = re.compile(r"[\r\n\u2028\u2029]+")
# in a code span only these still matter: its own end, HTML for a reader that renders it, a table cell
_NOT_IN_CODE = re.compile(r"[`<>&|\r\n\u2028\u2029]")
# OWASP (CSV injection): a cell starting with one of these is a formula to a spreadsheet
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def some(columns: list[str]) -> str:
    """A list of column names for one log line: all of them, or the first few and the count."""
    if len(columns) <= SHOWN_COLUMNS:
        return str(columns)
    shown = [str(c)[:80] for c in columns[:SHOWN_COLUMNS]]
    return f"{shown} and {len(columns) - SHOWN_COLUMNS} more ({len(columns)} in all)"


def md(text: Any) -> str:
    """User text as Markdown that shows exactly that text: HTML escaped as entities, Markdown's
    punctuation with a backslash, line breaks as spaces (no new block can start inside it)."""
    flat = _LINE_BREAK.sub(" ", str(text))
    escaped = _MARKDOWN.sub(r"\\\1", flat)
    return "".join(_HTML.get(ch, ch) for ch in escaped)


def code(text: Any) -> str:
    """User text as an inline code span (`name`), or as escaped plain text when a code span cannot
    hold it safely (a backtick, angle bracket, ampersand, bar or line break)."""
    value = str(text)
    return md(value) if _NOT_IN_CODE.search(value) else f"`{value}`"


def names(values: Any) -> str:
    """Names for Markdown, comma-separated and escaped."""
    return ", ".join(md(v) for v in values)


def _md_cell(value: Any) -> Any:
    return md(value) if isinstance(value, str) else value


def markdown_table(frame: pd.DataFrame) -> str:
    """A DataFrame as a GitHub Markdown table; text cells and headers escaped, numbers as numbers."""
    return _cells(frame, _md_cell).to_markdown(index=False) + "\n"


def _cells(frame: pd.DataFrame, fix: Callable[[Any], Any]) -> pd.DataFrame:
    """A copy with `fix` applied to every header and every cell of a text column (by position:
    two columns may share a name)."""
    out = frame.copy()
    out.columns = [fix(c) for c in frame.columns]
    for i in range(out.shape[1]):
        column = out.iloc[:, i]
        if column.dtype == object or str(column.dtype) in ("str", "string"):
            out.isetitem(i, column.astype(object).map(fix))
    return out


def csv_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet opens as written: text starting with = + - @ or a tab / carriage
    return is prefixed with a single quote (OWASP's rule); numbers, and text that is a plain
    number (-1.5), are left as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with every text cell and header made safe for a spreadsheet (`csv_cell`)."""
    return _cells(frame, csv_cell)


def csv_text(frame: pd.DataFrame) -> str:
    """The frame as CSV text (no index), safe to open in a spreadsheet."""
    return csv_safe(frame).to_csv(index=False)


def write_csv(frame: pd.DataFrame, path: Path | str) -> None:
    """The frame as a CSV file (no index), safe to open in a spreadsheet."""
    Path(path).write_text(csv_text(frame), encoding="utf-8")
