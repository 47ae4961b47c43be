"""Faust's aiokafka transport, with high watermarks a table recovery can trust
and a rewind that does not skip partitions nobody has committed yet
(``Consumer.seek_to_committed`` below).

Faust decides that a table has recovered when it has read its changelog up to
the partition's high watermark, which it asks with ListOffsets. The embedded
broker (tansu 0.6) answers ListOffsets with the base offset of the partition's
last *batch* plus one, not the end of the log (docs/operations.md). Two things
then go wrong, both seen in our rebalance tests:

- recovery stops before the last batch: the table silently misses its newest
  writes (a mention the desk already decided is seen as new again);
- a worker that gets a partition back after having read further than the
  under-reported watermark crashes with Faust's ConsistencyError
  ("persisted offset ... is higher than the last offset in that topic").

The high watermark a broker returns *with fetched records* is right on tansu
as on Kafka. This transport asks for it: for each partition, it fetches from
just before the ListOffsets answer with a throw-away librdkafka consumer and
takes the larger of the two. On a correct broker both agree and the cost is one
small fetch per partition per recovery. Nothing in Faust or the broker is
patched: the transport is selected by the broker URL scheme (``kafkasafe://``),
which is registered below.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import confluent_kafka as ck
from confluent_kafka.admin import AdminClient
from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from incidents.observability.logs import get as get_logger

SCHEME = "kafkasafe"
log = get_logger("incidents.stream.transport")


def fetch_highwaters(
    librdkafka_conf: dict[str, Any],
    reported: Mapping[tuple[str, int], int],
    timeout: float = 10.0,
) -> dict[tuple[str, int], int]:
    """The end of each partition as the broker reports it with fetched records."""

    if not reported:
        return {}
    consumer = ck.Consumer(
        {
            **librdkafka_conf,
            "group.id": f"incidents-hw-probe-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": 10,
        }
    )
    found: dict[tuple[str, int], int] = {}
    try:
        consumer.assign(
            [ck.TopicPartition(t, p, max(0, off - 1)) for (t, p), off in reported.items()]
        )
        deadline = time.monotonic() + timeout
        while len(found) < len(reported) and time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            err = msg.error()
            if err is not None and err.code() != ck.KafkaError._PARTITION_EOF:
                continue
            topic, partition = msg.topic(), msg.partition()
            # records and partition-EOF events always name their partition
            assert topic is not None and partition is not None
            key = (topic, partition)
            _, high = consumer.get_watermark_offsets(ck.TopicPartition(*key), cached=True)
            if high is not None and high >= 0:
                found[key] = max(found.get(key, 0), high)
    finally:
        consumer.close()
    return {key: max(off, found.get(key, off)) for key, off in reported.items()}


def broker_kind(librdkafka_conf: dict[str, Any], timeout: float = 10.0) -> str:
    """``tansu`` for the embedded broker, ``kafka`` for Apache Kafka and the rest.

    Told by the cluster id in the metadata: tansu reports ``tansu_cluster`` unless
    started with another one (incidents/kafka/embedded.py starts it with the default).
    """

    md = AdminClient({**librdkafka_conf, "log_level": 0}).list_topics(timeout=timeout)
    return "tansu" if (md.cluster_id or "").startswith("tansu") else "kafka"


class HoleProbe:
    """Reads a partition from an offset with its own librdkafka consumer, to tell an
    offset jump that skipped records (a hole) from offsets that hold none for a
    consumer (transaction markers; on compacted topics, compacted records).

    Same isolation level as Faust's consumer (read_uncommitted with
    ``processing_guarantee=at_least_once``): what it reads, the worker should have.
    One consumer per worker, created on the first jump; one question at a time.
    """

    def __init__(self, librdkafka_conf: dict[str, Any]) -> None:
        self.conf = librdkafka_conf
        self._consumer: Any = None

    def _client(self) -> Any:
        if self._consumer is None:
            self._consumer = ck.Consumer(
                {
                    **self.conf,
                    "group.id": f"incidents-hole-probe-{uuid.uuid4().hex[:8]}",
                    "enable.auto.commit": False,
                    "enable.partition.eof": True,
                    "auto.offset.reset": "earliest",
                    "isolation.level": "read_uncommitted",
                    "fetch.wait.max.ms": 10,
                }
            )
        return self._consumer

    def log_start(self, topic: str, partition: int) -> int:
        """The partition's first offset (retention moves it), asked of the partition's
        leader directly: ~1 ms, where Faust's consumer thread answered the same in
        ~1.5 s a question, and on Apache Kafka now and then not at all (a worker
        reading past transaction markers stalled on it)."""
        low, _high = self._client().get_watermark_offsets(
            ck.TopicPartition(topic, partition), timeout=10.0, cached=False
        )
        return int(low)

    def first_offset(self, topic: str, partition: int, start: int, end: int) -> int | None:
        """The offset of the first record at or after ``start``, if it is below ``end``;
        None when the offsets ``[start, end)`` hold no record."""
        c = self._client()
        c.assign([ck.TopicPartition(topic, partition, start)])
        try:
            deadline = time.monotonic() + 15.0
            while time.monotonic() < deadline:
                msg = c.poll(0.2)
                if msg is None or msg.topic() != topic or msg.partition() != partition:
                    continue
                err = msg.error()
                if err is not None:
                    if err.code() == ck.KafkaError._PARTITION_EOF:
                        return None  # the end of the log, and nothing before it
                    continue
                offset = msg.offset()
                assert offset is not None  # a record always has one
                return offset if offset < end else None
            raise TimeoutError(f"{topic}[{partition}] from {start}: no answer within 15 s")
        finally:
            c.unassign()

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None


class Consumer(faust_aiokafka.Consumer):
    #: the expired-record counts running beside a rebalance (kept so none is collected)
    _counting: ClassVar[set[asyncio.Future[None]]] = set()

    async def highwaters(self, *partitions: TP) -> Mapping[TP, int]:
        reported = await super().highwaters(*partitions)
        conf = getattr(self.app, "librdkafka_conf", None)
        if not conf or not reported:
            return reported
        keys = {(tp.topic, tp.partition): int(off) for tp, off in reported.items()}
        try:
            fixed = await asyncio.to_thread(fetch_highwaters, conf, keys)
        except Exception as exc:  # the probe is an improvement, never a new failure
            log.warning("highwater_probe_failed", error=str(exc)[:200])
            return reported
        raised = {k: (keys[k], v) for k, v in fixed.items() if v != keys[k]}
        if raised:
            log.info(
                "highwaters_corrected",
                partitions=len(raised),
                examples=str(list(raised.items())[:3]),
            )
        return {tp: fixed[(tp.topic, tp.partition)] for tp in reported}

    async def seek_to_committed(self) -> Mapping[TP, int]:
        """Seek to the committed offsets, and a partition with none to its log start.

        Faust rewinds with this whenever it threw fetched records away (a
        partition paused for table recovery, flow stopped by a rebalance, a new
        generation mid-batch). aiokafka seeks only partitions that have a
        committed offset, so a partition nobody committed yet stayed where the
        fetcher had got to, and the records thrown away were never read again:
        seen in the rebalance test as a run of a few hundred mentions missing
        from a partition whose first owner left before its first commit. No
        committed offset means "start at the log start" (auto_offset_reset is
        earliest); this makes the rewind say so too. Table changelogs are left
        to Faust's recovery, which seeks them itself.
        """
        committed = await super().seek_to_committed()
        changelogs = self.app.tables.changelog_topics
        unread = [
            tp for tp, offset in committed.items() if not offset and tp.topic not in changelogs
        ]
        if unread:
            await self._thread.seek_to_beginning(*unread)
            log.info(
                "rewound_to_log_start",
                partitions=" ".join(sorted(f"{tp.topic}:{tp.partition}" for tp in unread)[:40]),
                hint="nothing committed on these yet",
            )
        await self._count_expired(
            {tp: off for tp, off in committed.items() if off and tp.topic not in changelogs}
        )
        return committed

    async def _count_expired(self, committed: Mapping[TP, int]) -> None:
        """Records retention deleted before the group read them, counted where the committed
        offsets are sought: the first record of such a partition often arrives before
        Faust knows its committed offset, and the head check (``OffsetGuards.start_of``,
        incidents/stream/guards.py) then has nothing to compare it with (seen on Apache
        Kafka).

        The count runs beside the rebalance, never inside it: Faust awaits this seek
        before table recovery, and asking its own consumer thread for the log starts
        here once left a restarted worker recovered and then reading nothing for two
        minutes (tests/observability/test_alerts.py on tansu). The log starts come from
        the hole probe's client (``OffsetGuards.log_start``, bounded by its timeout).
        """
        guards = getattr(self.app, "incidents_offsets", None)
        if guards is None or not committed:
            return
        task = asyncio.ensure_future(self._expired_of(guards, dict(committed)))
        self._counting.add(task)
        task.add_done_callback(self._counting.discard)

    async def _expired_of(self, guards: Any, committed: dict[TP, int]) -> None:
        for tp, offset in committed.items():
            start = await guards.log_start(tp.topic, tp.partition)
            if start is not None and start > offset:
                guards.expired(tp.topic, tp.partition, offset, start)


class Transport(faust_aiokafka.Transport):
    Consumer = Consumer


def broker_urls(hosts: Sequence[str]) -> str:
    return ";".join(f"{SCHEME}://{h}" for h in hosts)


TRANSPORTS.aliases.setdefault(SCHEME, "incidents.stream.transport:Transport")
