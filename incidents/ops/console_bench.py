"""`incidents bench --only console`: the console over many open incidents, through HTTP.

Puts N open incidents of one region (one to three posts each, with their events)
on the topics of a fresh embedded broker, starts `incidents console` as a
subprocess, signs in and times, over loopback HTTP with the page built and sent:
the queue (first page, most urgent first), its live fragment, a filtered queue,
a text search and a card. Then how long a new incident written to `incidents`
takes to be visible on its card (the "2 s" of docs/console.md), and, for
comparison, how long the same record takes to reach ClickHouse through the
sink (a worker with the sink role only) and how long the queue's query takes
there.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import msgspec

from incidents.contracts import topology
from incidents.contracts.models import (
    Incident,
    IncidentEvent,
    Mention,
    Place,
    SlaState,
    Source,
    encode,
)
from incidents.kafka.embedded import EmbeddedBroker, free_port
from incidents.kafka.producer import MentionProducer
from incidents.kafka.topics import ensure_topics
from incidents.ops import probe
from incidents.oversight.report import http_query

STREETS = ["Советская", "Склизкова", "Горького", "Вагжанова", "Коминтерна", "Радищева", "Ленина"]
MUNICIPALITIES = ["Тверь", "Ржев", "Торжок", "Вышний Волочёк", "Кимры", "Конаково"]
#: The six commonest categories (topology.CATEGORIES starts with them).
CATEGORIES = topology.CATEGORIES[:6]
PLATFORMS = ["vk", "ok", "telegram", "pos"]


def synthetic(n: int, region: str = "RU-TVE", seed: int = 7) -> list[tuple[str, bytes, bytes]]:
    """(topic base, key, value) of N open incidents with their posts and events."""
    rnd = random.Random(seed)
    now = datetime.now(UTC)
    out: list[tuple[str, bytes, bytes]] = []
    for i in range(n):
        iid = f"{region}/{i:016x}"
        opened = now - timedelta(hours=rnd.uniform(0, 96))
        street, muni = rnd.choice(STREETS), rnd.choice(MUNICIPALITIES)
        posts = []
        for j in range(rnd.randint(1, 3)):
            platform = rnd.choice(PLATFORMS)
            mid = f"{platform}:{i}-{j}"
            text = (
                f"На улице {street} у дома {i % 200 + 1} "
                f"{rnd.choice(['яма', 'нет света', 'мусор'])}"
                f", обращение номер {i}, уже {j + 2} дня никто не реагирует"
            )
            posts.append(
                Mention(
                    id=mid,
                    platform=platform,  # type: ignore[arg-type]
                    source=Source(id=f"src{j}", name="Городская лента"),
                    text=text,
                    created_at=opened + timedelta(minutes=10 * j),
                    fingerprint="-",
                    is_appeal=True,
                    appeal_score=0.9,
                    category="roads",
                    category_confidence=0.9,
                    priority="normal",
                    place=Place(region=region, municipality=muni, address=f"ул. {street}"),
                    agency=None,
                    url=f"https://example.org/{mid}",
                    status="accepted",
                    incident_id=iid,
                )
            )
        status = rnd.choice(topology.OPEN_STATUSES)
        sla = SlaState(first_reaction_due=opened + timedelta(hours=rnd.choice([4, 9, 24])))
        if status == "answered_interim":
            sla.first_reaction_at = opened + timedelta(hours=1)
            sla.final_answer_due = opened + timedelta(days=rnd.uniform(1, 9))
        inc = Incident(
            id=iid,
            region=region,
            category=rnd.choice(CATEGORIES),
            status=status,
            priority=rnd.choice(["normal", "normal", "normal", "high", "critical"]),
            opened_at=opened,
            updated_at=opened,
            version=2,
            title=posts[0].text[:120],
            mentions_count=len(posts),
            municipality=muni,
            address=f"ул. {street}, {i % 200 + 1}",
            agency=None if status == "new" else "Администрация муниципального образования",
            mention_ids=[p.id for p in posts],
            platforms=sorted({p.platform for p in posts}),
            sla=sla,
        )
        for p in posts:
            out.append(("mentions.resolved", region.encode(), encode(p)))
        ev = IncidentEvent(
            event_id=f"e{i}",
            incident_id=iid,
            type="created",
            at=opened,
            region=region,
            incident_version=1,
            status="new",
            mention_id=posts[0].id,
        )
        out.append(("incidents.events", iid.encode(), encode(ev)))
        out.append(("incidents", iid.encode(), encode(inc)))
    return out


class _Client:
    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with self.opener.open(self.base + path, timeout=60) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()
        except OSError:  # not listening yet
            return 0, b""

    def login(self) -> None:
        data = urllib.parse.urlencode({"name": "tver", "password": "demo"}).encode()
        with self.opener.open(self.base + "/login", data=data, timeout=60) as r:
            assert b'id="queue"' in r.read(), "login failed"

    def timed(self, path: str, runs: int) -> tuple[float, float, int]:
        """Median and worst milliseconds of `runs` GETs (after one warm-up), and the size."""
        self.get(path)
        times = []
        size = 0
        for _ in range(runs):
            t = time.perf_counter()
            status, body = self.get(path)
            times.append((time.perf_counter() - t) * 1000)
            assert status == 200, (path, status)
            size = len(body)
        return statistics.median(times), max(times), size


def _unpin(cpus: set[int]) -> Callable[[], None]:
    """A child's start: the console and the sink run on every CPU (``cpus``: the ones
    `incidents bench` had before it pinned itself), as deployed."""

    def unpinned() -> None:
        with contextlib.suppress(AttributeError, OSError):
            os.sched_setaffinity(0, cpus or set(range(os.cpu_count() or 1)))

    return unpinned


def _wait(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.01)
    raise RuntimeError(f"timed out waiting for {what}")


def run(
    settings: Any, n: int, clickhouse: bool = True, cpus: set[int] | None = None
) -> dict[str, Any]:
    unpinned = _unpin(cpus or set())
    tmp = Path(tempfile.mkdtemp(prefix="console-bench-"))
    broker = EmbeddedBroker(port=free_port(), log_path=tmp / "broker.log").start()
    procs: list[subprocess.Popen[bytes]] = []
    prefix = f"cb{uuid.uuid4().hex[:6]}."
    try:
        s = settings.model_copy(
            update={
                "kafka": settings.kafka.model_copy(update={"bootstrap": broker.bootstrap}),
                "topics": settings.topics.model_copy(update={"prefix": prefix}),
            }
        )
        ensure_topics(s)
        producer = MentionProducer(s.kafka, client_id="console-bench")
        records = synthetic(n)
        for base, key, value in records:
            producer.publish(s.topics.name(base), value, key=key)
        producer.flush(120)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("INCIDENTS_")}
        env.update(
            INCIDENTS_KAFKA_BOOTSTRAP=broker.bootstrap,
            INCIDENTS_TOPICS_PREFIX=prefix,
            INCIDENTS_CONSOLE_WEB_PORT=str(port),
            INCIDENTS_CONSOLE_COOKIE_SECURE="false",
            INCIDENTS_LOG="json",
        )
        started = time.perf_counter()
        log = open(tmp / "console.log", "wb")  # noqa: SIM115
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "incidents.cli.main", "console"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=unpinned,
            )
        )
        c = _Client(f"http://127.0.0.1:{port}")

        def loaded() -> bool:
            status, body = c.get("/readyz")
            return status == 200 and json.loads(body)["incidents"] >= n

        _wait(loaded, 300, "the console to read every incident")
        load_s = time.perf_counter() - started
        c.login()
        runs = 5 if n < 5000 else 15
        queue = c.timed("/", runs)
        rows = c.timed("/rows", runs)
        filtered = c.timed("/?municipality=" + urllib.parse.quote("Ржев"), runs)
        search = c.timed("/search?q=" + urllib.parse.quote("Склизкова номер 77"), runs)
        card = c.timed(f"/incident/RU-TVE/{7:016x}", runs)
        # freshness: a new incident on the topic → its card answers 200
        fresh = []
        for k in range(5):
            iid = f"RU-TVE/f{k:015x}"
            inc = msgspec_replace_incident(records, iid)
            t = time.perf_counter()
            producer.publish(s.topics.name("incidents"), encode(inc), key=iid.encode())
            producer.flush(30)
            _wait(lambda iid=iid: c.get(f"/incident/{iid}")[0] == 200, 30, "a new incident")
            fresh.append((time.perf_counter() - t) * 1000)
        result: dict[str, Any] = {
            "figure": queue[0],
            "unit": "ms queue page (median)",
            "n": n,
            "data": f"{n:,} open incidents of one region, 1-3 posts each",
            "extra": (
                f"queue worst {queue[1]:.0f} ms ({queue[2] // 1024} KB, 100 rows); live "
                f"fragment {rows[0]:.0f} ms; filtered {filtered[0]:.0f} ms; search "
                f"{search[0]:.0f} ms; card {card[0]:.0f} ms; view loaded in {load_s:.1f} s; "
                f"new incident on its card {statistics.median(fresh):.0f} ms "
                f"(worst {max(fresh):.0f})"
            ),
        }
        if clickhouse:
            result["extra"] += "; " + _clickhouse_path(
                s, env, tmp, producer, records, n, procs, unpinned
            )
        return result
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        broker.stop()


def msgspec_replace_incident(records: list[tuple[str, bytes, bytes]], iid: str) -> Incident:
    first = next(v for base, _, v in records if base == "incidents")
    inc = msgspec.json.decode(first, type=Incident)
    now = datetime.now(UTC)
    return msgspec.structs.replace(inc, id=iid, opened_at=now, updated_at=now, version=1)


def _clickhouse_path(
    s: Any,
    env: dict[str, str],
    tmp: Path,
    producer: Any,
    records: list[tuple[str, bytes, bytes]],
    n: int,
    procs: list[subprocess.Popen[bytes]],
    unpinned: Callable[[], None],
) -> str:
    """The same through ClickHouse: a sink-only worker, its /query endpoint."""
    port = free_port()
    wenv = dict(
        env,
        INCIDENTS_WORKER_ROLES="sink",
        INCIDENTS_WORKER_WEB_PORT=str(port),
        INCIDENTS_WORKER_APP_ID=f"cb-{uuid.uuid4().hex[:6]}",
        INCIDENTS_WORKER_DATA_DIR=str(tmp / "worker"),
        INCIDENTS_CLICKHOUSE_URL=f"chdb://{tmp / 'ch'}",
    )
    log = open(tmp / "worker.log", "wb")  # noqa: SIM115
    procs.append(
        subprocess.Popen(
            [sys.executable, "-m", "incidents.cli.main", "worker"],
            env=wenv,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=unpinned,
        )
    )
    url = f"http://127.0.0.1:{port}"
    worker = procs[-1]
    probe.wait_ready([url], alive=lambda: worker.poll() is None, timeout=120)
    query = http_query(url)

    def count(sql: str) -> int:
        try:
            return int(query(sql)[1][0][0])
        except (OSError, RuntimeError, IndexError):
            return -1

    _wait(lambda: count("SELECT uniqExact(id) FROM incidents.incidents") >= n, 300, "the sink")
    # what the queue needs, most urgent first (the working-time ranking is the console's own;
    # here the plain deadline stands in for it)
    sql = (
        "SELECT id, title, status, priority, agency, municipality, address, mentions_count, "
        "platforms, first_reaction_due, final_answer_due FROM incidents.incidents FINAL "
        f"WHERE region = 'RU-TVE' AND status IN {topology.sql_list(topology.OPEN_STATUSES)} "
        "ORDER BY least(ifNull(first_reaction_due, final_answer_due), "
        "ifNull(final_answer_due, first_reaction_due)) LIMIT 100"
    )
    times = []
    for _ in range(5):
        t = time.perf_counter()
        query(sql)
        times.append((time.perf_counter() - t) * 1000)
    fresh = []
    for k in range(5):
        iid = f"RU-TVE/c{k:015x}"
        inc = msgspec_replace_incident(records, iid)
        t = time.perf_counter()
        producer.publish(s.topics.name("incidents"), encode(inc), key=iid.encode())
        producer.flush(30)
        _wait(
            lambda iid=iid: (
                count(f"SELECT count() FROM incidents.incidents WHERE id = '{iid}'") > 0
            ),
            60,
            "a new incident in ClickHouse",
        )
        fresh.append((time.perf_counter() - t) * 1000)
    return (
        f"ClickHouse (sink, flush {s.clickhouse.flush_interval_s:g} s): new incident queryable "
        f"after {statistics.median(fresh):.0f} ms (worst {max(fresh):.0f}), the queue's query "
        f"{statistics.median(times):.0f} ms"
    )
