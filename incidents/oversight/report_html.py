"""`incidents report --html FILE`: the oversight dashboards as one page for an official.

For people without Grafana: a control centre's or a ministry's staff, reading on a
desktop or a phone. The numbers come from the very SQL the Grafana panels run
(incidents/oversight/dashboards.py), expanded the way the ClickHouse data source plugin
expands it, over all stored data with "All" selected; the page names them in
Russian (incidents/domain/labels.py), draws only charts that answer a question an
official asks (one unit per axis, counts on integer axes, a line only where
there are at least two points in time), and shows every table.

Self-contained: inline CSS and SVG, no script, no CDN, no web font. Bars are HTML
(their labels wrap instead of being cut, at any width); time series are SVG drawn
twice, for a wide and a narrow box, so their text is never scaled down to
unreadable. A table too wide for its box turns into one card per row.
docs/oversight.md#without-grafana says what an official sees, and how the page is
measured in Chromium.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from incidents.domain import labels as ru
from incidents.oversight.charts import (
    BLUE,
    GREEN,
    GREY,
    MAX_BARS,
    NARROW,
    ORANGE,
    PHONE_ROWS,
    PURPLE,
    RED,
    WIDE_SVG,
    Bar,
    Data,
    Line,
    Results,
    Scale,
    _esc,
    _num,
    _per_time,
    bar_chart,
    fmt,
    line_chart,
    table,
)
from incidents.oversight.dashboards import dashboards
from incidents.oversight.macros import TimeRange
from incidents.oversight.panels import CLICKHOUSE, Dashboard, Row
from incidents.oversight.report import (
    QueryFn,
    dashboard_tables,
    data_range,
    not_stored_counts,
    totals,
)

CSS = f"""
*{{box-sizing:border-box}}
body{{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
  margin:0;background:#f4f5f7;color:#1d2330}}
header{{background:#1d3557;color:#fff;padding:18px 28px}}
header h1{{margin:0 0 6px;font-size:24px;line-height:1.25}}
header p{{margin:0;opacity:.9;max-width:70em}}
nav{{margin-top:10px;display:flex;flex-wrap:wrap;gap:4px 16px;font-size:14px}}
nav a{{color:#cfe0ff}}
main{{padding:8px 28px 40px}}
section.dash{{margin-top:26px}}
section.dash>h2{{font-size:20px;margin:0 0 4px;border-bottom:2px solid #1d3557;
  padding-bottom:4px}}
.row{{background:#fff;border:1px solid #dde1e7;border-radius:6px;margin:14px 0;
  padding:12px 16px}}
.row h3{{margin:0 0 10px;font-size:17px}}
.note{{color:#4f5866;font-size:13px;margin:2px 0 10px;max-width:75em}}
.kpis{{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px;
  margin:8px 0 4px}}
.kpi{{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:10px 12px}}
.kpi-n{{font-size:26px;font-weight:650;font-variant-numeric:tabular-nums;line-height:1.15}}
.kpi-l{{font-size:13px;color:#4f5866}}
.kpi.alert .kpi-n{{color:{RED}}}
h4.group{{margin:14px 0 0;font-size:14px;color:#4f5866;font-weight:600}}
.charts{{display:grid;grid-template-columns:repeat(auto-fit,minmax(440px,1fr));gap:8px 28px}}
figure.chart{{margin:4px 0 14px;min-width:0;container-type:inline-size}}
figure.chart figcaption{{font-weight:600;margin-bottom:6px}}
.legend{{display:flex;flex-wrap:wrap;gap:2px 16px;font-size:13px;margin:0 0 6px}}
.legend-item{{display:inline-flex;align-items:center;gap:6px}}
.swatch{{display:inline-block;width:12px;height:12px;border-radius:2px;flex:none}}
.bars{{display:grid;grid-template-columns:minmax(7em,34%) minmax(0,1fr);
  column-gap:10px;row-gap:7px;align-items:center}}
.bar-label{{font-size:13px;text-align:right;line-height:1.25;overflow-wrap:anywhere}}
.track{{position:relative;margin-right:4.5em;display:flex;flex-direction:column;gap:2px}}
.bar{{position:relative;height:13px;min-width:1px;border-radius:0 2px 2px 0}}
.stack{{position:relative;display:flex;height:15px;min-width:1px}}
.stack .bar{{border-radius:0}}
.bar-value{{position:absolute;left:100%;top:50%;transform:translateY(-50%);padding-left:5px;
  font-size:12px;line-height:13px;white-space:nowrap;color:#333;font-variant-numeric:tabular-nums}}
.axis{{position:relative;height:1.4em;margin-right:4.5em;border-top:1px solid #b9c0ca;
  margin-top:2px}}
.axis .tick{{position:absolute;top:2px;transform:translateX(-50%);font-size:12px;
  color:#4f5866;white-space:nowrap}}
.axis .tick.first{{transform:none}}
.bars .axis-title{{font-size:12px;color:#4f5866}}
svg.plot{{display:block;width:100%;height:auto}}
svg.plot text{{font-family:inherit;fill:#4f5866}}
svg.narrow{{display:none;max-width:400px}}
svg.wide{{max-width:640px}}
@container (max-width:{WIDE_SVG[0] - 80}px){{svg.wide{{display:none}}svg.narrow{{display:block}}}}
.scroll{{overflow-x:auto;container-type:inline-size}}
table{{border-collapse:collapse;margin:6px 0 6px;font-size:13px;width:100%}}
caption{{text-align:left;font-weight:600;padding:4px 0 6px}}
th,td{{border-bottom:1px solid #e4e7ec;padding:4px 7px;text-align:left;vertical-align:top}}
th{{background:#eef1f5;font-weight:600}}
th.num,td.num{{text-align:right;font-variant-numeric:tabular-nums}}
td .v{{overflow-wrap:break-word}}
td.long{{min-width:18em}}
.empty{{color:#6b7480;font-style:italic}}
p.note.phone{{display:none}}
a{{color:#1f5fa8}}
@media (max-width:{NARROW}px){{
  header{{padding:14px 14px}}
  header h1{{font-size:21px}}
  main{{padding:4px 10px 30px}}
  .row{{padding:10px 10px}}
  .kpis{{grid-template-columns:repeat(2,minmax(0,1fr));gap:8px}}
  .kpi-n{{font-size:22px}}
  .charts{{grid-template-columns:minmax(0,1fr)}}
  .bars{{grid-template-columns:minmax(0,1fr);row-gap:2px}}
  .bar-label{{text-align:left;margin-top:6px}}
  .spacer{{display:none}}
  .minor{{display:none!important}}
  p.note.phone{{display:block}}
  tbody tr:nth-child(n+{PHONE_ROWS + 1}){{display:none}}
}}
"""


# A table too wide for its box becomes one card per row ("label: value" lines). The width a
# table needs is estimated when it is written (see _needs); a container query per width
# bucket switches it, so a table shows as a table wherever it fits, a phone or not.
CARDS = """@container (max-width:{w}px){{
{p} table,{p} tbody,{p} tr,{p} td,{p} caption{{display:block;width:100%}}
{p} thead,{p} td.blank{{display:none}}
{p} tr{{border:1px solid #dde1e7;border-radius:6px;margin:0 0 8px;padding:4px 8px}}
{p} td{{display:grid;grid-template-columns:minmax(0,52%) minmax(0,1fr);gap:10px;border:0;
  padding:3px 0}}
{p} td::before{{content:attr(data-label);color:#4f5866;text-align:left}}
{p} td.num .v{{text-align:right}}
{p} td:first-child{{display:block;font-weight:600;border-bottom:1px solid #e4e7ec;
  padding-bottom:4px;margin-bottom:2px}}
{p} td:first-child::before{{display:none}}
{p} td.long{{min-width:0}}
{p} td.empty{{display:block}}
{p} td.empty::before{{display:none}}
}}
"""


# ------------------------------------------------------------------ the charts an official reads
FED, REG, SLA = "incidents-federal", "incidents-region", "incidents-agency-sla"


def _region_bar(code: str, values: list[float | None]) -> Bar:
    return Bar(ru.value("region", code), values, code)


def appeals_and_incidents(r: Results, tr: TimeRange) -> list[str]:
    """Both panels of the row: appeals, incidents and breaches per region; both per day."""
    appeals = r[(FED, "Appeals by region")]
    incidents = r[(FED, "Incidents opened and SLA breaches by region")]
    per: dict[str, list[float]] = {}
    for row in appeals.dicts():
        per.setdefault(row["region"], [0.0, 0.0, 0.0])[0] += _num(row["appeals"]) or 0
    for row in incidents.dicts():
        sums = per.setdefault(row["region"], [0.0, 0.0, 0.0])
        sums[1] += _num(row["opened"]) or 0
        sums[2] += _num(row["sla_breaches"]) or 0
    ranked = sorted(per.items(), key=lambda kv: (-kv[1][0], kv[0]))
    series = [("Обращения", BLUE), ("Инциденты", ORANGE), ("Нарушения сроков", RED)]
    note = "Нарушения сроков — сработавшие за период, за вычетом отменённых ответами в срок."
    if len(ranked) > MAX_BARS:
        note += f" Показаны {MAX_BARS} регионов из {len(ranked)} с наибольшим числом обращений."
    lines = [
        Line("Обращения", BLUE, _per_time(appeals, "appeals", tr.interval_s, True)),
        Line("Инциденты", ORANGE, _per_time(incidents, "opened", tr.interval_s, True)),
    ]
    return [
        bar_chart(
            "Обращения, инциденты и нарушения сроков по регионам",
            [_region_bar(code, vals) for code, vals in ranked],  # type: ignore[arg-type]
            series,
            Scale("Количество, шт.", "count"),
            note=note,
        ),
        line_chart(
            f"Обращения и инциденты {_step(tr.interval_s)[0]}, все регионы",
            lines,
            Scale(f"Количество {_step(tr.interval_s)[1]}, шт.", "count"),
            tr.interval_s,
            _x_title(tr.interval_s),
        ),
    ]


def _step(step_s: int) -> tuple[str, str, str]:
    """How a time series' step reads: (by what, per what, the x axis's title)."""
    if step_s >= 604800:
        return "по неделям", "в неделю", "Неделя (UTC)"
    if step_s >= 86400:
        return "по дням", "в день", "День (UTC)"
    return "по часам", "в час", "Час (UTC)"


def _x_title(step_s: int) -> str:
    return _step(step_s)[2]


def sla_by_region(r: Results, tr: TimeRange) -> list[str]:
    comp = r[(FED, "SLA compliance by region")]
    times = r[(FED, "Answer time by region, hours (median, p90, mean)")]
    return [
        bar_chart(
            "Соблюдение сроков по регионам",
            [_region_bar(row["region"], [_num(row["compliance_pct"])]) for row in comp.dicts()],
            [("Соблюдение сроков", GREEN)],
            Scale("Закрыто в срок, % от закрытых и просроченных", "percent"),
        ),
        bar_chart(
            "Время ответа по регионам",
            [
                _region_bar(row["region"], [_num(row["median_h"]), _num(row["p90_h"])])
                for row in times.dicts()
            ],
            [("Медиана", BLUE), ("90-й процентиль", PURPLE)],
            Scale("Часы от первой публикации до ответа", "hours"),
        ),
    ]


def categories(r: Results, tr: TimeRange) -> list[str]:
    data = r[(FED, "Top categories")]
    return [
        bar_chart(
            "Обращения по категориям",
            [
                Bar(ru.value("category", row["category"]), [_num(row["appeals"])], row["category"])
                for row in data.dicts()
            ],
            [("Обращения", BLUE)],
            Scale("Обращений, шт.", "count"),
        )
    ]


def platforms(r: Results, tr: TimeRange) -> list[str]:
    data = r[(REG, "Platforms")]
    return [
        bar_chart(
            "Упоминания и обращения по площадкам",
            [
                Bar(
                    ru.value("platform", row["platform"]),
                    [_num(row["mentions"]), _num(row["appeals"])],
                    row["platform"],
                )
                for row in data.dicts()
            ],
            [("Упоминания", GREY), ("Обращения", BLUE)],
            Scale("Количество, шт.", "count"),
            note="Упоминание — любая публикация; обращение — просьба жителя решить проблему, "
            "без копий.",
        )
    ]


def agencies(r: Results, tr: TimeRange) -> list[str]:
    data = r[(REG, "Agencies")]
    rows = data.dicts()
    note = ""
    if len(rows) > MAX_BARS:
        note = f"Показаны {MAX_BARS} ведомств из {len(rows)} с наибольшим числом инцидентов."
    trend = r[(REG, "Answer time, hours (median, p90, mean)")]
    return [
        bar_chart(
            "Инциденты ведомств: открыто, закрыто, нарушено сроков",
            [
                Bar(
                    ru.value("agency", row["agency"]),
                    [_num(row["opened"]), _num(row["closed"]), _num(row["sla_breaches"])],
                    row["agency"],
                )
                for row in rows
            ],
            [("Открыто", ORANGE), ("Закрыто", GREEN), ("Нарушения сроков", RED)],
            Scale("Инцидентов, шт.", "count"),
            note=note,
        ),
        line_chart(
            f"Время ответа {_step(tr.interval_s)[0]} (когда дан ответ), все ведомства",
            [
                Line("Медиана", BLUE, _per_time(trend, "median_h", tr.interval_s, False)),
                Line("90-й процентиль", PURPLE, _per_time(trend, "p90_h", tr.interval_s, False)),
            ],
            Scale("Часы до ответа", "hours"),
            tr.interval_s,
            _x_title(tr.interval_s),
        ),
    ]


def agency_compliance(r: Results, tr: TimeRange) -> list[str]:
    """Where each agency's incidents stand, summed over categories."""
    data = r[(SLA, "SLA compliance per agency and category")]
    per: dict[str, list[float]] = {}
    for row in data.dicts():
        sums = per.setdefault(row["agency"], [0.0, 0.0, 0.0, 0.0])
        on_time = _num(row["closed_on_time"]) or 0
        sums[0] += on_time
        sums[1] += (_num(row["closed"]) or 0) - on_time
        sums[2] += _num(row["open_overdue"]) or 0
        sums[3] += _num(row["open_in_time"]) or 0
    ranked = sorted(per.items(), key=lambda kv: (-sum(kv[1]), kv[0]))
    note = "Инциденты, открытые за период, по их состоянию сейчас."
    if len(ranked) > MAX_BARS:
        note += f" Показаны {MAX_BARS} ведомств из {len(ranked)} с наибольшим числом инцидентов."
    return [
        bar_chart(
            "Состояние инцидентов по ведомствам",
            [Bar(ru.value("agency", a), list[float | None](v), a) for a, v in ranked],
            [
                ("Закрыто в срок", GREEN),
                ("Закрыто с нарушением", ORANGE),
                ("Открыто с просрочкой", RED),
                ("Открыто, срок не истёк", GREY),
            ],
            Scale("Инцидентов, шт.", "count"),
            stacked=True,
            note=note,
        )
    ]


def breaches_per_day(r: Results, tr: TimeRange) -> list[str]:
    data = r[(SLA, "SLA breaches per day by agency")]
    return [
        line_chart(
            f"Нарушения сроков {_step(tr.interval_s)[0]}, все ведомства",
            [Line("Нарушения сроков", RED, _per_time(data, "sla_breaches", tr.interval_s, True))],
            Scale(f"Нарушений {_step(tr.interval_s)[1]}, шт.", "count"),
            tr.interval_s,
            _x_title(tr.interval_s),
        )
    ]


ChartFn = Callable[[Results, TimeRange], list[str]]
CHARTS: dict[tuple[str, str], ChartFn] = {
    (FED, "Appeals and incidents by region"): appeals_and_incidents,
    (FED, "SLA and answer times by region"): sla_by_region,
    (FED, "What residents write about"): categories,
    (REG, "Appeals"): platforms,
    (REG, "Agencies and answer times"): agencies,
    (SLA, "Compliance"): agency_compliance,
    (SLA, "Breaches over time"): breaches_per_day,
}
# Bar-chart panels whose every number is on the chart already.
CHARTED_ONLY = {(FED, "Top categories"), (REG, "Platforms")}


# -------------------------------------------------------------------- page
def summary(query: QueryFn, db: str, r: Results) -> str:
    """The numbers an official reads first, as tiles: each number above its own label."""
    t = totals(query, db)
    came_in, accepted, dups, rejected, appeals, inc, open_inc, replies = t.rows[0]
    sla = r[(SLA, "SLA compliance per agency and category")].dicts()
    closed = sum(_num(x["closed"]) or 0 for x in sla)
    on_time = sum(_num(x["closed_on_time"]) or 0 for x in sla)
    overdue = sum(_num(x["open_overdue"]) or 0 for x in sla)
    compliance = 100 * on_time / (closed + overdue) if closed + overdue else None

    def tile(n: str, label: str, hint: str = "", alert: bool = False) -> str:
        cls = "kpi alert" if alert else "kpi"
        tip = f' title="{_esc(hint)}"' if hint else ""
        return (
            f'<div class="{cls}"{tip}><div class="kpi-n">{_esc(n)}</div>'
            f'<div class="kpi-l">{_esc(label)}</div></div>'
        )

    return "".join(
        [
            '<section class="dash" id="summary"><h2>Главное за период</h2>',
            '<h4 class="group">Обращения и инциденты</h4><div class="kpis">',
            tile(fmt(appeals), "обращений жителей", "без копий и репостов"),
            tile(fmt(inc), "инцидентов", "проблем: несколько обращений об одном — один инцидент"),
            tile(fmt(open_inc), "открыто сейчас"),
            tile(fmt(overdue, 0), "открыто с просрочкой", "истёк срок реакции или ответа", True),
            tile(
                "—" if compliance is None else f"{fmt(compliance)} %",
                "соблюдение сроков",
                "закрыто в срок / (закрыто + открыто с просрочкой)",
                compliance is not None and compliance < 50,
            ),
            tile(fmt(replies), "ответов жителям", "ответы ведомств, адресованные публикациям"),
            '</div><h4 class="group">Поток упоминаний</h4><div class="kpis">',
            tile(fmt(came_in), "упоминаний получено", t.note),
            tile(fmt(accepted), "уникальных"),
            tile(fmt(dups), "копий и репостов"),
            tile(fmt(rejected), "отклонено (ошибки формата)", "см. «Работа конвейера»"),
            "</div></section>",
        ]
    )


def build(query: QueryFn, db: str = "incidents", min_volume: int = 1) -> str:
    tr: TimeRange = data_range(query, db)
    results: Results = {}
    for dash, _, panel, cols, rows in dashboard_tables(query, db, min_volume, tr):
        results[(dash.uid, panel.title)] = Data(cols, rows)
    body: list[str] = []
    nav: list[str] = ['<a href="#summary">Главное</a>']
    for dash in dashboards():
        parts = [x for x in (_row(dash, row, results, tr) for row in dash.rows) if x]
        if not parts:
            continue
        nav.append(f'<a href="#{_esc(dash.uid)}">{_esc(ru.title(dash.title))}</a>')
        if dash.uid == "incidents-pipeline":
            parts.extend(_not_stored(query, db))
        body.append(
            f'<section class="dash" id="{_esc(dash.uid)}"><h2>{_esc(ru.title(dash.title))}</h2>'
            f'<p class="note">{_esc(ru.NOTES.get(dash.title, ""))}</p>{"".join(parts)}</section>'
        )
    span = f"{tr.start:%d.%m.%Y} — {tr.end:%d.%m.%Y}"
    widths = sorted({int(w) for w in re.findall(r'class="scroll cards-(\d+)"', "".join(body))})
    cards = "".join(CARDS.format(w=w, p=f".cards-{w}") for w in widths)
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="ru"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>Обращения и инциденты: отчёт за {span}</title>",
            f"<style>{CSS}{cards}</style></head><body>",
            f"<header><h1>Обращения жителей и инциденты: отчёт за {span}</h1>",
            f"<p>Все сохранённые данные, с {tr.start:%d.%m.%Y %H:%M} по "
            f"{tr.end:%d.%m.%Y %H:%M} UTC; сформирован {datetime.now(UTC):%d.%m.%Y %H:%M} "
            "UTC. Те же запросы, что в дашбордах Grafana, все фильтры — «Все»; регионы "
            f"сравниваются при числе обращений от {int(min_volume)}.</p>",
            f"<nav>{''.join(nav)}</nav></header><main>",
            summary(query, db, results),
            *body,
            "</main></body></html>",
        ]
    )


def _not_stored(query: QueryFn, db: str) -> list[str]:
    """A backfill older than the retention, in one sentence per retention (or nothing)."""
    by_days: dict[int, int] = {}
    for days, _, n, _, _ in not_stored_counts(query, db):
        by_days[days] = by_days.get(days, 0) + n
    return [f'<p class="note">{_esc(ru.not_stored(n, d))}</p>' for d, n in sorted(by_days.items())]


def _row(dash: Dashboard, row: Row, results: Results, tr: TimeRange) -> str:
    chart_fn = CHARTS.get((dash.uid, row.title))
    charts = [c for c in (chart_fn(results, tr) if chart_fn else []) if c]
    tables = [
        table(ru.title(p.title), results[(dash.uid, p.title)], p.title, ru.NOTES.get(p.title, ""))
        for p in row.panels
        if p.source == CLICKHOUSE
        and p.kind != "timeseries"
        and (dash.uid, p.title) not in CHARTED_ONLY
    ]
    if not charts and not tables:
        return ""
    grid = f'<div class="charts">{"".join(charts)}</div>' if charts else ""
    return f'<div class="row"><h3>{_esc(ru.title(row.title))}</h3>{grid}{"".join(tables)}</div>'


def write(path: Path, query: QueryFn, db: str = "incidents", min_volume: int = 1) -> Path:
    path.write_text(build(query, db, min_volume), encoding="utf-8")
    return path
