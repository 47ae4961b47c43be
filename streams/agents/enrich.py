"""enrich: mentions.raw → mentions.enriched (one key: the dedup stage's window) | mentions.dlq.

Stateless and batched: the classifier runs once per batch, which is what makes
thousands of mentions a second possible in Python (DESIGN §4).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from schemas.models import Mention, RawMention, encode
from streams import metrics
from streams.app import observe_batch
from streams.domain.enrichment import Enricher, InvalidInput
from streams.topics import DEDUP_SCOPE, pack_mentions

if TYPE_CHECKING:
    import faust

    from streams.app import Runtime

STAGE = "enrich"


def register(app: faust.App, rt: Runtime) -> None:
    source = rt.topic(rt.topics.raw)
    s = rt.settings
    # Models load once, before the consumer starts (~1-2 s), so the first batch is
    # not hours of event time behind the other stages.
    en = Enricher.from_settings(s.enrich)
    rt.declare(STAGE, [rt.topics.raw], [rt.topics.enriched, rt.topics.dlq])
    metrics.declare_enrich()

    @app.agent(source, name=STAGE, concurrency=1)
    @rt.supervised(STAGE)
    async def enrich(stream: faust.StreamT[bytes]) -> None:
        guard = rt.guard(STAGE)
        rt.started.add(STAGE)
        metrics.AGENT_UP.labels(STAGE).set(1)
        async for events in rt.batches(stream, s.worker.batch_size, within=s.worker.batch_within_s):
            started = time.perf_counter()
            rt.inject_faults(events)
            valid: list[tuple[Any, RawMention]] = []
            for ev in events:
                rt.count_in(STAGE, ev)
                try:
                    valid.append((ev, en.decode(ev.message.value)))
                except InvalidInput as err:
                    rt.dead_letter(STAGE, ev, err.kind, err.reason)
                    guard.record(True, ev.message.topic, err.kind)
            enriched, failed = _enrich_isolated(en, valid)
            # Emit the batch in event-time order: partitions of a backlog are fetched
            # one after another, and the desk's clocks run on event time.
            enriched.sort(key=lambda pair: pair[1].created_at)
            for ev, mention in enriched:
                guard.record(False, ev.message.topic)
                metrics.RELEVANCE.labels(
                    mention.platform,
                    mention.relevance or "noise",
                    "true" if mention.needs_review else "false",
                ).inc()
            # One message per batch (and size limit): the dedup stage reads one partition.
            for value in pack_mentions(encode(mention) for _ev, mention in enriched):
                rt.send(rt.topics.enriched, DEDUP_SCOPE, value, STAGE)
            for ev, mention_id, reason in failed:
                rt.dead_letter(STAGE, ev, "processing_error", reason, mention_id)
                guard.record(True, ev.message.topic, "processing_error")
            await rt.settle()
            observe_batch(STAGE, started, len(events))


def _enrich_isolated(
    en: Enricher, valid: list[tuple[Any, RawMention]]
) -> tuple[list[tuple[Any, Mention]], list[tuple[Any, str, str]]]:
    """Enrich the batch; if that fails, redo one by one so only the culprit is dead-lettered."""
    try:
        mentions = en.enrich([r for _, r in valid])
        return [(ev, m) for (ev, _), m in zip(valid, mentions, strict=True)], []
    except Exception:
        pass
    ok: list[tuple[Any, Mention]] = []
    failed: list[tuple[Any, str, str]] = []
    for ev, raw in valid:
        try:
            ok.append((ev, en.enrich([raw])[0]))
        except Exception as exc:  # a bug in domain code must not stop the stream
            failed.append((ev, raw.id, f"{type(exc).__name__}: {exc}"))
    return ok, failed
