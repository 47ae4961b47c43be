"""Stated origins: a repost or forward the platform names is linked without comparing texts.

incidents/domain/copies/origin.py says what happens when the original is in the window,
when it arrives after its copies, and when it never comes; the dedup stage calls it
before the text rules (Deduplicator._stated_original), with its own window and store.
"""

from __future__ import annotations

from datetime import timedelta

import msgspec

from incidents.contracts.models import Mention, Origin
from incidents.domain.copies.origin import StatedOrigins, stated_origin
from tests.domain.desk.test_desk import T0, feed, mention, new_desk

SHORT = "Нет света на Горького 5"  # five words: too short for the text rules to link alone


def copy_of(mid: str, text: str, origin: str, hours: float = 1) -> Mention:
    m = mention(mid, text, at=T0 + timedelta(hours=hours))
    return msgspec.structs.replace(
        m,
        origin=Origin(id=origin, platform=origin.split(":", 1)[0]),  # type: ignore[arg-type]
    )


def test_a_forward_of_a_post_in_the_window_is_its_duplicate_whatever_the_text() -> None:
    """A short channel post forwarded into a chat of the same platform: the text rules
    link a short text only at one place or carried to another network, so without
    the platform's word the forward was a second resident."""
    desk = new_desk()
    (orig,) = feed(desk, mention("telegram:-1002000111222/5120", SHORT))
    inc = orig.mentions[0].incident_id
    assert inc is not None
    (fwd,) = feed(
        desk, copy_of("telegram:-1001733245519/9120", SHORT, "telegram:-1002000111222/5120")
    )
    d = fwd.mentions[0]
    assert d.status == "duplicate" and d.duplicate_of == "telegram:-1002000111222/5120"
    assert d.incident_id == inc
    assert [e.type for e in fwd.events] == ["duplicate_linked"]


def test_a_repost_with_words_around_it_is_linked_by_its_origin() -> None:
    """A city public's repost: the original's text, then a comment longer than the
    words a repost may add at an edge (dedup.EDGE_WORDS)."""
    desk = new_desk()
    text = "На улице Склизкова возле дома 12 огромная яма на дороге, машины ломают колёса"
    (orig,) = feed(desk, mention("vk:wall-41237765_61502", text))
    comment = (
        "Комментарий к репосту: администрация, обратите внимание, это уже третья жалоба за "
        "неделю, люди вынуждены объезжать по встречной полосе и по тротуару"
    )
    (rep,) = feed(
        desk, copy_of("vk:wall-51000001_88231", f"{text}\n\n{comment}", "vk:wall-41237765_61502")
    )
    assert rep.mentions[0].duplicate_of == "vk:wall-41237765_61502"
    assert rep.mentions[0].incident_id == orig.mentions[0].incident_id


def test_copies_before_their_original_are_one_family_and_the_original_joins_it() -> None:
    """The original may come later than its copies (another connector, a slower
    source), or never. The first copy stands for it: the second copy is its
    duplicate, and so is the original when it comes; one incident in the end."""
    desk = new_desk()
    origin = "telegram:-1002000111222/5120"
    (first,) = feed(desk, copy_of("telegram:-1001733245519/9120", SHORT, origin, hours=1))
    assert first.mentions[0].status == "accepted"  # judged by its text: opens an incident
    inc = first.mentions[0].incident_id
    assert inc is not None
    (second,) = feed(desk, copy_of("telegram:-1001999000222/77", SHORT + "!!!", origin, hours=2))
    assert second.mentions[0].duplicate_of == "telegram:-1001733245519/9120"
    (late,) = feed(desk, mention(origin, SHORT, at=T0))  # posted first, arrives last
    assert late.mentions[0].status == "duplicate"
    assert late.mentions[0].duplicate_of == "telegram:-1001733245519/9120"
    assert late.mentions[0].incident_id == inc
    record = desk.get_incident(inc)
    assert record is not None and record.incident.mentions_count == 3


def test_an_original_that_never_comes_changes_nothing_and_is_forgotten_with_its_copy() -> None:
    desk = new_desk()
    origin = "vk:wall100_1"  # a resident's wall nobody monitors
    (copy,) = feed(desk, copy_of("vk:wall-51000001_5", SHORT, origin))
    assert copy.mentions[0].status == "accepted" and copy.mentions[0].incident_id
    window = desk.dedup.store  # the dedup stage's store holds the window
    assert window.get("o:" + origin) == b"vk:wall-51000001_5"
    days = desk.dedup.dedup.window_days + 1
    feed(desk, mention("vk:wall-1_999", "Другой пост много позже", at=T0 + timedelta(days=days)))
    assert "o:" + origin not in window  # left the window with the copy that named it


def test_an_original_outside_the_window_is_not_linked() -> None:
    desk = new_desk()
    feed(desk, mention("telegram:-1002000111222/5120", SHORT))
    later = desk.dedup.dedup.window_days + 2
    (fwd,) = feed(
        desk,
        copy_of("telegram:-1001733245519/9120", SHORT, "telegram:-1002000111222/5120", 24 * later),
    )
    assert fwd.mentions[0].status == "accepted"


def test_links_survive_a_restart() -> None:
    """The first copy's standing is in the stores, which are all restarted stages have."""
    store: dict[str, bytes] = {}
    window: dict[str, bytes] = {}
    origin = "telegram:-1002000111222/5120"
    feed(
        new_desk(store, dedup_store=window), copy_of("telegram:-1001733245519/9120", SHORT, origin)
    )
    (late,) = feed(new_desk(store, dedup_store=window), mention(origin, SHORT, at=T0))
    assert late.mentions[0].duplicate_of == "telegram:-1001733245519/9120"


def test_stated_origins_alone() -> None:
    """The small interface the dedup stage calls (what it does above)."""
    store: dict[str, bytes] = {}
    links = StatedOrigins(store)
    seen = {"a"}
    assert links.linked("c1", "a", seen.__contains__) == "a"
    assert links.linked("c1", "x", seen.__contains__) is None
    links.remember("c1", "x", seen.__contains__)
    seen.add("c1")
    assert links.linked("c2", "x", seen.__contains__) == "c1"  # a second copy
    assert links.linked("x", None, seen.__contains__) == "c1"  # the original, late
    links.remember("c2", "x", seen.__contains__)  # the first copy keeps standing
    assert links.first_copy("x") == "c1"
    links.forget("c2", "x")
    assert links.first_copy("x") == "c1"
    links.forget("c1", "x")
    assert store == {}
    m = mention("vk:1", SHORT)
    assert stated_origin(m) is None
    assert (
        stated_origin(msgspec.structs.replace(m, origin=Origin(id="vk:1", platform="vk"))) is None
    )
