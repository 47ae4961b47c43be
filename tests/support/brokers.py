"""Which broker the integration tests run on: tansu, Apache Kafka, or both.

``INCIDENTS_TEST_BROKER`` picks it:

- ``tansu``: every integration test on the embedded broker (the only choice
  without Java 17 and Maven);
- ``kafka``: every integration test on a local 3-node Apache Kafka
  (``incidents/kafka/local.py``: KRaft, replication factor 3,
  ``min.insync.replicas=2``), plus the tests only a real cluster can run;
- ``both``: every integration test on tansu, and on Kafka the representative
  subset marked ``kafka`` plus the Kafka-only tests (marked ``kafka_only``).
  `make soak` with it runs the long faults of that subset on both.

Unset: ``both`` where Java 17 and Maven are present (the broker's jars come
from Maven Central the first time, then from the cache), ``tansu`` otherwise.
The pytest header says which ran and why.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from incidents.kafka.embedded import EmbeddedBroker
from incidents.kafka.local import KafkaUnavailable, LocalKafka, kafka_version, unavailable_reason

ENV = "INCIDENTS_TEST_BROKER"
CHOICES = ("tansu", "kafka", "both")


@dataclass(frozen=True)
class Choice:
    mode: str  # tansu | kafka | both
    explicit: bool  # asked for in INCIDENTS_TEST_BROKER (a broker that cannot start fails)
    why: str  # why this mode, for the header

    @property
    def params(self) -> list[str]:
        return {"tansu": ["tansu"], "kafka": ["kafka"], "both": ["tansu", "kafka"]}[self.mode]


def choose() -> Choice:
    asked = os.environ.get(ENV, "").strip().lower()
    if asked:
        if asked not in CHOICES:
            raise pytest.UsageError(f"{ENV}={asked!r}: choose one of {', '.join(CHOICES)}")
        return Choice(asked, True, f"{ENV}={asked}")
    reason = unavailable_reason()
    if reason:
        return Choice("tansu", False, f"Apache Kafka unavailable: {reason}")
    return Choice("both", False, f"Java and Maven found; {ENV}=tansu runs the embedded broker only")


CHOICE = choose()


def header() -> str:
    kafka = f"Apache Kafka {kafka_version()} (local KRaft, 3 nodes, RF 3, min.insync.replicas 2)"
    if CHOICE.mode == "tansu":
        return f"brokers: tansu only ({CHOICE.why})"
    if CHOICE.mode == "kafka":
        return f"brokers: {kafka}, every integration test ({CHOICE.why})"
    return (
        f"brokers: tansu (every integration test) and {kafka} (the tests marked kafka "
        f"and kafka_only; {ENV}=kafka runs every one there) ({CHOICE.why})"
    )


def runs(item: pytest.Item) -> bool:
    """Whether a collected test runs: Kafka-only tests leave tansu runs; in `both`,
    only the subset marked ``kafka`` (and the Kafka-only tests) runs on Kafka."""
    callspec = getattr(item, "callspec", None)
    broker = callspec.params.get("broker") if callspec is not None else None
    only = item.get_closest_marker("kafka_only") is not None
    if broker != "kafka":
        return not only
    return CHOICE.mode != "both" or only or item.get_closest_marker("kafka") is not None


def deselect(items: list[pytest.Item]) -> tuple[list[pytest.Item], list[pytest.Item]]:
    """(kept, deselected), by ``runs``."""
    kept = [i for i in items if runs(i)]
    return kept, [i for i in items if not runs(i)]


@dataclass
class Broker:
    """The broker a test session runs on, whichever it is."""

    name: str  # tansu | kafka
    bootstrap: str
    replication_factor: int = 1
    embedded: EmbeddedBroker | None = None
    cluster: LocalKafka | None = None

    @property
    def is_kafka(self) -> bool:
        return self.name == "kafka"


#: The Kafka cluster of this test process, shared by the conftests that each define the
#: fixture (integration, faults): started once, stopped by the last user. (Each of them
#: gets its own embedded broker, as before.)
_RUNNING: dict[str, tuple[Broker, int]] = {}


def start(name: str, root: Path) -> Iterator[Broker]:
    if name == "tansu":
        b = _start(name, root)
        try:
            yield b
        finally:
            assert b.embedded is not None
            b.embedded.stop()
        return
    if name in _RUNNING:
        b, users = _RUNNING[name]
        _RUNNING[name] = (b, users + 1)
    else:
        b = _start(name, root)
        _RUNNING[name] = (b, 1)
    try:
        yield b
    finally:
        b, users = _RUNNING[name]
        if users > 1:
            _RUNNING[name] = (b, users - 1)
        else:
            del _RUNNING[name]
            if b.cluster is not None:
                b.cluster.stop()


def _start(name: str, root: Path) -> Broker:
    if name == "tansu":
        e = EmbeddedBroker(log_path=root / "tansu.log").start()
        return Broker("tansu", e.bootstrap, 1, embedded=e)
    k = LocalKafka(root=root, brokers=3, heap="320m")
    try:
        k.start(timeout=180)
    except KafkaUnavailable as exc:
        if CHOICE.explicit:
            raise
        pytest.skip(f"Apache Kafka did not start: {exc}")
    return Broker("kafka", k.bootstrap, k.replication_factor, cluster=k)


def leader_of(bootstrap: str, topic: str, partition: int) -> int:
    """The node leading a partition now."""
    from confluent_kafka.admin import AdminClient

    md = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=10)
    return int(md.topics[topic].partitions[partition].leader)


def wait_in_sync(bootstrap: str, prefix: str = "", timeout: float = 120.0) -> None:
    """Until every replica of every topic (with the prefix) is in sync again."""
    import time

    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + timeout
    behind: list[str] = []
    while time.monotonic() < deadline:
        md = admin.list_topics(timeout=10)
        behind = [
            f"{t}[{p}]"
            for t, tm in md.topics.items()
            if t.startswith(prefix)
            for p, pm in tm.partitions.items()
            if set(pm.isrs) != set(pm.replicas)
        ]
        if not behind:
            return
        time.sleep(1)
    raise AssertionError(f"replicas still out of sync after {timeout:.0f} s: {behind[:10]}")
