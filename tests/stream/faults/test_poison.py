"""A poison message in every topic: dead-lettered with its reason, never a stopped stream."""

from __future__ import annotations

import base64
import json
import time

import pytest

from tests.support.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.faults]

INPUTS = [
    "mentions.raw", "mentions.enriched", "mentions.deduped", "desk.commands", "responses",
    "incidents.commands", "mentions.resolved", "incidents", "incidents.events", "replies.outbound",
]  # fmt: skip
GOOD = {
    "id": "vk:after-poison",
    "platform": "vk",
    "source": {"id": "club1"},
    "text": "На остановке «Центральный рынок» в Твери сломан павильон, стекла разбиты, дети могут порезаться",
    "created_at": "2026-11-12T10:00:00+03:00",
    "region_hint": "RU-TVE",
}


def test_poison_in_every_topic_is_dead_lettered_and_the_worker_keeps_going(stack: Stack) -> None:
    w = stack.start_worker()
    for base in INPUTS:
        stack.publish(base, [f"\x00poison for {base} {{".encode()], [b"poison-" + base.encode()])
    stack.publish("mentions.dlq", [b"\x00poison in the dead-letter topic itself"])
    stack.publish(
        "mentions.raw", [json.dumps(GOOD, ensure_ascii=False).encode()], [b"vk:after-poison"]
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if w.scalar("SELECT count() FROM incidents.mentions WHERE id = 'vk:after-poison'") == 1:
            break
        time.sleep(1)
    assert w.alive()
    assert w.scalar("SELECT count() FROM incidents.mentions WHERE id = 'vk:after-poison'") == 1
    stack.wait_drained()
    dlq = [json.loads(v) for _, v, _ in stack.read_topic("mentions.dlq") if v.startswith(b"{")]
    by_topic = {d["topic"].removeprefix(stack.prefix): d for d in dlq}
    for base in INPUTS:
        assert base in by_topic, f"poison in {base} was not dead-lettered"
        d = by_topic[base]
        assert base64.b64decode(d["original_b64"]).startswith(b"\x00poison for " + base.encode())
        assert d["reason"] and d["error_kind"] in ("invalid_json", "schema", "invalid_encoding")
    stored = {r[0] for r in w.query("SELECT topic FROM incidents.dead_letters")}
    assert {stack.topic(b) for b in INPUTS} <= stored


def test_a_bad_mention_inside_a_batch_is_dead_lettered_alone_with_its_own_bytes(
    stack: Stack,
) -> None:
    """mentions.enriched carries batches: one broken mention in one costs nothing to the
    others, and its dead letter holds its bytes, which a replay can send back alone."""
    from incidents.config.settings import Settings
    from incidents.contracts.models import encode
    from incidents.domain.enrichment import Enricher
    from incidents.kafka.topics import pack_mentions

    w = stack.start_worker()
    en = Enricher.from_settings(Settings().enrich)
    good = en.enrich([en.decode(json.dumps(GOOD, ensure_ascii=False).encode())])[0]
    broken = b'{"id": "vk:broken-in-batch", "text": 5}'
    (batch,) = pack_mentions([broken, encode(good)])
    stack.publish("mentions.enriched", [batch], [b"all"])
    stack.wait_drained()
    assert w.scalar("SELECT count() FROM incidents.mentions WHERE id = 'vk:after-poison'") == 1
    dlq = [json.loads(v) for _, v, _ in stack.read_topic("mentions.dlq") if v.startswith(b"{")]
    (letter,) = [d for d in dlq if d.get("mention_id") == "vk:broken-in-batch"]
    assert base64.b64decode(letter["original_b64"]) == broken
    assert letter["stage"] == "dedup" and letter["error_kind"] == "schema"
