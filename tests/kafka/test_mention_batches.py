"""The internal mention topics carry batches: one message per stage batch and key."""

from __future__ import annotations

import json

import msgspec

from incidents.contracts.models import Mention, MentionBatch, encode
from incidents.kafka.topics import pack_mentions, unpack_mentions
from tests.domain.desk.test_desk import T0, mention


def _encoded(n: int) -> list[bytes]:
    """n encoded mentions of one length (ids and house numbers of three digits)."""
    posts = [mention(f"vk:{i:03d}", f"Яма у дома {i:03d} на Склизкова", at=T0) for i in range(n)]
    return [encode(m) for m in posts]


def test_a_batch_is_a_json_array_of_mentions_split_at_the_size_limit() -> None:
    items = _encoded(40)
    limit = sum(len(x) for x in items[:10]) + 11  # ten mentions, brackets and commas
    batches = pack_mentions(items, limit=limit)
    assert [len(json.loads(b)) for b in batches] == [10, 10, 10, 10]
    assert all(len(b) <= limit for b in batches)
    unpacked = [part for b in batches for part in unpack_mentions(b) or []]
    assert unpacked == items  # each mention's own bytes, in order
    decoded = msgspec.json.decode(batches[0], type=MentionBatch)
    assert isinstance(decoded, list) and all(isinstance(m, Mention) for m in decoded)


def test_a_mention_longer_than_the_limit_goes_alone() -> None:
    small, big = _encoded(2)
    assert pack_mentions([small, big, small], limit=len(small) + 2) == [
        b"[" + small + b"]",
        b"[" + big + b"]",
        b"[" + small + b"]",
    ]


def test_a_single_mention_is_read_as_it_is_and_a_broken_batch_is_refused_whole() -> None:
    (one,) = _encoded(1)
    assert unpack_mentions(one) == [one]  # a dead letter replayed to the topic
    assert unpack_mentions(b"\x00poison {") == [b"\x00poison {"]  # decoded, then dead-lettered
    assert unpack_mentions(b'[{"id": "vk:1"}, {"id"') is None
    # A batch whose items are JSON but not mentions: split, each dead-lettered alone.
    assert unpack_mentions(b'[{"id": "vk:1"}, 5]') == [b'{"id": "vk:1"}', b"5"]
