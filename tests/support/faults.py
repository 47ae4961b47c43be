"""Fault injection over the real broker and chDB: load, faults, reconciliation.

Each test publishes a steady load of mentions (appeals with reposts and
redeliveries, plus invalid lines), injects a fault, and then reconciles what
went in with what ClickHouse holds (incidents.ops.verify): nothing lost, nothing
written twice, every invalid input dead-lettered. `make test` runs short
versions; `make soak` runs the targets from the issue (INCIDENTS_SOAK=1).
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from incidents.config.settings import EnrichSettings
from incidents.domain.enrichment import Enricher
from incidents.ops.verify import Expected, Reconciliation, reconcile
from tests.support.paths import SAMPLE
from tests.support.stack import Stack, Worker

SOAK = os.environ.get("INCIDENTS_SOAK") == "1"


def _sample_texts() -> list[str]:
    out = []
    for line in (SAMPLE / "mentions.jsonl").read_bytes().splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("text"), str) and len(obj["text"]) > 40:
            out.append(obj["text"])
    return out


REGIONS = ["RU-TVE", "RU-IVA", "RU-NVS", "RU-MOW", "RU-SPE", "RU-NIZ"]


@dataclass
class Load:
    """Publishes mentions at a steady rate from a background thread and remembers them."""

    stack: Stack
    total: int
    rate: float
    seed: int = 1
    redeliver: bool = True  # 3 % byte-for-byte repeats (they re-emit their incident events)
    lines: list[bytes] = field(default_factory=list)
    _thread: threading.Thread | None = None
    error: BaseException | None = None

    def make(self) -> list[bytes]:
        rng = random.Random(self.seed)
        texts = _sample_texts()
        t0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
        out: list[bytes] = []
        run = f"{self.seed}-{rng.randrange(10**6)}"
        for i in range(self.total):
            r = rng.random()
            if r < 0.03 and out and self.redeliver:  # an earlier line again, byte for byte
                out.append(rng.choice(out))
                continue
            if r < 0.05:  # invalid input
                out.append(
                    rng.choice(
                        [b'{"id": "vk:broken', b"\xff\xfe not json", b"[]", b'{"id":"vk:x"}']
                    )
                )
                continue
            text = rng.choice(texts)
            if r < 0.15:
                text = "Подписчики пишут: " + text + " #репост"
            obj = {
                "id": f"vk:load-{run}-{i}",
                "platform": "vk",
                "source": {"id": f"club{i % 17}"},
                "text": f"{text} (№{i})" if r >= 0.15 else text,
                "created_at": (t0 + timedelta(seconds=20 * i)).isoformat(),
                "region_hint": REGIONS[i % len(REGIONS)],
            }
            out.append(json.dumps(obj, ensure_ascii=False).encode())
        return out

    def start(self) -> Load:
        self.lines = self.make()

        def run() -> None:
            try:
                p = self.stack.producer()
                for i, line in enumerate(self.lines):
                    key = None
                    if line.startswith(b'{"id": "vk:load'):
                        key = json.loads(line)["id"].encode()
                    p.publish(self.stack.topic("mentions.raw"), line, key=key)
                    if i % 50 == 0:
                        time.sleep(50 / self.rate)
                p.flush()
            except BaseException as exc:  # surfaced by join()
                self.error = exc

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        return self

    def join(self, timeout: float = 300) -> None:
        assert self._thread is not None
        self._thread.join(timeout)
        if self.error:
            raise self.error

    @property
    def done(self) -> bool:
        return self._thread is not None and not self._thread.is_alive()


_ENRICHER: list[Enricher] = []


def expected_of(stack: Stack, lines: list[bytes]) -> Expected:
    if not _ENRICHER:
        _ENRICHER.append(Enricher.from_settings(EnrichSettings()))
    return Expected.of_lines(lines, _ENRICHER[0], stack.topic("mentions.raw"))


def settle_until_complete(
    stack: Stack, reader: Worker, expected: Expected, timeout: float = 240.0, quiet_s: float = 3.0
) -> Reconciliation:
    """Poll ClickHouse until nothing is missing, then wait a little for late doubles."""
    from incidents.oversight.report import http_query

    deadline = time.monotonic() + timeout
    result = None
    while time.monotonic() < deadline:
        try:
            result = reconcile(expected, http_query(reader.url))
        except Exception:
            time.sleep(1)
            continue
        if not result.lost and not result.missing_dead_letters:
            time.sleep(quiet_s)
            return reconcile(expected, http_query(reader.url))
        time.sleep(1)
    assert result is not None, "ClickHouse never answered"
    return result


def where_lost(
    stack: Stack,
    lost: list[str],
    topics: tuple[str, ...] = (
        "mentions.raw",
        "mentions.enriched",
        "mentions.deduped",
        "mentions.resolved",
    ),
) -> str:
    """Where each lost mention got to: the topic positions that hold it, and what
    the workers logged about offsets and partitions. A loss under a fault is rare
    and timing-bound; this is what tells the next reader which stage dropped it."""
    from confluent_kafka import Consumer, TopicPartition

    wanted = {i.encode(): i for i in lost[:20]}
    found: dict[str, list[str]] = {i: [] for i in wanted.values()}
    for base in topics:
        name = stack.topic(base)
        c = Consumer(
            {
                "bootstrap.servers": stack.broker.bootstrap,
                "group.id": f"trace-{time.monotonic_ns()}",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            }
        )
        parts = c.list_topics(name, timeout=10).topics[name].partitions
        c.assign([TopicPartition(name, p, 0) for p in parts])
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < 2.0:
            msg = c.poll(0.2)
            if msg is None or msg.error():
                continue
            quiet_since = time.monotonic()
            value = msg.value() or b""
            for raw_id, mention_id in wanted.items():
                if raw_id in value:
                    found[mention_id].append(f"{base}[{msg.partition()}]@{msg.offset()}")
        c.close()
    lines = [f"{i}: {', '.join(at) or 'in no topic'}" for i, at in found.items()]
    lines.extend(group_positions(stack))
    keywords = ("gap", "assigned", "expired", "restart", "crash", "highwater", "error")
    for w in stack.workers:
        noted = [
            line
            for line in w.log.read_text(errors="replace").splitlines()
            if any(k in line.lower() for k in keywords)
        ]
        lines.append(f"--- {w.log.name} ({len(noted)} lines about offsets/partitions)")
        lines.extend(line[:300] for line in noted[-25:])
    return "\n".join(lines)


def group_positions(
    stack: Stack,
    topics: tuple[str, ...] = (
        "mentions.raw",
        "mentions.enriched",
        "mentions.deduped",
        "mentions.resolved",
        "mentions.dlq",
    ),
) -> list[str]:
    """Per partition: each consumer group's committed offset / the end of the log.

    The end is ListOffsets', which the embedded broker under-reports by up to a
    batch (docs/operations.md), so a committed offset a little past it is normal;
    one far behind it long after the load stopped is the stage that stalled, and
    -1001 (nothing committed) on a partition that has records is a stage that never
    read it. The app ids come from the workers' start lines."""
    from confluent_kafka import Consumer, TopicPartition

    groups = sorted(
        {
            json.loads(line[line.index("{") :])["app_id"]
            for w in stack.workers
            for line in w.log.read_text(errors="replace").splitlines()
            if '"worker_starting"' in line and "{" in line
        }
    )
    lines = ["--- end of log / committed offset per group: " + ", ".join(groups)]
    for base in topics:
        name = stack.topic(base)
        cells = []
        for group in groups:
            c = Consumer({"bootstrap.servers": stack.broker.bootstrap, "group.id": group})
            try:
                parts = c.list_topics(name, timeout=10).topics[name].partitions
                tps = [TopicPartition(name, p) for p in sorted(parts)]
                committed = c.committed(tps, timeout=10)
                ends = [c.get_watermark_offsets(tp, timeout=10)[1] for tp in tps]
                cells.append(
                    " ".join(
                        f"{tp.partition}:{ct.offset}/{end}"
                        for tp, ct, end in zip(tps, committed, ends, strict=True)
                    )
                )
            except Exception as exc:  # diagnostics only
                cells.append(f"unknown ({exc})")
            finally:
                c.close()
        lines.append(f"{base}: " + " | ".join(cells))
    return lines


def assert_nothing_lost(stack: Stack, result: Reconciliation) -> None:
    if result.lost:
        raise AssertionError(
            f"lost {len(result.lost)}: {result.lost[:5]}\n{where_lost(stack, result.lost)}"
        )
    if result.missing_dead_letters:
        raise AssertionError(
            f"{len(result.missing_dead_letters)} invalid inputs not dead-lettered: "
            f"{result.missing_dead_letters[:5]}\n" + "\n".join(group_positions(stack))
        )


#: what the fault tests measured, printed at the end of the session
TOTALS = {"lines": 0, "rejected": 0}  # bad input through `process`
FIGURES: list[str] = []  # the Kafka cluster faults


@pytest.fixture
def fault_stack(stack: Stack) -> Iterator[Stack]:
    yield stack


def pytest_terminal_summary(terminalreporter: object) -> None:
    for line in FIGURES:
        terminalreporter.write_line(line)  # type: ignore[attr-defined]

    if TOTALS["lines"]:
        terminalreporter.write_line(  # type: ignore[attr-defined]
            f"bad input through `process`: {TOTALS['lines']} generated lines, "
            f"{TOTALS['rejected']} rejected with a reason, 0 crashes, every line accounted for"
        )
