"""The quality benchmark's result table: one row per dataset, the winner rule, and the table as log
lines, Markdown and JSON.

The winner is the tool with the best holdout score in the metric's direction (log loss: lowest); every
tool within `TIE` (0.002, in the metric's units) of that best shares the row: "tie (ours, FLAML)". A
tool that failed or did not run scores nothing and wins nothing.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.quality_peers import LOWER_IS_BETTER

TIE = 0.002
TOOLS = {"ours": "ours", "flaml": "FLAML", "autogluon": "AutoGluon"}


@dataclass
class Row:
    """One dataset's result: the three holdout scores, our wall W, and what explains them."""

    dataset: str  # package/item
    key: str
    rows: int | None = None
    task: str = ""  # regression, binary (n % positive), or N classes
    metric: str = ""
    scores: dict[str, float | None] = field(default_factory=lambda: dict.fromkeys(TOOLS))
    wall_s: float | None = None  # W: trainer init + trainer train, end to end
    limit_s: float | None = None  # what each peer was given (W, or --time-budget)
    notes: list[str] = field(default_factory=list)  # failures, one line each
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def winner(self) -> str:
        return winner(self.scores, self.metric)


def _valid(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def winner(scores: dict[str, float | None], metric: str, tie: float = TIE) -> str:
    """ "ours", "FLAML", "AutoGluon", "tie (ours, FLAML)" or "none" (no tool scored)."""
    valid = {k: v for k, v in scores.items() if v is not None and _valid(v)}
    if not valid:
        return "none"
    best = (min if metric in LOWER_IS_BETTER else max)(valid.values())
    tied = [TOOLS.get(k, k) for k, v in valid.items() if abs(v - best) <= tie + 1e-12]
    return tied[0] if len(tied) == 1 else f"tie ({', '.join(tied)})"


def _score(value: float | None) -> str:
    return f"{value:.4f}" if value is not None and _valid(value) else "failed"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


HEADERS = ["dataset", "rows", "task", "metric", "ours", "FLAML", "AutoGluon", "W (s)", "winner"]


def cells(row: Row) -> list[str]:
    scores = [_score(row.scores.get(k)) for k in TOOLS]
    rows = "-" if row.rows is None else f"{row.rows:,}"
    return [row.dataset, rows, row.task, row.metric, *scores, _seconds(row.wall_s), row.winner]


def markdown_table(headers: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body])


def plain_table(headers: list[str], body: list[list[str]]) -> list[str]:
    """Aligned lines for the log (numbers right-aligned)."""
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(headers)]
    right = [i for i in range(len(headers)) if body and all(_numberish(r[i]) for r in body)]

    def line(values: list[str]) -> str:
        return "  ".join(
            v.rjust(w) if i in right else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in body)]


def _numberish(text: str) -> bool:
    return text.replace(",", "").replace(".", "").replace("-", "").isdigit() or text in ("-", "failed")


DETAIL_HEADERS = [
    "dataset", "ours: winner (CV)", "init s", "train s", "search s", "skipped", "split check",
    "FLAML: best (trials/improved)", "FLAML s", "AutoGluon: best (models)", "AutoGluon s", "others' CPU (max)",
]  # fmt: skip


def detail_cells(row: Row) -> list[str]:
    d = row.details
    ours, flaml, ag = d.get("ours", {}), d.get("flaml", {}), d.get("autogluon", {})
    cv = ours.get("best_cv")
    chosen = f"{ours.get('selected') or '-'} ({cv:.4f})" if cv is not None else (ours.get("selected") or "-")
    others = [
        x for x in (ours.get("others_cpu"), flaml.get("others_cpu"), ag.get("others_cpu")) if x is not None
    ]
    return [
        row.dataset,
        chosen,
        _seconds(ours.get("init_s")),
        _seconds(ours.get("train_s")),
        _seconds(ours.get("time_search_s")),
        str(len(ours.get("skipped") or [])) if "skipped" in ours else "-",
        ours.get("split_check", "-"),
        f"{flaml.get('best_model', '-')} ({flaml.get('trials') or '-'}/{flaml.get('improvements', '-')})"
        if flaml
        else "-",
        _seconds(flaml.get("wall_s")),
        f"{ag.get('best_model', '-')} ({ag.get('models', '-')})" if ag else "-",
        _seconds(ag.get("wall_s")),
        f"{100 * max(others):.0f} %" if others else "-",
    ]


def render(rows: list[Row], context: dict[str, Any]) -> str:
    """The Markdown report: the table, the details, the failures, the machine and the versions."""
    machine, versions = context.get("machine", {}), context.get("versions", {})
    budget = context.get("time_budget_s")
    given = f"everyone given {budget:g} s by --time-budget" if budget else "each peer given our wall W"
    out = [
        f"# Quality on public data: the trainer against FLAML and AutoGluon ({given})",
        "",
        f"{context.get('date', '')}; holdout scores on our holdout rows; a difference within {TIE} is a tie.",
        "",
        markdown_table(HEADERS, [cells(r) for r in rows]),
        "",
        "## Details",
        "",
        "Our winning candidate and its CV score; the seconds of `trainer init`, `trainer train` and its search; "
        "candidates the time budget skipped; the split check (our registered model rescored on holdout.csv); "
        "the peers' best models (FLAML: its trials / those that improved on the best; AutoGluon: models "
        "trained) and process walls; the most of the CPUs other processes used during any of "
        "the four (trust a row only when that is low).",
        "",
        markdown_table(DETAIL_HEADERS, [detail_cells(r) for r in rows]),
    ]
    notes = [f"- {r.dataset}: {n}" for r in rows for n in r.notes]
    if notes:
        out += ["", "## Failures", "", *notes]
    out += [
        "",
        "## Machine and versions",
        "",
        f"- machine: {machine.get('cores')} cores ({machine.get('cpu_model')}), "
        f"{machine.get('ram_gib', float('nan')):.1f} GiB RAM, Python {machine.get('python')}, "
        f"load (1 min) at start {machine.get('load_1m_at_start', float('nan')):.2f}",
        f"- ours: git {machine.get('git')}; "
        + ", ".join(f"{k} {v}" for k, v in versions.get("ours", {}).items()),
        "- peers: " + ", ".join(f"{k} {v}" for k, v in versions.get("peers", {}).items()),
    ]
    return "\n".join(out) + "\n"


def write(rows: list[Row], context: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    """results.md and results.json in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    md, js = folder / "results.md", folder / "results.json"
    md.write_text(render(rows, context))
    data = {**context, "rows": [{**asdict(r), "winner": r.winner} for r in rows]}
    js.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return md, js
