"""How the sink writes a batch to ClickHouse: per table, retried until ClickHouse has it.

Batches of up to INCIDENTS_CLICKHOUSE_BATCH_ROWS rows, about one insert per
second per table. A batch is acked (and its offsets later committed) only
after ClickHouse acknowledged every insert of it; while ClickHouse is down
the sink retries with capped exponential backoff and jitter, holding the
offsets, so nothing is lost and the consumer simply falls behind. Replayed
batches are filtered against what ClickHouse already has (incidents/warehouse/writer.py).
The sink agent (incidents/stream/agents/sink.py) declares the stage with these.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from incidents.kafka.topics import Topics
from incidents.observability import metrics
from incidents.observability.logs import get as get_logger
from incidents.stream.runner import Outputs, Publish
from incidents.warehouse.rows import rows_for
from incidents.warehouse.writer import Warehouse, WarehouseError

if TYPE_CHECKING:
    from incidents.stream.runtime import WorkerRuntime

log = get_logger("incidents.stream.sink")


def routes(t: Topics) -> dict[str, tuple[str, str]]:
    """topic -> (table, contract name of the topic: its decoder, incidents/stream/decoders.py)"""
    return {
        t.resolved: ("mentions", "mentions.resolved"),
        t.incidents: ("incidents", "incidents"),
        t.events: ("incident_events", "incidents.events"),
        t.replies: ("replies", "replies.outbound"),
        t.dlq: ("dead_letters", "mentions.dlq"),
    }


def migrator(rt: WorkerRuntime, warehouse: Warehouse) -> Callable[[], Awaitable[None]]:
    """The migrations, before the first batch (retried like an insert)."""

    async def migrate() -> None:
        applied = await _until_ok(rt, "schema_migrations", warehouse.migrate)
        if applied:
            log.info("migrations_applied", applied=applied)

    return migrate


def writer(rt: WorkerRuntime, warehouse: Warehouse, routes: dict[str, tuple[str, str]]) -> Publish:
    """The sink's ``publish``: a batch's rows, one insert per table."""

    async def write(out: Outputs, done: list[Any]) -> None:
        per_table: dict[str, list[tuple[Any, int, int]]] = {}
        for d in done:
            msg = d.tag.event.message
            per_table.setdefault(routes[msg.topic][0], []).append(
                (d.value, msg.partition, msg.offset)
            )
        for table, items in per_table.items():
            done_ = await _until_ok(rt, table, warehouse.insert, table, rows_for(table, items))
            _count(table, done_)

    return write


def _count(table: str, done: Any) -> None:
    metrics.SINK_ROWS.labels(table).inc(done.written)
    metrics.SINK_SKIPPED.labels(table).inc(done.skipped)
    if done.expired:
        metrics.SINK_EXPIRED.labels(table).inc(done.expired)
        log.warning(
            "rows_older_than_retention",
            table=table,
            rows=done.expired,
            ttl_days=done.ttl_days,
            oldest=done.oldest.isoformat() if done.oldest else None,
            message=f"{done.expired} rows older than the retention of "
            f"{done.ttl_days} days were not stored",
            setting="INCIDENTS_CLICKHOUSE_TTL_DAYS (raise it and restart the "
            "sink or run `incidents migrate` to keep such history)",
        )


async def _until_ok(rt: WorkerRuntime, table: str, fn: Any, *args: Any) -> Any:
    """Retry a ClickHouse call until it succeeds: capped exponential backoff with jitter."""
    delay = 0.5
    attempt = 0
    while True:
        t0 = time.perf_counter()
        try:
            result = await rt.in_executor(fn, *args)
            metrics.SINK_INSERT.labels(table).observe(time.perf_counter() - t0)
            if attempt:
                log.info("clickhouse_recovered", table=table, attempts=attempt + 1)
            return result
        except WarehouseError as exc:
            attempt += 1
            metrics.SINK_ERRORS.labels(table).inc()
            log.warning(
                "clickhouse_retry",
                table=table,
                attempt=attempt,
                error=str(exc)[:300],
                backoff_s=round(delay, 2),
            )
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, rt.settings.clickhouse.retry_max_s)
