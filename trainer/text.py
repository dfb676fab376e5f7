"""Text for people: column lists that fit one line and Markdown tables (what the MLflow UI renders)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

SHOWN_COLUMNS = 10  # the names one line shows (the contract report lists every extra column)


def some(columns: list[str]) -> str:
    """A list of column names for one log line: all of them, or the first few and the count."""
    if len(columns) <= SHOWN_COLUMNS:
        return str(columns)
    shown = [str(c)[:80] for c in columns[:SHOWN_COLUMNS]]
    return f"{shown} and {len(columns) - SHOWN_COLUMNS} more ({len(columns)} in all)"


def markdown_table(frame: pd.DataFrame) -> str:
    """A DataFrame as a GitHub Markdown table."""
    return frame.to_markdown(index=False) + "\n"
