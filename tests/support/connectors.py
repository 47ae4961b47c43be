"""Shared pieces of the connector tests: settings, the registry with fake URLs, a publisher."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from incidents.config.connectors import ConnectorSettings
from incidents.config.settings import KafkaSettings, Settings, TopicSettings
from incidents.connectors.base import ConnectorRuntime
from incidents.connectors.cursor import CursorStore
from incidents.connectors.registry import Registry, load_registry
from incidents.contracts.models import DeadLetter
from incidents.observability import logs
from tests.support.fakes import (
    FIXTURES,
    FakeFeeds,
    FakeOk,
    FakePortal,
    FakeTelegram,
    FakeVk,
)

logs.configure("console", "warning")


class Crash(Exception):
    """A connector dying in the middle of a batch (before its flush)."""


class MemoryPublisher:
    """Records what reached the "broker": only messages a flush() delivered count.

    ``crash_after`` makes the n-th publish raise, dropping what was queued but
    not flushed, like a process that dies before librdkafka delivered it.
    """

    def __init__(self, crash_after: int | None = None) -> None:
        self.pending: list[tuple[str, bytes, bytes | None, dict[str, bytes]]] = []
        self.delivered: list[tuple[str, bytes, bytes | None, dict[str, bytes]]] = []
        self.crash_after = crash_after
        self.publishes = 0

    def publish(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        headers: dict[str, bytes] | None = None,
    ) -> None:
        self.publishes += 1
        if self.crash_after is not None and self.publishes > self.crash_after:
            self.pending.clear()
            raise Crash(f"crashed at publish #{self.publishes}")
        self.pending.append((topic, value, key, headers or {}))

    def flush(self, timeout: float = 60.0) -> None:
        self.delivered.extend(self.pending)
        self.pending.clear()

    def values(self, topic_suffix: str) -> list[dict[str, Any]]:
        return [msgspec.json.decode(v) for t, v, _, _ in self.delivered if t.endswith(topic_suffix)]

    def mentions(self) -> list[dict[str, Any]]:
        return self.values("mentions.raw")

    def ids(self) -> list[str]:
        return [m["id"] for m in self.mentions()]

    def dead_letters(self) -> list[DeadLetter]:
        return [
            msgspec.json.decode(v, type=DeadLetter)
            for t, v, _, _ in self.delivered
            if t.endswith("mentions.dlq")
        ]


def twice(ids: list[str]) -> list[str]:
    return [i for i, n in Counter(ids).items() if n > 1]


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


def main_settings(bootstrap: str = "127.0.0.1:9", prefix: str = "") -> Settings:
    return Settings(kafka=KafkaSettings(bootstrap=bootstrap), topics=TopicSettings(prefix=prefix))


def conf_for(tmp: Path, **over: Any) -> ConnectorSettings:
    base: dict[str, Any] = {
        "state_dir": tmp / "state",
        "retry_attempts": 4,
        "retry_initial_s": 0.01,
        "retry_max_s": 0.05,
        "request_timeout_s": 5,
        "batch_size": 2,
        "max_pages": 20,
        "vk_requests_per_s": 20,
        "ok_requests_per_s": 20,
        "telegram_long_poll_s": 0,
        "vk_token": "vk-service-token",
        "ok_application_key": "CBAFKLMNEBABABABA",
        "ok_application_secret": "0123456789ABCDEF0123456789ABCDEF",
        "ok_access_token": "tkn1a2b3c4d5e6f",
        "telegram_token": "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11",
        "portal_tokens": {"pos-tver": "pos-operator-token"},
        "webhook_tokens": ["hook-secret-1"],
    }
    base.update(over)
    return ConnectorSettings(**base)


def write_registry(
    tmp: Path, feeds: str = "http://127.0.0.1:9", portal: str = "http://127.0.0.1:9"
) -> Path:
    text = (FIXTURES / "registry.yaml").read_text(encoding="utf-8")
    text = text.replace("FAKE_FEEDS", feeds).replace("FAKE_PORTAL", portal)
    path = tmp / "registry.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def runtime(
    name: str,
    conf: ConnectorSettings,
    registry: Registry,
    publisher: Any,
    settings: Settings | None = None,
) -> ConnectorRuntime:
    return ConnectorRuntime(
        name=name,
        settings=settings or main_settings(),
        conf=conf,
        registry=registry,
        producer=publisher,
        store=CursorStore.for_connector(conf.state_dir, name),
    )


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return load_registry(write_registry(tmp_path))


@pytest.fixture
def fake_vk() -> Iterator[FakeVk]:
    with FakeVk() as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def fake_ok() -> Iterator[FakeOk]:
    with FakeOk() as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def fake_portal() -> Iterator[FakePortal]:
    with FakePortal() as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def fake_feeds() -> Iterator[FakeFeeds]:
    with FakeFeeds() as server:
        yield server  # type: ignore[misc]
