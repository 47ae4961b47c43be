"""Answers over the real broker: fan-out to every post, once, whatever the arrival order."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.stack import Stack

pytestmark = pytest.mark.integration

MENTION = {
    "id": "vk:wall-1_100",
    "platform": "vk",
    "source": {"id": "club1", "name": "Тверь онлайн"},
    "text": "В Твери на улице Склизкова у дома 12 огромная яма на дороге, машины ломают колёса",
    "created_at": "2026-11-16T10:00:00+03:00",
    "region_hint": "RU-TVE",
}
COPY = dict(
    MENTION,
    id="telegram:-100_55",
    platform="telegram",
    source={"id": "chat55"},
    text="Подписчики пишут: " + MENTION["text"] + " #Тверь",
    created_at="2026-11-16T11:00:00+03:00",
)
ANSWER = {
    "response_id": "resp-int-1",
    "kind": "interim",
    "agency": "Администрация города Твери",
    "text": "Здравствуйте! Ремонт ямочный запланирован на эту неделю.",
    "responded_at": "2026-11-16T12:00:00+03:00",
    "mention_id": "vk:wall-1_100",
    "region": "RU-TVE",
}


def _b(obj: dict) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()


def test_an_answer_published_before_its_mentions_reaches_every_post_once(stack: Stack) -> None:
    w = stack.start_worker()
    stack.publish("responses", [_b(ANSWER)], [b"resp-int-1"])
    stack.wait_drained()
    stack.publish("mentions.raw", [_b(MENTION), _b(COPY)], [b"vk:wall-1_100", b"telegram:-100_55"])
    stack.wait_drained()
    # Redelivered answer: no second reply reaches ClickHouse or changes the incident.
    stack.publish("responses", [_b(ANSWER)], [b"resp-int-1"])
    stack.wait_drained()
    rows = w.query(
        "SELECT mention_id, count() FROM incidents.replies GROUP BY mention_id ORDER BY mention_id"
    )
    assert rows == [["telegram:-100_55", 1], ["vk:wall-1_100", 1]] or rows == [
        ("telegram:-100_55", 1),
        ("vk:wall-1_100", 1),
    ]
    replies = [json.loads(v) for _, v, _ in stack.read_topic("replies.outbound")]
    assert {r["reply_id"] for r in replies} and len({r["reply_id"] for r in replies}) == 2
    assert w.scalar("SELECT count() FROM incidents.dead_letters") == 0


def test_replay_publishes_posts_and_answers_in_event_time_order_keyed_by_region(
    stack: Stack, tmp_path: Path
) -> None:
    """`incidents replay posts --responses answers`: one merged, event-time-ordered stream;
    posts keyed by their region so a backfill keeps each region's order through enrich."""
    posts = tmp_path / "posts.jsonl"
    answers = tmp_path / "answers.jsonl"
    no_hint = {k: v for k, v in COPY.items() if k != "region_hint"}
    posts.write_bytes(_b(MENTION) + b"\n" + _b(no_hint) + b"\nnot json\n")
    answers.write_bytes(_b(ANSWER) + b"\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "incidents.cli.main",
            "replay",
            str(posts),
            "--responses",
            str(answers),
        ],
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "published 4 messages" in done.stderr
    raw = stack.read_topic("mentions.raw")
    keys = {v: k for k, v, _ in raw}
    assert keys[_b(MENTION)] == b"RU-TVE"  # the region hint
    assert keys[_b(no_hint)] == no_hint["id"].encode()  # no hint: the id
    assert keys[b"not json"] is None  # still published, for enrich to dead-letter
    assert [k for k, _, _ in stack.read_topic("responses")] == [b"resp-int-1"]
    by_id = subprocess.run(
        [sys.executable, "-m", "incidents.cli.main", "replay", str(posts), "--key", "id"],
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert by_id.returncode == 0, by_id.stderr
    again = [k for k, v, _ in stack.read_topic("mentions.raw") if v == _b(MENTION)]
    assert sorted(again) == sorted([b"RU-TVE", MENTION["id"].encode()])  # two partitions
