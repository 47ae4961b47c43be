"""group: mentions.deduped + desk.commands → mentions.resolved, incidents, events, replies.

The desk. Both inputs are keyed by region and co-partitioned with the desk
table's changelog, so one worker owns everything that can belong to one
incident. The posts come from the dedup stage, copies already keyed by their
original's region. The step runner (incidents/stream/runner.py) hands the desk step
(incidents/domain/stages.py) each post and command in event-time order, with table
writes going to its partition; its publisher (incidents/stream/publishers.py) sends
what the desk decided (commands for another region's desk go back to desk.commands).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from incidents.domain.stages import desk_step
from incidents.domain.understanding.classify import category_labels
from incidents.observability import metrics
from incidents.stream import publishers, runner
from incidents.stream.app import table_backed
from incidents.stream.decoders import decode_desk_command
from incidents.stream.offline import build_desk

if TYPE_CHECKING:
    import faust

    from incidents.stream.runtime import WorkerRuntime


def register(app: faust.App, rt: WorkerRuntime) -> None:
    s, t = rt.settings, rt.topics
    about = "incident desk state (posts' decisions and addressing, incidents)"
    desk = rt.desk = table_backed(app, s, "desk", about, lambda store: build_desk(s, store))
    metrics.declare_desk(category_labels(s.enrich.category_model))
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
            publish=publishers.decided(t),
            take=runner.batch_messages(s.worker.batch_size),
            within=s.worker.batch_within_s,
            partitioned=True,
            after=lambda: metrics.OPEN_INCIDENTS.set(desk.open_incidents()),
        ),
    )
