"""The oversight tables, from ClickHouse, for the terminal (and the demo).

Works with anything that answers SQL: the embedded chDB opened in-process, a
ClickHouse server, or a running worker's /query endpoint (in the embedded mode
the worker owns the data directory).
"""

from __future__ import annotations

import json
import os
import re
import sys
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console
from rich.table import Table

from incidents.oversight.dashboards import dashboards
from incidents.oversight.fragments import OPEN
from incidents.oversight.macros import TimeRange, all_values, expand, render_sql
from incidents.oversight.panels import CLICKHOUSE, Dashboard, Panel, Row

QueryFn = Callable[[str], tuple[list[str], list[tuple[Any, ...]]]]


def http_query(base_url: str, timeout: float = 30.0) -> QueryFn:
    """Query through a worker's /query endpoint (read-only, loopback)."""

    def run(sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        req = urllib.request.Request(
            base_url.rstrip("/") + "/query",
            data=json.dumps({"sql": sql}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = json.loads(resp.read())
        if "error" in body:
            raise RuntimeError(body["error"])
        return body["columns"], [tuple(r) for r in body["rows"]]

    return run


@dataclass
class Section:
    title: str
    columns: list[str]
    rows: list[tuple[Any, ...]]
    note: str = ""


def _q(query: QueryFn, db: str, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    return query(sql.replace("{db}", db))


def collect(
    query: QueryFn, db: str = "incidents", top: int = 15, min_volume: int = 1
) -> list[Section]:
    """Every section of the report, as plain rows (also used by the HTML report and tests).

    The pipeline summary first, then the tables of the oversight dashboards
    (incidents/oversight/dashboards.py) over all the data, "All" for every variable and regions
    ranked from `min_volume` appeals. `top` rows a table at most (0: all of them).
    """
    out = _summary(query, db, top)
    for dash, row, panel, cols, rows in dashboard_tables(query, db, min_volume=min_volume):
        if panel.kind == "timeseries":
            continue
        note = f"{dash.title.split('—')[-1].strip()} › {row.title}"
        if top and len(rows) > top:
            note += f"; first {top} of {len(rows)} rows"
        title = panel.title.removesuffix(" (ClickHouse)")
        out.append(Section(title, cols, rows[:top] if top else rows, note))
    kept_out = not_stored(query, db)
    if kept_out is not None:
        out.append(kept_out)
    return out


def not_stored_counts(query: QueryFn, db: str) -> list[tuple[int, str, int, Any, Any]]:
    """Facts the sink left out because they were older than the retention when they
    arrived (a backfill), from `expired_on_arrival`: (days, table, rows, oldest, newest)
    per retention and table; [] on a database from before migration 0006."""
    _, found = query(
        f"SELECT count() FROM system.tables WHERE database = '{db}' AND name = 'expired_on_arrival'"
    )
    if not found or not int(found[0][0]):
        return []
    _, rows = query(
        f"""SELECT ttl_days, table, uniqExact(key) AS rows, min(event_at), max(event_at)
        FROM {db}.expired_on_arrival GROUP BY ttl_days, table ORDER BY ttl_days, rows DESC"""
    )
    return [(int(d), str(t), int(n), a, b) for d, t, n, a, b in rows]


def not_stored_sentence(counts: Sequence[tuple[int, str, int, Any, Any]]) -> str:
    """ "N rows older than the retention of D days were not stored", per retention."""
    by_days: dict[int, int] = {}
    for days, _, n, _, _ in counts:
        by_days[days] = by_days.get(days, 0) + n
    return "; ".join(
        f"{n} rows older than the retention of {d} days were not stored"
        for d, n in sorted(by_days.items())
    )


def not_stored(query: QueryFn, db: str) -> Section | None:
    """The pipeline-health line for a backfill older than the retention (None: nothing left
    out)."""
    counts = not_stored_counts(query, db)
    if not counts:
        return None
    return Section(
        "Not stored: older than the retention",
        ["table", "rows", "oldest", "newest"],
        [(t, n, a, b) for _, t, n, a, b in counts],
        f"pipeline health › {not_stored_sentence(counts)} (INCIDENTS_CLICKHOUSE_TTL_DAYS; "
        "docs/oversight.md#retention)",
    )


def data_range(query: QueryFn, db: str) -> TimeRange:
    """The time range the report covers: all stored data up to now (replays of history too)."""
    _, rows = query(
        f"SELECT toUnixTimestamp(min(hour)), toUnixTimestamp(max(hour)), count() "
        f"FROM {db}.mentions_hourly"
    )
    now = datetime.now(UTC)
    if not rows or not int(rows[0][2] or 0):
        return TimeRange.covering(now - timedelta(days=30), now)
    start = datetime.fromtimestamp(int(rows[0][0]), UTC)
    end = max(now, datetime.fromtimestamp(int(rows[0][1]), UTC) + timedelta(hours=1))
    return TimeRange.covering(start, end)


def dashboard_tables(
    query: QueryFn, db: str, min_volume: int = 1, tr: TimeRange | None = None
) -> Iterator[tuple[Dashboard, Row, Panel, list[str], list[tuple[Any, ...]]]]:
    """Every ClickHouse panel of every dashboard, run as Grafana would over `tr`."""
    tr = tr or data_range(query, db)
    for dash in dashboards():
        values = all_values(dash, min_volume=str(int(min_volume)))
        for row in dash.rows:
            for panel in row.panels:
                if panel.source != CLICKHOUSE:
                    continue
                sql = expand(render_sql(panel.queries[0].text, db), tr, values)
                cols, rows = query(sql)
                yield dash, row, panel, list(cols), [tuple(r) for r in rows]


def totals(query: QueryFn, db: str) -> Section:
    """The pipeline's counts in one row: what came in, what it became."""
    _, rows = _q(
        query,
        db,
        f"""
        SELECT
            (SELECT count() FROM {{db}}.mentions FINAL) AS mentions,
            (SELECT countIf(status = 'accepted') FROM {{db}}.mentions FINAL) AS accepted,
            (SELECT countIf(status = 'duplicate') FROM {{db}}.mentions FINAL) AS duplicates,
            (SELECT count() FROM {{db}}.dead_letters FINAL WHERE stage = 'enrich') AS rejected,
            (SELECT countIf(status = 'accepted' AND is_appeal)
               FROM {{db}}.mentions FINAL) AS appeals,
            (SELECT uniqExact(id) FROM {{db}}.incidents FINAL) AS incidents,
            (SELECT countIf(status IN {OPEN}) FROM {{db}}.incidents FINAL) AS open_incidents,
            (SELECT count() FROM {{db}}.replies FINAL) AS replies
        """,
    )
    m, acc, dup, rej, appeals, inc, open_inc, replies = rows[0]
    return Section(
        "Mentions",
        [
            "in",
            "accepted",
            "duplicates",
            "rejected (DLQ)",
            "appeals",
            "incidents",
            "open",
            "replies",
        ],
        [(m + rej, acc, dup, rej, appeals, inc, open_inc, replies)],
        "in = stored mentions + rejected; a redelivered id is stored once",
    )


def _summary(query: QueryFn, db: str, top: int) -> list[Section]:
    """The sections no dashboard has (duplicates per platform and dead letters are on the
    pipeline dashboard, so the report prints them once, from there)."""
    out: list[Section] = [totals(query, db)]
    _, cells = _q(
        query,
        db,
        """
        SELECT if(region = '', '(unknown)', region) AS region,
               if(category = '', '(none)', category) AS category,
               count() AS appeals
        FROM {db}.mentions FINAL
        WHERE status = 'accepted' AND is_appeal
        GROUP BY region, category
        """,
    )
    cols, rows = pivot(cells)
    out.append(
        Section("Appeals by region and category", cols, rows, "accepted appeals, copies excluded")
    )
    cols, rows = _q(
        query,
        db,
        f"""
        SELECT id AS incident, municipality, category,
               if(agency = '', '(unrouted)', agency) AS agency, mentions_count AS posts,
               formatDateTime(opened_at, '%d.%m %H:%i') AS opened_utc,
               multiIf(first_reaction_breached, 'overdue', first_reaction_at IS NOT NULL, 'reacted',
                       'due') AS reaction
        FROM {{db}}.incidents FINAL
        WHERE status IN {OPEN}
        ORDER BY mentions_count DESC, opened_at
        {f"LIMIT {int(top)}" if top else ""}
        """,
    )
    out.append(Section("Open incidents (most mentioned first)", cols, rows))
    cols, rows = _q(
        query,
        db,
        """
        SELECT platform, source_id AS source, any(source_name) AS name, count() AS mentions,
               countIf(status = 'duplicate') AS duplicates,
               round(100 * countIf(status = 'duplicate') / count(), 1) AS dedup_pct
        FROM {db}.mentions FINAL
        GROUP BY platform, source_id
        HAVING duplicates > 0
        ORDER BY duplicates DESC, mentions DESC LIMIT 10
        """,
    )
    out.append(Section("Sources that repeat others most", cols, rows))
    out.extend(appeal_rates(query, db))
    cols, rows = _q(
        query,
        db,
        f"""
        SELECT if(agency = '', '(unrouted)', agency) AS agency,
               count() AS incidents,
               countIf(first_reaction_at IS NOT NULL) AS reacted,
               countIf(first_reaction_breached) AS breached,
               round(100 * countIf(first_reaction_at IS NOT NULL AND NOT first_reaction_breached)
                     / greatest(1, countIf(first_reaction_at IS NOT NULL) + countIf(
                         first_reaction_at IS NULL AND first_reaction_breached)), 1) AS on_time_pct
        FROM {{db}}.incidents FINAL
        WHERE status != 'merged_into'
        GROUP BY agency ORDER BY incidents DESC
        {f"LIMIT {int(top)}" if top else ""}
        """,
    )
    out.append(
        Section(
            "First reaction by agency",
            cols,
            rows,
            "on time = reacted on time / (reacted + open overdue)",
        )
    )
    return out


def appeal_rates(query: QueryFn, db: str, top: int = 10) -> list[Section]:
    """The appeal rate per platform, and the sources with most posts and fewest appeals:
    a noisy source (a meme public, a news channel) shows at once."""
    cols, rows = _q(
        query,
        db,
        """
        SELECT platform, countIf(status = 'accepted') AS accepted,
               countIf(status = 'accepted' AND is_appeal) AS appeals,
               round(100 * appeals / greatest(1, accepted), 1) AS appeal_pct,
               countIf(NOT is_appeal AND incident_id != '') AS signals_linked
        FROM {db}.mentions FINAL
        GROUP BY platform ORDER BY accepted DESC
        """,
    )
    out = [
        Section(
            "Appeal rate by platform",
            cols,
            rows,
            "accepted posts; signals linked = media reports attached to an incident as context",
        )
    ]
    cols, rows = _q(
        query,
        db,
        f"""
        SELECT platform, source_id AS source, any(source_name) AS name,
               countIf(status = 'accepted') AS accepted,
               countIf(status = 'accepted' AND is_appeal) AS appeals,
               round(100 * appeals / greatest(1, accepted), 1) AS appeal_pct
        FROM {{db}}.mentions FINAL
        GROUP BY platform, source_id
        HAVING accepted >= 5
        ORDER BY appeal_pct, accepted DESC LIMIT {int(top)}
        """,
    )
    out.append(
        Section(
            "Noisiest sources (lowest appeal rate)",
            cols,
            rows,
            "sources with at least 5 accepted posts",
        )
    )
    return out


def pivot(cells: Sequence[tuple[Any, ...]]) -> tuple[list[str], list[tuple[Any, ...]]]:
    """(region, category, n) cells → categories as rows, regions as columns, with totals."""
    col_totals: dict[str, int] = {}
    rows: dict[str, dict[str, int]] = {}
    for c, r, v in cells:
        rows.setdefault(str(r), {})[str(c)] = int(v)
        col_totals[str(c)] = col_totals.get(str(c), 0) + int(v)
    cols = sorted(col_totals, key=lambda c: (-col_totals[c], c))
    out = [
        (r, sum(vals.values()), *(vals.get(c, 0) or "" for c in cols))
        for r, vals in sorted(rows.items(), key=lambda kv: -sum(kv[1].values()))
    ]
    return ["category", "total", *cols], out


# ------------------------------------------------------------------ terminal
MIN_WIDTH = 40
PIPED_WIDTH = 120  # no terminal anywhere and no COLUMNS: CI logs, cron mail

# Which columns give way first when the terminal is narrow: the higher the number, the
# sooner a column is left out (ties: the rightmost first). The first column of a table,
# what a row is about, stays unless listed here; other columns not listed rank 3.
# "<table title>/<column>" ranks a column of one table only.
DROP_RANK: dict[str, int] = {
    "post": 9,  # a URL: --html links it
    "source": 8,  # a numeric source id next to its name
    "municipality": 6,
    "interim_median_h": 6,
    "final_median_h": 6,
    "first_reaction_p90_h": 6,
    "stage": 5,
    "mean_h": 5,
    "open_in_time": 5,
    "final_answers": 5,
    "p90_answer_h": 5,
    "duplicates_pct": 5,
    "opened_utc": 4,
    "Overdue incidents/opened": 4,  # a time there; elsewhere "opened" counts incidents
    "posts": 4,
    "first_reaction_median_h": 4,
    "p90_h": 2,
    "kind": 2,
    "reaction": 2,
    "overdue": 2,
    "example": 2,
    "incident": 2,
    "agency": 1,
    "title": 1,
    "name": 1,
    "due": 1,
    "category": 1,
    "compliance_pct": 1,
    "open_overdue": 1,
    "median_h": 1,
    "messages": 1,
}
# The narrowest a wrapping text column may get (a word longer than this still fits whole).
TEXT_MIN: dict[str, int] = {"title": 24, "agency": 20, "example": 20, "name": 16}
TEXT_MIN_DEFAULT = 12


def terminal_width(default: int = PIPED_WIDTH) -> int:
    """COLUMNS if set, else the terminal's width (of stdout, or of stderr when stdout is
    piped into a pager or a file from a terminal), else `default`."""
    env = os.environ.get("COLUMNS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    for stream in (sys.stdout, sys.stderr):
        try:
            return os.get_terminal_size(stream.fileno()).columns
        except (AttributeError, ValueError, OSError):
            continue
    return default


def wide_console() -> Console:
    """A console as wide as the terminal (see terminal_width), never under 40 columns."""
    return Console(width=max(terminal_width(), MIN_WIDTH))


def header(name: str) -> str:
    """A column name as a terminal header: `compliance_pct` → "compliance %"."""
    text = str(name)
    for suffix, unit in (("_pct", " %"), ("_h", ", h"), ("_utc", " (UTC)")):
        if text.endswith(suffix):
            text = text[: -len(suffix)] + unit
    return text.replace("_", " ")


_STAMP = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")


def as_time(value: Any) -> datetime | None:
    """A timestamp cell as a datetime: a datetime from chDB or a ClickHouse client, or the
    text a worker's /query endpoint sends for one (`str(datetime)`); None for anything else."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and _STAMP.fullmatch(value):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def cell(value: Any) -> str:
    """A value as the terminal shows it: no None, times to the minute."""
    if value is None:
        return ""
    t = as_time(value)
    return f"{t:%d.%m.%Y %H:%M}" if t is not None else str(value)


_TIME = re.compile(r"\d\d\.\d\d(\.\d{4})? \d\d:\d\d")


def _two_lines(text: str) -> int:
    """The narrowest width at which `text` wraps into at most two lines."""
    words = text.split() or [""]
    for width in range(max(len(w) for w in words), len(text) + 1):
        lines, used = 1, -1
        for w in words:
            if used + 1 + len(w) > width:
                lines, used = lines + 1, len(w)
            else:
                used += 1 + len(w)
        if lines <= 2:
            return width
    return len(text)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


@dataclass
class Layout:
    """Which columns of a section the terminal shows, and how wide each is."""

    shown: list[int]
    widths: list[int]
    hidden: list[str]


def drop_rank(table: str, column: str, first: bool = False) -> int:
    """How soon a column gives way on a narrow screen (see DROP_RANK)."""
    return DROP_RANK.get(f"{table}/{column}", DROP_RANK.get(column, 0 if first else 3))


def layout(
    columns: Sequence[str], cells: Sequence[Sequence[str]], width: int, table: str = ""
) -> Layout:
    """Fit a table into `width` characters without truncating a value.

    Every column gets at least its longest word (so numbers, ids and times never break)
    and text columns at least TEXT_MIN characters, wrapping beyond; columns are left out
    by DROP_RANK until the rest fits, then the spare width goes to the columns whose text
    would otherwise wrap. Borders and padding take 3 characters a column, plus one.
    """
    heads = [header(c) for c in columns]
    natural, minimum = [], []
    for i, c in enumerate(columns):
        texts = [heads[i]] + [r[i] for r in cells]
        words = [w for t in texts for line in t.splitlines() for w in line.split()]
        longest = max((len(w) for w in words), default=1)
        nat = max(
            [_two_lines(heads[i])] + [len(line) for t in texts[1:] for line in t.splitlines()]
        )
        natural.append(max(nat, 1))
        if all(not r[i] or _TIME.fullmatch(r[i]) for r in cells):
            minimum.append(max(longest, max((len(r[i]) for r in cells), default=1)))
        else:
            minimum.append(max(longest, min(nat, TEXT_MIN.get(str(c), TEXT_MIN_DEFAULT)), 1))
    shown = list(range(len(columns)))

    def room() -> int:
        return width - 3 * len(shown) - 1

    rank = [drop_rank(table, str(c), i == 0) for i, c in enumerate(columns)]
    droppable = sorted((i for i in shown if rank[i] > 0), key=lambda i: (rank[i], i), reverse=True)
    while sum(minimum[i] for i in shown) > room() and droppable:
        shown.remove(droppable.pop(0))
    widths = {i: minimum[i] for i in shown}
    # water-filling: the columns that need least get their full width first (a status
    # on one line), then the long texts share what is left evenly
    spare = room() - sum(widths.values())
    wanting = sorted(
        (i for i in shown if natural[i] > widths[i]), key=lambda i: natural[i] - widths[i]
    )
    while spare > 0 and wanting:
        fair = spare // len(wanting)
        if fair == 0:
            for i in wanting[-spare:]:
                widths[i] += 1
            break
        i = wanting.pop(0)
        add = min(natural[i] - widths[i], fair)
        widths[i] += add
        spare -= add
    hidden = [heads[i] for i in range(len(columns)) if i not in shown]
    return Layout(shown, [widths[i] for i in shown], hidden)


def render(sections: Sequence[Section], console: Console | None = None) -> None:
    console = console or wide_console()
    for sec in sections:
        cells = [[cell(v) for v in row] for row in sec.rows]
        numeric = [
            any(_is_number(r[i]) for r in sec.rows)
            and all(r[i] is None or r[i] == "" or _is_number(r[i]) for r in sec.rows)
            for i in range(len(sec.columns))
        ]
        fit = layout(sec.columns, cells, console.width, sec.title)
        caption = sec.note
        if fit.hidden:
            more = f"not shown at {console.width} columns: {', '.join(fit.hidden)}"
            caption = f"{caption}; {more}" if caption else more
        table = Table(
            title=sec.title, title_justify="left", caption=caption or None, caption_justify="left"
        )
        for i, w in zip(fit.shown, fit.widths, strict=True):
            table.add_column(
                header(sec.columns[i]),
                width=w,
                overflow="fold",
                justify="right" if numeric[i] else "left",
            )
        if not sec.rows:
            table.add_row(*(["—"] + [""] * (len(fit.shown) - 1)))
        for row in cells:
            table.add_row(*(row[i] for i in fit.shown))
        console.print(table)
