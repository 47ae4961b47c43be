"""The step runner: the one loop every agent runs, written once.

Modelled on getsentry/arroyo's strategy chain: per batch of events

    decode → the stage's step → dead-letter → send → settle → count

An agent (incidents/stream/agents/*) declares a :class:`Stage` (its input topics with their
decoders, its output topics, its step from incidents/domain/stages.py, and how its
results are published) and hands it to :func:`register`. The step is the
stage's pure work (event-time order, the batch-wide function, one call per
input, failure isolation: incidents/domain/steps.py); `incidents process` runs the
same steps, so the stream and the offline path decide alike.

What the runner does for every stage:
- every message is counted in and decoded inside its own try; a batch message
  (mentions.enriched, mentions.deduped) yields each mention, and one that cannot
  be read is dead-lettered alone with its own bytes;
- what cannot be decoded or fails in the step is dead-lettered (original bytes,
  reason, counted), and weighed by the dead-letter limit (incidents/kafka/dlq.py), which
  counts per partition and starts again when partitions are assigned, as
  arroyo's does; bad bytes on the dead-letter topic itself are counted and
  logged, never dead-lettered into it again;
- a stateful stage's table writes go to the partition of the input being
  decided (``partitioned``);
- the batch is acknowledged only after the broker acknowledged everything it
  produced (``settle``), and its latency is observed once.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from incidents.domain.desk.records import GivenUp
from incidents.domain.enrichment import InvalidInput
from incidents.domain.steps import Done, Step
from incidents.kafka.topics import unpack_mentions
from incidents.observability import metrics
from incidents.observability.logs import get as get_logger
from incidents.stream.app import ACTIVE_PARTITION
from incidents.stream.decoders import decode_mention
from incidents.stream.offline import lenient_id

if TYPE_CHECKING:
    import faust
    from faust.types import EventT

    from incidents.kafka.dlq import DlqGuard
    from incidents.stream.runtime import WorkerRuntime

log = get_logger("incidents.stream.runner")


@dataclass(frozen=True, slots=True)
class Decoded:
    """One input read out of a message: the object, or why it cannot be read.

    ``value`` is the input's own bytes when it is one of a batch message's (what its
    dead letter must keep, so a replay sends back the one input); None: the message's.
    """

    obj: Any = None
    error: InvalidInput | None = None
    value: bytes | None = None
    id: str | None = None


Decoder = Callable[[bytes | None], list[Decoded]]


def single(decode: Callable[[bytes | None], Any]) -> Decoder:
    """A decoder of one object a message (raising InvalidInput) as a runner decoder."""

    def run(value: bytes | None) -> list[Decoded]:
        try:
            return [Decoded(decode(value))]
        except InvalidInput as err:
            return [Decoded(error=err, id=lenient_id(value or b""))]

    return run


def mention_batch(value: bytes | None) -> list[Decoded]:
    """The mentions of a message on a batch topic: a JSON array of mentions (one per
    stage batch and key), or a single mention (a dead letter replayed)."""
    parts = unpack_mentions(value)
    if parts is None:
        return [Decoded(error=InvalidInput("invalid_json", "Mention batch: not a JSON array"))]
    single = len(parts) == 1 and parts[0] is not None and parts[0] == value
    out = []
    for part in parts:
        own = None if single else part
        try:
            out.append(Decoded(decode_mention(part), value=own))
        except InvalidInput as err:
            out.append(Decoded(error=err, value=own, id=lenient_id(part or b"")))
    return out


def batch_messages(batch_size: int) -> int:
    """Messages taken per processing batch on a topic of batch messages (each carries up
    to ~100 mentions): about batch_size mentions' worth, at least a few."""
    return max(4, batch_size // 32)


@dataclass(frozen=True, slots=True)
class Input:
    """Where an input of the step came from: its event and its own bytes (see Decoded)."""

    event: EventT
    value: bytes | None


class Outputs:
    """What a stage's ``publish`` sends through: counted as the stage's output."""

    def __init__(self, rt: WorkerRuntime, stage: str) -> None:
        self.rt = rt
        self.stage = stage

    def send(self, topic: str, key: bytes, value: bytes) -> None:
        self.rt.send(topic, key, value, self.stage)

    def given_up(self, g: GivenUp) -> None:
        """Dead-letter an input the stage held and gave up on later."""
        self.rt.given_up(self.stage, g)


Publish = Callable[[Outputs, list[Done[Input, Any]]], Awaitable[None] | None]


@dataclass(frozen=True)
class Stage:
    """What an agent declares: the rest is the runner's."""

    name: str
    #: input topic (full name) → how its messages are read
    inputs: Mapping[str, Decoder]
    outputs: Sequence[str]
    step: Step[Any, Any, Any]
    #: sends (or writes) a batch's results; awaited when it returns an awaitable
    publish: Publish
    #: events a batch, and how long to wait for them
    take: int
    within: float
    #: table writes go to the changelog partition of the input being decided
    partitioned: bool = False
    #: before the first batch (the sink's migrations)
    on_start: Callable[[], Awaitable[None]] | None = None
    #: after each settled batch (gauges)
    after: Callable[[], None] | None = None


def register(app: faust.App, rt: WorkerRuntime, stage: Stage) -> None:
    """Subscribe the stage's inputs as raw bytes and run it as one supervised agent."""
    rt.declare(stage.name, stage.inputs, stage.outputs)
    source = app.topic(
        *stage.inputs,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=rt.settings.topics.partitions,
    )

    async def body(stream: faust.StreamT[bytes]) -> None:
        await run(rt, stage, stream)

    body.__name__ = body.__qualname__ = stage.name
    app.agent(source, name=stage.name, concurrency=1)(rt.health.supervised(stage.name)(body))


class _OnPartition:
    """Table writes while deciding an input go to its event's partition (app.PartitionedTable)."""

    __slots__ = ("partition", "token")

    def __init__(self, tag: Input) -> None:
        self.partition = tag.event.message.partition

    def __enter__(self) -> None:
        self.token = ACTIVE_PARTITION.set(self.partition)

    def __exit__(self, *exc: object) -> None:
        ACTIVE_PARTITION.reset(self.token)


async def run(rt: WorkerRuntime, stage: Stage, stream: Any) -> None:
    """The loop: decode → step → dead-letter → send → settle → count, per batch."""
    if stage.on_start is not None:
        await stage.on_start()
    name = stage.name
    guard = rt.guard(name)
    out = Outputs(rt, name)
    around = _OnPartition if stage.partitioned else None
    rt.health.started.add(name)
    metrics.AGENT_UP.labels(name).set(1)
    async for events in rt.offsets.batches(stream, stage.take, within=stage.within):
        started = time.perf_counter()
        rt.inject_faults(events)
        items: list[tuple[Input, Any]] = []
        seen = 0
        for ev in events:
            rt.count_in(name, ev)
            for part in stage.inputs[ev.message.topic](ev.message.value):
                seen += 1
                if part.error is None:
                    items.append((Input(ev, part.value), part.obj))
                else:
                    err = part.error
                    _reject(rt, guard, name, ev, err.kind, err.reason, part.id, part.value)
        done: list[Done[Input, Any]] = []
        for r in stage.step.run(items, around):
            msg = r.tag.event.message
            if isinstance(r, Done):
                guard.record(False, msg.topic, partition=msg.partition)
                done.append(r)
            else:
                _reject(
                    rt, guard, name, r.tag.event, r.kind, r.reason, r.id, r.tag.value, r.refused
                )
        pending = stage.publish(out, done)
        if pending is not None:
            await pending
        await rt.settle()
        if stage.after is not None:
            stage.after()
        observe_batch(name, started, seen)


def observe_batch(stage: str, started: float, n: int) -> None:
    if n:
        per = (time.perf_counter() - started) / n
        hist = metrics.STAGE_LATENCY.labels(stage)
        for _ in range(n):
            hist.observe(per)


def _reject(
    rt: WorkerRuntime,
    guard: DlqGuard,
    stage: str,
    ev: EventT,
    kind: str,
    reason: str,
    mention_id: str | None,
    value: bytes | None,
    refused: bool = False,
) -> None:
    """Dead-letter one input and weigh it against the limit (a refusal by the stage's
    own rules is handled, not invalid: it never stops the stage)."""
    msg = ev.message
    if msg.topic == rt.topics.dlq:
        # Never dead-letter the dead-letter topic into itself.
        metrics.DLQ.labels(stage, kind).inc()
        log.error("poison_in_dlq", partition=msg.partition, offset=msg.offset, reason=reason[:300])
    else:
        rt.dead_letter(stage, ev, kind, reason, mention_id, value)
    guard.record(not refused, msg.topic, kind, partition=msg.partition)
