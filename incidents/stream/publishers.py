"""What each stage sends for its step's results: topics, keys, packing and counters.

A stage's step (incidents/domain/stages.py) decides; its publisher, handed to the
step runner (incidents/stream/runner.py) as the stage's ``publish``, maps what was
decided onto topic messages (batch messages for the mention topics, keys by
region for the desks) and counts it. They live on the stream side because they
need the Kafka framing and the metrics, which the domain must not import.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from incidents.contracts.models import Incident, TickCommand, encode
from incidents.domain.copies.dedup import UNKNOWN_REGION, placing_of, region_key
from incidents.domain.desk.records import Outcome
from incidents.domain.places.gazetteer import Gazetteer
from incidents.kafka.topics import DEDUP_SCOPE, Topics, pack_mentions
from incidents.observability import metrics
from incidents.observability.logs import get as get_logger
from incidents.stream.runner import Outputs, Publish

if TYPE_CHECKING:
    import faust

    from incidents.stream.runtime import WorkerRuntime

log = get_logger("incidents.stream.publishers")


def enriched(t: Topics) -> Publish:
    """enrich: one message per batch (and size limit), one key: the dedup stage reads
    one partition."""

    def publish(out: Outputs, done: list[Any]) -> None:
        for d in done:
            m = d.value
            review = "true" if m.needs_review else "false"
            metrics.RELEVANCE.labels(m.platform, m.relevance or "noise", review).inc()
        # One message per batch (and size limit): the dedup stage reads one partition.
        for value in pack_mentions(encode(d.value) for d in done):
            out.send(t.enriched, DEDUP_SCOPE, value)

    return publish


def deduped(t: Topics) -> Publish:
    """dedup: the posts keyed by (their original's) region, packed per region; the
    desk commands a copy sets off (an adoption) to desk.commands."""

    def publish(out: Outputs, done: list[Any]) -> None:
        by_region: dict[str, list[bytes]] = {}
        for d in done:
            verdict = d.value
            metrics.DEDUP_PLACING.labels(placing_of(verdict)).inc()
            region = region_key(verdict.mention.place.region)
            by_region.setdefault(region, []).append(encode(verdict.mention))
            for key, command in verdict.commands:
                out.send(t.desk_commands, key.encode(), encode(command))
        for region, encoded in by_region.items():
            for value in pack_mentions(encoded):
                out.send(t.deduped, region.encode(), value)

    return publish


def decided(t: Topics) -> Publish:
    """group: what the desk decided (posts, events, replies, commands for another
    region's desk, the latest version of each incident) and what it gave up on."""

    def publish(out: Outputs, done: list[Any]) -> None:
        latest: dict[str, Incident] = {}
        for d in done:
            outcome: Outcome = d.value
            if outcome.parked:
                msg = d.tag.event.message
                log.info("answer_parked", partition=msg.partition, offset=msg.offset)
            for given_up in outcome.dead_letters:
                out.given_up(given_up)
            _publish(out, t, outcome, latest)
        for inc in latest.values():
            out.send(t.incidents, inc.id.encode(), encode(inc))

    return publish


def _publish(out: Outputs, t: Any, o: Outcome, latest: dict[str, Incident]) -> None:
    now = datetime.now(UTC)
    for m in o.mentions:
        status = ("redelivered" if o.redelivered else "revised" if o.revised else m.status) or (
            "accepted"
        )
        metrics.MENTIONS.labels(m.platform, status).inc()
        if status == "accepted" and m.is_appeal:
            metrics.APPEALS.labels(m.category or "none").inc()
            metrics.EVENT_DELAY.observe(max(0.0, (now - m.created_at).total_seconds()))
        out.send(t.resolved, region_key(m.place.region).encode(), encode(m))
    for e in o.events:
        if not o.redelivered:
            metrics.INCIDENT_EVENTS.labels(e.type).inc()
            if e.type == "sla_breached":
                metrics.SLA_BREACHES.labels(str(e.detail.get("sla")), e.priority or "normal").inc()
        out.send(t.events, e.incident_id.encode(), encode(e))
    for r in o.replies:
        if not o.redelivered:
            metrics.REPLIES.labels(r.platform).inc()
        out.send(t.replies, r.mention_id.encode(), encode(r))
    for key, command in o.forward:  # to the desk of another region
        out.send(t.desk_commands, key.encode(), encode(command))
    for inc in o.incidents:
        prev = latest.get(inc.id)
        if prev is None or inc.version >= prev.version:
            latest[inc.id] = inc


def routed(t: Topics) -> Publish:
    """respond: each operator message as a desk command, keyed by its region."""

    def publish(out: Outputs, done: list[Any]) -> None:
        for d in done:
            key, command = d.value
            out.send(t.desk_commands, key.encode(), encode(command))

    return publish


def sla_ticks(app: faust.App, rt: WorkerRuntime, stage: str) -> None:
    """respond's timer, when INCIDENTS_SLA_TICK_INTERVAL_S is set: a tick to the desk of
    every region advances event time on quiet regions, so their SLA timers fire (live
    deployments)."""
    s, t = rt.settings, rt.topics
    if s.sla.tick_interval_s <= 0:
        return

    @app.timer(s.sla.tick_interval_s, on_leader=True)
    async def tick() -> None:
        """Advance event time on quiet regions so their SLA timers fire (live deployments)."""
        at = datetime.now(UTC) - timedelta(seconds=s.sla.tick_lateness_s)
        for region in [*Gazetteer.default().region_codes(), UNKNOWN_REGION]:
            cmd = TickCommand(
                command_id=f"tick:{region}:{int(at.timestamp())}", at=at, region=region
            )
            rt.send(t.desk_commands, region.encode(), encode(cmd), stage)
        await rt.settle()
