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
(incidents/stream/runner.py), the work the dedup step's (incidents/domain/stages.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from incidents.contracts.models import encode
from incidents.domain.copies.dedup import Deduplicator, placing_of, region_key
from incidents.domain.stages import dedup_step
from incidents.kafka.topics import pack_mentions
from incidents.observability import metrics
from incidents.stream import runner
from incidents.stream.app import TableStore, changelogged_table

if TYPE_CHECKING:
    import faust

    from incidents.stream.app import Runtime


def register(app: faust.App, rt: Runtime) -> None:
    s, t = rt.settings, rt.topics
    table = changelogged_table(
        app, s, "dedup", help="dedup window: every post of the last INCIDENTS_DEDUP_WINDOW_DAYS"
    )
    window = rt.dedup = Deduplicator(TableStore(table), s.dedup)

    async def on_recovered() -> None:
        window.invalidate()  # indexes are rebuilt from the recovered table on next use

    table.on_recover(on_recovered)
    metrics.declare_dedup()

    def publish(out: runner.Outputs, done: list[Any]) -> None:
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

    runner.register(
        app,
        rt,
        runner.Stage(
            "dedup",
            inputs={t.enriched: runner.mention_batch},
            outputs=[t.deduped, t.desk_commands, t.dlq],
            step=dedup_step(window),
            publish=publish,
            take=batch_messages(s.worker.batch_size),
            within=s.worker.batch_within_s,
            partitioned=True,
            after=lambda: metrics.DEDUP_WINDOW.set(window.window_size()),
        ),
    )


def batch_messages(batch_size: int) -> int:
    """Messages taken per processing batch on a topic of batch messages (each carries up
    to ~100 mentions): about batch_size mentions' worth, at least a few."""
    return max(4, batch_size // 32)
