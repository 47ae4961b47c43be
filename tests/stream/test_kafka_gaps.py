"""The worker's offset guards on Apache Kafka: normal gaps pass, a real hole is caught.

On Apache Kafka offsets have gaps that lose nothing: a transactional producer
leaves one offset per commit (its marker), retention deletes records at the
head, compaction removes superseded ones (the incidents topic; covered in
tests/stream/faults/test_kafka_cluster.py). The guards written for the embedded
broker (incidents/stream/guards.py: a jump is a hole, the worker restarts in place) must
let those through and still stop at records the consumer really skipped.
Each has its negative control.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from tests.support.faults import SOAK, expected_of, settle_until_complete
from tests.support.stack import Stack, Worker

pytestmark = [pytest.mark.integration, pytest.mark.kafka_only]

RESTARTED = '"event": "restarting_after_offset_gap"'


GAP = re.compile(r"OffsetGap: (\S+)\[(\d+)\]: expected offset (\d+), got (\d+)")


def _restarts(stack: Stack) -> list[tuple[str, int, int, int]]:
    """Every offset-gap restart of the test's workers: (topic, partition, expected, got)."""
    out = []
    for w in stack.workers:
        for line in w.log.read_text(errors="replace").splitlines():
            m = GAP.search(line) if RESTARTED in line else None
            if m:
                out.append((m[1], int(m[2]), int(m[3]), int(m[4])))
    return out


def _false_alarms(stack: Stack) -> list[tuple[str, int, int, int]]:
    """Restarts over offsets that hold no record (a marker or deleted records taken for
    a hole). A restart over records that are there is a real hole the guard caught:
    on Kafka too a worker's first read after a (re)start was at times past its
    committed offset, with the records in between there (docs/operations.md)."""
    wrong = []
    for topic, partition, start, end in _restarts(stack):
        c = Consumer(
            {
                "bootstrap.servers": stack.broker.bootstrap,
                "group.id": f"check-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "isolation.level": "read_uncommitted",
                "auto.offset.reset": "earliest",
            }
        )
        c.assign([TopicPartition(topic, partition, start)])
        first = None
        deadline = time.monotonic() + 15
        while first is None and time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is not None and not msg.error():
                first = msg.offset()
        c.close()
        if first is None or first >= end:
            wrong.append((topic, partition, start, end))
    return wrong


def _expired(stack: Stack, base: str) -> int:
    """Records the workers logged as deleted before they were read (once per partition
    and committed offset: a restart in place may log the same again)."""
    seen = set()
    for w in stack.workers:
        for line in w.log.read_text(errors="replace").splitlines():
            if '"records_expired_unread"' in line and f'"{stack.topic(base)}"' in line:
                e = json.loads(line[line.index("{") :])
                seen.add((e["partition"], e["committed"], e["log_start"]))
    return sum(start - committed for _, committed, start in seen)


def _mention(run: str, i: int) -> tuple[bytes, bytes]:
    mention_id = f"vk:{run}-{i}"
    obj = {
        "id": mention_id,
        "platform": "vk",
        "source": {"id": f"club{i % 7}"},
        "text": f"Во дворе дома {i} по улице Спартака не вывозят мусор, контейнеры переполнены",
        "created_at": f"2026-11-10T09:{i % 60:02d}:00+03:00",
        "region_hint": "RU-IVA",
    }
    return mention_id.encode(), json.dumps(obj, ensure_ascii=False).encode()


def _metric(w: Worker, name: str, topic: str = "mentions.raw") -> float:
    with urllib.request.urlopen(w.url + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    for line in text.splitlines():
        if line.startswith(name + "{") and f'topic="{topic}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _stored(w: Worker, run: str) -> int:
    return int(w.scalar(f"SELECT count() FROM incidents.mentions WHERE id LIKE 'vk:{run}-%'"))


def _wait_stored(w: Worker, run: str, n: int, timeout: float = 120.0) -> int:
    deadline = time.monotonic() + timeout
    got = _stored(w, run)
    while got < n and time.monotonic() < deadline and w.alive():
        time.sleep(0.5)
        got = _stored(w, run)
    return got


def _transactions(stack: Stack, run: str, start: int, n: int, per: int = 5) -> None:
    """n mentions in transactions of ``per``: each commit leaves a marker offset."""
    p = Producer(
        {
            "bootstrap.servers": stack.broker.bootstrap,
            "transactional.id": f"tx-{uuid.uuid4().hex[:8]}",
            "partitioner": "murmur2_random",
        }
    )
    p.init_transactions(30)
    for first in range(start, start + n, per):
        p.begin_transaction()
        for i in range(first, min(first + per, start + n)):
            key, value = _mention(run, i)
            p.produce(stack.topic("mentions.raw"), value, key=key)
        p.commit_transaction(30)
    stack.external["mentions.raw"] = stack.external.get("mentions.raw", 0) + n


def _where_missing(stack: Stack, w: Worker, run: str) -> str:
    """For a failure message: the run's mentions not stored, by partition and offset, next
    to the worker group's committed offsets and the partitions' ends."""
    raw = stack.topic("mentions.raw")
    stored = {
        r[0] for r in w.query(f"SELECT id FROM incidents.mentions WHERE id LIKE 'vk:{run}-%'")
    }
    c = Consumer(
        {
            "bootstrap.servers": stack.broker.bootstrap,
            "group.id": stack.app_id,  # only asked for its committed offsets, never commits
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    parts = [TopicPartition(raw, p) for p in range(stack.partitions)]
    committed = {tp.partition: tp.offset for tp in c.committed(parts, timeout=10)}
    ends = {p.partition: c.get_watermark_offsets(p, timeout=10)[1] for p in parts}
    c.close()
    r = Consumer(
        {
            "bootstrap.servers": stack.broker.bootstrap,
            "group.id": f"check-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "auto.offset.reset": "earliest",
        }
    )
    r.assign([TopicPartition(raw, p, 0) for p in range(stack.partitions)])
    missing: dict[int, list[int]] = {}
    idle = 0
    while idle < 6:
        msg = r.poll(0.5)
        if msg is None or msg.error():
            idle += 1
            continue
        idle = 0
        key = (msg.key() or b"").decode()
        if key.startswith(f"vk:{run}-") and key not in stored:
            missing.setdefault(msg.partition(), []).append(msg.offset())
    r.close()
    return f"missing at {missing}; committed {committed}; ends {ends}"


def test_transaction_markers_are_not_holes(stack: Stack) -> None:
    """A transactional producer upstream (Kafka Connect, Flink): the worker reads past
    every marker, in the stream and at the head after a restart, without restarting."""
    stack.topic("mentions.raw")
    w = stack.start_worker()
    _transactions(stack, "tx", 0, 60)
    assert _wait_stored(w, "tx", 60) == 60, _where_missing(stack, w, "tx")
    w.stop()  # its committed offsets now point at markers
    w = stack.start_worker()
    _transactions(stack, "tx", 60, 30)
    assert _wait_stored(w, "tx", 90) == 90, _where_missing(stack, w, "tx")
    log = "\n".join(x.log.read_text() for x in stack.workers)
    assert not _false_alarms(stack)
    assert '"event": "offsets_without_records"' in log
    assert '"broker": "kafka"' in log


def test_negative_control_markers_read_as_holes_restart_the_worker(stack: Stack) -> None:
    """The same stream with the embedded broker's rule (every jump is a hole,
    INCIDENTS_KAFKA_BROKER=tansu): the worker restarts at the first marker."""
    w = stack.start_worker(INCIDENTS_KAFKA_BROKER="tansu", INCIDENTS_WORKER_GAP_RESTARTS="1")
    _transactions(stack, "txneg", 0, 30)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and RESTARTED not in w.log.read_text() and w.alive():
        time.sleep(0.5)
    assert RESTARTED in w.log.read_text(), w.tail(40)
    assert _false_alarms(stack), "it restarted over a marker, where no record was skipped"


def test_records_retention_deleted_before_they_were_read_are_counted_not_waited_for(
    stack: Stack,
) -> None:
    """Records deleted from the head of mentions.raw (retention's DeleteRecords) while
    the worker was away: counted as expired, no restart, the rest processed."""
    raw = stack.topic("mentions.raw")
    w = stack.start_worker()
    stack.publish("mentions.raw", *_batch("ret", 0, 40))
    assert _wait_stored(w, "ret", 40) == 40
    w.stop()
    stack.publish("mentions.raw", *_batch("ret", 40, 40))
    admin = AdminClient({"bootstrap.servers": stack.broker.bootstrap})
    c = Consumer({"bootstrap.servers": stack.broker.bootstrap, "group.id": "ends"})
    ends = [
        TopicPartition(raw, p, c.get_watermark_offsets(TopicPartition(raw, p), timeout=10)[1])
        for p in range(stack.partitions)
    ]
    c.close()
    for fut in admin.delete_records(ends).values():
        fut.result(30)  # everything of the second batch is gone, unread
    stack.publish("mentions.raw", *_batch("ret", 80, 20))
    w = stack.start_worker()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and _stored(w, "ret") < 60:
        time.sleep(0.5)
    ids = {r[0] for r in w.query("SELECT id FROM incidents.mentions WHERE id LIKE 'vk:ret-%'")}
    assert ids == {f"vk:ret-{i}" for i in [*range(40), *range(80, 100)]}
    assert _expired(stack, "mentions.raw") == 40
    assert _metric(w, "incidents_expired_unread_total") > 0  # counted, and kept by a restart
    assert not _false_alarms(stack)


def _create_topics(stack: Stack) -> None:
    subprocess.run(
        [sys.executable, "-m", "incidents.cli.main", "topics"],
        env=stack.env(),
        check=True,
        timeout=60,
    )


def _batch(run: str, start: int, n: int) -> tuple[list[bytes], list[bytes | None]]:
    pairs = [_mention(run, i) for i in range(start, start + n)]
    return [v for _, v in pairs], [k for k, _ in pairs]


def _hole(
    stack: Stack, tmp_path: Path, run: str, timeout: float = 120, only: str = "", **extra: str
) -> tuple[Worker, object]:
    """1200 mentions waiting, then a worker that skips 3 records once (a real hole:
    its consumer seeks past records it never fetched), on the topic ``only`` or on the
    first it reads. The seek also drops what the consumer had fetched and not yet
    handed over, so the hole starts at or before the 3 records."""
    values, keys = _batch(run, 0, 1200)
    _create_topics(stack)  # Kafka creates no topic on first use here
    # Flushed 20 at a time: Kafka hands over whole record batches, and one batch of a
    # partition's 300 mentions would reach the consumer in one fetch, leaving nothing
    # unfetched to skip.
    for i in range(0, len(values), 20):
        stack.publish("mentions.raw", values[i : i + 20], keys[i : i + 20])
    skip = tmp_path / "skip"
    skip.write_text(only)
    w = stack.start_worker(INCIDENTS_FAULTS_SKIP_FILE=str(skip), **extra)
    result = settle_until_complete(stack, w, expected_of(stack, values), timeout=timeout)
    assert not skip.exists(), "the hole was made"
    return w, result


def _skipped(w: Worker) -> tuple[str, int, int]:
    """Where the fault injection made its hole: (topic, partition, first skipped offset)."""
    for line in w.log.read_text(errors="replace").splitlines():
        if '"fault_injection_skip"' in line:
            e = json.loads(line[line.index("{") :])
            return e["topic"], e["partition"], e["skipped_from"]
    raise AssertionError("no fault_injection_skip in the log")


def test_a_real_hole_is_caught_and_read_again(stack: Stack, tmp_path: Path) -> None:
    # On mentions.raw: a hole in a compacted topic (incidents) is not one the guard
    # can tell from compaction, and the skip would take the first topic that has
    # records left to fetch.
    w, result = _hole(stack, tmp_path, "hole", only="mentions.raw")
    assert not result.lost, result.summary()  # type: ignore[attr-defined]
    assert not any(result.duplicated_rows.values())  # type: ignore[attr-defined]
    topic, partition, start = _skipped(w)
    # The guard's restart covers the skipped records (and what the seek dropped before them).
    assert any(
        r[:2] == (topic, partition) and r[2] <= start and r[3] >= start + 3
        for r in _restarts(stack)
    ), (topic, partition, start, _restarts(stack))
    assert not _false_alarms(stack)
    assert w.alive()


@pytest.mark.faults  # so that `make soak` (-m faults) runs it
@pytest.mark.skipif(not SOAK, reason="the longest Kafka control (~80 s): make soak runs it")
def test_negative_control_an_unguarded_worker_commits_across_the_hole(
    stack: Stack, tmp_path: Path
) -> None:
    _, result = _hole(
        stack,
        tmp_path,
        "unguarded",
        45,
        only="mentions.raw",
        INCIDENTS_FAULTS_UNGUARDED="true",
    )
    # At least the 3 skipped mentions (the seek also drops what was fetched and not yet
    # handed over).
    assert len(result.lost) >= 3, result.summary()  # type: ignore[attr-defined]
