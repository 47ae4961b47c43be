"""enrich: mentions.raw → mentions.enriched (one key: the dedup stage's window) | mentions.dlq.

Stateless and batched: the classifier runs once per batch, which is what makes
thousands of mentions a second possible in Python (DESIGN §4). The loop is the
step runner's (incidents/stream/runner.py), the work the enrich step's
(incidents/domain/stages.py), what it sends its publisher's (incidents/stream/publishers.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from incidents.domain.enrichment import Enricher
from incidents.domain.stages import enrich_step
from incidents.observability import metrics
from incidents.stream import publishers, runner

if TYPE_CHECKING:
    import faust

    from incidents.stream.runtime import WorkerRuntime


def register(app: faust.App, rt: WorkerRuntime) -> None:
    s, t = rt.settings, rt.topics
    # Models load once, before the consumer starts (~1-2 s), so the first batch is
    # not hours of event time behind the other stages.
    en = Enricher.from_settings(s.enrich)
    metrics.declare_enrich()
    runner.register(
        app,
        rt,
        runner.Stage(
            "enrich",
            inputs={t.raw: runner.single(en.decode)},
            outputs=[t.enriched, t.dlq],
            step=enrich_step(en, s.faults.fail_marker),
            publish=publishers.enriched(t),
            take=s.worker.batch_size,
            within=s.worker.batch_within_s,
        ),
    )
