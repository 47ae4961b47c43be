"""Edited posts: a new version of a mention id is re-judged, not taken for a redelivery.

docs/incidents.md ("Edited posts") says what happens: the version with the latest
`edited_at` wins; the same words keep their verdict; other words make the post
leave its incident and be decided again, which may move it to another incident.
"""

from __future__ import annotations

from datetime import timedelta

import msgspec

from incidents.contracts.models import Mention
from incidents.domain.desk.desk import Desk
from tests.domain.desk.test_desk import T0, feed, mention, new_desk

PIT = "На улице Склизкова у дома 48 огромная яма во дворе, машины ломают подвеску, просим засыпать"
VAGUE = "Во дворе яма, машины бьют подвеску"
PRECISE = "Во дворе дома 48 на улице Склизкова яма, машины бьют подвеску"
ADDRESS = "ул. Склизкова, 48"


def edit(m: Mention, text: str, minutes: int = 30, **place: str | None) -> Mention:
    new = msgspec.structs.replace(m, text=text, edited_at=m.created_at + timedelta(minutes=minutes))
    if place:
        new = msgspec.structs.replace(new, place=msgspec.structs.replace(m.place, **place))
    return new


def two_incidents() -> tuple[Desk, str, str, Mention]:
    desk = new_desk()
    pit = mention("vk:wall-1_10", PIT, address=ADDRESS)
    vague = mention("telegram:-100/5", VAGUE, at=T0 + timedelta(hours=1))
    a, b = feed(desk, pit, vague)
    assert a.mentions[0].incident_id != b.mentions[0].incident_id
    return desk, a.mentions[0].incident_id or "", b.mentions[0].incident_id or "", vague


def test_an_edit_that_adds_the_address_moves_the_post_to_that_incident() -> None:
    """A resident corrects the post with the address: the edit used to be taken for a
    redelivery of the first version, so the post stayed in an incident of its own."""
    desk, pit_inc, own_inc, vague = two_incidents()
    (out,) = feed(desk, edit(vague, PRECISE, address=ADDRESS))
    assert out.revised and not out.redelivered
    m = out.mentions[0]
    assert m.text == PRECISE and m.incident_id == pit_inc and m.edited_at is not None
    by_id = {i.id: i for i in out.incidents}
    assert by_id[pit_inc].mentions_count == 2 and "telegram:-100/5" in by_id[pit_inc].mention_ids
    assert by_id[own_inc].status == "merged_into" and by_id[own_inc].merged_into == pit_inc
    assert [(e.type, e.incident_id) for e in out.events] == [
        ("attached", pit_inc),
        ("detached", own_inc),
        ("merged", own_inc),
    ]
    record = desk._get_mention("telegram:-100/5")
    assert record is not None and record.incident_id == pit_inc and record.edited > 0


def test_the_same_version_again_or_an_older_one_changes_nothing() -> None:
    desk, pit_inc, _, vague = two_incidents()
    new = edit(vague, PRECISE, address=ADDRESS)
    feed(desk, new)
    (again,) = feed(desk, new)
    assert again.redelivered and again.mentions[0].incident_id == pit_inc
    (old,) = feed(desk, vague)  # the first version, redelivered after the edit
    assert old.redelivered and old.mentions[0].incident_id == pit_inc
    record = desk.get_incident(pit_inc)
    assert record is not None and record.incident.mentions_count == 2


def test_an_edit_with_the_same_words_keeps_the_verdict() -> None:
    desk, _, own_inc, vague = two_incidents()
    (out,) = feed(desk, edit(vague, VAGUE.upper() + "!!!"))
    assert out.revised and out.mentions[0].incident_id == own_inc
    assert out.events == [] and out.incidents == []
    record = desk._get_mention(vague.id)
    assert record is not None and record.edited == out.mentions[0].edited_at.timestamp()  # type: ignore[union-attr]


def test_the_only_post_of_an_incident_rewritten_keeps_its_incident_updated() -> None:
    desk = new_desk()
    first = mention("vk:wall-1_10", PIT, address=ADDRESS)
    (out,) = feed(desk, first)
    inc = out.incidents[-1]
    text = "На улице Склизкова у дома 48 огромная яма во дворе уже неделю, засыпьте наконец"
    (ed,) = feed(desk, edit(first, text))
    assert ed.mentions[0].incident_id == inc.id
    (after,) = [i for i in ed.incidents if i.id == inc.id]
    assert after.version > inc.version and after.title == text and after.status == inc.status
    assert after.mentions_count == 1 and after.opened_at == inc.opened_at
    assert {e.event_id for e in ed.events}.isdisjoint({e.event_id for e in out.events})


def test_an_edit_that_is_no_longer_an_appeal_closes_the_incident_it_was_alone_in() -> None:
    desk, _, own_inc, vague = two_incidents()
    thanks = msgspec.structs.replace(
        edit(vague, "Спасибо, яму уже засыпали, вопрос снят"),
        is_appeal=False,
        category=None,
        agency=None,
        relevance="noise",
    )
    (out,) = feed(desk, thanks)
    assert out.mentions[0].incident_id is None
    (closed,) = [i for i in out.incidents if i.id == own_inc]
    assert closed.status == "closed" and closed.closed_at is not None
    assert [e.type for e in out.events] == ["detached", "closed"]


def test_an_edited_copy_that_is_no_longer_a_copy_leaves_its_originals_incident() -> None:
    desk = new_desk()
    orig = mention("vk:wall-1_10", PIT, address=ADDRESS)
    copy = mention("telegram:-100/7", f"Подписчики пишут: «{PIT}»", at=T0 + timedelta(hours=1))
    a, c = feed(desk, orig, copy)
    assert c.mentions[0].duplicate_of == orig.id
    inc = a.mentions[0].incident_id
    other = "На Волоколамском шоссе прорвало трубу, вода идёт по дороге и заливает подвалы домов"
    (out,) = feed(desk, msgspec.structs.replace(edit(copy, other), category="utilities"))
    m = out.mentions[0]
    assert m.status == "accepted" and m.duplicate_of is None and m.incident_id != inc
    left = desk.get_incident(inc or "")
    assert left is not None and left.incident.mentions_count == 1
    assert copy.id not in left.incident.mention_ids
    assert ("detached", inc) in [(e.type, e.incident_id) for e in out.events]
