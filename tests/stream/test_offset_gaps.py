"""A partition read with a hole must not be committed across it.

The broker and Faust decide which records reach an agent; a hole in what
arrives cannot be produced on demand over a real broker, so these tests feed
`incidents.stream.guards.batches` a stream that stands in for Faust's (records and acks
only) and a consumer that answers with committed and earliest offsets.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from incidents.config.settings import Settings
from incidents.kafka.topics import Topics
from incidents.observability import metrics
from incidents.stream.guards import OffsetGap, OffsetGuards, batches

StartOf = Callable[[str, int, int], Awaitable[int | None]]


@dataclass
class _Stream:
    """What `batches` uses of a Faust stream: `noack_take` and `ack`."""

    chunks: list[list[tuple[str, int, int]]]
    acked: list[tuple[str, int, int]] = field(default_factory=list)

    async def noack_take(self, size: int, within: float) -> AsyncIterator[list[Any]]:
        for chunk in self.chunks:
            yield [
                SimpleNamespace(message=SimpleNamespace(topic=t, partition=p, offset=o))
                for t, p, o in chunk
            ]

    async def ack(self, event: Any) -> None:
        m = event.message
        self.acked.append((m.topic, m.partition, m.offset))


def _run(
    stream: _Stream,
    start_of: StartOf | None = None,
    gapless: Callable[[str], bool] = lambda topic: True,
    positions: dict[tuple[str, int], int] | None = None,
) -> list[list[tuple[str, int, int]]]:
    seen: list[list[tuple[str, int, int]]] = []

    async def go() -> None:
        async for events in batches(stream, 10, 1.0, positions, gapless, start_of=start_of):
            seen.append([(e.message.topic, e.message.partition, e.message.offset) for e in events])

    asyncio.run(go())
    return seen


def _committed(offsets: dict[tuple[str, int], int | None]) -> StartOf:
    async def start_of(topic: str, partition: int, offset: int) -> int | None:
        return offsets.get((topic, partition))

    return start_of


def test_reading_that_starts_at_the_committed_offset_is_processed_and_acked() -> None:
    stream = _Stream([[("raw", 0, 40), ("raw", 0, 41), ("raw", 1, 7)], [("raw", 0, 42)]])
    seen = _run(stream, _committed({("raw", 0): 40, ("raw", 1): 7}))
    assert seen == stream.chunks
    assert stream.acked == [e for chunk in stream.chunks for e in chunk]


def test_a_hole_at_the_head_of_a_partition_stops_before_anything_is_acked() -> None:
    # Committed 40, but the first record after the assignment is 43: 40..42 were
    # skipped. Acking 43 would let Faust commit 44 and lose them for good.
    stream = _Stream([[("raw", 1, 7), ("raw", 0, 43), ("raw", 0, 44)]])
    with pytest.raises(OffsetGap, match=r"raw\[0\]: expected offset 40, got 43"):
        _run(stream, _committed({("raw", 0): 40, ("raw", 1): 7}))
    assert stream.acked == []


def test_a_hole_after_the_head_is_caught_too() -> None:
    stream = _Stream([[("raw", 0, 40), ("raw", 0, 41)], [("raw", 0, 43)]])
    with pytest.raises(OffsetGap, match="expected offset 42, got 43"):
        _run(stream, _committed({("raw", 0): 40}))
    assert stream.acked == [("raw", 0, 40), ("raw", 0, 41)]


def test_holes_are_allowed_where_they_are_legitimate() -> None:
    # No known start to hold the first record to (start_of answered None), or a
    # compacted topic, whose offsets have holes by design.
    stream = _Stream([[("raw", 0, 5), ("incidents", 0, 9), ("incidents", 0, 30)]])
    seen = _run(stream, _committed({("incidents", 0): 2}), gapless=lambda t: t != "incidents")
    assert seen == stream.chunks


class _Consumer:
    """Faust's consumer (the committed offsets it sought to) and the worker's probe of the
    partitions' log starts (``HoleProbe.log_start``), as one stand-in."""

    def __init__(self, committed: dict[TP, int], earliest: dict[TP, int]) -> None:
        self._committed_offset = committed
        self.earliest = earliest
        self.asked: list[TP] = []

    def log_start(self, topic: str, partition: int) -> int:
        self.asked.append(TP(topic, partition))
        return self.earliest[TP(topic, partition)]


def _runtime(consumer: _Consumer, settings: Settings | None = None) -> OffsetGuards:
    s = settings or Settings()
    return OffsetGuards(
        settings=s,
        app=SimpleNamespace(consumer=consumer),  # type: ignore[arg-type]
        topics=Topics.from_settings(s),
        _probe=consumer,  # type: ignore[arg-type]
    )


def test_start_of_is_the_committed_offset_faust_sought_to() -> None:
    tp = TP("mentions.raw", 2)
    consumer = _Consumer({tp: 40}, {tp: 0})
    rt = _runtime(consumer)
    assert asyncio.run(rt.start_of("mentions.raw", 2, 40)) == 40
    assert asyncio.run(rt.start_of("mentions.raw", 2, 55)) == 40  # a hole: the check fires
    assert asyncio.run(rt.start_of("mentions.raw", 3, 55)) is None  # nothing committed
    assert consumer.asked == [tp]  # the log start is asked only when the head jumped


def test_records_retention_deleted_before_they_were_read_are_counted_not_waited_for() -> None:
    tp = TP("mentions.raw", 0)
    rt = _runtime(_Consumer({tp: 40}, {tp: 70}))

    def expired() -> float:
        labels = {"topic": "mentions.raw"}
        return metrics.REGISTRY.get_sample_value("incidents_expired_unread_total", labels) or 0.0

    before = expired()
    assert asyncio.run(rt.start_of("mentions.raw", 0, 70)) == 70
    assert expired() - before == 30


def test_an_offset_gap_is_counted_under_the_topic_base_name() -> None:
    """Topic labels are base names everywhere, as the alert rules expect."""
    s = Settings(topics={"prefix": "tver."})
    tp = TP("tver.mentions.raw", 0)
    rt = _runtime(_Consumer({tp: 5}, {tp: 0}), s)
    stream = _Stream([[("tver.mentions.raw", 0, 5), ("tver.mentions.raw", 0, 9)]])

    def gaps(topic: str) -> float:
        return (
            metrics.REGISTRY.get_sample_value("incidents_offset_gaps_total", {"topic": topic})
            or 0.0
        )

    before = gaps("mentions.raw")

    async def go() -> None:
        async for _ in rt.batches(stream, 10, 1.0):
            pass

    with pytest.raises(OffsetGap):
        asyncio.run(go())
    assert gaps("mentions.raw") - before == 1
    assert gaps("tver.mentions.raw") == 0


def test_a_jump_the_hole_check_finds_empty_is_read_through_and_acked() -> None:
    """On Apache Kafka a jump over a transaction marker holds no record: the check
    (OffsetGuards.hole, here a stand-in) says so and the batch goes on."""
    asked: list[tuple[str, int, int, int]] = []

    async def empty(topic: str, partition: int, start: int, end: int) -> bool:
        asked.append((topic, partition, start, end))
        return False

    stream = _Stream([[("raw", 0, 40), ("raw", 0, 41)], [("raw", 0, 43), ("raw", 0, 44)]])

    async def go() -> list[int]:
        seen = []
        async for events in batches(stream, 10, 1.0, hole=empty):
            seen += [e.message.offset for e in events]
        return seen

    assert asyncio.run(go()) == [40, 41, 43, 44]
    assert asked == [("raw", 0, 42, 43)]
    assert len(stream.acked) == 4


def test_on_the_embedded_broker_every_jump_is_a_hole_without_asking() -> None:
    tp = TP("mentions.raw", 0)
    consumer = _Consumer({tp: 40}, {tp: 0})
    rt = _runtime(consumer)
    assert rt.strict_gaps  # the default, and what the worker keeps on tansu
    assert asyncio.run(rt.hole("mentions.raw", 0, 42, 43)) is True
    assert consumer.asked == []  # no log start, no probe


def test_on_kafka_records_deleted_in_the_jump_are_expired_and_the_rest_probed() -> None:
    """A jump whose start retention deleted: counted as expired; the offsets left
    are read by the probe, which finds no record there (a marker)."""
    tp = TP("mentions.raw", 0)
    probed: list[tuple[int, int]] = []

    class _Probe(_Consumer):
        def first_offset(self, topic: str, partition: int, start: int, end: int) -> int | None:
            probed.append((start, end))
            return None

    rt = _runtime(_Probe({tp: 40}, {tp: 50}))
    rt.strict_gaps = False
    labels = {"topic": "mentions.raw"}
    before = metrics.REGISTRY.get_sample_value("incidents_expired_unread_total", labels) or 0.0
    assert asyncio.run(rt.hole("mentions.raw", 0, 45, 52)) is False
    after = metrics.REGISTRY.get_sample_value("incidents_expired_unread_total", labels) or 0.0
    assert after - before == 5
    assert probed == [(50, 52)]
