"""Answers over the real broker: fan-out to every post, once, whatever the arrival order."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import Stack

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
