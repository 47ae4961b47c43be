"""The dedup stage: one window for every region; a copy takes its original's place.

The rules that tell a copy from another resident's post are tested in
test_dedup_rewrites.py; here, what the stage does with a copy once found: where it
is placed, what it inherits, what it keeps of its own, how a family without a
region gets one, and that redeliveries and restarts change nothing.
"""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest

from incidents.config.settings import DedupSettings
from incidents.contracts.models import (
    AdoptCommand,
    GeoPoint,
    Mention,
    OfficialResponse,
    Origin,
    RespondCommand,
)
from incidents.domain.copies.dedup import (
    ABOUT_FIELDS,
    OWN_FIELDS,
    Deduplicator,
    Verdict,
    placing_of,
)
from tests.domain.desk.test_desk import T0, feed, mention, new_desk

ORIGINAL = (
    "На улице Склизкова у дома 48 провал асфальта уже на полполосы, вчера вечером две машины "
    "пробили колёса. Яму никто не огородил. Когда отремонтируют?"
)
WRAPPED = f"Подписчики пишут: «{ORIGINAL}» 😡"
AGENCY = "Министерство транспорта Тверской области"


def _original(**kw: object) -> Mention:
    base: dict[str, object] = {"address": "ул. Склизкова, 48", "agency": AGENCY}
    base.update(kw)
    return mention("vk:1", ORIGINAL, **base)  # type: ignore[arg-type]


def _copy(mid: str = "telegram:2", hours: float = 2, **kw: object) -> Mention:
    """A copy nothing places: no hint, no pin, no town in the text; classified apart."""
    base: dict[str, object] = {
        "region": None,
        "municipality": None,
        "category": "other",
        "agency": None,
        "at": T0 + timedelta(hours=hours),
    }
    base.update(kw)
    return mention(mid, WRAPPED, **base)  # type: ignore[arg-type]


def _window(store: dict[str, bytes] | None = None) -> Deduplicator:
    return Deduplicator(store if store is not None else {}, DedupSettings())


def _decide(window: Deduplicator, *mentions: Mention) -> list[Verdict]:
    return [window.resolve(p) for p in window.prepare(list(mentions))]


def test_every_mention_field_is_the_posts_own_or_inherited_by_its_copies() -> None:
    """A field added to Mention later (a problem type, say) is inherited unless listed as
    the post's own: copies take what their original was found to be about."""
    fields = {f.name for f in msgspec.structs.fields(Mention)}
    assert set(ABOUT_FIELDS) == fields - OWN_FIELDS
    assert {"place", "agency", "category", "is_appeal"} <= set(ABOUT_FIELDS)
    assert {"id", "text", "created_at", "source", "priority", "status"} <= OWN_FIELDS


def test_a_copy_without_a_region_takes_its_originals_place_and_classification() -> None:
    window = _window()
    orig, copy = _decide(window, _original(), _copy())
    assert orig.mention.status == "accepted" and orig.placing == "original"
    m = copy.mention
    assert (m.status, m.duplicate_of, copy.placing) == ("duplicate", "vk:1", "region_filled")
    assert m.place == _original().place  # region, municipality, address
    assert (m.category, m.agency, m.is_appeal) == ("roads", AGENCY, True)
    assert m.own_place is None and m.priority == "normal" and m.source.id == "src-telegram"
    assert copy.commands == []


def test_a_copy_keeps_its_own_pin_and_its_own_other_region_as_flagged_evidence() -> None:
    pin = GeoPoint(lat=56.86, lon=35.9)
    window = _window()
    _, copy = _decide(window, _original(), _copy(region="RU-IVA", municipality="Иваново", geo=pin))
    m = copy.mention
    assert copy.placing == "region_differs"
    assert (m.place.region, m.place.municipality, m.place.geo) == ("RU-TVE", "Тверь", pin)
    assert m.own_place is not None and (m.own_place.region, m.own_place.municipality) == (
        "RU-IVA",
        "Иваново",
    )


def test_a_family_without_a_region_takes_the_region_of_its_first_copy_that_has_one() -> None:
    """The copy arrives first: it stays the root; the original, later, is its duplicate
    and keeps its own place, tells the desk of `unknown` to move the family, and what
    comes after inherits the original's place."""
    window = _window()
    first = _copy(hours=0.5)
    root, orig, third = _decide(
        window, first, _original(at=T0 + timedelta(hours=1)), _copy("ok:3", hours=3)
    )
    assert root.mention.status == "accepted" and root.mention.place.region is None
    assert (orig.mention.status, orig.mention.duplicate_of) == ("duplicate", "telegram:2")
    assert orig.placing == "adopted" and orig.mention.place == _original().place
    assert orig.mention.agency == AGENCY and orig.mention.own_place is None
    ((key, command),) = orig.commands
    assert key == "unknown" and isinstance(command, AdoptCommand)
    assert (command.mention_id, command.region, command.by) == ("telegram:2", "RU-TVE", "vk:1")
    assert third.mention.duplicate_of == "telegram:2" and third.placing == "region_filled"
    assert third.mention.place == _original().place and third.mention.agency == AGENCY


def test_a_redelivery_gets_its_first_verdict_and_resends_what_it_sent() -> None:
    store: dict[str, bytes] = {}
    window = _window(store)
    _decide(window, _copy(hours=0.5))
    (adopted,) = _decide(window, _original(at=T0 + timedelta(hours=1)))
    (elsewhere,) = _decide(window, _copy("ok:3", hours=2, region="RU-IVA"))
    restarted = _window(dict(store))  # a new process recovering the table
    again = _decide(restarted, _original(at=T0 + timedelta(hours=1)))[0]
    assert again.redelivered and again.mention == adopted.mention
    assert again.commands == adopted.commands
    other = _decide(restarted, _copy("ok:3", hours=2, region="RU-IVA"))[0]
    assert other.redelivered and other.mention == elsewhere.mention
    assert other.mention.own_place is not None and other.mention.own_place.region == "RU-IVA"


def test_after_a_restart_the_window_still_finds_copies_in_every_region() -> None:
    store: dict[str, bytes] = {}
    _decide(_window(store), _original())
    restarted = _window(dict(store))
    assert restarted.window_size() == 1
    (copy,) = _decide(restarted, _copy())
    assert copy.mention.duplicate_of == "vk:1" and copy.mention.place.region == "RU-TVE"


def test_the_window_is_one_and_expires_by_its_own_clock() -> None:
    window = _window()
    _decide(
        window,
        _original(),
        mention("vk:9", "Совсем другой текст про дороги Иванова", region="RU-IVA"),
    )
    (late,) = _decide(window, _copy(hours=8 * 24))
    assert late.mention.status == "accepted"  # the original left the 7-day window
    assert window.window_size() == 1 and "m:vk:1" not in window.store


def test_a_platform_stated_original_links_a_copy_without_comparing_texts() -> None:
    """The hook for RawMention.origin (a VK repost's copy_history, a Telegram forward):
    a post that names its original is its copy whatever its words."""
    window = _window()
    _decide(window, _original())
    (p,) = window.prepare([mention("telegram:5", "👆 Вот, полюбуйтесь", region=None)])
    p.origin = "vk:1"
    verdict = window.resolve(p)
    assert verdict.mention.duplicate_of == "vk:1" and verdict.mention.place.region == "RU-TVE"
    (q,) = window.prepare([mention("telegram:6", "👆 Вот, полюбуйтесь", region=None)])
    q.origin = "vk:404"  # not in the window: nothing stated can be found, texts decide
    assert window.resolve(q).mention.duplicate_of is None


# ------------------------------------------------------------ with the desk
def _answer(mention_id: str, region: str | None, hours: float = 4) -> RespondCommand:
    r = OfficialResponse(
        response_id=f"r-{mention_id}",
        kind="interim",
        agency=AGENCY,
        text="Здравствуйте! Провал огорожен.",
        responded_at=T0 + timedelta(hours=hours),
        mention_id=mention_id,
        region=region,
    )
    return RespondCommand(command_id=r.response_id, at=r.responded_at, response=r)


def test_a_copy_without_a_region_joins_its_originals_incident_and_gets_its_answers() -> None:
    stages = new_desk()
    (orig,) = feed(stages, _original())
    (copy,) = feed(stages, _copy())
    incident = orig.mentions[0].incident_id
    assert incident and incident.startswith("RU-TVE/")
    assert copy.mentions[0].incident_id == incident and copy.mentions[0].place.region == "RU-TVE"
    out = stages.command(_answer("vk:1", "RU-TVE"))
    assert sorted(r.mention_id for r in out.replies) == ["telegram:2", "vk:1"]


@pytest.mark.parametrize("copy_opens_first", [True, False])
def test_a_copy_first_and_its_original_end_in_one_incident_of_the_originals_region(
    copy_opens_first: bool,
) -> None:
    """Copy first: its incident opens in `unknown`; the original (its duplicate, being
    later) gives the family its region; the incident moves there and takes the
    original. Whichever reaches the region's desk first, the move or the original,
    the end is one incident with both posts, and the original's answer reaches both."""
    stages = new_desk()
    (first,) = feed(stages, _copy(hours=0.5))
    moved_from = first.mentions[0].incident_id
    assert moved_from and moved_from.startswith("unknown/")
    window, desk = stages.dedup, stages.desk
    (verdict,) = _decide(window, _original(at=T0 + timedelta(hours=1)))
    ((_, adopt),) = verdict.commands
    if copy_opens_first:  # the original reaches its desk before the move (one hop, not two)
        joined = desk.resolve(verdict.mention)
        moved = stages.command(adopt)
    else:  # the move first
        moved = stages.command(adopt)
        joined = desk.resolve(verdict.mention)
    incident = joined.mentions[0].incident_id
    assert incident and incident.startswith("RU-TVE/")
    rec = desk.get_incident(incident)
    assert rec is not None and sorted(rec.incident.mention_ids) == ["telegram:2", "vk:1"]
    assert rec.incident.mentions_count == 2
    old = desk.get_incident(moved_from)
    assert old is not None and (old.incident.status, old.incident.merged_into) == (
        "merged_into",
        incident,
    )
    assert [e.type for e in moved.events][:1] == ["merged"]
    out = stages.command(_answer("vk:1", "RU-TVE"))
    assert sorted(r.mention_id for r in out.replies) == ["telegram:2", "vk:1"]
    # An answer addressed to the moved incident by its old id follows it.
    late = stages.command(
        RespondCommand(
            command_id="r-old",
            at=T0 + timedelta(hours=5),
            response=OfficialResponse(
                response_id="r-old",
                kind="final",
                agency=AGENCY,
                text="Отремонтировано.",
                responded_at=T0 + timedelta(hours=5),
                incident_id=moved_from,
            ),
        )
    )
    ((key, forwarded),) = late.forward
    assert key == "RU-TVE" and isinstance(forwarded, RespondCommand)
    assert forwarded.response.incident_id == incident
    # The move is idempotent: the same adopt again changes nothing.
    again = stages.command(adopt)
    assert again.redelivered
    rec = desk.get_incident(incident)
    assert rec is not None and rec.incident.mentions_count == 2


def test_a_move_that_overtakes_its_roots_verdict_waits_for_the_root() -> None:
    """The move (desk.commands) and the root's own verdict (mentions.deduped) travel on
    two topics; on a real cluster the move can come first. The desk holds it, in its
    table, until the root is placed, then moves the incident: one incident at the end,
    not a family split between `unknown` and the region (seen on Apache Kafka)."""
    stages = new_desk()
    window, desk = stages.dedup, stages.desk
    (root,) = _decide(window, _copy(hours=0.5))
    (orig,) = _decide(window, _original(at=T0 + timedelta(hours=1)))
    ((_, adopt),) = orig.commands
    early = stages.command(adopt)
    assert not early.events and not early.forward and early.error is None
    assert "p:telegram:2" in desk.store  # held, and kept by a restart (the table)
    placed = desk.resolve(root.mention)
    moved_from = placed.mentions[0].incident_id
    assert moved_from and moved_from.startswith("unknown/")
    assert [e.type for e in placed.events][-1:] == ["merged"]
    ((key, take),) = placed.forward
    assert key == "RU-TVE"
    stages.command(take)
    joined = desk.resolve(orig.mention)
    incident = joined.mentions[0].incident_id
    assert incident and incident.startswith("RU-TVE/")
    rec = desk.get_incident(incident)
    assert rec is not None and sorted(rec.incident.mention_ids) == ["telegram:2", "vk:1"]
    assert "p:telegram:2" not in desk.store


def test_the_metric_knows_every_placing() -> None:
    """Its series are declared at 0 before the first post (incidents/observability/metrics.py)."""
    from typing import get_args

    from incidents.domain.copies.dedup import Placing
    from incidents.observability.metrics import DEDUP_PLACINGS

    assert set(DEDUP_PLACINGS) == {*get_args(Placing), "redelivered", "revised"}


# ------------------------------------------- stated origins and edits (issue 29)
def _naming(m: Mention, original: str) -> Mention:
    """The post as a connector publishes a repost or forward: its origin stated."""
    return msgspec.structs.replace(
        m,
        origin=Origin(id=original, platform=original.split(":", 1)[0]),  # type: ignore[arg-type]
    )


def _edited(m: Mention, text: str, minutes: int = 30) -> Mention:
    return msgspec.structs.replace(
        m, text=text, edited_at=m.created_at + timedelta(minutes=minutes)
    )


def test_a_forward_placed_in_another_region_is_linked_by_its_stated_origin() -> None:
    """The platform's word links a copy wherever its source is registered: a neighbouring
    region's chat forwarding a Tver post joins the Tver incident (one window, not one per
    region), and keeps its own region as evidence."""
    stages = new_desk()
    (orig,) = feed(stages, _original())
    forward = _naming(mention("telegram:-100777/5", "👆 Вот, полюбуйтесь", region="RU-IVA"), "vk:1")
    (out,) = feed(stages, forward)
    m = out.mentions[0]
    assert (m.status, m.duplicate_of) == ("duplicate", "vk:1")
    assert m.place.region == "RU-TVE" and m.incident_id == orig.mentions[0].incident_id
    assert m.own_place is not None and m.own_place.region == "RU-IVA"
    assert m.origin is not None and m.origin.id == "vk:1"  # its own statement, emitted


def test_a_copy_takes_its_originals_place_but_not_its_origin_or_version() -> None:
    """`origin` and `edited_at` are the post's own: a text copy of a repost that stands for
    an unseen original does not claim that original, nor the repost's edit time."""
    window = _window()
    first = _naming(_original(), "vk:wall100_1")  # names a post never seen
    first = msgspec.structs.replace(first, edited_at=T0 + timedelta(minutes=5))
    root, copy = _decide(window, first, _copy())
    assert root.mention.status == "accepted" and root.mention.origin is not None
    m = copy.mention
    assert m.duplicate_of == "vk:1" and m.place.region == "RU-TVE"
    assert m.origin is None and m.edited_at is None


def test_an_edit_is_judged_again_and_its_old_words_no_longer_make_copies() -> None:
    """The dedup stage keeps the version it judged: a newer one with other words is decided
    again (counted as revised); a post with the old words is then nobody's copy."""
    store: dict[str, bytes] = {}
    window = _window(store)
    pipe = mention("vk:5", "На Волоколамском шоссе прорвало трубу, вода идёт по дороге и "
                   "заливает подвалы домов 3 и 5, аварийная служба не приезжает")  # fmt: skip
    (first,) = _decide(window, _original())
    (moved,) = _decide(window, pipe, _edited(_original(), f"Подписчики пишут: {pipe.text}"))[1:]
    assert moved.revised and placing_of(moved) == "revised"
    assert (moved.mention.status, moved.mention.duplicate_of) == ("duplicate", "vk:5")
    assert moved.mention.fingerprint != first.mention.fingerprint
    (again,) = _decide(_window(dict(store)), _original())  # the old version, after a restart
    assert again.redelivered and again.mention.duplicate_of == "vk:5"
    (late,) = _decide(window, _copy("ok:7", hours=3))  # the old words, elsewhere
    assert late.mention.status == "accepted" and late.mention.duplicate_of is None


def test_an_edited_original_is_not_taken_for_a_copy_of_its_own_copies() -> None:
    """An original with a line added still contains its copies' text; the copies name it as
    their original, so it stays the root of its family and in its incident."""
    stages = new_desk()
    (orig,) = feed(stages, _original())
    (copy,) = feed(stages, _copy())
    assert copy.mentions[0].duplicate_of == "vk:1"
    longer = f"{ORIGINAL} Обновление: яму огородили лентой, но ремонта так и нет."
    (out,) = feed(stages, _edited(_original(), longer, minutes=180))
    m = out.mentions[0]
    assert out.revised and (m.status, m.duplicate_of) == ("accepted", None)
    assert m.incident_id == orig.mentions[0].incident_id
    rec = stages.get_incident(m.incident_id or "")
    assert rec is not None and sorted(rec.incident.mention_ids) == ["telegram:2", "vk:1"]
    (later,) = feed(stages, _copy("ok:8", hours=5))
    assert later.mentions[0].duplicate_of == "vk:1"
