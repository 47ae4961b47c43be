"""`incidents report --html FILE`: the oversight dashboards as one self-contained page.

For people without Grafana. One section per dashboard, one chart per dashboard
row (inline SVG drawn here: no script, no CDN, no web font), and the row's
tables. The numbers come from the very SQL the Grafana panels run
(streams/oversight.py), expanded the way the ClickHouse data source plugin
expands it, over all stored data with "All" selected.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streams.oversight import CLICKHOUSE, Dashboard, Panel, Row, TimeRange, dashboards
from streams.report import QueryFn, _summary, dashboard_tables, data_range

PALETTE = (
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
    "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22",
)  # fmt: skip
MAX_SERIES = 8
MAX_BARS = 15
MAX_TABLE_ROWS = 25

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
  margin:0;background:#f4f5f7;color:#1d2330}
header{background:#1d3557;color:#fff;padding:18px 28px}
header h1{margin:0 0 4px;font-size:22px}
header p{margin:0;opacity:.85}
main{padding:8px 28px 40px}
section.dash{margin-top:26px}
section.dash>h2{font-size:19px;margin:0 0 4px;border-bottom:2px solid #1d3557;padding-bottom:4px}
.row{background:#fff;border:1px solid #dde1e7;border-radius:6px;margin:14px 0;padding:12px 16px}
.row h3{margin:0 0 8px;font-size:16px}
.chart{margin:4px 0 10px}
.chart figcaption{font-weight:600;margin-bottom:4px}
.note{color:#5b6472;font-size:12.5px;margin:2px 0 8px}
table{border-collapse:collapse;margin:6px 0 12px;font-size:12.5px;width:100%}
th,td{border-bottom:1px solid #e4e7ec;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
caption{text-align:left;font-weight:600;padding:4px 0}
.empty{color:#8a93a0;font-style:italic}
svg text{font-family:inherit}
"""


def _esc(v: Any) -> str:
    return html.escape("" if v is None else str(v))


def _num(v: Any) -> float | None:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, int | float):
        return None if isinstance(v, float) and math.isnan(v) else float(v)
    try:
        f = float(str(v))
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _time(v: Any) -> datetime | None:
    if isinstance(v, datetime):
        return v if v.tzinfo else v.replace(tzinfo=UTC)
    try:
        t = datetime.fromisoformat(str(v))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _fmt(v: float) -> str:
    if abs(v) >= 1000:
        return f"{v:,.0f}".replace(",", " ")
    if v == int(v):
        return str(int(v))
    return f"{v:.1f}"


# ------------------------------------------------------------------ charts
def line_chart(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], values: Sequence[str]
) -> str:
    """Time series: (time, label, value…) long rows or (time, value…) wide rows."""
    series: dict[str, dict[datetime, float]] = {}
    label_cols = [
        i
        for i, c in enumerate(columns[1:], 1)
        if c not in values and rows and _num(rows[0][i]) is None
    ]
    value_cols = [columns.index(v) for v in values if v in columns]
    for r in rows:
        t = _time(r[0])
        if t is None:
            continue
        label = " ".join(str(r[i]) for i in label_cols)
        for vi in value_cols:
            v = _num(r[vi])
            if v is None:
                continue
            name = label if len(value_cols) == 1 and label else f"{label} {columns[vi]}".strip()
            series.setdefault(name, {})[t] = series.get(name, {}).get(t, 0.0) + v
    if not series:
        return _empty_chart(title)
    ranked = sorted(series, key=lambda s: -sum(series[s].values()))[:MAX_SERIES]
    times = sorted({t for s in ranked for t in series[s]})
    vmax = max(max(series[s].values()) for s in ranked) or 1.0
    w, h, left, right, top, bottom = 960, 300, 56, 190, 14, 34
    pw, ph = w - left - right, h - top - bottom
    t0, t1 = times[0].timestamp(), times[-1].timestamp()
    span = (t1 - t0) or 1.0

    def x(t: datetime) -> float:
        return left + (t.timestamp() - t0) / span * pw if len(times) > 1 else left + pw / 2

    def y(v: float) -> float:
        return top + ph - v / vmax * ph

    parts = [_svg_open(w, h, title)]
    for k in range(5):
        v = vmax * k / 4
        yy = y(v)
        parts.append(
            f'<line x1="{left}" y1="{yy:.1f}" x2="{left + pw}" y2="{yy:.1f}" stroke="#e4e7ec"/>'
            f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#5b6472">{_fmt(v)}</text>'
        )
    for t in _ticks(times, 6):
        parts.append(
            f'<text x="{x(t):.1f}" y="{h - 12}" text-anchor="middle" font-size="11" '
            f'fill="#5b6472">{t:%d.%m %H:%M}</text>'
        )
    for i, name in enumerate(ranked):
        color = PALETTE[i % len(PALETTE)]
        pts = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in sorted(series[name].items()))
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{pts}"/>')
        for t, v in sorted(series[name].items()):
            parts.append(f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="2.5" fill="{color}"/>')
        ly = top + 14 + i * 18
        parts.append(
            f'<rect x="{left + pw + 14}" y="{ly - 9}" width="12" height="12" fill="{color}"/>'
            f'<text x="{left + pw + 32}" y="{ly + 1}" font-size="12">{_esc(name[:26])}</text>'
        )
    parts.append("</svg>")
    return _figure(title, "".join(parts))


def bar_chart(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], values: Sequence[str]
) -> str:
    """Horizontal bars: the first text column labels, one bar per value column."""
    value_cols = [columns.index(v) for v in values if v in columns]
    label_cols = [
        i
        for i, c in enumerate(columns)
        if i not in value_cols and rows and _num(rows[0][i]) is None and _time(rows[0][i]) is None
    ][:2]
    items: list[tuple[str, list[float]]] = []
    for r in rows:
        found = [_num(r[i]) for i in value_cols]
        if all(n is None for n in found):
            continue
        label = " · ".join(str(r[i]) for i in label_cols) or "—"
        items.append((label, [n or 0.0 for n in found]))
    items = items[:MAX_BARS]
    if not items:
        return _empty_chart(title)
    vmax = max(max(n) for _, n in items) or 1.0
    per = len(value_cols)
    bar_h = 12
    gap = 8
    left, w = 330, 960
    h = 26 + len(items) * (per * bar_h + gap) + 18
    pw = w - left - 70
    parts = [_svg_open(w, h, title)]
    y = 20
    for label, nums in items:
        parts.append(
            f'<text x="{left - 8}" y="{y + per * bar_h / 2 + 4:.1f}" text-anchor="end" '
            f'font-size="12">{_esc(label[:48])}</text>'
        )
        for j, n in enumerate(nums):
            bw = max(n / vmax * pw, 0.5)
            parts.append(
                f'<rect x="{left}" y="{y + j * bar_h}" width="{bw:.1f}" height="{bar_h - 2}" '
                f'fill="{PALETTE[j % len(PALETTE)]}"/>'
                f'<text x="{left + bw + 5:.1f}" y="{y + j * bar_h + 9}" font-size="11" '
                f'fill="#333">{_fmt(n)}</text>'
            )
        y += per * bar_h + gap
    for j, vi in enumerate(value_cols):
        parts.append(
            f'<rect x="{left + j * 150}" y="{h - 14}" width="12" height="10" '
            f'fill="{PALETTE[j % len(PALETTE)]}"/>'
            f'<text x="{left + j * 150 + 17}" y="{h - 5}" font-size="12">'
            f"{_esc(columns[vi])}</text>"
        )
    parts.append("</svg>")
    return _figure(title, "".join(parts))


def _svg_open(w: int, h: int, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        'style="max-width:100%;height:auto" '
        f'viewBox="0 0 {w} {h}" role="img" aria-label="{_esc(title)}">'
        f'<rect width="{w}" height="{h}" fill="#fff"/>'
    )


def _figure(title: str, svg: str) -> str:
    return f'<figure class="chart"><figcaption>{_esc(title)}</figcaption>{svg}</figure>'


def _empty_chart(title: str) -> str:
    return _figure(title, '<p class="empty">no data in the range</p>')


def _ticks(times: Sequence[datetime], n: int) -> list[datetime]:
    if len(times) <= n:
        return list(times)
    step = (len(times) - 1) / (n - 1)
    return [times[round(i * step)] for i in range(n)]


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], note: str = "") -> str:
    head = "".join(f"<th>{_esc(c)}</th>" for c in columns)
    body = []
    for r in rows[:MAX_TABLE_ROWS]:
        cells = []
        for c, v in zip(columns, r, strict=False):
            if c == "post" and isinstance(v, str) and v.startswith(("https://", "http://")):
                cells.append(f'<td><a href="{_esc(v)}">post</a></td>')
            elif _num(v) is not None and not isinstance(v, str):
                cells.append(f'<td class="num">{_esc(v)}</td>')
            else:
                cells.append(f"<td>{_esc(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not rows:
        body.append(f'<tr><td colspan="{len(columns)}" class="empty">no rows</td></tr>')
    more = len(rows) - MAX_TABLE_ROWS
    if more > 0:
        note = (note + "; " if note else "") + f"{more} more rows in Grafana"
    foot = f'<p class="note">{_esc(note)}</p>' if note else ""
    return f"<table><caption>{_esc(title)}</caption><tr>{head}</tr>{''.join(body)}</table>{foot}"


# -------------------------------------------------------------------- page
def _chart_for(panel: Panel, cols: list[str], rows: list[tuple[Any, ...]]) -> str:
    values = list(panel.chart) or [c for c in cols[1:] if rows and _num(rows[0][cols.index(c)])]
    if panel.kind == "timeseries":
        return line_chart(panel.title, cols, rows, values)
    return bar_chart(panel.title, cols, rows, values)


def build(query: QueryFn, db: str = "incidents", min_volume: int = 1) -> str:
    tr: TimeRange = data_range(query, db)
    results: dict[tuple[str, str, str], tuple[list[str], list[tuple[Any, ...]]]] = {}
    for dash, row, panel, cols, rows in dashboard_tables(query, db, min_volume, tr):
        results[(dash.uid, row.title, panel.title)] = (cols, rows)
    summary = _summary(query, db, top=15)
    out = [
        "<!DOCTYPE html>",
        '<html lang="ru"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>Incidents — oversight report</title>",
        f"<style>{CSS}</style></head><body>",
        "<header><h1>Incidents — oversight report</h1>",
        f"<p>Data from {tr.start:%d.%m.%Y %H:%M} to {tr.end:%d.%m.%Y %H:%M} UTC; "
        f"regions ranked from {int(min_volume)} appeals; generated "
        f"{datetime.now(UTC):%d.%m.%Y %H:%M} UTC. The same queries as the Grafana "
        "dashboards, with every filter on “All”.</p></header><main>",
        '<section class="dash"><h2>Summary</h2><div class="row">',
        table(summary[0].title, summary[0].columns, summary[0].rows, summary[0].note),
        "</div></section>",
    ]
    for dash in dashboards():
        out.append(f'<section class="dash" id="{_esc(dash.uid)}"><h2>{_esc(dash.title)}</h2>')
        out.append(f'<p class="note">{_esc(dash.description)}</p>')
        for row in dash.rows:
            out.append(_row(dash, row, results))
        out.append("</section>")
    out.append("</main></body></html>")
    return "\n".join(out)


def _row(
    dash: Dashboard,
    row: Row,
    results: dict[tuple[str, str, str], tuple[list[str], list[tuple[Any, ...]]]],
) -> str:
    parts = [f'<div class="row"><h3>{_esc(row.title)}</h3>']
    panels = [p for p in row.panels if p.source == CLICKHOUSE]
    if not panels:
        names = ", ".join(p.title for p in row.panels)
        parts.append(
            f'<p class="note">From Prometheus, not ClickHouse ({_esc(names)}): see the Grafana '
            "dashboard, or a worker's /metrics.</p></div>"
        )
        return "".join(parts)
    charted = next((p for p in panels if p.chart), panels[0])
    cols, rows = results[(dash.uid, row.title, charted.title)]
    parts.append(_chart_for(charted, cols, rows))
    for p in panels:
        if p.kind == "timeseries":
            continue
        cols, rows = results[(dash.uid, row.title, p.title)]
        parts.append(table(p.title, cols, rows, p.description))
    parts.append("</div>")
    return "".join(parts)


def write(path: Path, query: QueryFn, db: str = "incidents", min_volume: int = 1) -> Path:
    path.write_text(build(query, db, min_volume), encoding="utf-8")
    return path
