"""Connectors against the local fake APIs: pagination, rate limits, bad payloads, restarts.

The publisher here is in memory and counts only what a flush delivered, so a
simulated crash loses what was queued but not flushed, as a real one would.
The same paths over the real broker are in test_broker.py.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest

from incidents.connectors.base import ConnectorRuntime, FatalError, poll_forever
from incidents.connectors.registry import Registry, load_registry
from incidents.connectors.sources import ok, portal, rss, telegram, vk
from incidents.observability import connectors as metrics
from tests.support.connectors import (
    Crash,
    MemoryPublisher,
    conf_for,
    run,
    runtime,
    twice,
    write_registry,
)
from tests.support.fakes import FakeOk, FakeTelegram, FakeVk, Fault, fixture


def _vk_rt(
    tmp: Path, server: FakeVk, registry: Registry, pub: Any, **over: Any
) -> ConnectorRuntime:
    conf = conf_for(tmp, vk_api_url=f"{server.url}/method", **over)
    return runtime("vk", conf, registry, pub)


def _poll(rt: ConnectorRuntime, module: Any) -> None:
    async def go() -> None:
        client, sources = module.build_sources(rt)
        try:
            await poll_forever(rt, sources, once=True)
        finally:
            await client.close()

    run(go())


def _expected_wall_ids() -> list[str]:
    wall = fixture("vk_wall.json")["-41237765"]
    return [
        f"vk:wall-41237765_{p['id']}"
        for p in sorted(wall[1:], key=lambda p: p["id"])
        if isinstance(p["date"], int) and p["text"]
    ]


def _errors(connector: str, reason: str) -> float:
    return (
        metrics.REGISTRY.get_sample_value(
            "incidents_connector_errors_total", {"connector": connector, "reason": reason}
        )
        or 0.0
    )


def test_vk_wall_pages_through_new_posts_oldest_first(tmp_path, fake_vk: FakeVk, registry) -> None:
    pub = MemoryPublisher()
    rt = _vk_rt(tmp_path, fake_vk, registry, pub)
    rt.store.save("vk:wall:-41237765", {"last_id": 61000})  # everything on the wall is new
    rt.store.save("vk:wall:-1234567", {"last_id": 0})
    fake_vk.walls[-1234567] = []
    _poll(rt, vk)
    wall_ids = [i for i in pub.ids() if "?reply" not in i and i.startswith("vk:wall-41237765")]
    assert (
        wall_ids == _expected_wall_ids()
    )  # oldest first, photo skipped, pinned old post not repeated
    offsets = [
        int(c["offset"])
        for c in fake_vk.called("wall.get")
        if c["owner_id"] == "-41237765" and "offset" in c
    ]
    assert len(offsets) >= 4  # 15 posts, 4 a page: several pages
    dl = [d for d in pub.dead_letters() if d.stage == "connector:vk"]
    assert len(dl) == 1 and "unix time" in dl[0].reason and dl[0].error_kind == "schema"
    assert rt.store.get("vk:wall:-41237765")["last_id"] == 61502
    # nothing new: nothing published; a new post: only it
    before = len(pub.ids())
    _poll(rt, vk)
    assert len(pub.ids()) == before
    fake_vk.add_post(-41237765, {"id": 61503, "owner_id": -41237765, "from_id": 5, "date": 1794810000,
                            "text": "Новая яма на Склизкова, у дома 52."})  # fmt: skip
    _poll(rt, vk)
    new = pub.ids()[before:]
    assert [i for i in new if "?reply" not in i and "41237765" in i] == ["vk:wall-41237765_61503"]


def test_vk_first_run_reads_only_the_newest_page(tmp_path, fake_vk: FakeVk, registry) -> None:
    pub = MemoryPublisher()
    rt = _vk_rt(tmp_path, fake_vk, registry, pub)
    _poll(rt, vk)
    wall = [i for i in pub.ids() if "?reply" not in i and i.startswith("vk:wall-41237765")]
    assert wall == ["vk:wall-41237765_61500", "vk:wall-41237765_61501", "vk:wall-41237765_61502"]


def test_vk_rate_limit_and_flood_are_retried(tmp_path, fake_vk: FakeVk, registry) -> None:
    pub = MemoryPublisher()
    rt = _vk_rt(tmp_path, fake_vk, registry, pub)
    rt.store.save("vk:wall:-41237765", {"last_id": 61000})
    fake_vk.inject(
        "wall.get",
        FakeVk.error(6, "Too many requests per second"),
        FakeVk.error(9, "Flood control"),
        Fault(status=503, body=b"<html>503 Service Temporarily Unavailable</html>"),
    )
    before = _errors("vk", "rate_limited"), _errors("vk", "flood"), _errors("vk", "server")
    _poll(rt, vk)
    wall = [i for i in pub.ids() if "?reply" not in i and i.startswith("vk:wall-41237765")]
    assert wall == _expected_wall_ids()
    assert _errors("vk", "rate_limited") == before[0] + 1
    assert _errors("vk", "flood") == before[1] + 1
    assert _errors("vk", "server") == before[2] + 1


def test_vk_bad_token_is_fatal_with_one_line(tmp_path, fake_vk: FakeVk, registry) -> None:
    rt = _vk_rt(tmp_path, fake_vk, registry, MemoryPublisher(), vk_token="revoked")
    with pytest.raises(
        FatalError, match=r"VK rejected the token \(error 5.*INCIDENTS_CONNECTORS_VK_TOKEN"
    ):
        _poll(rt, vk)


def test_vk_access_denied_skips_only_that_source(tmp_path, fake_vk: FakeVk, registry) -> None:
    pub = MemoryPublisher()
    rt = _vk_rt(tmp_path, fake_vk, registry, pub)
    fake_vk.walls[-1234567] = fixture("vk_wall.json")["-41237765"][:3]
    fake_vk.inject(
        "wall.get",
        FakeVk.error(15, "Access denied: this wall available only for community members"),
    )
    _poll(rt, vk)  # the first wall.get (Tver) is refused; Ivanovo and the rest go on
    assert rt.store.get("vk:wall:-41237765") is None
    assert rt.store.get("vk:wall:-1234567")["last_id"] == 61502


def test_vk_malformed_page_is_retried_then_dead_lettered(
    tmp_path, fake_vk: FakeVk, registry
) -> None:
    pub = MemoryPublisher()
    rt = _vk_rt(tmp_path, fake_vk, registry, pub)
    fake_vk.inject("wall.get", Fault(body=b'{"response": {"count": 3, "items": [{"id": 6150'))
    _poll(rt, vk)
    assert not [
        d for d in pub.dead_letters() if d.error_kind == "invalid_json"
    ]  # one bad answer: retried
    pub2 = MemoryPublisher()
    rt2 = _vk_rt(tmp_path / "2", fake_vk, registry, pub2)
    bad = Fault(body=b"<html>502 Bad Gateway</html>")
    fake_vk.inject("wall.get", bad, bad, bad, bad)
    _poll(rt2, vk)
    dl = [d for d in pub2.dead_letters() if d.error_kind == "invalid_json"]
    assert len(dl) == 1 and "not JSON" in dl[0].reason and dl[0].stage == "connector:vk"
    assert rt2.store.get("vk:wall:-41237765") is None  # the cursor did not move


def test_vk_comments_and_search(tmp_path, fake_vk: FakeVk, registry) -> None:
    pub = MemoryPublisher()
    rt = _vk_rt(tmp_path, fake_vk, registry, pub, vk_search_backfill_s=10**9)
    _poll(rt, vk)
    comments = [m for m in pub.mentions() if "?reply=" in m["id"]]
    assert [m["id"] for m in comments] == [
        "vk:wall-41237765_61502?reply=61510",
        "vk:wall-41237765_61502?reply=61517",
    ]  # the sticker-only comment is skipped
    assert all(m["reply_to"] == "vk:wall-41237765_61502" for m in comments)
    found = {
        m["id"]: m
        for m in pub.mentions()
        if m["id"].split("_")[0] in ("vk:wall-1234567", "vk:wall77123456", "vk:wall-99887766")
    }
    assert set(found) == {
        "vk:wall-1234567_1187",
        "vk:wall77123456_2230",
        "vk:wall-99887766_5571",
        "vk:wall-99887766_5572",
    }
    assert found["vk:wall-1234567_1187"]["region_hint"] == "RU-IVA"
    assert found["vk:wall77123456_2230"]["region_hint"] == "RU-TVE"
    assert any("from_id" in d.reason for d in pub.dead_letters())
    # a second round publishes nothing again
    n = len(pub.ids())
    _poll(rt, vk)
    assert len(pub.ids()) == n and not twice(pub.ids())


def test_ok_topics_and_discussions_are_signed_and_paged(
    tmp_path, fake_ok: FakeOk, registry
) -> None:
    pub = MemoryPublisher()
    conf = conf_for(tmp_path, ok_api_url=f"{fake_ok.url}/fb.do")
    rt = runtime("ok", conf, registry, pub)
    rt.store.save("ok:topics:55123981", {"since_ms": 0, "ids": []})
    _poll(rt, ok)
    ids = pub.ids()
    topics = [i for i in ids if "?comment" not in i]
    assert len(topics) == 7 and topics[-1] == "ok:55123981_155477290014"  # oldest first
    assert [i for i in ids if "?comment" in i] == [
        "ok:55123981_155477290014?comment=MTc2MzI3NzkwMDAwMDox",
        "ok:55123981_155477290014?comment=MTc2MzI3NzkwMDAwMDoy",
    ]
    reasons = sorted(d.reason for d in pub.dead_letters())
    assert (
        len(reasons) == 2
        and any("media" in r for r in reasons)
        and any("16.11.2026" in r for r in reasons)
    )
    assert all(c["sig"] for c in fake_ok.called("mediatopic.getTopics"))
    anchors = [c.get("anchor") for c in fake_ok.called("mediatopic.getTopics")]
    assert "3" in anchors  # paged with the anchor
    n = len(ids)
    _poll(rt, ok)
    assert len(pub.ids()) == n


def test_ok_expired_session_is_fatal(tmp_path, fake_ok: FakeOk, registry) -> None:
    conf = conf_for(tmp_path, ok_api_url=f"{fake_ok.url}/fb.do", ok_access_token="expired")
    rt = runtime("ok", conf, registry, MemoryPublisher())
    with pytest.raises(FatalError, match=r"session .* expired"):
        _poll(rt, ok)
    conf = conf_for(tmp_path, ok_api_url=f"{fake_ok.url}/fb.do", ok_application_secret="wrong")
    rt = runtime("ok", conf, registry, MemoryPublisher())
    with pytest.raises(FatalError, match="signature"):
        _poll(rt, ok)


def test_telegram_long_polling_confirms_by_offset(
    tmp_path, fake_telegram: FakeTelegram, registry
) -> None:
    pub = MemoryPublisher()
    conf = conf_for(tmp_path, telegram_api_url=fake_telegram.url)
    rt = runtime("telegram", conf, registry, pub)
    fake_telegram.inject(
        "getUpdates", FakeTelegram.error(429, "Too Many Requests: retry after 1", 1)
    )
    _poll(rt, telegram)
    assert pub.ids() == [
        "telegram:-1001733245519/8817",
        "telegram:-1001888000111/2291",
        "telegram:-1001733245519/8819",
        "telegram:-1001733245519/8817",  # its edit: the same mention, a new version
        "telegram:-1001733245519/8821",
        "telegram:-1001999000222/412",
    ]
    edit = pub.mentions()[3]
    assert edit["text"] == "исправлено" and edit["edited_at"] > edit["created_at"]
    assert len(pub.dead_letters()) == 1
    assert rt.store.get("telegram:updates") == {"offset": 734010}
    offsets = [c.get("offset") for c in fake_telegram.called("getUpdates")]
    assert offsets[:2] == [None, None] and 734004 in offsets  # pages of 3, confirmed by offset
    assert fake_telegram.updates == []  # the Bot API dropped every confirmed update


@pytest.mark.parametrize(
    ("fault", "match"),
    [
        (FakeTelegram.error(401, "Unauthorized"), "rejected the bot token"),
        (
            FakeTelegram.error(409, "Conflict: terminated by other getUpdates request"),
            "one consumer",
        ),
    ],
)
def test_telegram_fatal_errors(
    tmp_path, fake_telegram: FakeTelegram, registry, fault, match
) -> None:
    rt = runtime(
        "telegram",
        conf_for(tmp_path, telegram_api_url=fake_telegram.url),
        registry,
        MemoryPublisher(),
    )
    fake_telegram.inject("getUpdates", fault)
    with pytest.raises(FatalError, match=match):
        _poll(rt, telegram)


def _portal_rt(tmp: Path, server: Any, pub: Any, **over: Any) -> ConnectorRuntime:
    reg = load_registry(write_registry(tmp, portal=server.url))
    return runtime("portal", conf_for(tmp, **over), reg, pub)


def test_portal_pages_by_cursor_and_dead_letters_bad_items(tmp_path, fake_portal: Any) -> None:
    pub = MemoryPublisher()
    rt = _portal_rt(tmp_path, fake_portal, pub)
    _poll(rt, portal)
    expected = [f"pos:pos-tver/{771200 + i}" for i in range(8) if i != 2]
    assert pub.ids() == expected
    (dl,) = pub.dead_letters()
    assert dl.stage == "connector:portal" and "16.11.2026 10:12" in dl.reason
    assert dl.mention_id == "pos:pos-tver/771202" and dl.error_kind == "schema"
    cursors = [c.get("cursor") for c in fake_portal.called("appeals")]
    assert cursors[:3] == [None, "c3", "c6"]
    assert all(c["status"] == "new" and c["limit"] == "50" for c in fake_portal.called("appeals"))
    # appended items are found on the next round, nothing else again
    fake_portal.items.append({**fake_portal.items[0], "id": 771300, "subject": "Новая заявка"})
    _poll(rt, portal)
    assert pub.ids()[len(expected) :] == ["pos:pos-tver/771300"]


def test_portal_restart_mid_page_loses_nothing_and_repeats_nothing(
    tmp_path, fake_portal: Any
) -> None:
    """Crash mid-page (a batch of 2 flushed, the next one not): resume inside the page."""
    delivered: list[str] = []
    for crash_after in (3, 5, 9, None):  # publishes before the simulated crash (DLQ ones count)
        pub = MemoryPublisher(crash_after=crash_after)
        rt = _portal_rt(tmp_path, fake_portal, pub)
        with contextlib.suppress(Crash):
            _poll(rt, portal)
        delivered += pub.ids()
    assert sorted(delivered) == sorted(f"pos:pos-tver/{771200 + i}" for i in range(8) if i != 2)
    assert twice(delivered) == []
    skips = {(c.get("cursor"), 0) for c in fake_portal.called("appeals")}
    assert ("c3", 0) in skips


def test_portal_bad_token_is_fatal(tmp_path, fake_portal: Any) -> None:
    rt = _portal_rt(tmp_path, fake_portal, MemoryPublisher(), portal_tokens={"pos-tver": "wrong"})
    with pytest.raises(FatalError, match="INCIDENTS_CONNECTORS_PORTAL_TOKENS"):
        _poll(rt, portal)


def test_rss_and_atom_feeds(tmp_path, fake_feeds: Any) -> None:
    pub = MemoryPublisher()
    reg = load_registry(write_registry(tmp_path, feeds=fake_feeds.url))
    rt = runtime("rss", conf_for(tmp_path), reg, pub)
    fake_feeds.inject("/rss.xml", Fault(status=500, body=b"oops"))
    _poll(rt, rss)
    ms = pub.mentions()
    tver = [m for m in ms if m["source"]["id"] == "tverlife"]
    assert [m["text"].split("\n")[0] for m in tver] == [
        "Во дворах Заволжского района не убирают снег",
        "В Твери пройдёт фестиваль уличной еды",
        "На Петербургском шоссе закрыли полосу из-за провала грунта",
        "Жители Пролетарки третий день без горячей воды",
    ]
    assert tver[-1]["author"] == {"id": "Анна Морозова"}
    assert "улице Паши Савельевой" in tver[-1]["text"] and "<b>" not in tver[-1]["text"]
    assert all(m["region_hint"] == "RU-TVE" and m["source"]["kind"] == "media" for m in tver)
    nsk = [m for m in ms if m["source"]["id"] == "nsk-today"]
    assert len(nsk) == 3 and nsk[0]["created_at"].startswith("2026-11-15")
    (dl,) = pub.dead_letters()
    assert "no readable date" in dl.reason
    # unchanged feeds: a conditional request answered 304, nothing published again
    n = len(pub.ids())
    _poll(rt, rss)
    assert len(pub.ids()) == n
    last = fake_feeds.called("/rss.xml")[-1]
    assert last.get("If-None-Match")


def test_no_sources_is_a_config_error(tmp_path) -> None:
    rt = runtime("rss", conf_for(tmp_path), Registry(), MemoryPublisher())
    with pytest.raises(FatalError, match="no sources to poll"):
        _poll(rt, rss)
