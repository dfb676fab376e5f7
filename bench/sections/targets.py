"""Targets section: the table of every target the results can judge (verdicts from bench.overhead.target_rows)."""

from __future__ import annotations

from typing import Any

from bench.overhead import target_rows
from bench.report import Report, table
from bench.sections.monitoring import monitoring_rows


def targets(report: Report, results: dict[str, Any], sizes: list[int]) -> None:
    rows = target_rows(results, sizes)
    if results.get("monitoring"):
        rows += monitoring_rows(results["monitoring"])
    if rows:
        report.print(table(["target", "measured", "target", "verdict"], rows, "Targets"))
        report.print()
