"""group: mentions.deduped + desk.commands → mentions.resolved, incidents, events, replies.

The desk. Both inputs are keyed by region and co-partitioned with the desk
table's changelog, so one worker owns everything that can belong to one
incident. The posts come from the dedup stage, copies already keyed by their
original's region. The step runner (incidents/stream/runner.py) hands the desk step
(incidents/domain/stages.py) each post and command in event-time order, with table
writes going to its partition; this module sends what the desk decided
(commands for another region's desk go back to desk.commands).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from incidents.contracts.models import Incident, encode
from incidents.domain.copies.dedup import region_key
from incidents.domain.desk.records import Outcome
from incidents.domain.stages import desk_step
from incidents.domain.understanding.classify import category_labels
from incidents.observability import metrics
from incidents.observability.logs import get as get_logger
from incidents.stream import runner
from incidents.stream.agents.dedup import batch_messages
from incidents.stream.app import TableStore, changelogged_table
from incidents.stream.decoders import decode_desk_command
from incidents.stream.offline import build_desk

if TYPE_CHECKING:
    import faust

    from incidents.stream.app import Runtime

log = get_logger("incidents.stream.group")


def register(app: faust.App, rt: Runtime) -> None:
    s, t = rt.settings, rt.topics
    table = changelogged_table(
        app, s, "desk", help="incident desk state (posts' decisions and addressing, incidents)"
    )
    desk = rt.desk = build_desk(s, TableStore(table))

    async def on_recovered() -> None:
        desk.invalidate()  # indexes are rebuilt from the recovered table on next use

    table.on_recover(on_recovered)
    metrics.declare_desk(category_labels(s.enrich.category_model))

    def publish(out: runner.Outputs, done: list[Any]) -> None:
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

    runner.register(
        app,
        rt,
        runner.Stage(
            "group",
            # mentions.deduped carries batches: fewer messages a processing batch, about
            # batch_size mentions' worth (desk.commands carries one command a message).
            inputs={
                t.deduped: runner.mention_batch,
                t.desk_commands: runner.single(decode_desk_command),
            },
            outputs=[t.resolved, t.events, t.replies, t.incidents, t.desk_commands, t.dlq],
            step=desk_step(desk),
            publish=publish,
            take=batch_messages(s.worker.batch_size),
            within=s.worker.batch_within_s,
            partitioned=True,
            after=lambda: metrics.OPEN_INCIDENTS.set(desk.open_incidents()),
        ),
    )


def _publish(out: runner.Outputs, t: Any, o: Outcome, latest: dict[str, Incident]) -> None:
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
