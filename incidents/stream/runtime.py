"""What the agents of one worker share: their outputs, dead letters and guards.

:class:`WorkerRuntime` is handed to every agent (incidents/stream/agents/*) and the
step runner: it declares a stage's topics and counters, sends through one
librdkafka producer and waits for the broker's acknowledgement before a batch is
acked (``settle``), dead-letters bad input with its original bytes, keeps the
dead-letter limit of each stage, and injects the faults the tests ask for. The
offset guards (incidents/stream/guards.py) and the crash bookkeeping
(incidents/stream/health.py) are its parts; the Faust app around it is built by
incidents/stream/app.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust
from faust.types import TP, EventT

from incidents.config.settings import Settings
from incidents.contracts.models import DeadLetter, encode
from incidents.domain.desk.records import GivenUp
from incidents.kafka.dlq import DlqGuard, dead_letter, dlq_headers
from incidents.kafka.producer import MentionProducer
from incidents.kafka.topics import Topics
from incidents.observability import metrics
from incidents.observability.logs import get as get_logger
from incidents.stream.guards import OffsetGap, OffsetGuards, base_name
from incidents.stream.health import Health

log = get_logger("incidents.stream.runtime")


@dataclass
class WorkerRuntime:
    """What the agents of one worker share."""

    settings: Settings
    app: faust.App
    topics: Topics
    health: Health = field(default_factory=Health)
    offsets: OffsetGuards = field(init=False)
    inputs: set[str] = field(default_factory=set)  # topics the agents consume (full names)
    guards: dict[str, DlqGuard] = field(default_factory=dict)
    executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="sink")
    )
    handles: dict[str, Any] = field(default_factory=dict)
    desk: Any = None
    dedup: Any = None
    warehouse: Any = None
    _outbox: MentionProducer | None = None
    _skipping: bool = False

    def __post_init__(self) -> None:
        self.offsets = OffsetGuards(self.settings, self.app, self.topics)

    def topic(self, name: str) -> faust.TopicT:
        return self.app.topic(
            name,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=self.settings.topics.partitions,
        )

    def declare(self, stage: str, inputs: Iterable[str], outputs: Iterable[str]) -> None:
        """The topics a stage reads and writes (full names), at registration.

        Its counters start at 0 for each of them (incidents/observability/metrics.py), and consumer
        lag is reported for its inputs only: not for the desk's changelog, which
        the worker writes and reads only to recover, nor Faust's assignor topic.
        """
        inputs = list(inputs)
        self.inputs.update(inputs)
        metrics.declare_stage(
            stage,
            [self.base(t) for t in inputs],
            [self.base(t) for t in outputs],
            [self.base(t) for t in inputs if self.offsets.gapless(t)],
        )
        outside = self.topics.from_outside()
        metrics.declare_outside_inputs(stage, [self.base(t) for t in inputs if t in outside])

    def base(self, topic: str) -> str:
        """A topic's name without the deployment prefix: what metric labels carry."""
        return base_name(topic, self.settings)

    def count_in(self, stage: str, event: EventT) -> None:
        metrics.MESSAGES_IN.labels(stage, base_name(event.message.topic, self.settings)).inc()

    def guard(self, stage: str) -> DlqGuard:
        if stage not in self.guards:
            self.guards[stage] = DlqGuard(
                stage,
                self.settings.dlq,
                outside=self.topics.from_outside(),
                label=self.base,
            )
        return self.guards[stage]

    @property
    def outbox(self) -> MentionProducer:
        """librdkafka producer for every output (Faust's own send costs ~0.4 ms a message)."""
        if self._outbox is None:
            linger = 10_000 if self.settings.faults.lossy else 5
            self._outbox = MentionProducer(
                self.settings.kafka, client_id=f"{self.app.conf.id}-outbox", **{"linger.ms": linger}
            )
        return self._outbox

    def inject_faults(self, events: Iterable[EventT]) -> None:
        """Fault injection (off by default): a crash on a marked batch, a one-off offset gap."""
        marker = self.settings.faults.crash_marker
        if marker and any(marker.encode() in (ev.message.value or b"") for ev in events):
            raise RuntimeError(f"fault injection: crash marker {marker!r} in the batch")
        gap = self.settings.faults.gap_file
        if gap is not None and events and gap.exists():
            gap.unlink(missing_ok=True)
            msg = next(iter(events)).message
            raise OffsetGap(f"{msg.topic}[{msg.partition}]: fault injection: gap file {gap}")
        skip = self.settings.faults.skip_file
        if skip is not None and events and not self._skipping and skip.exists():
            msg = next(iter(events)).message
            only = _read_text(skip)
            if only and base_name(msg.topic, self.settings) != only:
                return
            self._skipping = True
            self.handles["skip"] = asyncio.ensure_future(
                self._skip_ahead(TP(msg.topic, msg.partition), skip)
            )

    async def _skip_ahead(self, tp: TP, flag: Path, records: int = 3) -> None:
        """Fault injection: seek the consumer past records it has not fetched yet, so
        they are in the log but never reach the agent (a real hole, made by the client).
        Waits for a partition with more than ``records`` unfetched records."""
        try:
            consumer: Any = self.app.consumer
            position = await consumer.position(tp)
            high = consumer.highwater(tp)
            if position is None or high is None or position + records >= high:
                return
            flag.unlink(missing_ok=True)
            log.warning(
                "fault_injection_skip",
                topic=tp.topic,
                partition=tp.partition,
                skipped_from=position,
                to=position + records,
            )
            await consumer.seek(tp, position + records)
        finally:
            self._skipping = False

    def send(
        self,
        topic: str,
        key: bytes,
        value: bytes,
        stage: str,
        headers: dict[str, bytes] | None = None,
    ) -> None:
        self.outbox.publish(topic, value, key=key, headers=headers)
        metrics.MESSAGES_OUT.labels(stage, base_name(topic, self.settings)).inc()

    async def settle(self) -> None:
        """Wait until the broker acknowledged everything produced so far (before acking a batch)."""
        if self.settings.faults.lossy:
            return  # the negative control: ack first, deliver later (or never)
        if self._outbox is not None:
            await asyncio.to_thread(self._outbox.flush, 120.0)

    def dead_letter(
        self,
        stage: str,
        event: EventT,
        kind: str,
        reason: str,
        mention_id: str | None = None,
        value: bytes | None = None,
    ) -> None:
        """Dead-letter the event's bytes as they arrived (``value``: one mention's bytes
        out of a batch message, which is what a replay must send back)."""
        msg = event.message
        headers = dict(msg.headers or [])
        replayed = headers.get("dlq.replayed", b"0")
        self._dead_letter(
            dead_letter(
                stage=stage,
                topic=msg.topic,
                partition=msg.partition,
                offset=msg.offset,
                value=msg.value if value is None else value,
                key=msg.key,
                error_kind=kind,
                reason=reason,
                mention_id=mention_id,
                replayed=int(replayed) if replayed.isdigit() else 0,
            ),
            msg.key,
        )

    def given_up(self, stage: str, g: GivenUp) -> None:
        """Dead-letter an input a stage held and gave up on later (an answer whose post
        never came). It names the topic the bytes arrived on, so `incidents dlq replay`
        sends them back there; its position there is not known (partition and offset 0)."""
        topic = self.topics.named(g.source)
        self._dead_letter(
            dead_letter(
                stage=stage,
                topic=topic,
                partition=0,
                offset=0,
                value=g.original,
                key=g.key,
                error_kind=g.kind,
                reason=g.reason,
            ),
            g.key,
        )

    def _dead_letter(self, d: DeadLetter, key: bytes | None) -> None:
        self.send(self.topics.dlq, key or d.dlq_id.encode(), encode(d), d.stage, dlq_headers(d))
        metrics.DLQ.labels(d.stage, d.error_kind).inc()
        log.warning(
            "dead_letter",
            stage=d.stage,
            topic=d.topic,
            partition=d.partition,
            offset=d.offset,
            error_kind=d.error_kind,
            reason=d.reason[:300],
            mention_id=d.mention_id,
        )

    async def in_executor(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)


def _read_text(path: Path) -> str:
    """A fault flag's content (a topic's base name, or nothing); "" once it is gone."""
    try:
        return path.read_text().strip()
    except OSError:
        return ""
