"""dedup: mentions.enriched (one partition) → mentions.deduped (keyed by region) | desk.commands.

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

import msgspec

from schemas.models import Mention, encode
from streams import metrics
from streams.app import ACTIVE_PARTITION, TableStore, changelogged_table, observe_batch
from streams.domain.deduplication import Deduplicator, Prepared, Verdict, placing_of, region_key
from streams.domain.enrichment import InvalidInput, decode_json
from streams.domain.pipeline import lenient_id

if TYPE_CHECKING:
    import faust

    from streams.app import Runtime

STAGE = "dedup"
_mention_decoder = msgspec.json.Decoder(Mention)


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

    @app.agent(source, name=STAGE, concurrency=1)
    @rt.supervised(STAGE)
    async def dedup(stream: faust.StreamT[bytes]) -> None:
        guard = rt.guard(STAGE)
        rt.started.add(STAGE)
        metrics.AGENT_UP.labels(STAGE).set(1)
        async for events in rt.batches(stream, s.worker.batch_size, within=s.worker.batch_within_s):
            started = time.perf_counter()
            rt.inject_faults(events)
            items: list[tuple[Any, Mention]] = []
            for ev in events:
                rt.count_in(STAGE, ev)
                try:
                    mention = decode_json(ev.message.value, _mention_decoder, "Mention")
                    assert isinstance(mention, Mention)
                    items.append((ev, mention))
                    guard.record(False)
                except InvalidInput as err:
                    mention_id = lenient_id(ev.message.value or b"")
                    rt.dead_letter(STAGE, ev, err.kind, err.reason, mention_id)
                    guard.record(True)
            # Event-time order inside the batch: the window's clock runs on event time.
            items.sort(key=lambda item: item[1].created_at)
            for ev, p in _prepare_isolated(rt, window, items):
                token = ACTIVE_PARTITION.set(ev.message.partition)
                try:
                    verdict = window.resolve(p)
                except Exception as exc:  # a bug in domain code must not stop the stream
                    reason = f"{type(exc).__name__}: {exc}"
                    rt.dead_letter(STAGE, ev, "processing_error", reason, p.mention.id)
                    continue
                finally:
                    ACTIVE_PARTITION.reset(token)
                _publish(rt, verdict)
            await rt.settle()
            metrics.DEDUP_WINDOW.set(window.window_size())
            observe_batch(STAGE, started, len(events))


def _prepare_isolated(
    rt: Runtime, window: Deduplicator, items: list[tuple[Any, Mention]]
) -> list[tuple[Any, Prepared]]:
    """Signatures for the batch; if that fails, one by one, so only the culprit is
    dead-lettered."""
    try:
        prepared = window.prepare([m for _, m in items])
        return [(ev, p) for (ev, _), p in zip(items, prepared, strict=True)]
    except Exception:
        pass
    out = []
    for ev, m in items:
        try:
            out.append((ev, window.prepare([m])[0]))
        except Exception as exc:
            rt.dead_letter(STAGE, ev, "processing_error", f"{type(exc).__name__}: {exc}", m.id)
    return out


def _publish(rt: Runtime, verdict: Verdict) -> None:
    m = verdict.mention
    metrics.DEDUP_PLACING.labels(placing_of(verdict)).inc()
    rt.send(rt.topics.deduped, region_key(m.place.region).encode(), encode(m), STAGE)
    for key, command in verdict.commands:
        rt.send(rt.topics.desk_commands, key.encode(), encode(command), STAGE)
