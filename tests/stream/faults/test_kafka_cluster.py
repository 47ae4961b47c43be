"""Faults only a real cluster has: 3 Apache Kafka nodes, replication factor 3,
``min.insync.replicas=2``, ``acks=all`` (tests/support/brokers.py).

Each reconciles with the checker the other fault tests use (incidents/ops/verify.py:
nothing lost, nothing doubled in ClickHouse) and also counts doubles in the
incident topics and the replies, and each has a negative control that shows
the same check failing when the protection is taken away. `make test` runs
short versions; `make soak` the long ones (INCIDENTS_SOAK=1).
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import time
import uuid
from collections import Counter
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource

from incidents.kafka.local import LocalKafka
from tests.support.brokers import leader_of, wait_in_sync
from tests.support.faults import (
    FIGURES,
    SOAK,
    Load,
    assert_nothing_lost,
    expected_of,
    settle_until_complete,
)
from tests.support.stack import Stack, Worker

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.kafka_only]

PROCESSING = "enrich,group,respond"
# The rebalance pair, the RF 1 control and the compaction fault run in `make soak` only;
# `make test` keeps the leader kill and the topic configs (it stays near 20 minutes).
soak_only = pytest.mark.skipif(not SOAK, reason="a long Kafka fault: make soak runs it")


def _cluster(stack: Stack) -> LocalKafka:
    assert stack.broker.cluster is not None, "a Kafka-only test ran without Kafka"
    return stack.broker.cluster


def _probe(tag: str) -> tuple[str, bytes]:
    mention_id = f"vk:probe-{tag}-{uuid.uuid4().hex[:6]}"
    line = {
        "id": mention_id,
        "platform": "vk",
        "source": {"id": "club1"},
        "text": "Во дворе дома 5 по улице Ленина третий день не вывозят мусор, контейнеры "
        "переполнены, управляющая компания не отвечает",
        "created_at": "2026-11-20T09:00:00+03:00",
        "region_hint": "RU-IVA",
    }
    return mention_id, json.dumps(line, ensure_ascii=False).encode()


def _stored_after(
    stack: Stack, reader: Worker, since: float, tag: str, lines: list[bytes]
) -> float:
    """Publish a probe mention now; seconds from ``since`` until ClickHouse has it.

    The publish itself waits for a leader (acks=all); the figure is how long the
    pipeline, end to end, was away after the fault."""
    mention_id, line = _probe(tag)
    lines.append(line)
    stack.publish("mentions.raw", [line], [mention_id.encode()])
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if reader.scalar(f"SELECT count() FROM incidents.mentions WHERE id = '{mention_id}'"):
            return time.monotonic() - since
        time.sleep(0.25)
    raise AssertionError(f"the probe {mention_id} never reached ClickHouse")


def topic_doubles(stack: Stack) -> dict[str, int]:
    """Records written more than once to the incident topics and the replies, by their keys."""
    keys: dict[str, Any] = {
        "incidents": lambda o: (o["id"], o["version"]),
        "incidents.events": lambda o: o["event_id"],
        "replies.outbound": lambda o: o["reply_id"],
    }
    out = {}
    for base, key in keys.items():
        seen = Counter(key(json.loads(v)) for _, v, _ in stack.read_topic(base, timeout=120) if v)
        out[base] = sum(n - 1 for n in seen.values() if n > 1)
    return out


def _wipe(cluster: LocalKafka, node: int, prefix: str) -> int:
    """The node's copies of this test's partitions, gone (a lost disk)."""
    gone = 0
    for d in (cluster.node(node).dir / "data").glob(f"{prefix}*"):
        shutil.rmtree(d)
        gone += 1
    return gone


def test_kill_9_of_a_partition_leader_loses_nothing_and_doubles_nothing(stack: Stack) -> None:
    """kill -9 of the node leading a partition the worker reads and writes, under load.
    Every other kill also wipes that node's copies of the partitions (its disk is lost):
    it comes back empty and copies them from the others."""
    cluster = _cluster(stack)
    kills = 6 if SOAK else 2
    # No redeliveries in the load: a doubled record in a topic is then the fault's doing.
    load = Load(stack, total=5000 if SOAK else 1000, rate=150, seed=41, redeliver=False)
    w = stack.start_worker()
    load.start()
    extra: list[bytes] = []
    recover: list[float] = []
    rng = random.Random(3)
    for i in range(kills):
        time.sleep(rng.uniform(2.0, 4.0))
        # A partition the worker reads and writes (mentions.enriched: enrich writes it, dedup reads it).
        node = leader_of(stack.broker.bootstrap, stack.topic("mentions.enriched"), i % 4)
        killed_at = time.monotonic()
        cluster.kill(node)
        wiped = _wipe(cluster, node, stack.prefix) if i % 2 else 0
        recover.append(_stored_after(stack, w, killed_at, f"kill{i}", extra))
        cluster.start_node(node)
        print(f"\nkilled node {node} (wiped {wiped} partition copies): {recover[-1]:.1f} s")
    load.join()
    wait_in_sync(stack.broker.bootstrap, stack.prefix)
    result = settle_until_complete(stack, w, expected_of(stack, load.lines + extra))
    doubles = topic_doubles(stack)
    FIGURES.append(
        f"kill -9 of a partition leader x{kills} (3 nodes, RF 3, min ISR 2): {result.summary()}; "
        f"topic doubles {doubles}; pipeline back (probe stored) after "
        + ", ".join(f"{s:.1f}" for s in recover)
        + " s"
    )
    print("\n" + FIGURES[-1])
    assert w.alive(), f"the worker died:\n{w.tail(40)}"
    assert_nothing_lost(stack, result)
    assert not any(result.duplicated_rows.values()), result.duplicated_rows
    assert result.duplicated_replies == 0
    assert not any(doubles.values()), doubles


@soak_only
def test_negative_control_a_lost_leader_with_replication_factor_1_is_caught_losing(
    stack: Stack,
) -> None:
    """The same fault with one copy of mentions.raw: the node leading one of its
    partitions is killed and its disk lost. The checker must report the loss."""
    cluster = _cluster(stack)
    raw = stack.topic("mentions.raw")
    admin = AdminClient({"bootstrap.servers": stack.broker.bootstrap})
    from confluent_kafka.admin import NewTopic

    one_copy = NewTopic(raw, 4, 1, config={"min.insync.replicas": "1"})
    for fut in admin.create_topics([one_copy]).values():
        fut.result(30)
    load = Load(stack, total=400, rate=400, seed=43).start()
    load.join()
    node = leader_of(stack.broker.bootstrap, raw, 0)
    cluster.kill(node)
    assert _wipe(cluster, node, stack.prefix) >= 1
    cluster.start_node(node)
    w = stack.start_worker()
    _until_stored_settles(w)  # the other three partitions' mentions are in
    result = settle_until_complete(stack, w, expected_of(stack, load.lines), timeout=10)
    FIGURES.append(f"negative control (RF 1, leader's disk lost): {result.summary()}")
    print("\n" + FIGURES[-1])
    assert result.lost, "the checker must see what a single copy loses"


def _until_stored_settles(w: Worker, timeout: float = 120.0) -> None:
    """Until ClickHouse holds some mentions and the count stopped growing for 5 s."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        n = w.scalar("SELECT count() FROM incidents.mentions")
        if n != last:
            last, since = n, time.monotonic()
        elif n and time.monotonic() - since > 5:
            return
        time.sleep(0.5)


def _group_coordinator(bootstrap: str, group: str) -> int | None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        desc = admin.describe_consumer_groups([group])[group].result(timeout=10)
        return int(desc.coordinator.id)
    except Exception:
        return None


@soak_only
def test_a_broker_restarted_during_a_rebalance_loses_nothing(stack: Stack) -> None:
    """A worker joins (or leaves) and, while the group rebalances, the node coordinating
    the group is restarted (SIGTERM, as a rolling restart does)."""
    cluster = _cluster(stack)
    rounds = 4 if SOAK else 1
    sink = stack.start_worker(INCIDENTS_WORKER_ROLES="sink")
    first = stack.start_worker(INCIDENTS_WORKER_ROLES=PROCESSING)
    group = f"{stack.app_id}-enrich-group-respond"
    load = Load(stack, total=4000 if SOAK else 1200, rate=150, seed=47, redeliver=False).start()
    extra: list[bytes] = []
    recover: list[float] = []
    joined: list[Worker] = []
    for i in range(rounds):
        time.sleep(3.0)
        if joined and i % 2:
            joined.pop().stop()  # leaves: the group rebalances
        else:
            joined.append(stack.start_worker(wait=False, INCIDENTS_WORKER_ROLES=PROCESSING))
        time.sleep(1.0)  # inside the rebalance (session 6 s, rebalance timeout 5 s)
        node = _group_coordinator(stack.broker.bootstrap, group) or leader_of(
            stack.broker.bootstrap, stack.topic("mentions.raw"), 0
        )
        began = time.monotonic()
        cluster.stop_node(node)
        cluster.start_node(node)
        recover.append(_stored_after(stack, sink, began, f"rebalance{i}", extra))
    load.join()
    wait_in_sync(stack.broker.bootstrap, stack.prefix)
    result = settle_until_complete(stack, sink, expected_of(stack, load.lines + extra))
    doubles = topic_doubles(stack)
    FIGURES.append(
        f"node restarted during a rebalance x{rounds}: {result.summary()}; topic doubles "
        f"{doubles}; probe stored "
        + ", ".join(f"{s:.1f}" for s in recover)
        + " s after the restart began"
    )
    print("\n" + FIGURES[-1])
    for w in (first, sink):
        assert w.alive(), f"{w.log.name} exited with {w.proc.returncode}:\n{w.tail(60)}"
    assert_nothing_lost(stack, result)
    assert not any(result.duplicated_rows.values()), result.duplicated_rows
    assert result.duplicated_replies == 0


@soak_only
def test_negative_control_a_lossy_worker_leaving_during_the_restart_is_caught(
    stack: Stack,
) -> None:
    """The same rebalance with a worker that acks before the broker confirmed
    (INCIDENTS_FAULTS_LOSSY) and leaves by kill -9: the checker must see the loss."""
    cluster = _cluster(stack)
    sink = stack.start_worker(INCIDENTS_WORKER_ROLES="group,respond,sink")
    lossy = stack.start_worker(INCIDENTS_WORKER_ROLES="enrich", INCIDENTS_FAULTS_LOSSY="true")
    load = Load(stack, total=300, rate=300, seed=53).start()
    load.join()
    time.sleep(4.0)  # acked and committed; the outputs linger (10 s)
    node = leader_of(stack.broker.bootstrap, stack.topic("mentions.raw"), 0)
    stack.start_worker(wait=False, INCIDENTS_WORKER_ROLES="enrich")  # a rebalance
    cluster.stop_node(node)
    lossy.kill()
    cluster.start_node(node)
    time.sleep(10.0)  # whatever the lossy worker's successor and the sink still deliver
    result = settle_until_complete(stack, sink, expected_of(stack, load.lines), timeout=20)
    FIGURES.append(f"negative control (lossy worker leaves during the restart): {result.summary()}")
    print("\n" + FIGURES[-1])
    assert result.lost, "the checker must see the loss"


def _compacted(bootstrap: str, topic: str) -> tuple[dict[str, bytes], int, int]:
    """Read a topic from its start: latest value per key, records read, offsets spanned."""
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"rebuild-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": True,
        }
    )
    parts = c.list_topics(topic, timeout=10).topics[topic].partitions
    spanned = 0
    for p in parts:
        low, high = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        spanned += high - low
    c.assign([TopicPartition(topic, p, 0) for p in parts])
    latest: dict[str, bytes] = {}
    read, eof = 0, set()
    deadline = time.monotonic() + 60
    while len(eof) < len(parts) and time.monotonic() < deadline:
        msg = c.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            eof.add(msg.partition())
            continue
        read += 1
        key = (msg.key() or b"").decode()
        latest[key] = msg.value() or b""
    c.close()
    return latest, read, spanned


def _mismatches(latest: dict[str, bytes], want: dict[str, int]) -> list[str]:
    have = {k: json.loads(v)["version"] for k, v in latest.items() if v}
    ids = {json.loads(v)["id"]: k for k, v in latest.items() if v}
    out = [f"{i}: missing" for i in want if i not in ids]
    out += [
        f"{i}: v{have[ids[i]]} != v{v}" for i, v in want.items() if i in ids and have[ids[i]] != v
    ]
    return out


@soak_only
def test_worker_killed_during_compaction_and_a_fresh_consumer_rebuilds_the_latest_state(
    stack: Stack,
) -> None:
    """The incidents topic compacts while the worker is killed mid-stream; a fresh
    consumer reading it from the start gets the latest version of every incident."""
    incidents = stack.topic("incidents")
    subprocess.run(
        [sys.executable, "-m", "incidents.cli.main", "topics"],
        env=stack.env(),
        check=True,
        timeout=60,
    )
    admin = AdminClient({"bootstrap.servers": stack.broker.bootstrap})
    fast = ConfigResource(
        "topic",
        incidents,
        incremental_configs=[
            ConfigEntry(name, value, incremental_operation=AlterConfigOpType.SET)
            for name, value in {
                "segment.ms": "1000",
                "min.cleanable.dirty.ratio": "0.01",
                "min.compaction.lag.ms": "0",
            }.items()
        ],
    )
    for fut in admin.incremental_alter_configs([fast]).values():
        fut.result(30)
    load = Load(stack, total=3000 if SOAK else 900, rate=150, seed=59)
    w = stack.start_worker()
    load.start()
    # Wait until the cleaner has removed superseded versions (offsets spanned > records).
    deadline = time.monotonic() + 120
    read = spanned = 0
    while time.monotonic() < deadline:
        _, read, spanned = _compacted(stack.broker.bootstrap, incidents)
        if spanned > read > 0:
            break
        time.sleep(2)
    assert spanned > read > 0, f"the incidents topic never compacted ({read} of {spanned})"
    w.kill()  # while the load goes on and segments keep rolling and compacting
    time.sleep(2.0)
    w = stack.start_worker()
    load.join()
    result = settle_until_complete(stack, w, expected_of(stack, load.lines))
    time.sleep(5.0)  # the last segments roll and compact
    want = dict(w.query("SELECT id, max(version) FROM incidents.incidents GROUP BY id"))
    latest, read, spanned = _compacted(stack.broker.bootstrap, incidents)
    wrong = _mismatches(latest, want)
    # Negative control: a reader that misses each partition's newest record (it stopped
    # at an under-reported end, as on tansu) must be caught by the same comparison.
    stale = _stale_reader(stack.broker.bootstrap, incidents)
    caught = _mismatches(stale, want)
    holes = w.log.read_text().count('"event": "restarting_after_offset_gap"')
    FIGURES.append(
        f"worker kill -9 during compaction: {result.summary()}; incidents topic "
        f"{read} records for {spanned} offsets after compaction; rebuilt {len(latest)} "
        f"incidents, {len(wrong)} not at their latest version; negative control (reader "
        f"missing each partition's newest record): {len(caught)} caught; the restarted "
        f"worker caught {holes} holes in what it read and restarted in place for each"
    )
    print("\n" + FIGURES[-1])
    assert_nothing_lost(stack, result)
    assert not any(result.duplicated_rows.values()), result.duplicated_rows
    assert spanned > read, "compaction ran"
    assert not wrong, wrong[:10]
    assert caught, "the comparison must catch a stale rebuild"


def _stale_reader(bootstrap: str, topic: str) -> dict[str, bytes]:
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"stale-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
        }
    )
    parts = c.list_topics(topic, timeout=10).topics[topic].partitions
    ends = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts}
    c.assign([TopicPartition(topic, p, 0) for p in parts])
    latest: dict[str, bytes] = {}
    last_offset: dict[int, int] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(
        last_offset.get(p, -1) < ends[p] - 1 for p in parts if ends[p] > 0
    ):
        msg = c.poll(0.5)
        if msg is None or msg.error():
            continue
        p, o = msg.partition(), msg.offset()
        last_offset[p] = o
        if o < ends[p] - 1:  # the newest record of each partition is not read
            latest[(msg.key() or b"").decode()] = msg.value() or b""
    c.close()
    return latest


def test_the_topics_the_project_creates_have_the_declared_configs_on_kafka(stack: Stack) -> None:
    """`incidents topics` on Apache Kafka: partitions, replication, cleanup policy, retention."""
    from incidents.config.settings import load_settings
    from incidents.kafka.topics import Topics, topic_config

    env = stack.env(INCIDENTS_TOPICS_RAW_RETENTION_HOURS="48")
    out = subprocess.run(
        [sys.executable, "-m", "incidents.cli.main", "topics"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    settings = _settings_from(env, load_settings)
    topics = Topics.from_settings(settings)
    admin = AdminClient({"bootstrap.servers": stack.broker.bootstrap})
    md = admin.list_topics(timeout=10)
    resources = [ConfigResource("topic", name) for name, _ in topics.specs(settings)]
    described = {r.name: f.result(30) for r, f in admin.describe_configs(resources).items()}
    checked = 0
    for name, spec in topics.specs(settings):
        t = md.topics[name]
        assert len(t.partitions) == stack.partitions, name
        for p in t.partitions.values():
            assert len(p.replicas) == 3 and set(p.isrs) == set(p.replicas), (name, p)
        conf = described[name]
        want = {"cleanup.policy": "delete", **topic_config(spec)}
        for key, value in want.items():
            assert conf[key].value == value, (name, key, conf[key].value, value)
        assert conf["min.insync.replicas"].value == "2", name
        checked += 1
    raw = described[stack.topic("mentions.raw")]
    assert raw["retention.ms"].value == str(48 * 3_600_000)
    assert described[stack.topic("incidents")]["cleanup.policy"].value == "compact"
    FIGURES.append(f"`incidents topics` on Apache Kafka: {checked} topics as declared")


def _settings_from(env: dict[str, str], load: Any) -> Any:
    import os

    saved = {k: v for k, v in os.environ.items() if k.startswith("INCIDENTS_")}
    try:
        os.environ.update({k: v for k, v in env.items() if k.startswith("INCIDENTS_")})
        return load()
    finally:
        for k in [k for k in os.environ if k.startswith("INCIDENTS_")]:
            del os.environ[k]
        os.environ.update(saved)
