"""The oversight tables, from ClickHouse, for the terminal (and the demo).

Works with anything that answers SQL: the embedded chDB opened in-process, a
ClickHouse server, or a running worker's /query endpoint (in the embedded mode
the worker owns the data directory).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from streams.oversight import Dashboard, Panel, Row, TimeRange

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
    (streams/oversight.py) over all the data, "All" for every variable and regions
    ranked from `min_volume` appeals.
    """
    out = _summary(query, db, top)
    for dash, row, panel, cols, rows in dashboard_tables(query, db, min_volume=min_volume):
        if panel.kind == "timeseries":
            continue
        note = f"{dash.title.split('—')[-1].strip()} › {row.title}"
        if len(rows) > top:
            note += f"; first {top} of {len(rows)} rows"
        out.append(Section(panel.title, cols, rows[:top], note))
    return out


def data_range(query: QueryFn, db: str) -> TimeRange:
    """The time range the report covers: all stored data up to now (replays of history too)."""
    from datetime import UTC, datetime, timedelta

    from streams.oversight import TimeRange

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
    from streams.oversight import CLICKHOUSE, all_values, dashboards, expand, render_sql

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


def _summary(query: QueryFn, db: str, top: int) -> list[Section]:
    out: list[Section] = []
    _, totals = _q(
        query,
        db,
        """
        SELECT
            (SELECT count() FROM {db}.mentions FINAL) AS mentions,
            (SELECT countIf(status = 'accepted') FROM {db}.mentions FINAL) AS accepted,
            (SELECT countIf(status = 'duplicate') FROM {db}.mentions FINAL) AS duplicates,
            (SELECT count() FROM {db}.dead_letters FINAL WHERE stage = 'enrich') AS rejected,
            (SELECT countIf(status = 'accepted' AND is_appeal) FROM {db}.mentions FINAL) AS appeals,
            (SELECT uniqExact(id) FROM {db}.incidents FINAL) AS incidents,
            (SELECT countIf(status IN ('new','assigned','in_progress','answered_interim'))
               FROM {db}.incidents FINAL) AS open_incidents,
            (SELECT count() FROM {db}.replies FINAL) AS replies
        """,
    )
    m, acc, dup, rej, appeals, inc, open_inc, replies = totals[0]
    out.append(
        Section(
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
    )
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
        WHERE status IN ('new', 'assigned', 'in_progress', 'answered_interim')
        ORDER BY mentions_count DESC, opened_at
        LIMIT {int(top)}
        """,
    )
    out.append(Section("Open incidents (most mentioned first)", cols, rows))
    cols, rows = _q(
        query,
        db,
        """
        SELECT platform, count() AS mentions, countIf(status = 'duplicate') AS duplicates,
               round(100 * countIf(status = 'duplicate') / count(), 1) AS dedup_pct
        FROM {db}.mentions FINAL
        GROUP BY platform ORDER BY mentions DESC
        """,
    )
    out.append(Section("Duplicates by platform", cols, rows))
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
        """
        SELECT if(agency = '', '(unrouted)', agency) AS agency,
               count() AS incidents,
               countIf(first_reaction_at IS NOT NULL) AS reacted,
               countIf(first_reaction_breached) AS breached,
               round(100 * countIf(first_reaction_at IS NOT NULL AND NOT first_reaction_breached)
                     / greatest(1, countIf(first_reaction_at IS NOT NULL) + countIf(
                         first_reaction_at IS NULL AND first_reaction_breached)), 1) AS on_time_pct
        FROM {db}.incidents FINAL
        WHERE status != 'merged_into'
        GROUP BY agency ORDER BY incidents DESC LIMIT 15
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
    cols, rows = _q(
        query,
        db,
        """
        SELECT error_kind, stage, count() AS messages, any(reason) AS example
        FROM {db}.dead_letters FINAL GROUP BY error_kind, stage ORDER BY messages DESC
        """,
    )
    out.append(Section("Dead letters", cols, rows))
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


def wide_console() -> Console:
    """The terminal's width, or 120 columns when piped (CI logs, files)."""
    import shutil
    import sys

    width = shutil.get_terminal_size((120, 40)).columns if sys.stdout.isatty() else 120
    return Console(width=max(width, 100))


def render(sections: Sequence[Section], console: Console | None = None) -> None:
    console = console or wide_console()
    for sec in sections:
        table = Table(title=sec.title, title_justify="left", caption=sec.note or None)
        for c in sec.columns:
            table.add_column(
                str(c).replace("_", " "), overflow="ellipsis", no_wrap=True, max_width=42
            )
        if not sec.rows:
            table.add_row(*(["—"] + [""] * (len(sec.columns) - 1)))
        for row in sec.rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        console.print(table)
