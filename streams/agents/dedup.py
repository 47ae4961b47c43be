"""dedup: mentions.enriched (one partition) → mentions.deduped (keyed by region) | desk.commands.

Both mention topics carry batches: a JSON array of mentions per message (one per
stage batch and key), or a single mention (a dead letter replayed).

The stateful stage before the region repartition. Every post of every region
meets every earlier post of the window here (mentions.enriched carries one key),
so a copy is found whatever region its own source or text gave it. A copy leaves
with its original's place and is keyed by that region, so it reaches the desk
partition that holds its original's incident; when a copy gives a region-less
family its region, an AdoptCommand goes to the desk of `unknown`, which moves the
family's incident (docs/architecture.md).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from schemas.models import Mention, encode
from streams import metrics
from streams.app import ACTIVE_PARTITION, TableStore, changelogged_table, observe_batch
from streams.contracts import decode_mention
from streams.domain.deduplication import Deduplicator, Prepared, placing_of, region_key
from streams.domain.enrichment import InvalidInput
from streams.domain.pipeline import lenient_id
from streams.topics import pack_mentions, unpack_mentions

if TYPE_CHECKING:
    import faust

    from streams.app import Runtime

STAGE = "dedup"


def register(app: faust.App, rt: Runtime) -> None:
    s = rt.settings
    table = changelogged_table(
        app, s, "dedup", help="dedup window: every post of the last INCIDENTS_DEDUP_WINDOW_DAYS"
    )
    window = Deduplicator(TableStore(table), s.dedup)
    rt.dedup = window

    async def on_recovered() -> None:
        window.invalidate()  # indexes are rebuilt from the recovered table on next use

    table.on_recover(on_recovered)
    source = rt.topic(rt.topics.enriched)
    t = rt.topics
    rt.declare(STAGE, [t.enriched], [t.deduped, t.desk_commands, t.dlq])
    metrics.declare_dedup()

    @app.agent(source, name=STAGE, concurrency=1)
    @rt.supervised(STAGE)
    async def dedup(stream: faust.StreamT[bytes]) -> None:
        guard = rt.guard(STAGE)
        rt.started.add(STAGE)
        metrics.AGENT_UP.labels(STAGE).set(1)
        take = batch_messages(s.worker.batch_size)
        async for events in rt.batches(stream, take, within=s.worker.batch_within_s):
            started = time.perf_counter()
            rt.inject_faults(events)
            items = decode_mentions(rt, STAGE, events, guard)
            # Event-time order inside the batch: the window's clock runs on event time.
            items.sort(key=lambda item: item[1].created_at)
            by_region: dict[str, list[bytes]] = {}
            for ev, p, value in _prepare_isolated(rt, window, items):
                token = ACTIVE_PARTITION.set(ev.message.partition)
                try:
                    verdict = window.resolve(p)
                except Exception as exc:  # a bug in domain code must not stop the stream
                    reason = f"{type(exc).__name__}: {exc}"
                    rt.dead_letter(STAGE, ev, "processing_error", reason, p.mention.id, value)
                    guard.record(True, ev.message.topic, "processing_error")
                    continue
                finally:
                    ACTIVE_PARTITION.reset(token)
                metrics.DEDUP_PLACING.labels(placing_of(verdict)).inc()
                by_region.setdefault(region_key(verdict.mention.place.region), []).append(
                    encode(verdict.mention)
                )
                for key, command in verdict.commands:
                    rt.send(rt.topics.desk_commands, key.encode(), encode(command), STAGE)
            for region, encoded in by_region.items():
                for value in pack_mentions(encoded):
                    rt.send(rt.topics.deduped, region.encode(), value, STAGE)
            await rt.settle()
            metrics.DEDUP_WINDOW.set(window.window_size())
            observe_batch(STAGE, started, len(items))


def batch_messages(batch_size: int) -> int:
    """Messages taken per processing batch on a topic of batch messages (each carries up
    to ~100 mentions): about batch_size mentions' worth, at least a few."""
    return max(4, batch_size // 32)


def decode_mentions(rt: Runtime, stage: str, events: list[Any], guard: Any) -> list[Any]:
    """(event, Mention, its bytes) for every mention of the events (batches or single
    mentions; the bytes None for a single one: the message's). What cannot be read is
    dead-lettered with its own bytes, and so must be what fails later (a replay sends
    back the one mention, not its batch)."""
    items: list[tuple[Any, Mention, bytes | None]] = []
    for ev in events:
        rt.count_in(stage, ev)
        parts = unpack_mentions(ev.message.value)
        if parts is None:
            rt.dead_letter(stage, ev, "invalid_json", "Mention batch: not a JSON array")
            guard.record(True, ev.message.topic, "invalid_json")
            continue
        single = len(parts) == 1 and parts[0] is not None and parts[0] == ev.message.value
        for part in parts:
            try:
                mention = decode_mention(part)
                items.append((ev, mention, None if single else part))
                guard.record(False, ev.message.topic)
            except InvalidInput as err:
                value = None if single else part
                rt.dead_letter(stage, ev, err.kind, err.reason, lenient_id(part), value=value)
                guard.record(True, ev.message.topic, err.kind)
    return items


def _prepare_isolated(
    rt: Runtime, window: Deduplicator, items: list[tuple[Any, Mention, bytes | None]]
) -> list[tuple[Any, Prepared, bytes | None]]:
    """Signatures for the batch; if that fails, one by one, so only the culprit is
    dead-lettered."""
    try:
        prepared = window.prepare([m for _, m, _ in items])
        return [(ev, p, value) for (ev, _, value), p in zip(items, prepared, strict=True)]
    except Exception:
        pass
    out = []
    for ev, m, value in items:
        try:
            out.append((ev, window.prepare([m])[0], value))
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            rt.dead_letter(STAGE, ev, "processing_error", reason, m.id, value)
    return out
