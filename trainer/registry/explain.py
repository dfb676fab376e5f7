"""`trainer explain`: a version's record (gathered by `audit`) as readable text or typed JSON."""

from __future__ import annotations

import json

import pandas as pd

from trainer.registry.audit import PROMOTION_STATE, explain_record
from trainer.text import markdown_table


def _count(value: float | None) -> str:
    return "?" if value is None else str(int(value))


def promotion_line(promotion: dict[str, str], aliases: list[str]) -> str:
    """The promotion record in one line; a version holding an alias is never "never promoted"."""
    if not promotion:
        if aliases:
            return f"promotion: no record: alias(es) {', '.join(aliases)} set outside the trainer (not gated)"
        return "promotion: never promoted"
    line = "promotion: " + ", ".join(f"{k}={v}" for k, v in promotion.items())
    if promotion.get(PROMOTION_STATE) == "pending":
        moved = promotion.get("promoted_alias") in aliases
        line += (
            " (interrupted after the alias moved: the next `trainer promote` of this version completes it)"
            if moved
            else " (interrupted before the alias moved)"
        )
    return line


def monitoring_line(check: dict[str, object]) -> str:
    """The last `trainer monitor` check in one line (what crossed a threshold, if anything)."""
    if not check:
        return "last check: never monitored (trainer monitor MODEL_URI --data CSV)"
    psi = f"max PSI {check.get('max_psi')} ({check.get('max_psi_feature')})"
    metric = f", {check['metric']} (drop {check.get('metric_drop')})" if check.get("metric") else ""
    crossed = f": {check['crossed']}" if check.get("crossed") else ""
    return (
        f"last check: {check.get('status')} at {check.get('at')} on {check.get('rows')} rows of "
        f"{check.get('data')} (run {check.get('run_id')}): {psi}, prediction PSI "
        f"{check.get('prediction_psi')}{metric}{crossed}"
    )


def _aliases(gated: dict[str, bool]) -> str:
    return ", ".join(a if ok else f"{a} (NOT gated: moved outside the trainer)" for a, ok in gated.items())


def explain(uri: str, as_json: bool = False) -> str:
    """`trainer explain`: the record as readable text, or JSON."""
    record = explain_record(uri)
    if as_json:
        return json.dumps(record, indent=2, sort_keys=True, default=str)
    lines = [
        f"{record['model']}  aliases: {_aliases(record['alias_gated']) or 'none'}  "
        f"validation: {record['validation_status']}",
        f"trained: {record['trained_at']} in run {record['training_run_id']}",
        f"data: {record['data']['path']} ({record['data']['rows']} rows) sha256 {record['data']['digest']}",
        f"contract: {record['contract']['status']} "
        f"({_count(record['contract']['failed'])} of {_count(record['contract']['expectations'])} "
        "expectations failed)",
        "digests: " + ", ".join(f"{k}={str(v)[:16]}" for k, v in record["digests"].items()),
        f"winner: {record['winner']['candidate']} {json.dumps(record['winner']['params'], sort_keys=True)}",
        "task: " + ", ".join(f"{k}={v}" for k, v in record["task"].items()),
        "metrics: " + ", ".join(f"{k}={v}" for k, v in record["metrics"].items()),
        f"split: {record['split']}",
        f"code: commit {record['code']['git_commit']} (dirty: {record['code']['git_dirty']}); "
        f"serialized with {record['serialization']}",
        "model requirements (requirements.txt): " + ", ".join(record["model_requirements"] or ["missing"]),
        "trained with: " + ", ".join(f"{k}=={v}" for k, v in (record["dependencies"] or {}).items()),
        promotion_line(record["promotion"], record["aliases"]),
        monitoring_line(record["monitoring"]),
    ]
    if record["leaderboard"]:
        board = pd.DataFrame(record["leaderboard"])
        columns = [c for c in board.columns if c in ("rank", "candidate", "status") or c.startswith("cv_")]
        lines += ["leaderboard:", markdown_table(board[columns])]
    return "\n".join(lines)
