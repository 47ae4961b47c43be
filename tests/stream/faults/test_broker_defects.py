"""The embedded broker's known defect, shown, and the reason our transport exists.

tansu 0.6 answers ListOffsets with the base offset of the partition's last
batch plus one. The high watermark it sends with fetched records is right.
If a future tansu fixes ListOffsets, the first test fails and tells us the
workaround in incidents/stream/transport.py can go. Apache Kafka answers right, and
the probe agrees with it there (it costs a fetch and changes nothing).
"""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from incidents.stream.transport import fetch_highwaters
from tests.support.brokers import Broker

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.kafka]


def _topic_with_one_batch(broker: Broker, n: int = 100) -> str:
    topic = f"hw-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    for fut in admin.create_topics([NewTopic(topic, 1, broker.replication_factor)]).values():
        fut.result()
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 200})
    for i in range(n):
        p.produce(topic, value=b"x%d" % i, key=b"%d" % i)
    p.flush()  # one linger window: the records go as one batch
    return topic


def test_list_offsets_high_watermark_is_wrong_on_tansu_and_right_on_kafka(broker: Broker) -> None:
    topic = _topic_with_one_batch(broker)
    c = Consumer(
        {"bootstrap.servers": broker.bootstrap, "group.id": "hw", "enable.auto.commit": False}
    )
    _, listed = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    c.assign([TopicPartition(topic, 0, 0)])
    read = 0
    deadline = time.monotonic() + 10
    while read < 100 and time.monotonic() < deadline:
        m = c.poll(0.2)
        if m is not None and not m.error():
            read += 1
    _, fetched = c.get_watermark_offsets(TopicPartition(topic, 0), cached=True)
    c.close()
    assert read == 100, "reading sequentially returns every record"
    assert fetched == 100, "the watermark sent with fetched records is right"
    if broker.is_kafka:
        assert listed == 100, f"Apache Kafka's ListOffsets said {listed}"
    else:
        assert listed < 100, f"ListOffsets said {listed}: if this is 100, tansu fixed the defect"


def test_the_fetch_probe_finds_the_real_end(broker: Broker) -> None:
    topic = _topic_with_one_batch(broker)
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "hw2"})
    _, listed = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    c.close()
    fixed = fetch_highwaters({"bootstrap.servers": broker.bootstrap}, {(topic, 0): listed})
    assert fixed[(topic, 0)] == 100
