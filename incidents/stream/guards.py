"""The offset guards: a worker never commits across records it did not read.

Faust takes any jump in a partition's offsets for a compaction gap and commits
across it, and acks a batch in a ``finally`` even when the agent's body did not
finish it. :func:`batches` acks only what the body finished and holds every
record to the offset expected after the one before it (and the first after an
assignment to the committed offset: the head); :class:`OffsetGuards` decides
whether a jump is a hole (always on the embedded broker; on Apache Kafka read
again by the hole probe, incidents/stream/transport.py) and counts records that
retention deleted before the group read them (docs/operations.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import faust
from faust.types import TP, EventT

from incidents.config.settings import Settings
from incidents.kafka.topics import Topics
from incidents.observability import metrics
from incidents.observability.logs import get as get_logger
from incidents.stream.transport import HoleProbe

log = get_logger("incidents.stream.guards")


def base_name(topic: str, s: Settings) -> str:
    """A topic's name without the deployment prefix: what metric labels carry."""
    return (
        topic[len(s.topics.prefix) :]
        if s.topics.prefix and topic.startswith(s.topics.prefix)
        else topic
    )


class OffsetGap(RuntimeError):
    """Records were skipped on a topic where offsets cannot have holes: restart, do not commit."""


async def _every_jump_is_a_hole(topic: str, partition: int, start: int, end: int) -> bool:
    return True


async def batches(
    stream: Any,
    size: int,
    within: float,
    positions: dict[tuple[str, int], int] | None = None,
    gapless: Callable[[str], bool] = lambda topic: True,
    start_of: Callable[[str, int, int], Awaitable[int | None]] | None = None,
    base: Callable[[str], str] = lambda topic: topic,
    hole: Callable[[str, int, int, int], Awaitable[bool]] | None = _every_jump_is_a_hole,
) -> AsyncIterator[list[EventT]]:
    """Batches of events, acked only after the agent's body finished with them.

    Two Faust behaviours can make "acked" differ from "processed", and both
    are handled here:
    - Faust's ``take``/``take_events`` (and plain ``async for``) ack in a
      ``finally``: when their generator is closed while the body is in the
      middle of a batch (the body raised, the stream stops), the events count as
      done. Here the ack runs after the ``yield``, which is reached only when
      the body completed.
    - Faust takes any jump in a partition's offsets for a compaction gap and
      later commits across it. On a topic that is neither compacted nor
      transactional a jump means records were dropped (we saw it around
      rebalances); the batch then raises OffsetGap *before* acking anything past
      the hole, the worker restarts and resumes from the committed offset. The
      first record of a partition after an assignment is held to ``start_of``
      (the committed offset): a hole at the head is a hole too.
    - ``hole`` decides whether a jump skipped records (``OffsetGuards.hole``: on Apache
      Kafka, offsets of transaction markers hold no record); None turns the check
      off (the negative control, ``INCIDENTS_FAULTS_UNGUARDED``).
    """
    # Next expected offset per partition; the guards clear it when partitions
    # are revoked or assigned, and the first record after that is held to where
    # reading had to start.
    expected = positions if positions is not None else {}
    async for events in stream.noack_take(size, within=within):
        for ev in events:
            msg = ev.message
            key = (msg.topic, msg.partition)
            want = expected.get(key)
            if want is None and start_of is not None and gapless(msg.topic):
                want = await start_of(msg.topic, msg.partition, msg.offset)
            if (
                hole is not None
                and want is not None
                and msg.offset > want
                and gapless(msg.topic)
                and await hole(msg.topic, msg.partition, want, msg.offset)
            ):
                metrics.OFFSET_GAPS.labels(base(msg.topic)).inc()
                raise OffsetGap(
                    f"{msg.topic}[{msg.partition}]: expected offset {want}, got {msg.offset}; "
                    "restarting from the committed offset instead of committing past the hole"
                )
            expected[key] = msg.offset + 1
        yield events
        for event in events:
            await stream.ack(event)


@dataclass
class OffsetGuards:
    """The offset checks of one worker's consumer: positions, holes, the head, expiries."""

    settings: Settings
    app: faust.App
    topics: Topics
    _positions: list[dict[tuple[str, int], int]] = field(default_factory=list)
    #: Every offset jump on a gapless topic is a hole (the embedded broker: it has
    #: skipped records, and nothing there writes transactions). False on Apache Kafka,
    #: where a jump can be a transaction marker: there the hole is checked (``hole``).
    strict_gaps: bool = True
    _probe: HoleProbe | None = None
    _probe_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: committed offset per partition whose expired records were already counted
    _expired_at: dict[tuple[str, int], int] = field(default_factory=dict)

    def base(self, topic: str) -> str:
        return base_name(topic, self.settings)

    def gapless(self, topic: str) -> bool:
        """Offsets cannot have holes: neither compacted nor transactional."""
        return topic not in self.topics.compacted()

    def batches(self, stream: Any, size: int, within: float) -> AsyncIterator[list[EventT]]:
        """`batches` with this worker's offset tracking (compacted topics may have holes)."""
        positions: dict[tuple[str, int], int] = {}
        self._positions.append(positions)
        return batches(
            stream,
            size,
            within,
            positions,
            self.gapless,
            start_of=self.start_of,
            base=self.base,
            hole=None if self.settings.faults.unguarded else self.hole,
        )

    async def hole(self, topic: str, partition: int, start: int, end: int) -> bool:
        """Whether the offsets ``[start, end)`` the consumer jumped over held records it
        should have read: a hole, which the worker must not commit across.

        On the embedded broker every jump is one (``strict_gaps``). On Apache Kafka a
        jump is normal where the offsets hold no record for a consumer: transaction
        markers (a transactional producer upstream: one offset per commit or abort),
        and records that retention deleted before anyone read them (counted as
        expired, as at the head of a partition). Anything else is read again by an
        independent consumer from ``start``: a record found below ``end`` is a hole.
        When the check itself fails, the jump counts as a hole (restarting is safe).
        """
        if self.strict_gaps:
            return True
        earliest = await self.log_start(topic, partition)
        if earliest is not None and earliest > start:
            self.expired(topic, partition, start, min(earliest, end))
            start = earliest
            if start >= end:
                return False
        async with self._probe_lock:
            probe = self.probe()
            try:
                first = await asyncio.to_thread(probe.first_offset, topic, partition, start, end)
            except Exception as exc:
                log.warning(
                    "offset_jump_unchecked",
                    topic=topic,
                    partition=partition,
                    expected=start,
                    got=end,
                    error=str(exc)[:300],
                )
                return True
        if first is not None:
            return True
        metrics.OFFSETS_WITHOUT_RECORDS.labels(self.base(topic)).inc(end - start)
        log.info(
            "offsets_without_records",
            topic=topic,
            partition=partition,
            expected=start,
            got=end,
            hint="transaction markers: nothing was skipped",
        )
        return False

    def probe(self) -> HoleProbe:
        if self._probe is None:
            self._probe = HoleProbe(self.settings.kafka.librdkafka())
        return self._probe

    async def log_start(self, topic: str, partition: int) -> int | None:
        """A partition's first offset, from the probe's own client (not Faust's consumer
        thread: see ``HoleProbe.log_start``); None when the broker did not answer."""
        async with self._probe_lock:
            try:
                return await asyncio.to_thread(self.probe().log_start, topic, partition)
            except Exception as exc:
                log.warning(
                    "earliest_offset_unknown",
                    topic=topic,
                    partition=partition,
                    error=str(exc)[:200],
                )
                return None

    async def start_of(self, topic: str, partition: int, offset: int) -> int | None:
        """Where reading a partition must start after an assignment: its committed offset.

        Faust sought there when the partition was assigned and keeps the figure;
        None when nothing was committed yet (or before the seek). When the first
        record read is past the committed offset, the records in between are
        either gone (retention deleted them before anyone read them: nothing to
        wait for, said in the log) or were skipped (an offset gap).
        """
        tp = TP(topic, partition)
        consumer: Any = self.app.consumer
        # Faust's own record of the committed offsets, filled by its seek on assignment.
        committed = consumer._committed_offset.get(tp)
        if committed is None or offset <= committed:
            # None: nothing committed yet, or Faust has not sought yet (records of
            # a new assignment can arrive before its seek fills the figure, and
            # aiokafka then reads from the committed offset it fetched itself).
            # Not checked: telling the two apart costs a round trip of the
            # consumer thread (~1.5 s a partition here) on every first read. A
            # partition with nothing committed is rewound to its log start by
            # the transport (incidents/stream/transport.py).
            return committed
        earliest = await self.log_start(topic, partition)
        if earliest is None:  # unknown: the committed offset stands
            return committed
        if earliest > committed:
            self.expired(topic, partition, committed, earliest)
            return earliest
        return committed

    def expired(self, topic: str, partition: int, committed: int, log_start: int) -> None:
        """Records retention deleted before this group read them: counted and logged once
        per partition and committed offset, whoever sees it first (the seek to the
        committed offsets, incidents/stream/transport.py, or the first record, ``start_of``)."""
        if self._expired_at.get((topic, partition)) == committed:
            return
        self._expired_at[(topic, partition)] = committed
        metrics.EXPIRED_UNREAD.labels(self.base(topic)).inc(log_start - committed)
        log.warning(
            "records_expired_unread",
            topic=topic,
            partition=partition,
            committed=committed,
            log_start=log_start,
            hint="retention deleted them before this group read them",
        )

    def forget_positions(self) -> None:
        """After a rebalance, each partition's next record is held to its committed
        offset again (``start_of``), not to where this process had read."""
        for positions in self._positions:
            positions.clear()
