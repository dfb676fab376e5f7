"""The monitoring report as one self-contained HTML page: inline style and inline SVG bar charts, no
script and no link, so it renders offline and from an MLflow artifact view. Every name and value that
comes from the data (columns, categories, paths) is escaped."""

from __future__ import annotations

from html import escape
from typing import Any

STYLE = (
    "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}"
    "table{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;"
    "padding:4px 8px;text-align:left;vertical-align:top}th{background:#f3f3f3}tr.bad td{background:#fde8e8}"
    ".ok{color:#176f2c;font-weight:bold}.bad{color:#b00020;font-weight:bold}code{font-size:12px}"
    "figure{display:inline-block;margin:0 1.5em 1em 0}figcaption{font-size:12px;color:#555}"
)
TRAINING, NEW = "#8aa4c8", "#d9822b"


def _num(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _share(value: Any) -> str:
    return "-" if value is None else f"{value:.1%}"


def bars(labels: list[str], training: list[float], new: list[float], title: str) -> str:
    """Paired bars (training, new) per bin as inline SVG."""
    width, height, pad = max(160, 34 * len(labels)), 120, 16
    top = max([*training, *new, 1e-9])
    parts = []
    for i, (t, n) in enumerate(zip(training, new, strict=True)):
        x = pad + i * 34
        for dx, value, colour in ((0, t, TRAINING), (13, n, NEW)):
            h = (height - 2 * pad) * value / top
            parts.append(
                f'<rect x="{x + dx}" y="{height - pad - h:.1f}" width="12" height="{h:.1f}" fill="{colour}">'
                f"<title>{escape(labels[i])}: {value:.1%}</title></rect>"
            )
    axis = f'<line x1="{pad}" y1="{height - pad}" x2="{width}" y2="{height - pad}" stroke="#999"/>'
    return (
        f'<figure><svg xmlns="http://www.w3.org/2000/svg" width="{width + pad}" height="{height}" role="img">'
        f"<title>{escape(title)}</title>{axis}{''.join(parts)}</svg><figcaption>{escape(title)}: "
        f'<span style="color:{TRAINING}">training</span> / <span style="color:{NEW}">new</span></figcaption></figure>'
    )


def _bin_labels(entry: dict[str, Any]) -> list[str]:
    b = entry["bins"]
    if "names" in b:
        return [str(n) for n in b["names"]]
    edges = [f"{e:.4g}" for e in b["edges"]]
    return [f"<= {e}" for e in edges] + ([f"> {edges[-1]}"] if edges else ["all"])


def chart(name: str, entry: dict[str, Any]) -> str:
    b = entry["bins"]
    return bars(_bin_labels(entry), b["training"], b["new"], name) if b["training"] else ""


def _test(entry: dict[str, Any]) -> str:
    t = entry.get("test")
    return "-" if not t else f"{t['name']} {t['statistic']:.3f} (p {t['p_value']:.2g})"


def feature_rows(result: dict[str, Any]) -> str:
    limit = result["thresholds"]["max_psi"]
    rows = []
    for name, f in result["features"].items():
        new = ", ".join(f"{c['value']} ({c['share']:.1%})" for c in f.get("new_categories", [])[:5])
        bad = f["psi"] is not None and f["psi"] > limit
        rows.append(
            f"<tr class={'bad' if bad else 'ok'}><td>{escape(name)}</td><td>{f['kind']}</td>"
            f"<td>{_num(f['psi'])}</td><td>{escape(_test(f))}</td>"
            f"<td>{_share(f['null_share']['training'])} &rarr; {_share(f['null_share']['new'])}</td>"
            f"<td>{escape(new) or '-'}</td></tr>"
        )
    return "".join(rows)


def metric_section(result: dict[str, Any]) -> str:
    m = result["metric"]
    if not m:
        return f"<p>No metric: {result['labelled_rows']} labelled rows.</p>"
    verdict = "worse beyond noise" if m["beyond_interval"] else "within noise"
    return (
        f"<p>{escape(m['name'])} on {m['rows']} labelled rows: <b>{m['new']:.4f}</b> (interval "
        f"{m['low']:.4f} to {m['high']:.4f}) against {m['holdout']:.4f} on the holdout: drop "
        f"<b>{m['drop']:.4f}</b> (interval {m['drop_low']:.4f} to {m['drop_high']:.4f}): {verdict}.</p>"
    )


def contract_section(result: dict[str, Any]) -> str:
    by_column = ", ".join(f"{escape(str(k))}: {v}" for k, v in result["rejected_by_column"].items())
    return f"<p>{result['rows_rejected']} of {result['rows']} rows break the contract{f' ({by_column})' if by_column else ''}; they are not scored.</p>"


def html_report(result: dict[str, Any]) -> str:
    """The whole page."""
    status = "<span class=ok>passed</span>" if not result["crossed"] else "<span class=bad>DRIFT</span>"
    crossed = "".join(f"<li>{escape(line)}</li>" for line in result["crossed"])
    retrain = f"<p>Retrain: <code>{escape(result['retrain'])}</code></p>" if result["retrain"] else ""
    predictions = "".join(chart(f"predictions: {escape(k)}", v) for k, v in result["predictions"].items())
    target = chart("target", result["target"]) if result["target"] else ""
    charts = "".join(chart(name, f) for name, f in result["features"].items())
    return (
        f"<!DOCTYPE html><html><head><meta charset=utf-8><title>Monitoring {escape(result['model'])}</title>"
        f"<style>{STYLE}</style></head><body><h1>{escape(result['model'])}: {status}</h1>"
        f"<p>{escape(result['data'])}, checked {escape(result['checked_at'])}.</p><ul>{crossed}</ul>{retrain}"
        f"<h2>Performance</h2>{metric_section(result)}"
        f"<h2>Predictions</h2><p>PSI {_num(result['prediction_psi'])} against the holdout's predictions.</p>"
        f"{predictions}{target}<h2>Features</h2><table><tr><th>feature</th><th>kind</th><th>PSI</th>"
        f"<th>two-sample test</th><th>null share</th><th>new categories</th></tr>{feature_rows(result)}</table>"
        f"{charts}<h2>Contract</h2>{contract_section(result)}"
        f"<h2>Thresholds</h2><p><code>{escape(str(result['thresholds']))}</code></p></body></html>\n"
    )
