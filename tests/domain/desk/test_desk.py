"""The incident desk (after the dedup stage, as `incidents process` runs them): redelivery,
copies, grouping, responses, commands, SLA, windows, restarts."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from incidents.config.settings import DedupSettings, GroupingSettings, SlaSettings
from incidents.contracts.models import (
    AssignCommand,
    GeoPoint,
    Mention,
    MergeCommand,
    OfficialResponse,
    Place,
    RespondCommand,
    Source,
    SplitCommand,
    StatusCommand,
    TickCommand,
)
from incidents.domain.copies.dedup import Deduplicator
from incidents.domain.desk.desk import Desk
from incidents.domain.desk.records import Outcome, _iso
from incidents.stream.offline import Resolver

MSK = timezone(timedelta(hours=3))
T0 = datetime(2026, 11, 16, 10, 0, tzinfo=MSK)  # a Monday


def mention(
    mid: str,
    text: str,
    at: datetime = T0,
    region: str | None = "RU-TVE",
    municipality: str | None = "Тверь",
    category: str | None = "roads",
    appeal: bool = True,
    address: str | None = None,
    geo: GeoPoint | None = None,
    agency: str | None = "Администрация города Твери",
    priority: str = "normal",
    topic: str | None = None,
) -> Mention:
    platform = mid.split(":", 1)[0]
    return Mention(
        id=mid,
        platform=platform,  # type: ignore[arg-type]
        source=Source(id=f"src-{platform}"),
        text=text,
        created_at=at,
        fingerprint="-",
        is_appeal=appeal,
        appeal_score=0.9 if appeal else 0.1,
        category=category if appeal else None,
        category_confidence=0.8,
        priority=priority,  # type: ignore[arg-type]
        place=Place(region=region, municipality=municipality, address=address, geo=geo),
        agency=agency if appeal else None,
        url=f"https://example.org/{mid}",
        source_topic=topic,
    )


class Stages(Resolver):
    """The dedup stage and the desk, as `incidents process` chains them; the desk's own
    methods and state are reached through it (`stages.get_incident`, `stages.store`)."""

    def __getattr__(self, name: str) -> object:
        return getattr(self.desk, name)

    def window_size(self) -> int:
        return self.dedup.window_size()


def new_desk(
    store: dict[str, bytes] | None = None,
    population_of: Callable[[str | None, str | None], int | None] | None = None,
    grouping: GroupingSettings | None = None,
    dedup_store: dict[str, bytes] | None = None,
    **sla: object,
) -> Stages:
    desk = Desk(
        store=store if store is not None else {},
        dedup=DedupSettings(),
        grouping=grouping or GroupingSettings(),
        sla=SlaSettings(**sla),  # type: ignore[arg-type]
        timezone_of=lambda region, municipality: MSK,
        population_of=population_of,
    )
    dedup = Deduplicator(dedup_store if dedup_store is not None else {}, DedupSettings())
    return Stages(dedup, desk)


def feed(desk: Stages, *mentions: Mention) -> list[Outcome]:
    return desk.resolve(list(mentions))


POTHOLE = (
    "На улице Склизкова возле дома 12 огромная яма на дороге, машины ломают колёса, отремонтируйте"
)


def test_first_mention_opens_an_incident_routed_to_its_agency() -> None:
    (out,) = feed(new_desk(), mention("vk:1", POTHOLE, address="ул. Склизкова, 12"))
    m = out.mentions[0]
    assert m.status == "accepted" and m.incident_id and m.incident_id.startswith("RU-TVE/")
    inc = out.incidents[-1]
    assert inc.status == "assigned" and inc.agency == "Администрация города Твери"
    assert [e.type for e in out.events] == ["created", "assigned"]


def test_same_id_again_is_a_redelivery_with_identical_outputs_and_no_new_effect() -> None:
    desk = new_desk()
    (first,) = feed(desk, mention("vk:1", POTHOLE))
    (again,) = feed(desk, mention("vk:1", POTHOLE))
    assert again.redelivered
    assert again.mentions[0].incident_id == first.mentions[0].incident_id
    assert {e.event_id for e in again.events} <= {e.event_id for e in first.events}
    inc = desk.get_incident(first.mentions[0].incident_id or "")
    assert inc is not None and inc.incident.mentions_count == 1


def test_a_repost_is_a_duplicate_of_the_first_mention_and_joins_its_incident() -> None:
    desk = new_desk()
    (orig,) = feed(desk, mention("vk:1", POTHOLE))
    copy = f"Подписчики пишут: «{POTHOLE.upper()}» #Тверь #дороги 😡"
    (dup,) = feed(desk, mention("telegram:9", copy, at=T0 + timedelta(hours=2)))
    d = dup.mentions[0]
    assert d.status == "duplicate" and d.duplicate_of == "vk:1"
    assert d.incident_id == orig.mentions[0].incident_id
    assert [e.type for e in dup.events] == ["duplicate_linked"]


def test_a_copy_of_a_copy_points_to_the_first_original() -> None:
    desk = new_desk()
    feed(desk, mention("vk:1", POTHOLE))
    feed(desk, mention("ok:2", "Репост: " + POTHOLE, at=T0 + timedelta(hours=1)))
    (third,) = feed(
        desk, mention("telegram:3", "Пишут: " + POTHOLE + " !!!", at=T0 + timedelta(hours=2))
    )
    assert third.mentions[0].duplicate_of == "vk:1"


def test_two_different_potholes_are_not_duplicates_and_not_one_incident() -> None:
    desk = new_desk()
    (a,) = feed(desk, mention("vk:1", POTHOLE, address="ул. Склизкova, 12"))
    other = "На улице Горького у дома 40 глубокая яма на дороге, вчера пробил колесо, примите меры"
    (b,) = feed(
        desk, mention("vk:2", other, at=T0 + timedelta(hours=3), address="ул. Горького, 40")
    )
    assert b.mentions[0].status == "accepted"
    assert b.mentions[0].incident_id != a.mentions[0].incident_id


def test_other_residents_reporting_the_same_place_join_the_open_incident() -> None:
    desk = new_desk()
    here = GeoPoint(lat=56.8587, lon=35.9176)
    near = GeoPoint(lat=56.8588, lon=35.9178)  # ~17 m away
    (a,) = feed(desk, mention("vk:1", POTHOLE, geo=here))
    (b,) = feed(
        desk,
        mention(
            "ok:7",
            "Когда уже заделают яму у дома 12 на Склизкова? Каждый день объезжаем по встречке",
            at=T0 + timedelta(hours=5),
            geo=near,
        ),
    )
    assert b.mentions[0].status == "accepted"
    assert b.mentions[0].incident_id == a.mentions[0].incident_id
    assert [e.type for e in b.events] == ["attached"]
    assert b.incidents[-1].mentions_count == 2


def test_posts_their_portal_classed_differently_are_two_problems() -> None:
    """One entrance, one day: "lighting" and "door" filed on the portal are two problems
    for two executors; the same topic, however spaced, and posts with no topic join."""
    here = GeoPoint(lat=59.9386, lon=30.3141)
    entrance = "В парадной дома 5 по улице Садовой не горит свет и сломана дверь"
    kw = {"region": "RU-SPE", "municipality": "Санкт-Петербург", "category": "housing"}

    def post(mid: str, hours: float, topic: str | None) -> Mention:
        return mention(
            mid, f"{entrance} ({mid})", at=T0 + timedelta(hours=hours), geo=here, topic=topic, **kw
        )  # type: ignore[arg-type]

    store: dict[str, bytes] = {}
    desk = new_desk(store)
    (light,) = feed(desk, post("pos:1", 0, "Освещение в парадной"))
    (door,) = feed(desk, post("pos:2", 1, "Неисправная входная дверь"))
    light_id, door_id = light.mentions[0].incident_id, door.mentions[0].incident_id
    assert light_id and door_id and light_id != door_id
    restarted = new_desk(dict(store))  # the topics are kept with the incident
    (again,) = feed(restarted, post("pos:3", 2, "  освещение   В ПАРАДНОЙ"))
    assert again.mentions[0].incident_id == light_id
    (social,) = feed(restarted, post("vk:4", 3, None))
    assert social.mentions[0].incident_id in (light_id, door_id)
    off = new_desk(grouping=GroupingSettings(source_topics=False))
    (a,) = feed(off, post("pos:1", 0, "Освещение в парадной"))
    (b,) = feed(off, post("pos:2", 1, "Неисправная входная дверь"))
    assert a.mentions[0].incident_id == b.mentions[0].incident_id


@pytest.mark.parametrize(
    ("region", "municipality", "one_incident"),
    [("RU-TVE", "Кимры", True), ("RU-SPE", "Санкт-Петербург", False)],
)
def test_words_alone_group_posts_in_a_town_but_not_in_a_city(
    region: str, municipality: str, one_incident: bool
) -> None:
    """No place named: in a town of 50,000 one contractor serves every yard; in a city
    of five million the same words are written about hundreds of places."""
    population = {"Кимры": 49_623, "Санкт-Петербург": 4_848_742}
    desk = new_desk(population_of=lambda r, m: population.get(m or ""))
    first = "Третий день не вывозят мусор, контейнеры переполнены, пакеты валяются вокруг"
    second = "Мусор не вывозят уже три дня, контейнеры переполнены, пакеты валяются везде"
    kw = {"region": region, "municipality": municipality, "category": "waste"}
    (a,) = feed(desk, mention("vk:1", first, **kw))  # type: ignore[arg-type]
    (b,) = feed(desk, mention("ok:2", second, at=T0 + timedelta(hours=2), **kw))  # type: ignore[arg-type]
    assert b.mentions[0].status == "accepted"
    assert (b.mentions[0].incident_id == a.mentions[0].incident_id) is one_incident


def test_non_appeals_are_kept_but_open_no_incident() -> None:
    (out,) = feed(
        new_desk(), mention("rss:1", "В Твери отремонтируют 40 дорог в 2027 году", appeal=False)
    )
    assert out.mentions[0].status == "accepted" and out.mentions[0].incident_id is None
    assert out.incidents == [] and out.events == []


def _respond(desk: Desk, rid: str, incident_id: str, kind: str, at: datetime) -> Outcome:
    r = OfficialResponse(
        response_id=rid,
        kind=kind,
        agency="Администрация города Твери",
        text="Работы запланированы.",  # type: ignore[arg-type]
        responded_at=at,
        incident_id=incident_id,
    )
    return desk.command(RespondCommand(command_id=rid, at=at, response=r))


def test_a_response_fans_out_one_reply_per_mention_exactly_once() -> None:
    desk = new_desk()
    (a,) = feed(desk, mention("vk:1", POTHOLE))
    feed(desk, mention("telegram:2", "Репост: " + POTHOLE, at=T0 + timedelta(minutes=30)))
    inc_id = a.mentions[0].incident_id or ""
    out = _respond(desk, "resp-1", inc_id, "interim", T0 + timedelta(hours=1))
    assert sorted(r.mention_id for r in out.replies) == ["telegram:2", "vk:1"]
    assert {r.platform for r in out.replies} == {"vk", "telegram"}
    assert out.incidents[0].status == "answered_interim"
    again = _respond(desk, "resp-1", inc_id, "interim", T0 + timedelta(hours=1))
    assert again.redelivered
    assert {r.reply_id for r in again.replies} == {r.reply_id for r in out.replies}
    assert desk.get_incident(inc_id).incident.version == out.incidents[0].version  # type: ignore[union-attr]


def test_a_response_to_a_mention_reaches_the_whole_incident() -> None:
    desk = new_desk()
    feed(desk, mention("vk:1", POTHOLE))
    feed(desk, mention("ok:2", "Подписчики пишут: " + POTHOLE, at=T0 + timedelta(minutes=5)))
    r = OfficialResponse(
        response_id="r-m",
        kind="final",
        agency="А",
        text="Отремонтировано.",
        responded_at=T0 + timedelta(hours=2),
        mention_id="ok:2",
        region="RU-TVE",
    )
    out = desk.command(RespondCommand(command_id="r-m", at=r.responded_at, response=r))
    assert {x.mention_id for x in out.replies} == {"vk:1", "ok:2"}
    assert out.incidents[0].status == "answered_final"


def test_unknown_incident_is_an_error_not_a_crash() -> None:
    out = _respond(new_desk(), "r", "RU-TVE/doesnotexist", "final", T0)
    assert out.error is not None and out.error[0] == "unknown_incident"


def test_first_reaction_breach_fires_from_event_time_and_is_reproducible() -> None:
    # Normal priority: 9 working hours. Opened Monday 10:00 → due Tuesday 10:00 (9–18 workday).
    def run() -> list[tuple[str, str]]:
        desk = new_desk()
        (a,) = feed(desk, mention("vk:1", POTHOLE))
        due = a.incidents[-1].sla.first_reaction_due
        assert due == datetime(2026, 11, 17, 10, 0, tzinfo=MSK)
        # Another region's traffic does not move this region's clock.
        (other,) = feed(
            desk,
            mention(
                "vk:2",
                "Нет света в подъезде дома 3 в Иванове",
                at=T0 + timedelta(days=2),
                region="RU-IVA",
                municipality="Иваново",
            ),
        )
        assert not [e for e in other.events if e.type == "sla_breached"]
        (later,) = feed(
            desk,
            mention(
                "vk:3",
                "Сломан светофор на Тверском проспекте",
                at=T0 + timedelta(days=1, hours=1),
                category="safety",
            ),
        )
        return [(e.type, e.incident_id) for e in later.events if e.type == "sla_breached"]

    first, second = run(), run()
    assert len(first) == 1 and first == second


def test_a_tick_advances_a_quiet_region_and_a_late_answer_is_a_breach() -> None:
    desk = new_desk()
    (a,) = feed(desk, mention("vk:1", POTHOLE, priority="critical"))
    inc_id = a.mentions[0].incident_id or ""
    tick = desk.command(TickCommand(command_id="t1", at=T0 + timedelta(hours=5), region="RU-TVE"))
    assert [e.detail["sla"] for e in tick.events if e.type == "sla_breached"] == ["first_reaction"]
    out = _respond(desk, "late", inc_id, "final", T0 + timedelta(hours=6))
    assert not [e for e in out.events if e.type == "sla_breached"]  # already counted once
    assert desk.get_incident(inc_id).incident.sla.first_reaction_breached  # type: ignore[union-attr]


def test_operator_commands_assign_close_merge_split() -> None:
    desk = new_desk()
    (a,) = feed(desk, mention("vk:1", POTHOLE, agency=None))
    (b,) = feed(
        desk,
        mention(
            "vk:2",
            "Нет воды в доме 3 на Трёхсвятской",
            category="utilities",
            agency=None,
            at=T0 + timedelta(minutes=1),
        ),
    )
    ia, ib = a.mentions[0].incident_id or "", b.mentions[0].incident_id or ""
    assert a.incidents[-1].status == "new"
    out = desk.command(
        AssignCommand(command_id="c1", at=T0, incident_id=ia, agency="Дорожная служба")
    )
    assert out.incidents[0].status == "assigned" and out.incidents[0].agency == "Дорожная служба"
    assert desk.command(
        AssignCommand(command_id="c1", at=T0, incident_id=ia, agency="X")
    ).redelivered
    merged = desk.command(MergeCommand(command_id="c2", at=T0, incident_id=ib, into=ia))
    assert merged.incidents[0].status == "merged_into"
    target = desk.get_incident(ia)
    assert target is not None and set(target.incident.mention_ids) == {"vk:1", "vk:2"}
    split = desk.command(SplitCommand(command_id="c3", at=T0, incident_id=ia, mention_ids=["vk:2"]))
    assert [e.type for e in split.events] == ["split", "created"]
    closed = desk.command(StatusCommand(command_id="c4", at=T0, incident_id=ia, status="closed"))
    assert closed.incidents[0].status == "closed" and closed.events[0].type == "closed"


def test_a_repeat_after_closing_reopens_the_incident() -> None:
    desk = new_desk()
    here = GeoPoint(lat=56.8587, lon=35.9176)
    (a,) = feed(desk, mention("vk:1", POTHOLE, geo=here))
    ia = a.mentions[0].incident_id or ""
    desk.command(
        StatusCommand(command_id="c", at=T0 + timedelta(hours=1), incident_id=ia, status="closed")
    )
    (b,) = feed(
        desk,
        mention(
            "ok:5",
            "Яму на Склизкова у дома 12 так и не заделали, снова пробил колесо",
            at=T0 + timedelta(hours=20),
            geo=here,
        ),
    )
    assert b.mentions[0].incident_id == ia
    assert "reopened" in [e.type for e in b.events]
    assert b.incidents[-1].status == "assigned"


def _yard_posts(days: list[float]) -> list[Mention]:
    """Different residents about one yard (their own words, no copies), `days` after T0."""
    here = GeoPoint(lat=56.8587, lon=35.9176)
    texts = [
        "Во дворе дома 12 на Склизкова переполнены мусорные баки, мусор не вывозят",
        "Склизкова 12: контейнеры опять полные, пакеты лежат прямо на земле",
        "Когда вывезут мусор у дома 12? Баки стоят переполненные уже несколько дней",
        "У 12-го дома на Склизкова снова гора мусора возле контейнерной площадки",
        "Мусорка у двенадцатого дома забита, вокруг баков коробки и пакеты",
        "Баки во дворе Склизкова 12 не вывозили с выходных, запах на весь двор",
    ]
    return [
        mention(f"vk:{i}", texts[i % len(texts)], at=T0 + timedelta(days=d), geo=here)
        for i, d in enumerate(days)
    ]


def test_without_a_span_an_incident_takes_posts_while_they_keep_coming() -> None:
    desk = new_desk()  # the default: no span, a 72-hour window since the last post
    outs = [o for m in _yard_posts([0, 2, 4, 6, 8]) for o in feed(desk, m)]
    assert len({o.mentions[0].incident_id for o in outs}) == 1


def test_a_post_past_the_span_opens_an_incident_that_follows_the_first() -> None:
    desk = new_desk(grouping=GroupingSettings(max_span_hours=7 * 24))
    outs = [o for m in _yard_posts([0, 2, 4, 6, 8, 9]) for o in feed(desk, m)]
    ids = [o.mentions[0].incident_id for o in outs]
    first, follow = ids[0], ids[4]
    assert ids[:4] == [first] * 4  # within 7 days of the first post
    assert follow != first and ids[5] == follow  # day 8 follows; day 9 joins the follower
    created = [e for e in outs[4].events if e.type == "created"]
    assert [e.detail for e in created] == [{"reopened_from": first}]
    assert outs[4].incidents[-1].reopened_from == first
    old = desk.get_incident(first or "")
    assert old is not None and old.incident.mentions_count == 4
    # Redelivered, the follower's first post gives the same event again.
    (again,) = feed(desk, _yard_posts([0, 2, 4, 6, 8])[4])
    assert again.redelivered
    assert [(e.event_id, e.type, e.detail) for e in again.events] == [
        (e.event_id, e.type, e.detail) for e in created
    ]


def test_a_new_problem_past_the_span_follows_nothing() -> None:
    desk = new_desk(grouping=GroupingSettings(max_span_hours=7 * 24))
    (a,) = feed(desk, mention("vk:1", POTHOLE, geo=GeoPoint(lat=56.8587, lon=35.9176)))
    far = GeoPoint(lat=56.8687, lon=35.9376)  # ~1.6 km away
    (b,) = feed(
        desk, mention("vk:2", POTHOLE.replace("12", "40"), at=T0 + timedelta(days=8), geo=far)
    )
    assert b.mentions[0].incident_id != a.mentions[0].incident_id
    assert b.incidents[-1].reopened_from is None
    assert [e.detail for e in b.events if e.type == "created"] == [{}]


def test_the_dedup_window_expires_old_mentions() -> None:
    desk = new_desk()
    feed(desk, mention("vk:1", POTHOLE))
    assert desk.window_size() == 1
    (late,) = feed(desk, mention("vk:2", POTHOLE, at=T0 + timedelta(days=8)))
    assert late.mentions[0].status == "accepted"  # the original left the 7-day window
    assert "m:vk:1" not in desk.store and desk.window_size() == 1


def test_state_survives_a_restart_from_the_store_alone() -> None:
    store: dict[str, bytes] = {}
    window: dict[str, bytes] = {}
    desk = new_desk(store, dedup_store=window)
    (a,) = feed(desk, mention("vk:1", POTHOLE))
    restarted = new_desk(dict(store), dedup_store=dict(window))  # new processes recover tables
    (dup,) = feed(
        restarted, mention("telegram:2", "Репост: " + POTHOLE, at=T0 + timedelta(hours=1))
    )
    assert dup.mentions[0].duplicate_of == "vk:1"
    assert dup.mentions[0].incident_id == a.mentions[0].incident_id
    (redo,) = feed(restarted, mention("vk:1", POTHOLE))
    assert redo.redelivered


@pytest.mark.parametrize("bad", ["m:vk:1"])
def test_store_values_are_compact_msgpack(bad: str) -> None:
    store: dict[str, bytes] = {}
    feed(new_desk(store), mention("vk:1", POTHOLE))
    assert isinstance(store[bad], bytes) and len(store[bad]) < 1200
    msgspec.msgpack.decode(store[bad])


def test_an_answer_to_a_post_taken_for_no_appeal_makes_it_an_incident() -> None:
    desk = new_desk()
    feed(desk, mention("vk:7", "Ну и дороги у нас, конечно", appeal=False))
    r = OfficialResponse(
        response_id="r-7",
        kind="final",
        agency="Дорожная служба",
        text="Яма заделана.",
        responded_at=T0 + timedelta(hours=3),
        mention_id="vk:7",
        region="RU-TVE",
    )
    out = desk.command(RespondCommand(command_id="r-7", at=r.responded_at, response=r))
    assert out.error is None
    assert [x.mention_id for x in out.replies] == ["vk:7"]
    assert [e.type for e in out.events][:2] == ["created", "responded"]
    again = desk.command(RespondCommand(command_id="r-7", at=r.responded_at, response=r))
    assert again.redelivered and [x.reply_id for x in again.replies] == [
        x.reply_id for x in out.replies
    ]


def test_an_answer_that_arrives_before_its_mention_waits_for_it() -> None:
    desk = new_desk()
    r = OfficialResponse(
        response_id="early",
        kind="interim",
        agency="А",
        text="Проверим.",
        responded_at=T0 + timedelta(hours=1),
        mention_id="vk:1",
        region="RU-TVE",
    )
    parked = desk.command(RespondCommand(command_id="early", at=r.responded_at, response=r))
    assert parked.parked and parked.error is None and not parked.replies
    assert desk.command(RespondCommand(command_id="early", at=r.responded_at, response=r)).parked
    (out,) = feed(desk, mention("vk:1", POTHOLE))
    assert [x.mention_id for x in out.replies] == ["vk:1"]
    assert "responded" in [e.type for e in out.events]
    assert not any(k.startswith("r:") for k in desk.store)


def test_an_answer_whose_mention_never_comes_becomes_a_dead_letter() -> None:
    desk = new_desk(parked_response_ttl_s=3600)
    r = OfficialResponse(
        response_id="orphan",
        kind="final",
        agency="А",
        text="Сделано.",
        responded_at=T0,
        mention_id="vk:missing",
        region="RU-TVE",
    )
    assert desk.command(RespondCommand(command_id="orphan", at=T0, response=r)).parked
    (later,) = feed(desk, mention("vk:2", POTHOLE, at=T0 + timedelta(hours=3)))
    (given_up,) = later.dead_letters
    assert given_up.kind == "unknown_incident"
    assert json.loads(given_up.original)["response_id"] == "orphan"
    # It goes back to the answers' topic on a replay, under the key that topic uses.
    assert (given_up.source, given_up.key) == ("responses", b"orphan")


def test_a_breach_fired_before_an_in_time_answer_arrived_is_withdrawn() -> None:
    desk = new_desk()
    (a,) = feed(desk, mention("vk:1", POTHOLE, priority="critical"))  # due T0 + 4 h
    inc_id = a.mentions[0].incident_id or ""
    (later,) = feed(
        desk,
        mention(
            "vk:2",
            "Сломана лавочка в сквере на Советской",
            at=T0 + timedelta(hours=6),
            category="landscaping",
        ),
    )
    assert [e.type for e in later.events if e.incident_id == inc_id] == ["sla_breached"]
    out = _respond(desk, "on-time", inc_id, "interim", T0 + timedelta(hours=2))  # answered in time
    assert "sla_breach_retracted" in [e.type for e in out.events]
    sla = desk.get_incident(inc_id).incident.sla  # type: ignore[union-attr]
    assert not sla.first_reaction_breached and sla.first_reaction_at == T0 + timedelta(hours=2)


def _answer_post(desk: Desk, rid: str, mention_id: str, at: datetime) -> Outcome:
    r = OfficialResponse(
        response_id=rid,
        kind="final",
        agency="Администрация города Твери",
        text="Сделано.",
        responded_at=at,
        mention_id=mention_id,
        region="RU-TVE",
    )
    return desk.command(RespondCommand(command_id=rid, at=at, response=r))


def test_an_answer_weeks_after_its_post_still_reaches_it() -> None:
    store: dict[str, bytes] = {}
    desk = new_desk(store)
    (a,) = feed(desk, mention("vk:1", POTHOLE))
    feed(desk, mention("pos:9", "Ну и дороги у нас, конечно", appeal=False))  # a portal post
    feed(desk, mention("vk:3", "Сломана лавочка в сквере", at=T0 + timedelta(days=20)))
    assert "m:vk:1" not in store and "a:vk:1" in store and "a:pos:9" in store
    restarted = new_desk(dict(store))  # the slim records are state: they survive a restart
    out = _answer_post(restarted, "late-1", "vk:1", T0 + timedelta(days=21))
    assert out.error is None and not out.parked
    assert [(x.mention_id, x.incident_id) for x in out.replies] == [
        ("vk:1", a.mentions[0].incident_id)
    ]
    # A post of a feedback platform becomes an incident when answered, even late.
    out = _answer_post(restarted, "late-2", "pos:9", T0 + timedelta(days=21))
    assert [x.mention_id for x in out.replies] == ["pos:9"]
    # A redelivery of an archived post changes nothing.
    (again,) = feed(restarted, mention("vk:1", POTHOLE))
    assert again.redelivered and again.mentions[0].incident_id == a.mentions[0].incident_id


def test_slim_records_expire_after_the_answer_lookup_period() -> None:
    store: dict[str, bytes] = {}
    desk = new_desk(store, answer_lookup_days=30)
    feed(desk, mention("vk:1", POTHOLE))
    feed(desk, mention("vk:2", "Сломана лавочка в сквере", at=T0 + timedelta(days=10)))
    assert "a:vk:1" in store
    feed(desk, mention("vk:3", "Не горят фонари во дворе", at=T0 + timedelta(days=31)))
    assert "a:vk:1" not in store
    assert _answer_post(desk, "too-late", "vk:1", T0 + timedelta(days=32)).parked


def test_answers_running_ahead_of_their_mentions_do_not_move_the_clock() -> None:
    # On a replay the answers' short path can run days ahead of the mentions: they must
    # not expire the dedup window (or parked answers) before the mentions arrive.
    desk = new_desk()
    feed(desk, mention("vk:1", POTHOLE))
    parked = _answer_post(desk, "ahead", "vk:2", T0 + timedelta(days=10))
    assert parked.parked
    (dup,) = feed(desk, mention("telegram:2", "Репост: " + POTHOLE, at=T0 + timedelta(hours=1)))
    assert dup.mentions[0].duplicate_of == "vk:1"  # vk:1 is still in the window
    (b,) = feed(desk, mention("vk:2", "Сломана лавочка в сквере", at=T0 + timedelta(hours=2)))
    assert [x.mention_id for x in b.replies] == ["vk:2"]  # the parked answer found it


def test_a_post_that_joins_after_an_answer_gets_that_answer_once() -> None:
    """In a stream an answer can overtake the posts it concerns; the replies must not
    depend on which came first. A repeat after closing gets no stale answer."""
    desk = new_desk()
    here = GeoPoint(lat=56.8587, lon=35.9176)
    (a,) = feed(desk, mention("vk:1", POTHOLE, geo=here))
    inc_id = a.mentions[0].incident_id or ""
    r = OfficialResponse(
        response_id="ans-1",
        kind="interim",
        agency="Администрация города Твери",
        text="Ремонт запланирован.",
        responded_at=T0 + timedelta(hours=2),
        incident_id=inc_id,
    )
    answered = desk.command(RespondCommand(command_id="ans-1", at=r.responded_at, response=r))
    assert [x.mention_id for x in answered.replies] == ["vk:1"]
    late_text = "Яма на Склизкова у дома 12 всё ещё не заделана, колесо пробил сегодня утром"
    (b,) = feed(desk, mention("ok:7", late_text, at=T0 + timedelta(hours=1), geo=here))
    assert b.mentions[0].incident_id == inc_id
    (reply,) = b.replies
    assert (reply.mention_id, reply.response_id, reply.text) == ("ok:7", "ans-1", r.text)
    # A copy of it is linked and answered too; a redelivery repeats the same reply id.
    (c,) = feed(desk, mention("telegram:8", "Репост: " + late_text, at=T0 + timedelta(hours=3)))
    assert c.mentions[0].duplicate_of == "ok:7" and [x.mention_id for x in c.replies] == [
        "telegram:8"
    ]
    (again,) = feed(desk, mention("ok:7", late_text, at=T0 + timedelta(hours=1), geo=here))
    assert again.redelivered and [x.reply_id for x in again.replies] == [reply.reply_id]
    # Closed, then the problem is back: the old answer is not sent to the new complaint.
    desk.command(
        StatusCommand(
            command_id="close", at=T0 + timedelta(hours=4), incident_id=inc_id, status="closed"
        )
    )
    (d,) = feed(
        desk,
        mention(
            "vk:9",
            "Яму на Склизкова у дома 12 опять размыло, снова пробил колесо",
            at=T0 + timedelta(days=2),
            geo=here,
        ),
    )
    assert "reopened" in [e.type for e in d.events] and d.replies == []


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.none() | st.timezones() | st.just(UTC) | st.just(MSK),
    )
)
def test_a_posts_time_is_stored_as_it_was_written(at: datetime) -> None:
    """A reopened incident's opening time is read back from the mention's record:
    the same instant and offset as datetime.isoformat gave (the earlier format)."""
    back, before = datetime.fromisoformat(_iso(at)), datetime.fromisoformat(at.isoformat())
    assert back == before and back.utcoffset() == before.utcoffset()


def test_a_media_report_about_an_open_problem_is_linked_as_context_not_answered() -> None:
    desk = new_desk()
    here = GeoPoint(lat=56.8587, lon=35.9176)
    (a,) = feed(desk, mention("vk:1", POTHOLE, geo=here))
    inc_id = a.mentions[0].incident_id or ""
    report = msgspec.structs.replace(
        mention(
            "telegram:news/5",
            "На Склизкова у дома 12 яма на дороге ломает колёса машинам, жалуются жители",
            at=T0 + timedelta(hours=2),
            geo=GeoPoint(lat=56.8588, lon=35.9177),
            appeal=False,
        ),
        relevance="signal",
    )
    (b,) = feed(desk, report)
    assert b.mentions[0].incident_id == inc_id
    inc = b.incidents[-1]
    assert inc.signal_ids == ["telegram:news/5"] and inc.mentions_count == 1
    assert inc.mention_ids == ["vk:1"]
    assert [(e.type, e.detail) for e in b.events] == [("attached", {"as": "signal"})]
    # The same report again re-emits what it produced and changes nothing.
    (again,) = feed(desk, report)
    assert again.redelivered and again.events[0].detail == {"as": "signal"}
    assert desk.get_incident(inc_id).incident.signal_ids == ["telegram:news/5"]  # type: ignore[union-attr]
    # An answer reaches the resident, never the channel.
    out = _respond(desk, "resp-1", inc_id, "final", T0 + timedelta(hours=3))
    assert [r.mention_id for r in out.replies] == ["vk:1"]


def test_a_media_report_with_no_open_problem_opens_nothing() -> None:
    report = msgspec.structs.replace(
        mention("telegram:news/6", "В Твери на Склизкова яма на дороге", appeal=False),
        relevance="signal",
    )
    (out,) = feed(new_desk(), report)
    assert out.mentions[0].incident_id is None and not out.incidents and not out.events
