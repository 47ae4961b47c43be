"""A copy is a copy whatever its region, over the real broker and ClickHouse.

A resident's complaint in a Tver public; the same text pasted into a Telegram chat
that no source registry places («Подписчики пишут: «…»»), published to another
partition of mentions.raw. The copy joins the original's incident, carries its
region, and the answer given to the original reaches it as a Reply: in order, copy
first, across a worker restart, and with the copy delivered twice.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from confluent_kafka import Producer

from tests.support.stack import Stack, Worker

pytestmark = pytest.mark.integration

ORIGINAL = {
    "id": "vk:wall-77_1001",
    "platform": "vk",
    "source": {"id": "club77", "name": "Тверь онлайн", "kind": "city_public"},
    "text": "На улице Склизкова у дома 48 провал асфальта уже на полполосы, вчера вечером две "
    "машины пробили колёса. Яму никто не огородил. Когда отремонтируют?",
    "created_at": "2026-11-16T08:42:10+03:00",
    "region_hint": "RU-TVE",
}
COPY = {
    "id": "telegram:-1009_3310",
    "platform": "telegram",
    "source": {"id": "-1009", "name": "Барахолка и новости", "kind": "chat"},
    "text": "Подписчики пишут: «" + ORIGINAL["text"] + "» 😡",
    "created_at": "2026-11-16T10:15:02+03:00",
}  # no region_hint, no coordinates, no town named: nothing places it
ANSWER = {
    "response_id": "resp-anywhere-1",
    "kind": "interim",
    "agency": "Министерство транспорта Тверской области",
    "text": "Здравствуйте! Провал огорожен, ремонт запланирован на эту неделю.",
    "responded_at": "2026-11-16T12:00:00+03:00",
    "mention_id": ORIGINAL["id"],
    "region": "RU-TVE",
}


def _b(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()


def _publish_raw(stack: Stack, post: dict[str, Any], partition: int) -> None:
    """Publish a post to the given partition of mentions.raw (copy and original apart)."""
    p = Producer({"bootstrap.servers": stack.broker.bootstrap, "enable.idempotence": True})
    p.produce(stack.topic("mentions.raw"), _b(post), key=post["id"].encode(), partition=partition)
    assert p.flush(30) == 0
    stack.external["mentions.raw"] = stack.external.get("mentions.raw", 0) + 1


def _answer_the_original(stack: Stack) -> None:
    stack.publish("responses", [_b(ANSWER)], [ANSWER["response_id"].encode()])
    stack.wait_drained()


def _rows(w: Worker, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in w.query(sql)]


def _mention(w: Worker, mention_id: str) -> tuple[Any, ...]:
    (row,) = _rows(
        w,
        "SELECT status, duplicate_of, region, incident_id FROM incidents.mentions "
        f"WHERE id = '{mention_id}'",
    )
    return row


def _replies(w: Worker) -> list[tuple[Any, ...]]:
    return _rows(
        w,
        "SELECT mention_id, response_id, incident_id, count() FROM incidents.replies "
        "GROUP BY mention_id, response_id, incident_id ORDER BY mention_id",
    )


def _deduped(stack: Stack) -> list[tuple[bytes | None, dict[str, Any]]]:
    """(key, mention) for every mention on mentions.deduped (messages carry batches)."""
    out = []
    for key, value, _ in stack.read_topic("mentions.deduped"):
        doc = json.loads(value)
        out.extend((key, m) for m in (doc if isinstance(doc, list) else [doc]))
    return out


def _deduped_keys(stack: Stack) -> dict[str, bytes | None]:
    return {m["id"]: k for k, m in _deduped(stack)}


def test_a_copy_without_a_region_joins_its_originals_incident_and_gets_its_answer(
    stack: Stack,
) -> None:
    w = stack.start_worker()
    _publish_raw(stack, ORIGINAL, partition=0)
    _publish_raw(stack, COPY, partition=1)
    stack.wait_drained()
    _answer_the_original(stack)

    status, _, region, incident = _mention(w, ORIGINAL["id"])
    assert (status, region) == ("accepted", "RU-TVE") and incident.startswith("RU-TVE/")
    assert _mention(w, COPY["id"]) == ("duplicate", ORIGINAL["id"], "RU-TVE", incident)
    # Keyed by its original's region, so it reached the desk that holds the incident.
    assert _deduped_keys(stack)[COPY["id"]] == b"RU-TVE"
    assert _replies(w) == [
        (COPY["id"], ANSWER["response_id"], incident, 1),
        (ORIGINAL["id"], ANSWER["response_id"], incident, 1),
    ]
    assert w.scalar("SELECT count() FROM incidents.dead_letters") == 0


def test_a_copy_that_arrives_first_ends_in_one_incident_in_the_originals_region(
    stack: Stack,
) -> None:
    """The earlier-seen post stays the root; the original gives the family its region,
    and the copy's incident (opened in `unknown`) moves there."""
    w = stack.start_worker()
    _publish_raw(stack, COPY, partition=1)
    stack.wait_drained()
    first = _mention(w, COPY["id"])
    assert first[:3] == ("accepted", "", "")  # nothing placed it, nothing to copy yet
    _publish_raw(stack, ORIGINAL, partition=0)
    stack.wait_drained()
    _answer_the_original(stack)

    status, root, region, incident = _mention(w, ORIGINAL["id"])
    assert (status, root, region) == ("duplicate", COPY["id"], "RU-TVE")
    assert incident.startswith("RU-TVE/")
    (members,) = _rows(
        w, f"SELECT mentions_count, status FROM incidents.incidents FINAL WHERE id = '{incident}'"
    )
    assert members[0] == 2
    (moved,) = _rows(
        w,
        f"SELECT status, merged_into FROM incidents.incidents FINAL WHERE id = '{first[3]}'",
    )
    assert moved == ("merged_into", incident)
    assert _replies(w) == [
        (COPY["id"], ANSWER["response_id"], incident, 1),
        (ORIGINAL["id"], ANSWER["response_id"], incident, 1),
    ]
    assert w.scalar("SELECT count() FROM incidents.dead_letters") == 0


def test_a_copy_after_a_worker_restart_still_finds_its_original(stack: Stack) -> None:
    """The dedup window and the desk live in their changelogs: a new worker process
    recovers both before the copy arrives."""
    w = stack.start_worker()
    _publish_raw(stack, ORIGINAL, partition=0)
    stack.wait_drained()
    assert w.stop() == 0
    stack.external.clear()  # the new process counts what it consumes from now on
    w = stack.start_worker()
    _publish_raw(stack, COPY, partition=1)
    stack.wait_drained(timeout=240)  # after the tables' recovery, which a loaded machine slows
    _answer_the_original(stack)

    incident = _mention(w, ORIGINAL["id"])[3]
    assert _mention(w, COPY["id"]) == ("duplicate", ORIGINAL["id"], "RU-TVE", incident)
    assert _replies(w) == [
        (COPY["id"], ANSWER["response_id"], incident, 1),
        (ORIGINAL["id"], ANSWER["response_id"], incident, 1),
    ]


def test_the_same_copy_delivered_twice_is_one_post_of_the_incident(stack: Stack) -> None:
    w = stack.start_worker()
    _publish_raw(stack, ORIGINAL, partition=0)
    _publish_raw(stack, COPY, partition=1)
    stack.wait_drained()
    _publish_raw(stack, COPY, partition=2)  # a connector re-polled it
    stack.wait_drained()
    _answer_the_original(stack)

    incident = _mention(w, ORIGINAL["id"])[3]
    assert _mention(w, COPY["id"]) == ("duplicate", ORIGINAL["id"], "RU-TVE", incident)
    (count,) = _rows(
        w, f"SELECT mentions_count FROM incidents.incidents FINAL WHERE id = '{incident}'"
    )
    assert count == (2,)
    # Both deliveries went to the same desk partition, with the same verdict.
    keys = [k for k, m in _deduped(stack) if m["id"] == COPY["id"]]
    assert keys == [b"RU-TVE", b"RU-TVE"]
    assert _replies(w) == [
        (COPY["id"], ANSWER["response_id"], incident, 1),
        (ORIGINAL["id"], ANSWER["response_id"], incident, 1),
    ]
