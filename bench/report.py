"""Plain-text output: number formatting, aligned tables, and the Report that saves report.txt and results.json."""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime
from pathlib import Path
from typing import Any


def fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def fmt_pressure(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f}%"


def table(headers: list[str], rows: list[list[Any]], title: str = "") -> str:
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    numeric = [
        all(re.fullmatch(r"[-+]?[\d,]*\.?\d*%?x?|-", r[i] or "-") for r in cells) for i in range(len(headers))
    ]

    def line(values: list[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    out = [title, "=" * len(title)] if title else []
    out += [line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)]
    return "\n".join(out)


class Report:
    """Collects printed text (also saved as report.txt) and the JSON results."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.text: list[str] = []
        self.results: dict[str, Any] = {}

    def print(self, text: str = "") -> None:
        print(text, flush=True)
        self.text.append(text)

    def progress(self, text: str) -> None:
        print(f"[{datetime.now().strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)

    def save(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / "results.json").write_text(json.dumps(self.results, indent=2, default=str) + "\n")
        (self.out_dir / "report.txt").write_text("\n".join(self.text) + "\n")
