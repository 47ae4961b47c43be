"""`incidents dlq show|replay`: dead letters go back to where they failed, once the cause is gone."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import msgspec
import pytest

from incidents.domain.desk.records import short_hash
from tests.support.stack import Stack

pytestmark = pytest.mark.integration

MENTION = {
    "id": "vk:wall-7_7",
    "platform": "vk",
    "source": {"id": "club7"},
    "text": "В Твери на улице Горького у дома 40 прорвало трубу, вода хлещет на тротуар",
    "created_at": "2026-11-16T10:00:00+03:00",
    "region_hint": "RU-TVE",
}
INCIDENT = f"RU-TVE/{short_hash('vk:wall-7_7')}"
ANSWER = {
    "response_id": "resp-dlq-1",
    "kind": "interim",
    "agency": "Водоканал",
    "text": "Аварийная бригада выехала.",
    "responded_at": "2026-11-16T11:00:00+03:00",
    "incident_id": INCIDENT,
}


def _cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "incidents.cli.main", *args],
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_an_answer_dead_lettered_for_an_unknown_incident_is_replayed_once_it_exists(
    stack: Stack,
) -> None:
    w = stack.start_worker()
    # The console answered an incident id this pipeline does not have (yet).
    stack.publish("responses", [json.dumps(ANSWER, ensure_ascii=False).encode()], [b"resp-dlq-1"])
    stack.wait_drained()
    shown = _cli(stack, "dlq", "show", "--kind", "unknown_incident")
    assert shown.returncode == 0, shown.stderr
    assert "unknown_incident" in shown.stdout and "1 matching" in shown.stderr
    # The mention arrives; its incident now exists.
    stack.publish(
        "mentions.raw", [json.dumps(MENTION, ensure_ascii=False).encode()], [b"vk:wall-7_7"]
    )
    stack.wait_drained()
    dry = _cli(stack, "dlq", "replay", "--kind", "unknown_incident", "--dry-run")
    assert dry.returncode == 0 and "would replay 1" in dry.stderr, dry.stderr
    done = _cli(stack, "dlq", "replay", "--kind", "unknown_incident")
    assert done.returncode == 0 and "replayed 1" in done.stderr, done.stderr
    again = _cli(stack, "dlq", "replay", "--kind", "unknown_incident")
    assert "replayed 0" in again.stderr, "a second replay continues where the first stopped"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not w.query("SELECT reply_id FROM incidents.replies"):
        time.sleep(1)
    assert [r[0] for r in w.query("SELECT mention_id FROM incidents.replies")] == ["vk:wall-7_7"]


def test_an_answer_that_waited_in_vain_for_its_post_is_replayed_to_the_answers_topic(
    stack: Stack,
) -> None:
    """An answer parked for a post that did not come within the TTL is dead-lettered
    under the responses topic, so replaying it after the post arrived delivers it."""
    w = stack.start_worker(INCIDENTS_SLA_PARKED_RESPONSE_TTL_S="3600")
    answer = {
        **ANSWER,
        "response_id": "resp-dlq-2",
        "mention_id": "vk:wall-7_8",
        "region": "RU-TVE",
    }
    del answer["incident_id"]
    stack.publish("responses", [json.dumps(answer, ensure_ascii=False).encode()], [b"resp-dlq-2"])
    stack.wait_drained()
    # Three hours of event time pass in the region (another post): the answer gives up.
    later = {**MENTION, "id": "vk:wall-7_9", "created_at": "2026-11-16T14:30:00+03:00",
             "text": "В Твери на Тверском проспекте не горят фонари у дома 5"}  # fmt: skip
    stack.publish("mentions.raw", [json.dumps(later, ensure_ascii=False).encode()], [b"x"])
    stack.wait_drained()
    deadline = time.monotonic() + 60
    rows: list[tuple[object, ...]] = []
    while time.monotonic() < deadline and not rows:
        rows = w.query(
            "SELECT stage, topic FROM incidents.dead_letters FINAL WHERE error_kind = 'unknown_incident'"
        )
        time.sleep(0.5)
    assert rows == [("group", stack.topic("responses"))]
    # The post turns up (a connector was down); the operator replays the dead letter.
    post = {**MENTION, "id": "vk:wall-7_8"}
    stack.publish("mentions.raw", [json.dumps(post, ensure_ascii=False).encode()], [b"vk:wall-7_8"])
    stack.wait_drained()
    done = _cli(stack, "dlq", "replay", "--kind", "unknown_incident")
    assert done.returncode == 0 and "replayed 1" in done.stderr, done.stderr
    stack.wait_drained()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not w.query("SELECT reply_id FROM incidents.replies"):
        time.sleep(1)
    assert [r[0] for r in w.query("SELECT mention_id FROM incidents.replies")] == ["vk:wall-7_8"]


def test_connector_dead_letters_are_not_replayed_into_mentions_raw(stack: Stack) -> None:
    """A connector's dead letter holds the platform's JSON, not a RawMention: replaying it
    to mentions.raw would only fail again, so `dlq replay` counts it and leaves it."""
    from incidents.kafka.dlq import dead_letter

    raw = b'{"response": {"items": [{"id": 1, "text": "\\u043f\\u043e'  # cut-off VK page
    d = dead_letter(
        stage="connector:vk", topic=stack.topic("mentions.raw"), partition=0, offset=0,
        value=raw, key=None, error_kind="invalid_json", reason="vk:wall: cut-off page",
    )  # fmt: skip
    w = stack.start_worker()
    stack.publish("mentions.dlq", [msgspec.json.encode(d)], [d.dlq_id.encode()])
    dry = _cli(stack, "dlq", "replay", "--dry-run", "--from-beginning")
    assert dry.returncode == 0 and "would replay 0" in dry.stderr, dry.stderr
    assert "1 came from a connector" in dry.stderr
    done = _cli(stack, "dlq", "replay", "--from-beginning")
    assert done.returncode == 0 and "replayed 0" in done.stderr, done.stderr
    stack.wait_drained()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not w.query("SELECT 1 FROM incidents.dead_letters"):
        time.sleep(1)
    stages = w.query("SELECT stage, count() FROM incidents.dead_letters GROUP BY stage")
    assert stages == [("connector:vk", 1)], "nothing went to mentions.raw to fail again"
