"""The console over the real pipeline: the embedded broker (tansu), a worker with all
stages (chDB), and `incidents console` as a subprocess, as deployed. The sample and a few
hostile posts go through the pipeline once per module; tests drive headless Chromium
(tests/support/browser.py) and read the topics with plain consumers."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from incidents.kafka.embedded import free_port
from tests.support.browser import CHROMIUM
from tests.support.paths import SAMPLE
from tests.support.stack import Stack, jsonl

# Posts whose text is HTML and script: they must reach the card as text.
HOSTILE = [
    {
        "id": "vk:wall-41237765_990001",
        "platform": "vk",
        "source": {
            "id": "-41237765",
            "name": "Тверь <b>Городская</b> лента",
            "kind": "city_public",
        },
        "text": "<script>window.__pwned = 1</script> На улице Вагжанова в Твери у дома 7 огромная яма на проезжей части, колёса бьём каждый день! Отремонтируйте дорогу",
        "created_at": "2026-11-20T10:05:00+03:00",
        "url": "javascript:window.__pwned=2",
        "region_hint": "RU-TVE",
    },
    {
        "id": "vk:wall-41237765_990002",
        "platform": "vk",
        "source": {"id": "-41237765", "name": "Тверь. Городская лента", "kind": "city_public"},
        "text": '<img src=x onerror="window.__pwned=3"><b>Жирный</b> &amp; <i>курсив</i>: во дворе дома 12 по улице Горького в Твери не вывозят мусор третью неделю, контейнеры переполнены',
        "created_at": "2026-11-20T10:20:00+03:00",
        "url": "https://vk.com/wall-41237765_990002",
        "region_hint": "RU-TVE",
    },
]


@dataclass
class ConsoleProc:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, n: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])

    def ready(self) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(self.url + "/readyz", timeout=5) as r:
                return json.loads(r.read())
        except OSError:
            return {}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def start_console(stack: Stack, **extra: str) -> ConsoleProc:
    port = free_port()
    env = stack.env(INCIDENTS_CONSOLE_WEB_PORT=str(port), INCIDENTS_CONSOLE_CLOCK="events", **extra)
    log = stack.root / f"console-{port}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "incidents.cli.main", "console"],
        env=env,
        stdout=open(log, "wb"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    con = ConsoleProc(proc, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 120
    while not con.ready().get("loaded"):
        if not con.alive() or time.monotonic() > deadline:
            con.stop()
            raise AssertionError(f"console did not start:\n{con.tail()}")
        time.sleep(0.3)
    return con


def wait_until(check: Any, what: str, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.3)


@dataclass
class Desk:
    stack: Stack
    console: ConsoleProc


def _key(value: bytes) -> bytes | None:
    try:
        obj = json.loads(value)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    key = obj.get("region_hint") or obj.get("id")
    return key.encode() if isinstance(key, str) else None


@pytest.fixture(scope="module")
def desk(broker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    import uuid

    if not CHROMIUM.exists():
        pytest.skip("needs Chromium at /usr/bin/chromium (apt install chromium)")
    root = tmp_path_factory.mktemp("console")
    stack = Stack(
        broker, root, prefix=f"c{uuid.uuid4().hex[:6]}.", app_id=f"cons-{uuid.uuid4().hex[:6]}"
    )
    console: ConsoleProc | None = None
    try:
        stack.start_worker()
        console = start_console(stack)  # before the data: it shows incidents as they come
        mentions = jsonl(SAMPLE / "mentions.jsonl") + [
            json.dumps(h, ensure_ascii=False).encode() for h in HOSTILE
        ]
        stack.publish("mentions.raw", mentions, [_key(v) for v in mentions])
        stack.wait_drained()
        stack.publish("responses", jsonl(SAMPLE / "responses.jsonl"))
        stack.wait_drained()
        yield Desk(stack, console)
    finally:
        if console is not None:
            console.stop()
        stack.stop_all()
