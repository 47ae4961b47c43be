"""Reposts, forwards and edits through the stream: connector mapping → broker → worker.

The RawMentions are what the connectors make of platform payloads (the VK wall
fixture and written/vk-reposts.json, written/telegram-updates.json, shaped as the
real recordings in tests/connectors/fixtures/real): a VK post and a city public's
repost of it with a comment of its own, a Telegram channel post and its forward
into a city chat, and a chat message whose author then edits the address in.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from incidents.connectors.registry import parse_registry
from incidents.connectors.sources import telegram, vk
from incidents.contracts.models import RawMention, encode
from tests.support.fakes import FIXTURES
from tests.support.stack import Stack

pytestmark = pytest.mark.integration

REGISTRY = parse_registry(
    {
        "sources": [
            {"platform": "vk", "id": "-41237765", "name": "Тверь | Главное",
             "kind": "city_public", "region": "RU-TVE", "municipality": "Тверь"},
            {"platform": "vk", "id": "-51000001", "name": "Подслушано Тверь",
             "kind": "city_public", "region": "RU-TVE"},
            {"platform": "telegram", "id": "-1001733245519", "name": "Тверь онлайн",
             "kind": "chat", "region": "RU-TVE"},
            {"platform": "telegram", "id": "-1002000111222", "name": "Подслушано Тверь",
             "kind": "city_public", "region": "RU-TVE"},
        ]
    }
)  # fmt: skip


def _payloads() -> tuple[dict[int, Any], list[Any], dict[int, Any]]:
    wall = {p["id"]: p for p in json.loads((FIXTURES / "vk_wall.json").read_text())["-41237765"]}
    reposts = json.loads((FIXTURES / "written" / "vk-reposts.json").read_text())
    updates = json.loads((FIXTURES / "written" / "telegram-updates.json").read_text())
    return wall, reposts["response"]["items"], {u["update_id"]: u for u in updates["result"]}


def _raw(out: object) -> RawMention:
    assert isinstance(out, RawMention), out
    return out


def _publish(stack: Stack, mentions: list[RawMention]) -> None:
    stack.publish("mentions.raw", [encode(m) for m in mentions], [m.id.encode() for m in mentions])
    stack.wait_drained()


def _latest(stack: Stack) -> dict[str, dict[str, Any]]:
    """The newest version of each mention on mentions.resolved (greatest edited_at)."""
    out: dict[str, dict[str, Any]] = {}
    for _, value, _ in stack.read_topic("mentions.resolved"):
        m = json.loads(value)
        have = out.get(m["id"])
        if have is None or (m.get("edited_at") or "") >= (have.get("edited_at") or ""):
            out[m["id"]] = m
    return out


def test_a_repost_and_a_forward_of_posts_in_the_window_join_their_originals(stack: Stack) -> None:
    wall, reposts, updates = _payloads()
    original = _raw(vk.map_post(wall[61502], REGISTRY))
    channel = _raw(telegram.map_update(updates[880001], REGISTRY))
    vague = _raw(telegram.map_update(updates[880003], REGISTRY))
    repost = _raw(vk.map_post(reposts[0], REGISTRY))
    forward = _raw(telegram.map_update(updates[880002], REGISTRY))
    edit = _raw(telegram.map_update(updates[880004], REGISTRY))
    assert repost.origin is not None and repost.origin.id == original.id
    assert forward.origin is not None and forward.origin.id == channel.id

    stack.start_worker()
    _publish(stack, [original, channel, vague])  # the originals first, in the window
    first = _latest(stack)
    incident = first[original.id]["incident_id"]
    assert incident and first[channel.id]["incident_id"]
    assert first[vague.id]["incident_id"] not in (None, incident)

    _publish(stack, [repost, forward, edit])
    got = _latest(stack)
    rep, fwd, ed = got[repost.id], got[forward.id], got[vague.id]
    # The repost (the original's text and a comment around it) and the forward (a short
    # text in the same network, which the text rules do not link) by the platform's word.
    assert rep["status"] == "duplicate" and rep["duplicate_of"] == original.id
    assert rep["incident_id"] == incident
    assert rep["origin"]["id"] == original.id
    assert fwd["status"] == "duplicate" and fwd["duplicate_of"] == channel.id
    assert fwd["incident_id"] == first[channel.id]["incident_id"]
    # The edit that names the address moves the post into the pothole's incident.
    assert ed["text"] == edit.text and ed["edited_at"]
    assert ed["incident_id"] == incident
    events = [json.loads(v) for _, v, _ in stack.read_topic("incidents.events")]
    moved = [(e["type"], e["incident_id"]) for e in events if e.get("mention_id") == vague.id]
    assert ("detached", first[vague.id]["incident_id"]) in moved
    assert ("attached", incident) in moved
    incidents = {}
    for _, v, _ in stack.read_topic("incidents"):
        inc = json.loads(v)
        if inc["version"] >= incidents.get(inc["id"], {}).get("version", 0):
            incidents[inc["id"]] = inc
    assert incidents[first[vague.id]["incident_id"]]["status"] == "merged_into"
    assert {original.id, repost.id, vague.id} <= set(incidents[incident]["mention_ids"])
