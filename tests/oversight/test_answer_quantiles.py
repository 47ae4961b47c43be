"""Medians and p90 an official can compare between two screenshots.

Every dashboard panel that shows a median or p90 is run several times over the
same generated data, more than 8,192 answers per slice (the reservoir that
ClickHouse's `quantile`/`quantiles` keep), written in several inserts so the
tables hold several parts and the engine reads them on several threads. Each
run must return the same rows, and every median and p90 must be within 0.5 % of
the exact value computed here, in Python, from the per-answer facts.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from incidents.oversight.dashboards import dashboards
from incidents.oversight.macros import TimeRange, all_values, expand, render_sql
from incidents.warehouse.migrations import Rendering, load_migrations
from tests.support.chdb import ChdbProcess

pytestmark = pytest.mark.integration

DB = "incidents"
T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
RUNS = 5
# Several threads and small blocks: how a busy server merges partial states.
SETTINGS = " SETTINGS max_threads = 4, max_block_size = 1000"

# region, agency, category, kind, answers: every slice above the 8,192-value reservoir.
SLICES = (
    ("RU-TVE", "Администрация г. Твери", "roads", "final", 12_000),
    ("RU-TVE", "Администрация г. Твери", "roads", "interim", 9_000),
    ("RU-IVA", "ГЖИ Ивановской области", "housing", "final", 10_000),
)
CHUNKS = 6  # inserts per slice: the facts and the aggregates hold several parts


def quantile(values: Sequence[float], q: float) -> float:
    """R-7, linear interpolation between closest ranks (numpy's default)."""
    xs = sorted(values)
    pos = q * (len(xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _delay(number: str, salt: int) -> str:
    """Seconds from opening to the answer: log-uniform from 1 hour to 60 days (a long tail)."""
    return (
        f"toUInt32(round(exp(log(3600) + (cityHash64({number}, {salt}) % 1000000) / 1000000 "
        f"* (log(5184000) - log(3600)))))"
    )


def _load(ch: ChdbProcess) -> None:
    ch.command(f"CREATE DATABASE IF NOT EXISTS {DB}")
    rendering = Rendering(DB, ttl_days=3650)
    for migration in load_migrations():
        for stmt in migration.statements(rendering):
            ch.command(stmt)
    t0 = int(T0.timestamp())
    first = 0
    for salt, (region, agency, category, kind, n) in enumerate(SLICES, start=1):
        inc = f"concat('{region}/', lower(hex(toUInt64({first} + number))))"
        opened = f"toDateTime64({t0}, 3, 'UTC') + toIntervalSecond(({first} + number) * 7)"
        # The opening of every incident first (one insert), then its answers in chunks.
        ch.command(
            f"""INSERT INTO {DB}.incident_events (event_id, incident_id, type, at, region,
                incident_version, category, agency, priority, status, mention_id, response_id,
                detail)
            SELECT concat('created-', toString({first} + number)), {inc}, 'created', {opened},
                '{region}', 1, '{category}', '', 'normal', 'new', '', '', map()
            FROM numbers({n})"""
        )
        answered = f"{opened} + toIntervalSecond({_delay(f'{first} + number', salt)})"
        step = math.ceil(n / CHUNKS)
        for start in range(0, n, step):
            ch.command(
                f"""INSERT INTO {DB}.incident_events (event_id, incident_id, type, at, region,
                    incident_version, category, agency, priority, status, mention_id,
                    response_id, detail)
                SELECT concat('responded-', toString({first} + number)), {inc}, 'responded',
                    {answered}, '{region}', 2, '{category}', '{agency}', 'normal',
                    'answered_{kind}', '', concat('r-', toString({first} + number)),
                    map('kind', '{kind}')
                FROM numbers({start}, {min(step, n - start)})"""
            )
        # Latest states, with the first reaction (the agency SLA table's exact quantiles).
        ch.command(
            f"""INSERT INTO {DB}.incidents (id, region, municipality, category, agency, status,
                priority, opened_at, updated_at, version, title, mentions_count,
                first_reaction_at)
            SELECT {inc}, '{region}', '', '{category}', '{agency}', 'answered_{kind}',
                'normal', {opened}, {answered}, 2, 'Инцидент', 1, {answered}
            FROM numbers({n})"""
        )
        # One appeal per region: the federal panels rank regions with appeals.
        ch.command(
            f"""INSERT INTO {DB}.mentions (id, platform, source_id, created_at, text,
                fingerprint, is_appeal, category, priority, region, status)
            VALUES ('vk:q-{salt}', 'vk', 'club1', toDateTime64({t0}, 3, 'UTC'), 'Обращение',
                'fp{salt}', true, '{category}', 'normal', '{region}', 'accepted')"""
        )
        first += n


@pytest.fixture(scope="module")
def engine() -> Iterator[ChdbProcess]:
    with ChdbProcess("memory") as ch:
        _load(ch)
        yield ch


@pytest.fixture(scope="module")
def facts(engine: ChdbProcess) -> list[tuple[str, str, str, str, float, datetime]]:
    _, rows = engine.query(
        f"SELECT region, agency, category, kind, response_s, toUnixTimestamp64Milli(responded_at) "
        f"FROM {DB}.responses"
    )
    return [(*r[:5], datetime.fromtimestamp(r[5] / 1000, UTC)) for r in rows]  # type: ignore[misc]


TR = TimeRange.covering(T0 - timedelta(days=1), T0 + timedelta(days=70))


def _panels() -> list[tuple[str, str, str]]:
    """(dashboard uid, panel title, SQL as Grafana sends it) of every panel with a quantile."""
    out = []
    for dash in dashboards():
        values = all_values(dash, min_volume="1")
        for panel in dash.panels():
            q = panel.queries[0]
            if any("median" in c or "p90" in c for c in q.columns):
                out.append((dash.uid, panel.title, expand(render_sql(q.text, DB), TR, values)))
    return out


QUANTILE_PANELS = _panels()


def _run(engine: ChdbProcess, uid: str, title: str) -> list[dict[str, Any]]:
    sql = next(s for u, t, s in QUANTILE_PANELS if u == uid and t == title)
    cols, rows = engine.query(sql + SETTINGS)
    return [dict(zip(cols, r, strict=True)) for r in rows]


def test_the_quantile_panels_are_found() -> None:
    titles = {t for _, t, _ in QUANTILE_PANELS}
    assert {
        "Answer time by region, hours (median, p90, mean)",
        "Regions ranked",
        "Answer time, hours (median, p90, mean)",
        "SLA compliance per agency and category",
        "Answer time per agency and category, hours",
    } <= titles


@pytest.mark.parametrize(
    ("uid", "title", "sql"), QUANTILE_PANELS, ids=[t for _, t, _ in QUANTILE_PANELS]
)
def test_the_same_query_gives_the_same_numbers_every_time(
    engine: ChdbProcess, uid: str, title: str, sql: str
) -> None:
    runs = [engine.query(sql + SETTINGS)[1] for _ in range(RUNS)]
    assert runs[0], f"{title}: no rows"
    assert all(r == runs[0] for r in runs[1:]), f"{title}: {len({str(r) for r in runs})} answers"


def _close(got: float | None, exact_s: float) -> bool:
    """Within 0.5 % of the exact value (hours; the panels round to 0.1 h or 0.01 h)."""
    exact = exact_s / 3600
    return got is not None and abs(got - exact) <= max(0.005 * exact, 0.05)


def test_answer_time_by_region_is_exact(
    engine: ChdbProcess, facts: list[tuple[str, str, str, str, float, datetime]]
) -> None:
    by: dict[tuple[str, str], list[float]] = defaultdict(list)
    for region, _, _, kind, s, _ in facts:
        by[region, kind].append(s)
        by[region, "*"].append(s)
    rows = {r["region"]: r for r in _run(engine, "incidents-federal", TITLE_REGIONS)}
    assert set(rows) == {"RU-TVE", "RU-IVA"}
    for region, row in rows.items():
        every = by[region, "*"]
        assert row["answers"] == len(every) > 8192
        assert _close(row["median_h"], quantile(every, 0.5)), (region, row)
        assert _close(row["p90_h"], quantile(every, 0.9)), (region, row)
        assert _close(row["mean_h"], sum(every) / len(every)), (region, row)
        assert _close(row["final_median_h"], quantile(by[region, "final"], 0.5)), (region, row)
        if by[region, "interim"]:
            assert _close(row["interim_median_h"], quantile(by[region, "interim"], 0.5))
    ranked = {r["region"]: r for r in _run(engine, "incidents-federal", "Regions ranked")}
    for region, row in ranked.items():
        assert _close(row["median_answer_h"], quantile(by[region, "*"], 0.5)), (region, row)
        assert _close(row["p90_answer_h"], quantile(by[region, "*"], 0.9)), (region, row)


TITLE_REGIONS = "Answer time by region, hours (median, p90, mean)"


def test_answer_time_per_agency_category_and_kind_is_exact(
    engine: ChdbProcess, facts: list[tuple[str, str, str, str, float, datetime]]
) -> None:
    by: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for _, agency, category, kind, s, _ in facts:
        by[agency, category, kind].append(s)
    rows = _run(engine, "incidents-agency-sla", "Answer time per agency and category, hours")
    assert len(rows) == len(SLICES)
    for row in rows:
        values = by[row["agency"], row["category"], row["kind"]]
        assert row["answers"] == len(values) > 8192
        assert _close(row["median_h"], quantile(values, 0.5)), row
        assert _close(row["p90_h"], quantile(values, 0.9)), row


def test_answer_time_trend_is_exact_per_day(
    engine: ChdbProcess, facts: list[tuple[str, str, str, str, float, datetime]]
) -> None:
    assert TR.interval_s == 86400
    by: dict[datetime, list[float]] = defaultdict(list)
    for *_, s, at in facts:
        by[at.replace(hour=0, minute=0, second=0, microsecond=0)].append(s)
    rows = _run(engine, "incidents-region", "Answer time, hours (median, p90, mean)")
    assert len(rows) == len(by)
    for row in rows:
        values = by[datetime.fromisoformat(str(row["time"])).replace(tzinfo=UTC)]
        assert _close(row["median_h"], quantile(values, 0.5)), row
        assert _close(row["p90_h"], quantile(values, 0.9)), row


def test_first_reaction_quantiles_are_exact(
    engine: ChdbProcess, facts: list[tuple[str, str, str, str, float, datetime]]
) -> None:
    _, rows = engine.query(
        f"SELECT agency, category, dateDiff('second', opened_at, first_reaction_at) "
        f"FROM {DB}.incidents FINAL"
    )
    by: dict[tuple[str, str], list[float]] = defaultdict(list)
    for agency, category, s in rows:
        by[agency, category].append(float(s))
    table = _run(engine, "incidents-agency-sla", "SLA compliance per agency and category")
    assert {(r["agency"], r["category"]) for r in table} == set(by)
    for row in table:
        values = by[row["agency"], row["category"]]
        assert len(values) > 8192
        assert _close(row["first_reaction_median_h"], quantile(values, 0.5)), row
        assert _close(row["first_reaction_p90_h"], quantile(values, 0.9)), row
