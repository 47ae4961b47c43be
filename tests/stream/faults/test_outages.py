"""Restarts that must recover state, ClickHouse outages, crashed agents, the DLQ limit, a lossy control."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from incidents.ops import probe
from tests.support.faults import SOAK, Load, expected_of, settle_until_complete
from tests.support.paths import SAMPLE
from tests.support.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.faults]

ORIGINAL = {
    "id": "vk:orig-{i}",
    "platform": "vk",
    "source": {"id": "club1"},
    "text": "Во дворе дома {i} по улице Спартака уже неделю не вывозят мусор, контейнеры переполнены, "
    "крысы бегают среди бела дня, управляющая компания не отвечает на звонки",
    "created_at": "2026-11-10T09:{m:02d}:00+03:00",
    "region_hint": "RU-IVA",
}


def _mention(i: int, **over: object) -> bytes:
    obj = {k: (v.format(i=i, m=i % 60) if isinstance(v, str) else v) for k, v in ORIGINAL.items()}
    obj.update(over)
    return json.dumps(obj, ensure_ascii=False).encode()


def _sample_texts(n: int) -> list[str]:
    labels = [json.loads(x) for x in (SAMPLE / "labels.jsonl").read_bytes().splitlines()]
    lines = (SAMPLE / "mentions.jsonl").read_bytes().splitlines()
    texts = [
        json.loads(lines[i])["text"]
        for i, lab in enumerate(labels)
        if lab["kind"] in ("appeal", "non_appeal")
    ]
    return texts[:n]


def test_a_restarted_worker_recovers_its_dedup_window_and_incidents(stack: Stack) -> None:
    """State lives in the changelog: copies after a restart still find their originals."""
    texts = _sample_texts(120)
    n = len(texts)
    w = stack.start_worker()
    originals = [_mention(i, text=t) for i, t in enumerate(texts)]
    stack.publish("mentions.raw", originals, [f"vk:orig-{i}".encode() for i in range(n)])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and w.scalar("SELECT count() FROM incidents.mentions") < n:
        time.sleep(1)
    roots = {
        r[0]: (r[1] or r[0])
        for r in w.query(
            "SELECT id, duplicate_of FROM incidents.mentions WHERE id LIKE 'vk:orig-%'"
        )
    }
    assert len(roots) == n
    assert w.stop() == 0
    w = stack.start_worker()
    copies = [
        _mention(
            i,
            id=f"telegram:copy-{i}",
            platform="telegram",
            text="Подписчики пишут: «" + t + "» 😡 #репост",
            created_at=f"2026-11-10T10:{i % 60:02d}:00+03:00",
        )
        for i, t in enumerate(texts)
    ]
    stack.publish("mentions.raw", copies + originals, [None] * (2 * n))  # copies, then redeliveries
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done = w.scalar("SELECT count() FROM incidents.mentions WHERE id LIKE 'telegram:copy-%'")
        redelivered = (probe.status(w.url) or {}).get("mentions", {}).get("redelivered", 0)
        if done == n and redelivered >= n:
            break
        time.sleep(1)
    rows = w.query(
        "SELECT id, status, duplicate_of FROM incidents.mentions WHERE id LIKE 'telegram:copy-%'"
    )
    assert len(rows) == n
    linked = {r[0]: r[2] for r in rows if r[1] == "duplicate"}
    # Every copy found its original in the state the new worker recovered from the changelog.
    assert linked == {f"telegram:copy-{i}": roots[f"vk:orig-{i}"] for i in range(n)}
    # The redelivered originals were recognised: nothing inserted twice.
    assert w.scalar("SELECT count() FROM incidents.fact_inserts WHERE table = 'mentions'") == 2 * n


def test_clickhouse_outage_holds_offsets_and_catches_up(stack: Stack, tmp_path: Path) -> None:
    down = tmp_path / "clickhouse-down"
    outage = 60.0 if SOAK else 12.0
    w = stack.start_worker(
        INCIDENTS_FAULTS_CLICKHOUSE_DOWN_FILE=str(down), INCIDENTS_CLICKHOUSE_RETRY_MAX_S="2"
    )
    load = Load(stack, total=3000 if SOAK else 1200, rate=100, seed=41).start()
    time.sleep(3)
    down.touch()
    time.sleep(outage)
    assert w.alive(), "an outage must not kill the worker"
    status = probe.status(w.url) or {}
    assert sum(status.get("sink_errors", {}).values()) > 0, "the sink must have seen the outage"
    down.unlink()
    restored = time.monotonic()
    load.join()
    result = settle_until_complete(stack, w, expected_of(stack, load.lines), timeout=240)
    catch_up = time.monotonic() - restored
    print(
        f"\nClickHouse down {outage:.0f} s: {result.summary()}; caught up {catch_up:.1f} s after it came back"
    )
    assert not result.lost and not any(result.duplicated_rows.values())
    assert not result.missing_dead_letters


def test_a_crashed_agent_takes_the_worker_down_with_exit_code_1(stack: Stack) -> None:
    w = stack.start_worker(INCIDENTS_FAULTS_CRASH_MARKER="CRASH-ME-NOW")
    assert w.alive()
    stack.publish("mentions.raw", [_mention(1, text="CRASH-ME-NOW в подъезде дома 1 нет света")])
    w.proc.wait(60)
    assert w.proc.returncode == 1
    log = w.log.read_text()
    assert '"event": "agent_crashed"' in log and "crash marker" in log
    # Nothing was committed past it: a fixed worker (no marker) processes the same message.
    fixed = stack.start_worker()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if fixed.scalar("SELECT count() FROM incidents.mentions WHERE id = 'vk:orig-1'") == 1:
            break
        time.sleep(1)
    assert fixed.scalar("SELECT count() FROM incidents.mentions WHERE id = 'vk:orig-1'") == 1


LOW_LIMIT = {
    "INCIDENTS_DLQ_MIN_MESSAGES": "20",
    "INCIDENTS_DLQ_WINDOW": "40",
    "INCIDENTS_DLQ_MAX_INVALID_RATIO": "0.5",
    "INCIDENTS_DLQ_MAX_CONSECUTIVE": "30",
}


def _metric(w: Any, line_start: str) -> float | None:
    with urllib.request.urlopen(w.url + "/metrics", timeout=10) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith(line_start):
                return float(line.rsplit(" ", 1)[1])
    return None


def test_a_producers_invalid_input_is_dead_lettered_while_the_worker_serves_the_rest(
    stack: Stack,
) -> None:
    """One console sends 200 answers without a region (its mistake, against the published
    contract) and a connector sends 60 lines that are not JSON: every one of them is
    dead-lettered, the topic is flagged for the operator, and the worker keeps serving the
    valid answer and post that come after them (docs/operations.md#the-dead-letter-limit)."""
    w = stack.start_worker(**LOW_LIMIT)
    stack.publish("mentions.raw", [_mention(1)], [b"vk:orig-1"])
    stack.wait_drained()
    answer = {
        "response_id": "resp-ok",
        "kind": "interim",
        "agency": "Администрация г. Иваново",
        "text": "Здравствуйте! Вывоз мусора организован.",
        "responded_at": "2026-11-10T12:00:00+03:00",
        "mention_id": "vk:orig-1",
        "region": "RU-IVA",
    }
    no_region = {k: v for k, v in answer.items() if k != "region"}
    bad = [json.dumps(dict(no_region, response_id=f"resp-bad-{i}")).encode() for i in range(200)]
    stack.publish("responses", bad)
    stack.publish("responses", [json.dumps(answer).encode()])
    stack.publish("mentions.raw", [b"not json %d" % i for i in range(60)])
    stack.publish("mentions.raw", [_mention(2, id="vk:after-garbage")], [b"vk:after-garbage"])
    stack.wait_drained()
    assert w.alive(), w.tail()
    assert w.scalar("SELECT count() FROM incidents.replies WHERE response_id = 'resp-ok'") == 1
    assert w.scalar("SELECT count() FROM incidents.mentions WHERE id = 'vk:after-garbage'") == 1
    dead = dict(
        (f"{stage}/{kind}", n)
        for stage, kind, n in w.query(
            "SELECT stage, error_kind, uniqExact(dlq_id) FROM incidents.dead_letters "
            "GROUP BY stage, error_kind"
        )
    )
    assert dead == {"respond/schema": 200, "enrich/invalid_json": 60}
    flag = 'incidents_invalid_input_over_limit{stage="%s",topic="%s"}'
    assert _metric(w, flag % ("respond", "responses")) == 1.0
    assert _metric(w, flag % ("enrich", "mentions.raw")) == 1.0
    log = w.log.read_text()
    assert '"event": "invalid_input_over_limit"' in log and '"topic": "responses"' in log


def test_the_pipelines_own_failures_stop_the_worker_and_commit_nothing_past_them(
    stack: Stack,
) -> None:
    """Invalid messages on a topic the pipeline's own stages write (a bad deploy, two
    versions of a stage) stop the worker without committing, as arroyo's DLQ limit does:
    the stream waits for a fix instead of being processed into the dead-letter topic."""
    w = stack.start_worker(**LOW_LIMIT)
    garbage = [b"not a mention %d" % i for i in range(60)]
    # Keyed as the enrich stage keys the topic (one key): the limit counts per partition.
    stack.publish("mentions.enriched", garbage, [b"all"] * len(garbage))
    w.proc.wait(90)
    assert w.proc.returncode == 1
    assert "INCIDENTS_DLQ_MAX" in w.log.read_text()
    # With the limit raised (the operator decided the input is expected), every line is
    # accounted for: nothing was committed past the stop.
    w2 = stack.start_worker(
        INCIDENTS_DLQ_MAX_INVALID_RATIO="1.0", INCIDENTS_DLQ_MAX_CONSECUTIVE="100000"
    )
    deadline = time.monotonic() + 90
    while (
        time.monotonic() < deadline
        and w2.scalar("SELECT uniqExact(dlq_id) FROM incidents.dead_letters") < 60
    ):
        time.sleep(1)
    assert (
        w2.scalar("SELECT uniqExact(dlq_id) FROM incidents.dead_letters WHERE stage = 'dedup'")
        == 60
    )


def test_negative_control_a_lossy_worker_is_caught_losing(stack: Stack) -> None:
    """Acking before the broker confirms (INCIDENTS_FAULTS_LOSSY) + kill -9 must show up as lost."""
    lossy = stack.start_worker(INCIDENTS_WORKER_ROLES="enrich", INCIDENTS_FAULTS_LOSSY="true")
    sink = stack.start_worker(INCIDENTS_WORKER_ROLES="dedup,group,respond,sink")
    lines = [_mention(i, id=f"vk:lossy-{i}") for i in range(300)]
    stack.publish("mentions.raw", lines, [f"vk:lossy-{i}".encode() for i in range(300)])
    # Batches are acked at once and committed within a second; their outputs linger 10 s.
    time.sleep(5.0)
    lossy.kill()
    stack.start_worker(INCIDENTS_WORKER_ROLES="enrich")
    result = settle_until_complete(stack, sink, expected_of(stack, lines), timeout=40)
    print(f"\nnegative control: {result.summary()}")
    assert result.lost, "the checker must see the loss a lossy configuration causes"


def test_an_offset_gap_restarts_the_worker_in_place_and_nothing_is_lost(
    stack: Stack, tmp_path: Path
) -> None:
    """Records the broker skipped (a real tansu defect, injected here once): the worker
    restarts itself in place from the committed offset, no orchestrator needed."""
    gap = tmp_path / "gap"
    gap.touch()
    w = stack.start_worker(INCIDENTS_FAULTS_GAP_FILE=str(gap))
    pid = w.proc.pid
    lines = [_mention(i, id=f"vk:gap-{i}") for i in range(40)]
    stack.publish("mentions.raw", lines, [f"vk:gap-{i}".encode() for i in range(40)])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if w.scalar("SELECT count() FROM incidents.mentions WHERE id LIKE 'vk:gap-%'") == 40:
            break
        time.sleep(1)
    assert not gap.exists(), "the injected gap fired"
    log = w.log.read_text()
    assert '"event": "restarting_after_offset_gap"' in log
    assert w.alive() and w.proc.pid == pid, "the same process goes on"
    rows = w.query(
        "SELECT id, count() FROM incidents.mentions WHERE id LIKE 'vk:gap-%' GROUP BY id"
    )
    assert len(rows) == 40 and all(n == 1 for _, n in rows)
