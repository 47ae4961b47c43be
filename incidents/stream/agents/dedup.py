"""dedup: mentions.enriched (one partition) → mentions.deduped (keyed by region) | desk.commands.

Both mention topics carry batches: a JSON array of mentions per message (one per
stage batch and key), or a single mention (a dead letter replayed).

The stateful stage before the region repartition. Every post of every region
meets every earlier post of the window here (mentions.enriched carries one key),
so a copy is found whatever region its own source or text gave it. A copy leaves
with its original's place and is keyed by that region, so it reaches the desk
partition that holds its original's incident; when a copy gives a region-less
family its region, an AdoptCommand goes to the desk of `unknown`, which moves the
family's incident (docs/architecture.md). The loop is the step runner's
(incidents/stream/runner.py), the work the dedup step's (incidents/domain/stages.py),
what it sends its publisher's (incidents/stream/publishers.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from incidents.domain.copies.dedup import Deduplicator
from incidents.domain.stages import dedup_step
from incidents.observability import metrics
from incidents.stream import publishers, runner
from incidents.stream.app import table_backed

if TYPE_CHECKING:
    import faust

    from incidents.stream.runtime import WorkerRuntime


def register(app: faust.App, rt: WorkerRuntime) -> None:
    s, t = rt.settings, rt.topics
    about = "dedup window: every post of the last INCIDENTS_DEDUP_WINDOW_DAYS"
    window = rt.dedup = table_backed(
        app, s, "dedup", about, lambda store: Deduplicator(store, s.dedup)
    )
    metrics.declare_dedup()
    runner.register(
        app,
        rt,
        runner.Stage(
            "dedup",
            inputs={t.enriched: runner.mention_batch},
            outputs=[t.deduped, t.desk_commands, t.dlq],
            step=dedup_step(window),
            publish=publishers.deduped(t),
            take=runner.batch_messages(s.worker.batch_size),
            within=s.worker.batch_within_s,
            partitioned=True,
            after=lambda: metrics.DEDUP_WINDOW.set(window.window_size()),
        ),
    )
