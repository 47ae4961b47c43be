"""group: mentions.enriched + desk.commands → mentions.resolved, incidents, events, replies.

The stateful stage. Both inputs are keyed by region and co-partitioned with the
desk table's changelog, so one worker owns everything that can belong to one
incident. Per event the agent sets the partition its table writes go to,
calls the desk, and sends what the desk decided.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, MutableMapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from schemas.models import Incident, Mention, encode
from streams import metrics
from streams.app import ACTIVE_PARTITION, PartitionedTable, observe_batch
from streams.contracts import decode_desk_command, decode_mention
from streams.domain.classify import category_labels
from streams.domain.enrichment import InvalidInput
from streams.domain.geo import Gazetteer
from streams.domain.incidents import Desk, Outcome, region_key
from streams.domain.pipeline import lenient_id
from streams.domain.problems import Taxonomy
from streams.logs import get as get_logger

if TYPE_CHECKING:
    import faust

    from streams.app import Runtime

STAGE = "group"
log = get_logger("streams.group")


class TableStore(MutableMapping[str, bytes]):
    """The desk's view of a Faust table: str keys, bytes values, raw on the wire."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def __getitem__(self, key: str) -> bytes:
        value = self.table.get(key.encode())
        if value is None:
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        value = self.table.get(key.encode())
        return default if value is None else value

    def __setitem__(self, key: str, value: bytes) -> None:
        self.table[key.encode()] = value

    def __delitem__(self, key: str) -> None:
        del self.table[key.encode()]

    def __iter__(self) -> Iterator[str]:
        return (k.decode() if isinstance(k, bytes) else k for k in list(self.table.keys()))

    def __len__(self) -> int:
        return len(self.table)

    def items(self) -> Iterator[tuple[str, bytes]]:  # type: ignore[override]
        for k, v in list(self.table.items()):
            yield (k.decode() if isinstance(k, bytes) else k), v


def register(app: faust.App, rt: Runtime) -> None:
    s = rt.settings
    changelog = app.topic(
        s.topics.name("desk.changelog"),
        partitions=s.topics.partitions,
        compacting=True,
        deleting=False,
        key_serializer="raw",
        value_serializer="raw",
    )
    table = app.tables.add(
        PartitionedTable(
            app,
            name="desk",
            default=None,
            partitions=s.topics.partitions,
            key_type=bytes,
            value_type=bytes,
            changelog_topic=changelog,
            beacon=app.tables.beacon,
            help="incident desk state (mentions in the dedup window, incidents)",
        )
    )
    desk = Desk(
        store=TableStore(table),
        dedup=s.dedup,
        grouping=s.grouping,
        sla=s.sla,
        timezone_of=lambda region, municipality: Gazetteer.default().timezone(region, municipality),
        population_of=lambda region, municipality: Gazetteer.default().population(
            region, municipality
        ),
        problems=Taxonomy.load(s.enrich.problems_file),
    )
    rt.desk = desk

    async def on_recovered() -> None:
        desk.invalidate()  # indexes are rebuilt from the recovered table on next use

    table.on_recover(on_recovered)
    source = app.topic(
        rt.topics.enriched,
        rt.topics.desk_commands,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=s.topics.partitions,
    )
    t = rt.topics
    rt.declare(
        STAGE,
        [t.enriched, t.desk_commands],
        [t.resolved, t.events, t.replies, t.incidents, t.dlq],
    )
    metrics.declare_desk(category_labels(s.enrich.category_model))

    @app.agent(source, name=STAGE, concurrency=1)
    @rt.supervised(STAGE)
    async def group(stream: faust.StreamT[bytes]) -> None:
        guard = rt.guard(STAGE)
        rt.started.add(STAGE)
        metrics.AGENT_UP.labels(STAGE).set(1)
        async for events in rt.batches(stream, s.worker.batch_size, within=s.worker.batch_within_s):
            started = time.perf_counter()
            rt.inject_faults(events)
            items: list[tuple[Any, Any]] = []
            for ev in events:
                rt.count_in(STAGE, ev)
                try:
                    if ev.message.topic == rt.topics.enriched:
                        items.append((ev, decode_mention(ev.message.value)))
                    else:
                        items.append((ev, decode_desk_command(ev.message.value)))
                    guard.record(False, ev.message.topic)
                except InvalidInput as err:
                    rt.dead_letter(
                        STAGE,
                        ev,
                        err.kind,
                        err.reason,
                        lenient_id(ev.message.value or b""),
                    )
                    guard.record(True, ev.message.topic, err.kind)
            # Event-time order inside the batch (mentions and commands of one region
            # share a partition; the desk's SLA clock and answer parking run on event time).
            items.sort(key=lambda item: _event_time(item[1]))
            mentions = [obj for _, obj in items if isinstance(obj, Mention)]
            prepared = iter(desk.prepare(mentions))
            latest: dict[str, Incident] = {}
            for ev, obj in items:
                token = ACTIVE_PARTITION.set(ev.message.partition)
                try:
                    if isinstance(obj, Mention):
                        outcome = desk.resolve(next(prepared))
                    else:
                        outcome = desk.command(obj)
                except Exception as exc:  # a desk bug must not stop the stream
                    outcome = Outcome(error=("processing_error", f"{type(exc).__name__}: {exc}"))
                finally:
                    ACTIVE_PARTITION.reset(token)
                if outcome.error:
                    kind, reason = outcome.error
                    rt.dead_letter(STAGE, ev, kind, reason, getattr(obj, "id", None))
                    continue
                if outcome.parked:
                    log.info(
                        "answer_parked", partition=ev.message.partition, offset=ev.message.offset
                    )
                for given_up in outcome.dead_letters:
                    rt.given_up(STAGE, given_up)
                _publish(rt, outcome, latest)
            for inc in latest.values():
                rt.send(rt.topics.incidents, inc.id.encode(), encode(inc), STAGE)
            await rt.settle()
            metrics.OPEN_INCIDENTS.set(desk.open_incidents())
            metrics.DEDUP_WINDOW.set(desk.window_size())
            observe_batch(STAGE, started, len(events))


def _event_time(obj: Any) -> datetime:
    return obj.created_at if isinstance(obj, Mention) else obj.at


def _publish(rt: Runtime, out: Outcome, latest: dict[str, Incident]) -> None:
    now = datetime.now(UTC)
    for m in out.mentions:
        status = (
            "redelivered" if out.redelivered else "revised" if out.revised else m.status
        ) or "accepted"
        metrics.MENTIONS.labels(m.platform, status).inc()
        if status == "accepted" and m.is_appeal:
            metrics.APPEALS.labels(m.category or "none").inc()
            metrics.EVENT_DELAY.observe(max(0.0, (now - m.created_at).total_seconds()))
        rt.send(rt.topics.resolved, region_key(m.place.region).encode(), encode(m), STAGE)
    for e in out.events:
        if not out.redelivered:
            metrics.INCIDENT_EVENTS.labels(e.type).inc()
            if e.type == "sla_breached":
                metrics.SLA_BREACHES.labels(str(e.detail.get("sla")), e.priority or "normal").inc()
        rt.send(rt.topics.events, e.incident_id.encode(), encode(e), STAGE)
    for r in out.replies:
        if not out.redelivered:
            metrics.REPLIES.labels(r.platform).inc()
        rt.send(rt.topics.replies, r.mention_id.encode(), encode(r), STAGE)
    for inc in out.incidents:
        prev = latest.get(inc.id)
        if prev is None or inc.version >= prev.version:
            latest[inc.id] = inc
