"""Connectors over the real embedded broker (tansu), as processes: `incidents connect …`.

What reached Kafka is read back with a plain confluent-kafka consumer and
counted by mention id: a connector killed in the middle of a page (exit
137 right after a flushed batch, or kill -9 at a random moment) and started
again must leave every id on mentions.raw, and none twice except, in the one
window the design admits (after a flush, before the cursor file is
replaced), the ids of that one batch.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from confluent_kafka import Consumer, TopicPartition

from incidents.config.settings import KafkaSettings
from incidents.connectors.registry import load_registry
from incidents.contracts.models import DeadLetter, Reply
from incidents.kafka.embedded import EmbeddedBroker, free_port
from incidents.kafka.producer import MentionProducer
from incidents.kafka.topics import ensure_topics
from incidents.ops import probe
from tests.support.connectors import conf_for, main_settings, run, runtime
from tests.support.fakes import FakePortal, FakeTelegram, FakeVk, fixture
from tests.support.paths import ROOT

pytestmark = pytest.mark.integration


def read_topic(
    bootstrap: str, topic: str, quiet_s: float = 1.5
) -> list[tuple[bytes | None, bytes]]:
    """Every record of a topic from offset 0, until nothing arrives for quiet_s."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"r-{uuid.uuid4().hex[:8]}",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})  # fmt: skip
    md = c.list_topics(topic, timeout=10)
    c.assign([TopicPartition(topic, p, 0) for p in md.topics[topic].partitions])
    out: list[tuple[bytes | None, bytes]] = []
    quiet = time.monotonic()
    while time.monotonic() - quiet < quiet_s:
        msg = c.poll(0.2)
        if msg is None or msg.error():
            continue
        quiet = time.monotonic()
        out.append((msg.key(), msg.value()))
    c.close()
    return out


class Corner:
    """A test's own topic prefix and state directory on the shared broker."""

    def __init__(self, embedded: EmbeddedBroker, root: Path) -> None:
        self.broker, self.root = embedded, root
        self.prefix = f"c{uuid.uuid4().hex[:6]}."
        self.settings = main_settings(embedded.bootstrap, self.prefix)
        ensure_topics(self.settings)

    def topic(self, base: str) -> str:
        return self.prefix + base

    def ids(self) -> list[str]:
        return [
            json.loads(v)["id"]
            for _, v in read_topic(self.broker.bootstrap, self.topic("mentions.raw"))
        ]

    def dead_letters(self) -> list[DeadLetter]:
        return [
            msgspec.json.decode(v, type=DeadLetter)
            for _, v in read_topic(self.broker.bootstrap, self.topic("mentions.dlq"))
        ]

    def env(self, **connectors: Any) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("INCIDENTS_")}
        env.update(
            INCIDENTS_KAFKA_BOOTSTRAP=self.broker.bootstrap,
            INCIDENTS_TOPICS_PREFIX=self.prefix,
            INCIDENTS_WORKER_APP_ID=f"ct-{self.prefix.rstrip('.')}",
            INCIDENTS_LOG="json",
            INCIDENTS_CONNECTORS_STATE_DIR=str(self.root / "state"),
            INCIDENTS_CONNECTORS_RETRY_INITIAL_S="0.01",
            INCIDENTS_CONNECTORS_RETRY_MAX_S="0.05",
            INCIDENTS_CONNECTORS_WEB_PORT=str(free_port()),
        )
        env.update({f"INCIDENTS_CONNECTORS_{k.upper()}": str(v) for k, v in connectors.items()})
        return env

    def start(self, args: list[str], env: dict[str, str], log: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "incidents.cli.main", *args],
            env=env,
            cwd=ROOT,
            stdout=open(self.root / log, "wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def connect(self, args: list[str], env: dict[str, str], log: str, timeout: float = 60) -> int:
        proc = self.start(args, env, log)
        try:
            return proc.wait(timeout)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)

    def tail(self, log: str) -> str:
        return (self.root / log).read_text(errors="replace")[-3000:]


@pytest.fixture
def corner(broker: EmbeddedBroker, tmp_path: Path) -> Corner:
    return Corner(broker, tmp_path)


@pytest.fixture
def fake_vk() -> Iterator[FakeVk]:
    with FakeVk() as server:
        yield server  # type: ignore[misc]


def _vk_registry(root: Path) -> Path:
    path = root / "vk-registry.yaml"
    path.write_text(
        "sources:\n"
        '  - {platform: vk, id: "-41237765", name: "Тверь | Главное", kind: city_public,'
        " region: RU-TVE, municipality: Тверь}\n",
        encoding="utf-8",
    )
    return path


def _seed_cursor(root: Path, connector: str, cursors: dict[str, Any]) -> None:
    (root / "state").mkdir(parents=True, exist_ok=True)
    (root / "state" / f"{connector}.cursors.json").write_text(
        json.dumps({"version": 1, "cursors": cursors})
    )


def _wall_ids() -> list[str]:
    wall = fixture("vk_wall.json")["-41237765"][1:]
    return sorted(
        f"vk:wall-41237765_{p['id']}" for p in wall if isinstance(p["date"], int) and p["text"]
    )


def test_vk_pages_rate_limits_and_dead_letters_over_the_broker(
    corner: Corner, fake_vk: FakeVk
) -> None:
    from incidents.connectors.base import poll_forever
    from incidents.connectors.sources import vk

    conf = conf_for(corner.root, vk_api_url=f"{fake_vk.url}/method", batch_size=3)
    reg = load_registry(_vk_registry(corner.root))
    producer = MentionProducer(KafkaSettings(bootstrap=corner.broker.bootstrap), client_id="t")
    rt = runtime("vk", conf, reg, producer, settings=corner.settings)
    rt.store.save("vk:wall:-41237765", {"last_id": 61000})
    fake_vk.inject("wall.get", FakeVk.error(6, "Too many requests per second"))
    fake_vk.inject("wall.get", FakeVk.error(6, "Too many requests per second"))

    async def go() -> None:
        api, sources = vk.build_sources(rt)
        await poll_forever(rt, sources, once=True)
        await api.close()

    run(go())
    ids = corner.ids()
    assert sorted(ids) == _wall_ids() and not [i for i, n in Counter(ids).items() if n > 1]
    (dl,) = corner.dead_letters()
    assert dl.stage == "connector:vk" and "unix time" in dl.reason
    assert dl.mention_id == "vk:wall-41237765_61496"
    assert json.loads(__import__("base64").b64decode(dl.original_b64))["date"] == "вчера в 21:14"


@pytest.mark.parametrize("before_save", [False, True], ids=["after-cursor", "before-cursor"])
def test_vk_connector_killed_mid_page_loses_nothing(
    corner: Corner, fake_vk: FakeVk, before_save: bool
) -> None:
    _seed_cursor(corner.root, "vk", {"vk:wall:-41237765": {"last_id": 61000}})
    env = corner.env(
        registry_file=_vk_registry(corner.root),
        vk_token="vk-service-token",
        vk_api_url=f"{fake_vk.url}/method",
        vk_requests_per_s=20,
        batch_size=2,
    )
    crash = dict(env, INCIDENTS_CONNECTORS_FAULT_EXIT_AFTER_ITEMS="5",
                 INCIDENTS_CONNECTORS_FAULT_EXIT_BEFORE_SAVE=str(before_save).lower())  # fmt: skip
    rc = corner.connect(["connect", "vk", "--once"], crash, "vk-1.log")
    assert rc == 137, corner.tail("vk-1.log")
    first = corner.ids()
    assert 5 <= len(first) < len(_wall_ids())  # stopped in the middle of the (one) page
    saved = json.loads((corner.root / "state" / "vk.cursors.json").read_text())
    last_saved = saved["cursors"]["vk:wall:-41237765"]["last_id"]
    unsaved = sorted(i for i in first if int(i.rsplit("_", 1)[1]) > last_saved)
    rc = corner.connect(["connect", "vk", "--once"], env, "vk-2.log")
    assert rc == 0, corner.tail("vk-2.log")
    ids = corner.ids()
    assert sorted(set(ids)) == _wall_ids()  # nothing lost
    doubled = sorted(i for i, n in Counter(ids).items() if n > 1)
    if before_save:  # the admitted window: the batch flushed right before the crash, once more
        assert doubled == unsaved and 1 <= len(doubled) <= 2  # one batch (batch_size 2)
    else:
        assert doubled == [] and unsaved == []
    state = json.loads((corner.root / "state" / "vk.cursors.json").read_text())
    assert state["cursors"]["vk:wall:-41237765"]["last_id"] == 61502


def test_portal_connector_kill_9_mid_page(corner: Corner) -> None:
    with FakePortal(page_cap=4) as portal:
        portal.delay_s = 0.25
        reg = (ROOT / "tests" / "connectors" / "fixtures" / "registry.yaml").read_text(
            encoding="utf-8"
        )
        path = corner.root / "registry.yaml"
        path.write_text(
            reg.replace("FAKE_PORTAL", portal.url).replace("FAKE_FEEDS", "http://127.0.0.1:9")
        )
        env = corner.env(
            registry_file=path, portal_tokens='{"pos-tver": "pos-operator-token"}', batch_size=1
        )
        proc = corner.start(["connect", "portal", "--once"], env, "portal-1.log")
        deadline = time.monotonic() + 30
        state = corner.root / "state" / "portal.cursors.json"
        while time.monotonic() < deadline and not state.exists():
            time.sleep(0.05)
        time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert state.exists(), corner.tail("portal-1.log")
        cursor = json.loads(state.read_text())["cursors"]["portal:pos-tver"]
        rc = corner.connect(["connect", "portal", "--once"], env, "portal-2.log")
        assert rc == 0, corner.tail("portal-2.log")
        ids = corner.ids()
        expected = sorted(f"pos:pos-tver/{771200 + i}" for i in range(8) if i != 2)
        assert sorted(set(ids)) == expected
        assert sum(n - 1 for n in Counter(ids).values()) <= 1  # at most the one unsaved batch
        assert cursor["page"] is None or cursor["page"].startswith("c")
        assert len(corner.dead_letters()) >= 1


def test_webhook_process(corner: Corner, tmp_path: Path) -> None:
    import urllib.request

    reg = corner.root / "registry.yaml"
    reg.write_text(
        (ROOT / "tests" / "connectors" / "fixtures" / "registry.yaml").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    env = corner.env(registry_file=reg, webhook_tokens="t-1,t-2")
    port = env["INCIDENTS_CONNECTORS_WEB_PORT"]
    proc = corner.start(["connect", "webhook"], env, "webhook.log")
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while probe.get_json(url + "/healthz")[0] != 200:
            assert proc.poll() is None and time.monotonic() < deadline, corner.tail("webhook.log")
            time.sleep(0.2)

        def post(body: bytes, token: str | None) -> int:
            req = urllib.request.Request(url + "/mentions", data=body, method="POST")
            if token:
                req.add_header("Authorization", f"Bearer {token}")
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    return r.status
            except urllib.error.HTTPError as e:
                return e.code

        good = (
            ROOT / "incidents" / "contracts" / "examples" / "mentions.raw" / "telegram-copy.json"
        ).read_bytes()
        assert post(good, None) == 401
        assert post(good, "t-2") == 202
        assert post(b'{"id": "web:1", "platform": "web"}', "t-1") == 400
        with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
            page = r.read().decode()
        assert 'incidents_connector_published_total{connector="webhook"} 1.0' in page
        assert (
            'incidents_connector_dead_letters_total{connector="webhook",error_kind="schema"}'
            in page
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0, corner.tail("webhook.log")
    assert corner.ids() == ["telegram:-1001733245519/8817"]
    (dl,) = corner.dead_letters()
    assert dl.stage == "connector:webhook" and dl.mention_id == "web:1" and "required" in dl.reason


def test_replies_worker_posts_each_reply_once_across_a_crash(corner: Corner) -> None:
    examples = ROOT / "incidents" / "contracts" / "examples" / "replies.outbound"
    vk_r = msgspec.json.decode((examples / "vk-interim.json").read_bytes(), type=Reply)
    tg_r = msgspec.json.decode((examples / "telegram-interim.json").read_bytes(), type=Reply)
    more = [
        msgspec.structs.replace(vk_r, reply_id=f"r-{i}", mention_id=f"vk:wall-41237765_{61490 + i}")
        for i in range(4)
    ]
    replies = [vk_r, tg_r, *more, vk_r, tg_r]  # the last two are redeliveries
    producer = MentionProducer(KafkaSettings(bootstrap=corner.broker.bootstrap), client_id="t")
    for r in replies:
        producer.publish(
            corner.topic("replies.outbound"), msgspec.json.encode(r), key=r.mention_id.encode()
        )
    producer.publish(
        corner.topic("replies.outbound"), b'{"reply_id": "broken"}', key=b"vk:wall-1_1"
    )
    producer.flush()
    with FakeVk() as vk, FakeTelegram() as tg:
        env = corner.env(
            vk_token="vk-service-token",
            vk_api_url=f"{vk.url}/method",
            telegram_token=tg.token,
            telegram_api_url=tg.url,
            replies_live="vk,telegram",
        )
        crash = dict(env, INCIDENTS_CONNECTORS_FAULT_EXIT_AFTER_ITEMS="3")
        rc = corner.connect(["replies", "--idle-exit", "3"], crash, "replies-1.log", timeout=90)
        assert rc == 137, corner.tail("replies-1.log")
        posted_before = len(vk.created) + len(tg.sent)
        assert posted_before >= 3
        rc = corner.connect(["replies", "--idle-exit", "3"], env, "replies-2.log", timeout=90)
        assert rc == 0, corner.tail("replies-2.log")
        assert sorted(c["guid"] for c in vk.created.values()) == sorted(
            r.reply_id for r in [vk_r, *more]
        )
        assert len(vk.called("wall.createComment")) == 5  # none called twice
        assert len(tg.sent) == 1
    results = [
        json.loads(v)
        for _, v in read_topic(corner.broker.bootstrap, corner.topic("replies.results"))
    ]
    by_id: dict[str, set[str]] = {}
    for r in results:
        by_id.setdefault(r["reply_id"], set()).add(r["status"])
    assert {k: v for k, v in by_id.items()} == {r.reply_id: {"posted"} for r in [vk_r, tg_r, *more]}
    dls = corner.dead_letters()  # redelivered after the crash: the same dead letter again
    assert {(d.dlq_id, d.stage, d.error_kind) for d in dls} == {
        (dls[0].dlq_id, "connector:replies", "schema")
    }


def test_bad_token_ends_the_process_with_one_line(corner: Corner, fake_vk: FakeVk) -> None:
    env = corner.env(
        registry_file=_vk_registry(corner.root),
        vk_token="revoked",
        vk_api_url=f"{fake_vk.url}/method",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "incidents.cli.main", "connect", "vk", "--once"],
        env=env, cwd=ROOT, capture_output=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.decode().strip().splitlines()
    assert lines[-1].startswith(
        "incidents: config error: connect vk: VK rejected the token (error 5"
    )
    env = corner.env(registry_file=corner.root / "nope.yaml")
    proc = subprocess.run(
        [sys.executable, "-m", "incidents.cli.main", "connect", "vk"],
        env=env, cwd=ROOT, capture_output=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.decode().strip() == (
        "incidents: config error: INCIDENTS_CONNECTORS_REGISTRY_FILE: no such file "
        f"'{corner.root / 'nope.yaml'}'"
    )
