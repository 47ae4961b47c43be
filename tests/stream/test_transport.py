"""Faust's rewind over the real broker: records thrown away are read again.

Faust throws fetched records away when it pauses a partition or stops the
flow for a rebalance, and then rewinds with ``perform_seek``. A partition that
nobody has committed yet must rewind to its log start, or the records thrown
away are never read (incidents/stream/transport.py). The rebalance fault test found the
loss; this test holds the rewind to it on its own, in one process.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import faust
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

import incidents.stream.transport  # noqa: F401  # registers kafkasafe://
from incidents.stream.transport import broker_urls
from tests.support.brokers import Broker

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


def _topic_with_records(broker: Broker, n: int) -> str:
    topic = f"rewind-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    for fut in admin.create_topics([NewTopic(topic, 1, broker.replication_factor)]).values():
        fut.result()
    p = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(n):
        p.produce(topic, value=b"%d" % i)
    p.flush()
    return topic


async def _offsets_read_around_a_rewind(broker: Broker, topic: str, datadir: Path) -> list[int]:
    app = faust.App(
        f"rewind-{uuid.uuid4().hex[:8]}",
        broker=broker_urls([broker.bootstrap]),
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=3600.0,  # nothing is committed during the test
        broker_commit_every=10**9,
        web_enabled=False,
        broker_session_timeout=6.0,
        broker_heartbeat_interval=1.0,
        broker_rebalance_timeout=5.0,
        datadir=str(datadir),
        topic_replication_factor=broker.replication_factor,
    )
    source = app.topic(topic, value_type=bytes, value_serializer="raw")
    seen: list[int] = []
    rewound = asyncio.Event()
    done = asyncio.Event()

    @app.agent(source)
    async def reader(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            seen.append(event.message.offset)
            if event.message.offset == 20 and not rewound.is_set():
                # What Faust does around a rebalance (app.base._on_partitions_revoked,
                # tables.recovery._resume_streams): stop the flow and throw away what
                # was fetched and not yet handed over, then seek and resume. Without the
                # clear, records fetched past 20 (Apache Kafka hands a whole backlog over
                # in one fetch) reach the agent first, and Faust then drops the rewound
                # ones as already read (its last-read offset is past them).
                rewound.set()
                app.consumer.stop_flow()
                app.flow_control.suspend()
                app.flow_control.clear()
                await app.consumer.perform_seek()
                app.flow_control.resume()
                app.consumer.resume_flow()
            if rewound.is_set() and seen.count(0) == 2:
                done.set()

    await app.start()
    try:
        await asyncio.wait_for(done.wait(), timeout=30)
    except TimeoutError:
        pass
    finally:
        await app.stop()
    return seen


def test_a_rewind_with_nothing_committed_reads_from_the_log_start(
    broker: Broker, tmp_path: Path
) -> None:
    topic = _topic_with_records(broker, 50)
    seen = asyncio.run(_offsets_read_around_a_rewind(broker, topic, tmp_path))
    assert 20 in seen, f"the agent never got to offset 20: {seen[:30]}"
    after = seen[seen.index(20) + 1 :]
    assert 0 in after, f"after the rewind reading went on from {after[:5]}, not the log start"
