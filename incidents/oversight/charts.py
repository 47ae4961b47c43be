"""The HTML report's drawing primitives: values read from a panel's rows, scales with
whole ticks, HTML bar charts, SVG line charts drawn twice (a wide and a narrow box),
and tables that turn into cards when too wide. They know nothing of the dashboards:
incidents/oversight/report_html.py picks the panels and says what each chart shows.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from incidents.domain import labels as ru
from incidents.oversight.report import as_time, drop_rank

MAX_BARS = 15
MAX_TABLE_ROWS = 25
PHONE_ROWS = 10  # a card per row on a phone: the first ten, the note says so
NARROW = 700  # px: below this the page uses its phone layout
WIDE_SVG, NARROW_SVG = (640, 300), (340, 250)  # the two drawings of a time series

BLUE, ORANGE, RED, GREEN, GREY, PURPLE = (
    "#1f5fa8", "#e08a1e", "#c8352b", "#2e8b57", "#8c96a3", "#7b4fa0",
)  # fmt: skip


# Per character of 13 px text (DejaVu Sans, wider than most UI fonts: an estimate that
# errs towards cards), bold headers, and a cell's padding and border.
CHAR_PX, BOLD_PX, CELL_PX, LONG_PX = 8.6, 9.4, 16, 14 * 13


def _needs(heads: Sequence[str], columns: Sequence[Sequence[str]], long: Sequence[bool]) -> int:
    """The narrowest a table can be laid out without a cut word, in CSS pixels, rounded up
    to a bucket of 100: each column's longest unbreakable piece (header or cell)."""

    def longest(text: str) -> int:
        return max((len(w) for w in text.replace("/", "/ ").split(" ")), default=0)

    total = 0.0
    for head, cells, is_long in zip(heads, columns, long, strict=True):
        piece = max(longest(head) * BOLD_PX, max((longest(c) for c in cells), default=0) * CHAR_PX)
        total += max(piece, LONG_PX if is_long else 0) + CELL_PX
    return max(400, math.ceil(total / 100) * 100)


# ------------------------------------------------------------------ values
def _esc(v: Any) -> str:
    return html.escape("" if v is None else str(v))


def _num(v: Any) -> float | None:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, int | float):
        return None if isinstance(v, float) and math.isnan(v) else float(v)
    return None


def _time(v: Any) -> datetime | None:
    if isinstance(v, datetime):
        return v if v.tzinfo else v.replace(tzinfo=UTC)
    try:
        t = datetime.fromisoformat(str(v))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def fmt(v: float | None, digits: int = 1) -> str:
    """A number the Russian way: a narrow space between thousands, a comma for decimals.

    Whole numbers (ints, and any value with `digits=0`) have no decimals; other floats
    have `digits`, so a column of hours reads 55,0 next to 53,8.
    """
    if v is None:
        return "—"
    whole = isinstance(v, int) or digits == 0
    text = f"{round(v):,}" if whole else f"{v:,.{digits}f}"
    return text.replace(",", "\u202f").replace(".", ",")


def _cell_time(v: Any) -> str | None:
    t = as_time(v)
    return None if t is None else f"{t:%d.%m.%Y %H:%M}"


@dataclass
class Data:
    """One panel's result: its columns and rows, read by column name."""

    columns: list[str]
    rows: list[tuple[Any, ...]]

    def col(self, name: str) -> list[Any]:
        i = self.columns.index(name)
        return [r[i] for r in self.rows]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, r, strict=False)) for r in self.rows]


Results = dict[tuple[str, str], Data]  # (dashboard uid, panel title) → result


# ------------------------------------------------------------------ scales
def _tick(t: float) -> str:
    return fmt(t, 0) if t == int(t) else fmt(t)


def nice_ticks(vmax: float, integer: bool, most: int = 5) -> list[float]:
    """0 and round steps up to at least vmax: 1, 2 or 5 × 10^k (whole numbers for counts)."""
    vmax = max(vmax, 1.0 if integer else 0.1)
    raw = vmax / most
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    if integer:
        step = max(1, round(step))
    top = math.ceil(vmax / step - 1e-9) * step
    return [i * step for i in range(round(top / step) + 1)]


@dataclass(frozen=True)
class Scale:
    """What a chart's axis measures: its title with the unit, and how values read."""

    title: str
    kind: str  # count | hours | percent

    def ticks(self, vmax: float) -> list[float]:
        if self.kind == "percent":
            return [0, 20, 40, 60, 80, 100]
        return nice_ticks(vmax, integer=self.kind == "count")

    def label(self, v: float | None) -> str:
        if v is None:
            return "нет данных"
        if self.kind == "percent":
            return f"{fmt(v)} %"
        if self.kind == "hours":
            return f"{fmt(v)} ч"
        return fmt(v, 0)


# ------------------------------------------------------------------ bars
@dataclass
class Bar:
    label: str
    values: list[float | None]
    hint: str = ""  # the full name or the code, shown on hover


def bar_chart(
    title: str,
    bars: Sequence[Bar],
    series: Sequence[tuple[str, str]],
    scale: Scale,
    stacked: bool = False,
    note: str = "",
) -> str:
    """Horizontal bars in HTML: labels wrap, a value at the end of each bar, one axis."""
    bars = list(bars)[:MAX_BARS]
    if not bars:
        return ""
    if stacked:
        vmax = max(sum(v or 0 for v in b.values) for b in bars)
    else:
        vmax = max((v or 0) for b in bars for v in b.values)
    ticks = scale.ticks(vmax)
    top = ticks[-1] or 1.0
    out = [
        f'<figure class="chart" data-kind="bars" data-scale="{scale.kind}">',
        f"<figcaption>{_esc(title)}</figcaption>",
        _legend(series),
        '<div class="bars">',
    ]
    for b in bars:
        hint = f' title="{_esc(b.hint)}"' if b.hint else ""
        out.append(f'<div class="bar-label"{hint}>{_esc(b.label)}</div><div class="track">')
        if stacked:
            total = sum(v or 0 for v in b.values)
            out.append(f'<div class="stack" style="width:{100 * total / top:.2f}%">')
            for (name, color), v in zip(series, b.values, strict=True):
                if v:
                    out.append(
                        f'<div class="bar" style="flex:{v} 0 0;background:{color}" '
                        f'title="{_esc(name)}: {scale.label(v)}"></div>'
                    )
            out.append(f'<span class="bar-value">{scale.label(total)}</span></div>')
        else:
            for (name, color), v in zip(series, b.values, strict=True):
                width = 100 * (v or 0) / top
                out.append(
                    f'<div class="bar" style="width:{width:.2f}%;background:{color}" '
                    f'title="{_esc(name)}"><span class="bar-value">{scale.label(v)}</span></div>'
                )
        out.append("</div>")
    out.append('<div class="spacer"></div><div class="axis">')
    for i, t in enumerate(ticks):
        first = " first" if i == 0 else ""
        out.append(f'<span class="tick{first}" style="left:{100 * t / top:.2f}%">{_tick(t)}</span>')
    out.append(f'</div><div class="spacer"></div><div class="axis-title">{_esc(scale.title)}</div>')
    out.append("</div>")
    if note:
        out.append(f'<p class="note">{_esc(note)}</p>')
    out.append("</figure>")
    return "".join(out)


def _legend(series: Sequence[tuple[str, str]]) -> str:
    if len(series) < 2:
        return ""
    items = "".join(
        f'<span class="legend-item"><span class="swatch" style="background:{color}"></span>'
        f"{_esc(name)}</span>"
        for name, color in series
    )
    return f'<div class="legend">{items}</div>'


# ------------------------------------------------------------------ lines
@dataclass
class Line:
    name: str
    color: str
    points: dict[datetime, float]


def line_chart(
    title: str, lines: Sequence[Line], scale: Scale, step_s: int, x_title: str, note: str = ""
) -> str:
    """A time series in SVG, drawn once for a wide and once for a narrow screen.

    Nothing is drawn for fewer than two points in time: a dot per series says nothing.
    """
    lines = [ln for ln in lines if ln.points]
    times = sorted({t for ln in lines for t in ln.points})
    if len(times) < 2:
        return ""
    out = [
        f'<figure class="chart" data-kind="line" data-scale="{scale.kind}">',
        f"<figcaption>{_esc(title)}</figcaption>",
        _legend([(ln.name, ln.color) for ln in lines]),
        _svg_lines(title, lines, times, scale, step_s, x_title, *WIDE_SVG, "wide"),
        _svg_lines(title, lines, times, scale, step_s, x_title, *NARROW_SVG, "narrow"),
    ]
    if note:
        out.append(f'<p class="note">{_esc(note)}</p>')
    out.append("</figure>")
    return "".join(out)


def _svg_lines(
    title: str,
    lines: Sequence[Line],
    times: Sequence[datetime],
    scale: Scale,
    step_s: int,
    x_title: str,
    w: int,
    h: int,
    css: str,
) -> str:
    vmax = max(v for ln in lines for v in ln.points.values())
    ticks = scale.ticks(vmax)
    top_v = ticks[-1] or 1.0
    tick_text = [_tick(t) for t in ticks]
    left = 26 + 7 * max(len(t) for t in tick_text)
    right, top, bottom = 14, 10, 46
    pw, ph = w - left - right, h - top - bottom
    t0, t1 = times[0].timestamp(), times[-1].timestamp()

    def x(t: datetime) -> float:
        return left + (t.timestamp() - t0) / (t1 - t0) * pw

    def y(v: float) -> float:
        return top + ph - v / top_v * ph

    parts = [
        f'<svg class="plot {css}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" '
        f'role="img" aria-label="{_esc(title)}">'
    ]
    for t, text in zip(ticks, tick_text, strict=True):
        parts.append(
            f'<line x1="{left}" y1="{y(t):.1f}" x2="{left + pw}" y2="{y(t):.1f}" '
            f'stroke="#e4e7ec"/><text class="tick" x="{left - 6}" y="{y(t) + 4:.1f}" '
            f'text-anchor="end" font-size="12">{_esc(text)}</text>'
        )
    parts.append(
        f'<text class="axis-title" transform="translate(13 {top + ph / 2:.0f}) rotate(-90)" '
        f'text-anchor="middle" font-size="12">{_esc(scale.title)}</text>'
    )
    daily = step_s >= 86400
    label = "%d.%m" if daily else "%d.%m %H:%M"
    width_px = (5 if daily else 11) * 7.2 + 14
    most = max(2, int(pw // width_px))
    shown = [times[round(i * (len(times) - 1) / (most - 1))] for i in range(most)]
    for i, when in enumerate(dict.fromkeys(shown)):
        anchor = "start" if i == 0 else "end" if when == times[-1] else "middle"
        parts.append(
            f'<text class="tick" x="{x(when):.1f}" y="{top + ph + 17}" text-anchor="{anchor}" '
            f'font-size="12">{when:{label}}</text>'
        )
    parts.append(
        f'<text class="axis-title" x="{left + pw / 2:.0f}" y="{h - 6}" text-anchor="middle" '
        f'font-size="12">{_esc(x_title)}</text>'
    )
    for ln in lines:
        pts = sorted(ln.points.items())
        coords = " ".join(f"{x(when):.1f},{y(v):.1f}" for when, v in pts)
        parts.append(
            f'<polyline fill="none" stroke="{ln.color}" stroke-width="2" points="{coords}"/>'
        )
        for when, v in pts:
            parts.append(
                f'<circle cx="{x(when):.1f}" cy="{y(v):.1f}" r="2.5" fill="{ln.color}">'
                f"<title>{_esc(ln.name)}, {when:%d.%m.%Y}: {scale.label(v)}</title></circle>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _per_time(data: Data, value: str, step_s: int, fill: bool) -> dict[datetime, float]:
    """Sum a long time series over its labels; `fill` puts 0 in the empty buckets of counts."""
    out: dict[datetime, float] = {}
    for row in data.dicts():
        t, v = _time(row["time"]), _num(row.get(value))
        if t is not None and v is not None:
            out[t] = out.get(t, 0.0) + v
    if fill and out:
        t, end = min(out), max(out)
        while t < end:
            out.setdefault(t, 0.0)
            t += timedelta(seconds=step_s)
    return out


# ------------------------------------------------------------------ tables
# The order an official reads a panel's columns in, where it differs from the SQL's.
COLUMN_ORDER = {
    "Overdue incidents": (
        "title", "agency", "category", "municipality", "due", "overdue", "opened", "posts",
        "incident",
    ),
}  # fmt: skip


LONG_TEXT = {"title", "example"}  # a sentence: wide enough on a desktop to read in a few lines


def table(
    title: str, data: Data, panel: str = "", note: str = "", max_rows: int = MAX_TABLE_ROWS
) -> str:
    """A panel's table with Russian headers; codes shown by name with the code on hover.

    On a phone each row is a card; the columns the terminal report gives up first
    (report.drop_rank 4 and up) are left out there, and the note says which.
    """
    cols = list(data.columns)
    link = "post" if "post" in cols and "title" in cols else ""
    order = COLUMN_ORDER.get(panel, ())
    shown = sorted(
        (c for c in cols if c != link),
        key=lambda c: order.index(c) if c in order else len(order) + cols.index(c),
    )
    numeric = {
        c: any(_num(v) is not None for v in data.col(c))
        and all(v is None or _num(v) is not None for v in data.col(c))
        for c in shown
    }
    minor = {c: c != shown[0] and drop_rank(panel, c) >= 4 for c in shown}
    heads = {c: ru.column(c, panel) for c in shown}

    def cls(c: str, *extra: str) -> str:
        names = [*extra, *(["num"] if numeric[c] else []), *(["minor"] if minor[c] else [])]
        return f' class="{" ".join(names)}"' if names else ""

    head = "".join(f"<th{cls(c)}>{_esc(heads[c])}</th>" for c in shown)
    body = []
    texts: dict[str, list[str]] = {c: [] for c in shown}
    for row in data.dicts()[:max_rows]:
        cells = []
        for c in shown:
            v = row[c]
            label = f'data-label="{_esc(heads[c])}"'
            if numeric[c]:
                texts[c].append(fmt(v))
                cells.append(f'<td{cls(c)} {label}><span class="v">{texts[c][-1]}</span></td>')
                continue
            text = _cell_time(v) or ("" if v is None else str(v))
            shown_text = ru.value(c, text)
            hint = f' title="{_esc(text)}"' if shown_text != text else ""
            texts[c].append(shown_text)
            inner = _esc(shown_text)
            if c == "incident":  # an id may break after its region, never inside the hash
                inner = inner.replace("/", "/<wbr>")
            url = str(row.get(link) or "") if link and c == "title" else ""
            if url.startswith(("https://", "http://")):
                inner = f'<a href="{_esc(url)}">{inner}</a>'
            blank: tuple[str, ...] = () if text else ("blank",)
            if c in LONG_TEXT:
                blank += ("long",)
            cells.append(f'<td{cls(c, *blank)} {label}><span class="v"{hint}>{inner}</span></td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not data.rows:
        body.append(f'<tr><td colspan="{len(shown)}" class="empty">нет строк за период</td></tr>')
    more = len(data.rows) - max_rows
    if more > 0:
        note = (
            note + " " if note else ""
        ) + f"Показаны первые {max_rows} строк из {len(data.rows)}."
    foot = f'<p class="note">{_esc(note)}</p>' if note else ""
    phone = []
    if len(data.rows) > PHONE_ROWS:
        phone.append(f"На узком экране показаны первые {PHONE_ROWS} строк из {len(data.rows)}")
    hidden = [heads[c] for c in shown if minor[c]]
    if hidden and data.rows:
        phone.append(f"не показаны столбцы: {', '.join(hidden)}")
    if phone:
        text = "; ".join(phone)
        foot += f'<p class="note phone">{_esc(text[0].upper() + text[1:])}; остальное — на '
        foot += "широком экране.</p>"
    needs = _needs(
        [heads[c] for c in shown], [texts[c] for c in shown], [c in LONG_TEXT for c in shown]
    )
    return (
        f'<div class="scroll cards-{needs}"><table><caption>{_esc(title)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>{foot}"
    )
