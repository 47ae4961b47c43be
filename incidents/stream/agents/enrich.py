"""enrich: mentions.raw → mentions.enriched (one key: the dedup stage's window) | mentions.dlq.

Stateless and batched: the classifier runs once per batch, which is what makes
thousands of mentions a second possible in Python (DESIGN §4). The loop is the
step runner's (incidents/stream/runner.py), the work the enrich step's
(incidents/domain/stages.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from incidents.contracts.models import encode
from incidents.domain.enrichment import Enricher
from incidents.domain.stages import enrich_step
from incidents.kafka.topics import DEDUP_SCOPE, pack_mentions
from incidents.observability import metrics
from incidents.stream import runner

if TYPE_CHECKING:
    import faust

    from incidents.stream.app import Runtime


def register(app: faust.App, rt: Runtime) -> None:
    s, t = rt.settings, rt.topics
    # Models load once, before the consumer starts (~1-2 s), so the first batch is
    # not hours of event time behind the other stages.
    en = Enricher.from_settings(s.enrich)
    metrics.declare_enrich()

    def publish(out: runner.Outputs, done: list[Any]) -> None:
        for d in done:
            m = d.value
            review = "true" if m.needs_review else "false"
            metrics.RELEVANCE.labels(m.platform, m.relevance or "noise", review).inc()
        # One message per batch (and size limit): the dedup stage reads one partition.
        for value in pack_mentions(encode(d.value) for d in done):
            out.send(t.enriched, DEDUP_SCOPE, value)

    runner.register(
        app,
        rt,
        runner.Stage(
            "enrich",
            inputs={t.raw: runner.single(en.decode)},
            outputs=[t.enriched, t.dlq],
            step=enrich_step(en, s.faults.fail_marker),
            publish=publish,
            take=s.worker.batch_size,
            within=s.worker.batch_within_s,
        ),
    )
