"""sink: resolved mentions, incidents, events, replies and dead letters → ClickHouse.

Batches of up to INCIDENTS_CLICKHOUSE_BATCH_ROWS rows, about one insert per
second per table. A batch is acked (and its offsets later committed) only
after ClickHouse acknowledged every insert of it; while ClickHouse is down
the agent retries with capped exponential backoff and jitter, holding the
offsets, so nothing is lost and the consumer simply falls behind. Replayed
batches are filtered against what ClickHouse already has (streams/warehouse.py).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from streams import metrics
from streams.app import observe_batch
from streams.contracts import STAGE_DECODERS
from streams.domain.enrichment import InvalidInput
from streams.logs import get as get_logger
from streams.warehouse import Warehouse, WarehouseError, rows_for

if TYPE_CHECKING:
    import faust

    from streams.app import Runtime

STAGE = "sink"
log = get_logger("streams.sink")


def register(app: faust.App, rt: Runtime) -> None:
    s = rt.settings
    t = rt.topics
    # topic -> (table, the topic's decoder: streams/contracts.py)
    routes: dict[str, tuple[str, Callable[[bytes | None], Any]]] = {
        t.resolved: ("mentions", STAGE_DECODERS["mentions.resolved"].decode),
        t.incidents: ("incidents", STAGE_DECODERS["incidents"].decode),
        t.events: ("incident_events", STAGE_DECODERS["incidents.events"].decode),
        t.replies: ("replies", STAGE_DECODERS["replies.outbound"].decode),
        t.dlq: ("dead_letters", STAGE_DECODERS["mentions.dlq"].decode),
    }
    warehouse = Warehouse(s.clickhouse, down_file=s.faults.clickhouse_down_file)
    rt.warehouse = warehouse
    source = app.topic(
        *routes,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=s.topics.partitions,
    )
    rt.declare(STAGE, list(routes), [t.dlq])
    metrics.declare_sink([*(table for table, _ in routes.values()), "schema_migrations"])

    @app.agent(source, name=STAGE, concurrency=1)
    @rt.supervised(STAGE)
    async def sink(stream: faust.StreamT[bytes]) -> None:
        applied = await _until_ok(rt, "schema_migrations", warehouse.migrate)
        if applied:
            log.info("migrations_applied", applied=applied)
        guard = rt.guard(STAGE)
        rt.started.add(STAGE)
        metrics.AGENT_UP.labels(STAGE).set(1)
        async for events in rt.batches(
            stream, s.clickhouse.batch_rows, within=s.clickhouse.flush_interval_s
        ):
            started = time.perf_counter()
            rt.inject_faults(events)
            per_table: dict[str, list[tuple[Any, int, int]]] = {}
            for ev in events:
                msg = ev.message
                rt.count_in(STAGE, ev)
                table, decode = routes[msg.topic]
                try:
                    obj = decode(msg.value)
                    guard.record(False, ev.message.topic)
                except InvalidInput as err:
                    guard.record(True, ev.message.topic, err.kind)
                    if msg.topic == t.dlq:
                        # Never dead-letter the dead-letter topic into itself.
                        metrics.DLQ.labels(STAGE, err.kind).inc()
                        log.error(
                            "poison_in_dlq",
                            partition=msg.partition,
                            offset=msg.offset,
                            reason=err.reason[:300],
                        )
                    else:
                        rt.dead_letter(STAGE, ev, err.kind, err.reason)
                    continue
                per_table.setdefault(table, []).append((obj, msg.partition, msg.offset))
            for table, items in per_table.items():
                rows = rows_for(table, items)
                done = await _until_ok(rt, table, warehouse.insert, table, rows)
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
            await rt.settle()
            observe_batch(STAGE, started, len(events))


async def _until_ok(rt: Runtime, table: str, fn: Any, *args: Any) -> Any:
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
