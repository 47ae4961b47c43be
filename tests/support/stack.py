"""Fixtures for tests over a real broker (tansu, Apache Kafka or both) and real chDB.

One broker per test session and kind (tests/support/brokers.py: INCIDENTS_TEST_BROKER);
each test module gets its own topic prefix and
consumer group, so modules do not see each other's messages. Workers run as
subprocesses (`incidents worker`), exactly as deployed, and own their chDB
directory; tests read ClickHouse through the worker's /query endpoint.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from incidents.config.settings import KafkaSettings
from incidents.contracts.topology import STAGES
from incidents.kafka.embedded import free_port
from incidents.kafka.producer import MentionProducer
from incidents.ops import probe
from tests.support import brokers
from tests.support.brokers import Broker

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session", params=brokers.CHOICE.params)
def broker(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Broker]:
    """The embedded broker, or a local 3-node Apache Kafka (tests/support/brokers.py)."""
    yield from brokers.start(request.param, tmp_path_factory.mktemp(request.param))


@dataclass
class Worker:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path
    env: dict[str, str]

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 40.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def tail(self, n: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        from incidents.oversight.report import http_query

        deadline = time.monotonic() + 60
        while True:
            try:
                return http_query(self.url)(sql)[1]
            except OSError as exc:
                # A worker restarting in place after an offset gap is briefly away.
                if self.alive() and time.monotonic() < deadline:
                    time.sleep(1)
                    continue
                # The worker is gone: say why, from its own log.
                state = "running" if self.alive() else f"exited with {self.proc.returncode}"
                raise AssertionError(
                    f"worker at {self.url} unreachable ({exc}); {state}; its log:\n{self.tail(60)}"
                ) from None

    def scalar(self, sql: str) -> Any:
        return self.query(sql)[0][0]


@dataclass
class Stack:
    """A test's own corner of the broker: topic prefix, app id, ClickHouse directory."""

    broker: Broker
    root: Path
    prefix: str
    app_id: str
    partitions: int = 4
    workers: list[Worker] = field(default_factory=list)
    external: dict[str, int] = field(default_factory=dict)

    @property
    def clickhouse_url(self) -> str:
        return f"chdb://{self.root / 'clickhouse'}"

    def topic(self, base: str) -> str:
        return f"{self.prefix}{base}"

    def env(self, **extra: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("INCIDENTS_")}
        base.update(
            INCIDENTS_KAFKA_BOOTSTRAP=self.broker.bootstrap,
            INCIDENTS_TOPICS_PREFIX=self.prefix,
            INCIDENTS_TOPICS_PARTITIONS=str(self.partitions),
            INCIDENTS_TOPICS_REPLICATION_FACTOR=str(self.broker.replication_factor),
            INCIDENTS_WORKER_APP_ID=self.app_id,
            INCIDENTS_WORKER_DATA_DIR=str(self.root / "worker"),
            INCIDENTS_CLICKHOUSE_URL=self.clickhouse_url,
            INCIDENTS_CLICKHOUSE_FLUSH_INTERVAL_S="0.5",
            INCIDENTS_LOGLEVEL="info",
        )
        base.update(extra)
        return base

    def start_worker(self, wait: bool = True, **extra: str) -> Worker:
        port = free_port()
        env = self.env(INCIDENTS_WORKER_WEB_PORT=str(port), **extra)
        log = self.root / f"worker-{len(self.workers)}-{port}.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "incidents.cli.main", "worker"],
            env=env,
            stdout=open(log, "wb"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        w = Worker(proc, f"http://127.0.0.1:{port}", log, env)
        self.workers.append(w)
        if wait:
            try:
                probe.wait_ready([w.url], alive=w.alive, timeout=120)
            except Exception as exc:
                raise AssertionError(f"worker did not start: {exc}\n{w.tail()}") from None
        return w

    def producer(self) -> MentionProducer:
        return MentionProducer(KafkaSettings(bootstrap=self.broker.bootstrap), client_id="tests")

    def publish(
        self, base: str, values: Sequence[bytes], keys: Sequence[bytes | None] | None = None
    ) -> None:
        p = self.producer()
        for i, v in enumerate(values):
            p.publish(self.topic(base), v, key=keys[i] if keys else None)
        p.flush()
        self.external[base] = self.external.get(base, 0) + len(values)

    def wait_drained(self, timeout: float = 120.0, roles: set[str] | None = None) -> None:
        live = [w for w in self.workers if w.alive()]
        try:
            probe.wait_drained(
                [w.url for w in live],
                self.external,
                roles or set(STAGES),
                timeout=timeout,
                alive=lambda: all(w.alive() for w in live),
            )
        except Exception as exc:
            tails = "\n---\n".join(w.tail(15) for w in self.workers)
            raise AssertionError(f"pipeline did not drain: {exc}\n{tails}") from None

    def read_topic(
        self, base: str, timeout: float = 10.0
    ) -> list[tuple[bytes | None, bytes, dict[str, bytes]]]:
        """Every message of a topic, read from offset 0 by a plain confluent-kafka consumer.

        Reads until no message arrives for 2 s (the embedded broker's high
        watermark cannot be trusted to say where the end is).
        """
        c = Consumer(
            {
                "bootstrap.servers": self.broker.bootstrap,
                "group.id": f"reader-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            }
        )
        md = c.list_topics(self.topic(base), timeout=10)
        parts = md.topics[self.topic(base)].partitions
        c.assign([TopicPartition(self.topic(base), p, 0) for p in parts])
        out = []
        deadline = time.monotonic() + timeout
        quiet_since = time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - quiet_since < 2.0:
            msg = c.poll(0.2)
            if msg is None:
                continue
            if msg.error():
                continue
            quiet_since = time.monotonic()
            out.append((msg.key(), msg.value(), dict(msg.headers() or [])))
        c.close()
        return out

    def stop_all(self) -> None:
        for w in self.workers:
            w.stop()


@pytest.fixture
def stack(broker: Broker, tmp_path: Path) -> Iterator[Stack]:
    s = Stack(
        broker, tmp_path, prefix=f"t{uuid.uuid4().hex[:6]}.", app_id=f"it-{uuid.uuid4().hex[:6]}"
    )
    yield s
    s.stop_all()


@pytest.fixture(scope="module")
def module_stack(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("stack")
    s = Stack(broker, root, prefix=f"m{uuid.uuid4().hex[:6]}.", app_id=f"it-{uuid.uuid4().hex[:6]}")
    yield s
    s.stop_all()


def jsonl(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().splitlines() if line.strip()]


def loads(value: bytes) -> Any:
    return json.loads(value)
