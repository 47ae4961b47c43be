"""`dashboard`: the federal dashboard's queries over generated oversight data, and
the sink's insert next to a plain one, in a child process with every CPU (run as
``python -m incidents.ops.bench.dashboard dashboard-child TMP N``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from incidents.config.settings import ClickHouseSettings, Settings
from incidents.contracts.topology import CATEGORIES, sql_list
from incidents.ops.bench.common import _ALL_CPUS, REGIONS, ROOT
from incidents.oversight.dashboards import federal
from incidents.oversight.macros import TimeRange, all_values, expand, render_sql
from incidents.warehouse.access import all_regions
from incidents.warehouse.tables import TABLES
from incidents.warehouse.writer import Warehouse


def _all_cpus_in_child() -> None:
    os.sched_setaffinity(0, _ALL_CPUS)


def bench_dashboard(settings: Settings, n: int) -> dict[str, Any]:
    """Federal dashboard queries over `n` generated mentions; sink insert vs plain insert.

    Runs in a child process with every CPU (chDB is one engine per process, and
    ClickHouse queries are multi-threaded: a dashboard query is not a per-core figure).
    """
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("INCIDENTS_")}
        run = subprocess.run(
            [sys.executable, "-m", "incidents.ops.bench.dashboard", "dashboard-child", tmp, str(n)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
            preexec_fn=_all_cpus_in_child if _ALL_CPUS else None,
        )
    if run.returncode != 0:
        raise RuntimeError(f"dashboard bench failed: {run.stderr.strip()[-800:]}")
    r = json.loads(run.stdout.strip().splitlines()[-1])
    slowest = max(r["queries"], key=lambda q: r["queries"][q])
    return {
        "figure": r["queries"][slowest] * 1000,
        "unit": "ms (slowest federal panel)",
        "n": n,
        "data": f"generated: {n:,} mentions, {r['incidents']:,} incidents",
        "extra": f"slowest: {slowest}; every panel: "
        + ", ".join(f"{k} {v * 1000:,.0f} ms" for k, v in r["queries"].items())
        + f"; generated in {r['generate_s']:.0f} s "
        f"({r['generate_rps']:,.0f} mentions/s, views included)"
        + f"; sink path (Warehouse.insert) {r['sink_rps']:,.0f} rows/s vs plain "
        f"clickhouse-connect insert {r['plain_rps']:,.0f} rows/s over {r['insert_rows']:,} "
        f"mention rows, ratio {r['sink_rps'] / r['plain_rps']:.2f}",
    }


REGION_CODES_SQL = "['RU-TVE','RU-IVA','RU-NVS','RU-MOW','RU-SPE','RU-NIZ','RU-SVE','RU-KDA']"


def _dashboard_child(tmp: str, n: int) -> None:
    """The body of bench_dashboard (its own process): prints one JSON line."""
    wh = Warehouse(ClickHouseSettings(url=f"chdb://{tmp}/ch"))
    wh.migrate()
    t0 = datetime(2025, 11, 1, tzinfo=UTC)
    started = time.perf_counter()
    k = generate_oversight_data(wh.client, wh.db, n, t0)
    generate_s = time.perf_counter() - started
    timings = time_federal_panels(wh.client, wh.db, t0)
    sink_rps, plain_rps, m = insert_rates(tmp, min(n, 200_000))
    print(
        json.dumps(
            {
                "queries": timings,
                "incidents": k,
                "generate_s": generate_s,
                "generate_rps": n / generate_s,
                "insert_rows": m,
                "sink_rps": sink_rps,
                "plain_rps": plain_rps,
            }
        )
    )


def generate_oversight_data(c: Any, db: str, n: int, t0: datetime) -> int:
    """`n` mentions and n/10 incidents with their events, through the real views."""
    regions = "[" + ",".join(f"'{r}'" for r in all_regions()) + "]"
    fast = {"max_insert_threads": os.cpu_count() or 1, "parallel_view_processing": 1}
    cats = "[" + sql_list(CATEGORIES)[1:-1] + "]"
    year_s = 365 * 86400
    # Mentions straight into the fact table: the real materialized views build
    # mentions_hourly, appeals_daily, sources_weekly and the insert audit from them. 20,000 sources,
    # each in one region and on one platform; 85 regions; a year of event time.
    c.command(
        f"""INSERT INTO {db}.mentions (id, platform, source_id, source_name, source_kind,
            author_pseudonym, created_at, text, fingerprint, is_appeal, appeal_score, category,
            category_confidence, priority, region, municipality, status, duplicate_of,
            incident_id, _partition, _offset)
        SELECT concat('vk:gen-', toString(number)),
            ['vk','ok','telegram','pos','rss','web','other'][1 + src % 7],
            concat('src-', toString(src)), concat('Источник ', toString(src)), 'city_public',
            concat('ps:', toString(cityHash64(number, 1) % 1000000)),
            toDateTime64({int(t0.timestamp())}, 3, 'UTC')
                + toIntervalMillisecond(intDiv(number * {year_s * 1000}, {n})),
            'Сгенерированный текст обращения', toString(cityHash64(number)),
            number % 2 = 0, 0.8, {cats}[1 + number % 13], 0.9,
            if(number % 50 = 0, 'critical', 'normal'),
            {regions}[1 + src % length({regions})],
            concat('Город ', toString(number % 11)),
            if(number % 20 = 0, 'duplicate', 'accepted'),
            if(number % 20 = 0, concat('vk:gen-', toString(number - 1)), ''),
            '', 0, number
        FROM (SELECT number, cityHash64(number) % 20000 AS src FROM numbers({n}))""",
        settings=fast,
    )
    # One incident per ten mentions: events through the real views (opened, responses,
    # daily flows, answer-time quantile states), latest states into the incidents table.
    k = max(n // 10, 1)
    inc = f"concat({regions}[1 + cityHash64(number, 2) % length({regions})], '/', hex(number))"
    opened = (
        f"toDateTime64({int(t0.timestamp())}, 3, 'UTC') "
        f"+ toIntervalMillisecond(intDiv(number * {year_s * 1000}, {k}))"
    )
    agency = "concat('Ведомство ', toString(number % 40))"
    ev_cols = "event_id, incident_id, type, at, region, incident_version, category, agency, "
    ev_cols += "priority, status, mention_id, response_id, detail"
    common = (
        f"{{region}} AS region, 1, {cats}[1 + number % 13], {{agency}}, 'normal', 'assigned', "
        "'', {response}, {detail} FROM numbers({k})"
    )
    region_expr = f"{regions}[1 + cityHash64(number, 2) % length({regions})]"
    for kind, at, where, agency_expr, response, detail in (
        ("created", opened, "", "''", "''", "map()"),
        ("assigned", opened, "", agency, "''", "map('by', 'routing')"),
        (
            "responded",
            f"{opened} + toIntervalSecond(1800 + cityHash64(number, 3) % 172800)",
            "WHERE number % 2 = 0",
            agency,
            "concat('r-', toString(number))",
            "map('kind', if(number % 4 = 0, 'final', 'interim'))",
        ),
        (
            "sla_breached",
            f"{opened} + toIntervalHour(9)",
            "WHERE number % 3 = 0",
            agency,
            "''",
            "map('sla', 'first_reaction')",
        ),
        ("closed", f"{opened} + toIntervalDay(3)", "WHERE number % 5 = 0", agency, "''", "map()"),
    ):
        body = common.format(
            region=region_expr, agency=agency_expr, response=response, detail=detail, k=k
        )
        c.command(
            f"INSERT INTO {db}.incident_events ({ev_cols}) SELECT "
            f"concat('{kind}-', toString(number)), {inc}, '{kind}', {at}, {body} {where}",
            settings=fast,
        )
    c.command(
        f"""INSERT INTO {db}.incidents (id, region, municipality, category, agency, status,
            priority, opened_at, updated_at, version, title, mentions_count, first_reaction_due,
            first_reaction_at, first_reaction_breached, final_answer_breached)
        SELECT {inc}, {region_expr}, concat('Город ', toString(number % 11)),
            {cats}[1 + number % 13], {agency},
            multiIf(number % 5 = 0, 'closed', number % 4 = 0, 'answered_final', 'assigned'),
            'normal', {opened}, {opened}, 3, 'Инцидент', 1 + number % 7,
            {opened} + toIntervalHour(9),
            if(number % 2 = 0, {opened} + toIntervalSecond(1800 + cityHash64(number, 3) % 172800),
               NULL),
            number % 3 = 0, false
        FROM numbers({k})""",
        settings=fast,
    )
    for table in (
        "mentions_hourly",
        "appeals_daily",
        "incidents_daily",
        "response_times_daily",
        "sources_weekly",
    ):
        c.command(f"OPTIMIZE TABLE {db}.{table} FINAL")
    return k


def time_federal_panels(c: Any, db: str, t0: datetime) -> dict[str, float]:
    """The federal dashboard as Grafana sends it: a year, every variable on "All"."""
    dash = federal()
    values = all_values(dash, min_volume="30")
    tr = TimeRange.covering(t0, t0 + timedelta(days=365))
    timings: dict[str, float] = {}
    for panel in dash.panels():
        sql = expand(render_sql(panel.queries[0].text, db), tr, values)
        c.query(sql)  # warm: first reads of the parts
        runs = []
        for _ in range(3):
            t = time.perf_counter()
            c.query(sql)
            runs.append(time.perf_counter() - t)
        timings[panel.title] = sorted(runs)[1]
    return timings


def insert_rates(tmp: str, m: int) -> tuple[float, float, int]:
    """Rows/s of the sink path (Warehouse.insert) and of a plain insert of the same rows."""
    import clickhouse_connect  # lazy: clickhouse-connect, chDB

    cols = list(TABLES["mentions"].columns)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    rows: list[tuple[Any, ...]] = [
        (
            f"vk:ins-{i}", "vk", f"club{i % 97}", "Тверь онлайн", "city_public", f"ps:{i % 5000}",
            base + timedelta(seconds=7 * i), "Текст обращения про двор и освещение",
            f"https://vk.com/wall-1_{i}", f"fp{i}", i % 2 == 0, 0.8, "landscaping", 0.9,
            "normal", [], REGIONS[i % len(REGIONS)], "Тверь", "", "", None, None, "",
            "accepted", "", "", 0, 0, 0, 0, 0, i,
        )
        for i in range(m)
    ]  # fmt: skip
    assert len(rows[0]) == len(cols)
    sink = Warehouse(ClickHouseSettings(url=f"chdb://{tmp}/ch", database="sink_bench"))
    sink.migrate()
    plain = Warehouse(ClickHouseSettings(url=f"chdb://{tmp}/ch", database="plain_bench"))
    plain.migrate()
    client = clickhouse_connect.get_client(dsn=f"chdb://{tmp}/ch")
    batch = 10_000
    t = time.perf_counter()
    for i in range(0, m, batch):
        sink.insert("mentions", rows[i : i + batch])
    sink_s = time.perf_counter() - t
    t = time.perf_counter()
    for i in range(0, m, batch):
        client.insert("plain_bench.mentions", rows[i : i + batch], column_names=cols)
    plain_s = time.perf_counter() - t
    assert sink.scalar("SELECT count() FROM sink_bench.mentions") == m
    return m / sink_s, m / plain_s, m


if __name__ == "__main__" and sys.argv[1:2] == ["dashboard-child"]:
    _dashboard_child(sys.argv[2], int(sys.argv[3]))
