"""Pure pieces: platform payload → RawMention, signing, cursors, registry, settings."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from tenacity import RetryCallState

from incidents.config.connectors import env_names, load_connector_settings
from incidents.config.settings import ConfigError
from incidents.connectors.base import Fetched, TransientError, _WaitRetryAfter, map_item
from incidents.connectors.cursor import CursorStore
from incidents.connectors.registry import load_registry, parse_registry
from incidents.connectors.sources import ok, portal, rss, telegram, vk
from incidents.connectors.sources.file import read_csv_mentions
from tests.support.connectors import write_registry
from tests.support.fakes import FakeOk, fixture


def test_vk_post_maps_to_raw_mention(registry) -> None:
    post = fixture("vk_wall.json")["-41237765"][1]
    m = vk.map_post(post, registry)
    assert m.id == "vk:wall-41237765_61502"
    assert m.url == "https://vk.com/wall-41237765_61502"
    assert m.platform == "vk" and m.region_hint == "RU-TVE"
    assert m.source.id == "-41237765" and m.source.kind == "city_public"
    assert m.source.name == "Тверь | Главное"
    assert m.author is not None and m.author.id == "id318204577"
    assert m.created_at.tzinfo is not None
    assert m.metrics is not None and m.metrics.likes == 214 and m.metrics.comments == 3
    assert "Склизкова" in m.text


def test_vk_comment_and_unusable_posts(registry) -> None:
    c = fixture("vk_comments.json")["-41237765_61502"][0]
    m = vk.map_comment(c, -41237765, 61502, registry)
    assert m.id == "vk:wall-41237765_61502?reply=61510"
    assert m.reply_to == "vk:wall-41237765_61502"
    assert m.url == "https://vk.com/wall-41237765_61502?reply=61510"
    wall = fixture("vk_wall.json")["-41237765"]
    photo = next(p for p in wall if p.get("text") == "")
    assert vk.map_post(photo, registry) == "no_text"
    broken = next(p for p in wall if isinstance(p.get("date"), str))
    item = map_item(broken, lambda p: vk.map_post(p, registry), {"last_id": 1}, "x")
    assert item.mention is None and item.error_kind == "schema"
    assert "unix time" in (item.reason or "")
    assert json.loads(item.raw)["id"] == broken["id"]  # the platform item, kept for the DLQ
    assert vk.parse_mention_id("vk:wall-41237765_61502?reply=61510") == (-41237765, 61502, 61510)
    assert vk.parse_mention_id("vk:wall-41237765_61502") == (-41237765, 61502, None)


def test_vk_search_result_from_unregistered_community_takes_the_search_region(registry) -> None:
    search = registry.searches[0]
    post = next(p for p in fixture("vk_search.json") if p["owner_id"] == 77123456)
    assert vk.map_post(post, registry, search).region_hint == "RU-TVE"
    ivanovo = next(p for p in fixture("vk_search.json") if p["owner_id"] == -1234567)
    assert vk.map_post(ivanovo, registry, search).region_hint == "RU-IVA"  # the registry wins


def test_ok_signature_follows_the_documented_algorithm() -> None:
    params = {"application_key": "CBAFKLMNEBABABABA", "method": "mediatopic.getTopics",
              "format": "json", "gid": "55123981", "count": "20"}  # fmt: skip
    token, secret = "tkn1a2b3c4d5e6f", "0123456789ABCDEF0123456789ABCDEF"
    session_secret = hashlib.md5((token + secret).encode()).hexdigest()
    by_hand = hashlib.md5(
        ("application_key=CBAFKLMNEBABABABAcount=20format=jsongid=55123981"
         "method=mediatopic.getTopics" + session_secret).encode()
    ).hexdigest()  # fmt: skip
    assert ok.signature(params, token, secret) == by_hand
    # access_token and session_key are never signed
    assert (
        ok.signature({**params, "access_token": token, "session_key": "x"}, token, secret)
        == by_hand
    )
    fake = FakeOk()
    assert fake.expected_sig({**params, "sig": "whatever", "access_token": token}) == by_hand


def test_ok_topic_and_comment(registry) -> None:
    group = fixture("ok_group.json")["55123981"]
    users = {u["uid"]: u["name"] for u in group["users"]}
    m = ok.map_topic(group["topics"][0], "55123981", registry, users)
    assert m.id == "ok:55123981_155477290014"
    assert m.url == "https://ok.ru/group/55123981/topic/155477290014"
    assert m.author is not None and m.author.name == "Сергей Кудрявцев"
    assert m.region_hint == "RU-TVE" and m.metrics is not None and m.metrics.comments == 3
    c = fixture("ok_comments.json")["155477290014"][0]
    cm = ok.map_comment(c, "55123981", "155477290014", registry)
    assert cm.id == "ok:55123981_155477290014?comment=MTc2MzI3NzkwMDAwMDox"
    assert cm.created_at.isoformat() == "2026-11-16T10:25:40+03:00"
    assert cm.reply_to == "ok:55123981_155477290014"
    bad = group["topics"][4]
    item = map_item(bad, lambda t: ok.map_topic(t, "55123981", registry, users), {}, "x")
    assert item.error_kind == "schema" and "media" in (item.reason or "")


def test_telegram_updates(registry) -> None:
    ups = {u["update_id"]: u for u in fixture("telegram_updates.json")}
    m = telegram.map_update(ups[734001], registry)
    assert m.id == "telegram:-1001733245519/8817" and m.region_hint == "RU-TVE"
    assert m.author is not None and m.author.name == "Марина Голубева"
    assert m.url == "https://t.me/c/1733245519/8817"
    ch = telegram.map_update(ups[734002], registry)
    assert ch.url == "https://t.me/nsk_news_demo/2291" and ch.region_hint == "RU-NVS"
    cap = telegram.map_update(ups[734004], registry)
    assert cap.text.startswith("Вот такая яма") and cap.reply_to == "telegram:-1001733245519/8817"
    assert telegram.map_update(ups[734003], registry) == "no_text"
    edit = telegram.map_update(ups[734005], registry)  # a new version of 8817, same id
    assert edit.id == m.id and edit.text == "исправлено" and edit.created_at == m.created_at
    assert edit.edited_at is not None and edit.edited_at > m.created_at
    assert telegram.map_update(ups[734008], registry) == "other_update"
    stranger = telegram.map_update(ups[734009], registry)
    assert stranger.region_hint is None and stranger.source.kind == "chat"
    item = map_item(ups[734006], lambda u: telegram.map_update(u, registry), {}, "x")
    assert item.error_kind == "schema" and "message_id" in (item.reason or "")
    assert telegram.parse_mention_id("telegram:-1001733245519/8817") == (-1001733245519, 8817)


def test_portal_field_mapping(registry) -> None:
    p, entry = registry.portals[0], registry.lookup("pos", "pos-tver")
    items = fixture("portal_pos.json")
    m = portal.map_portal_item(items[0], p, entry)
    assert m.id == "pos:pos-tver/771200" and m.platform == "pos"
    assert m.text.startswith("Яма на дороге\n\nНа улице Вагжанова")
    assert m.url == "https://pos.gosuslugi.ru/lkp/appeals/771200"
    assert m.geo is not None and m.geo.lat == pytest.approx(56.85)
    assert m.author is not None and m.author.id == "esia-900100"
    assert m.region_hint == "RU-TVE" and m.source.kind == "portal"
    # The portal's own category and subcategory, spacing tidied, become source_topic.
    assert m.source_topic == "Дороги / Ямы и выбоины на дороге"
    assert portal.map_portal_item(items[1], p, entry).source_topic == "Мусор"
    assert portal.map_portal_item(items[3], p, entry).source_topic is None
    odd = dict(items[0], subcategory={"name": "ямы"})
    bad = map_item(odd, lambda it: portal.map_portal_item(it, p, entry), {}, "x")
    assert bad.error_kind == "schema" and "subcategory" in (bad.reason or "")
    item = map_item(items[2], lambda it: portal.map_portal_item(it, p, entry), {}, "x")
    assert item.error_kind == "schema" and "16.11.2026" in (item.reason or "")
    assert portal.dig({"a": {"b": [1, {"c": 2}]}}, "a.b.1.c") == 2
    assert portal.parse_time(1794807720000) == portal.parse_time(1794807720)


def test_rss_text_and_ids(registry) -> None:
    assert rss.plain("<p>В домах на <b>улице</b> нет&nbsp;воды.</p><p>Второй</p>") == (
        "В домах на улице нет воды.\nВторой"
    )
    entry = registry.lookup("rss", "tverlife")
    e = {"id": "tverlife-58120", "link": "https://x", "title": "Заголовок", "summary": "Текст",
         "published": "2026-11-16T07:05:00+00:00"}  # fmt: skip
    m = rss.map_entry(e, entry)
    assert (
        m.id == f"rss:tverlife/{rss.entry_key('tverlife-58120')}" and m.text == "Заголовок\n\nТекст"
    )
    with pytest.raises(ValueError, match="no readable date"):
        rss.map_entry({**e, "published": None}, entry)


def test_cursor_store_is_durable_and_atomic(tmp_path: Path) -> None:
    store = CursorStore.for_connector(tmp_path, "vk")
    assert store.get("vk:wall:1") is None
    store.save("vk:wall:1", {"last_id": 5})
    store.save("vk:wall:2", {"last_id": 7})
    store.save("vk:wall:1", {"last_id": 5})  # unchanged: no write
    assert store.saves == 2
    again = CursorStore.for_connector(tmp_path, "vk")
    assert again.get("vk:wall:1") == {"last_id": 5} and again.get("vk:wall:2") == {"last_id": 7}
    assert [p.name for p in tmp_path.iterdir()] == ["vk.cursors.json"]  # no temporary files left
    c = again.get("vk:wall:1")
    assert c is not None
    c["last_id"] = 99  # callers get a copy
    assert again.get("vk:wall:1") == {"last_id": 5}
    (tmp_path / "vk.cursors.json").write_text("{not json")
    with pytest.raises(RuntimeError, match="unreadable"):
        CursorStore.for_connector(tmp_path, "vk")


def test_registry_validation(tmp_path: Path) -> None:
    reg = load_registry(write_registry(tmp_path))
    assert len(reg.of("vk")) == 2 and reg.lookup("ok", "55123981").municipality == "Ржев"
    base = {"platform": "vk", "id": "-1", "kind": "official", "region": "RU-TVE"}
    with pytest.raises(ValueError, match="unknown region 'RU-XXX'"):
        parse_registry({"sources": [{**base, "region": "RU-XXX"}]})
    with pytest.raises(ValueError, match="not a municipality of RU-TVE"):
        parse_registry({"sources": [{**base, "municipality": "Иваново"}]})
    with pytest.raises(ValueError, match="listed twice"):
        parse_registry({"sources": [base, base]})
    with pytest.raises(ValueError, match="needs feed_url"):
        parse_registry({"sources": [{**base, "platform": "rss"}]})
    with pytest.raises(ValueError, match=r"sources\.0\.kind"):
        parse_registry({"sources": [{**base, "kind": "blog"}]})
    with pytest.raises(ConfigError, match="INCIDENTS_CONNECTORS_REGISTRY_FILE: no such file"):
        load_registry(tmp_path / "missing.yaml")


def test_connector_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INCIDENTS_CONNECTORS_VK_TOKEN", "s3cret")
    monkeypatch.setenv("INCIDENTS_CONNECTORS_REPLIES_LIVE", "vk, telegram")
    monkeypatch.setenv("INCIDENTS_CONNECTORS_WEBHOOK_TOKENS", "a,b")
    monkeypatch.setenv("INCIDENTS_CONNECTORS_PORTAL_TOKENS", '{"pos-tver": "t"}')
    conf = load_connector_settings()
    assert conf.vk_token is not None and conf.vk_token.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(conf)
    assert conf.replies_live == ["vk", "telegram"] and conf.is_live("vk") and not conf.is_live("ok")
    assert [t.get_secret_value() for t in conf.webhook_tokens] == ["a", "b"]
    assert "INCIDENTS_CONNECTORS_VK_TOKEN" in env_names()
    monkeypatch.setenv("INCIDENTS_CONNECTORS_VK_TOKN", "x")
    with pytest.raises(ConfigError, match="did you mean INCIDENTS_CONNECTORS_VK_TOKEN"):
        load_connector_settings()
    monkeypatch.delenv("INCIDENTS_CONNECTORS_VK_TOKN")
    monkeypatch.setenv("INCIDENTS_CONNECTORS_REPLIES_LIVE", "vk,myspace")
    with pytest.raises(ConfigError, match="INCIDENTS_CONNECTORS_REPLIES_LIVE"):
        load_connector_settings()


def test_backoff_honours_retry_after() -> None:
    wait = _WaitRetryAfter(initial=0.5, maximum=30)

    class Outcome:
        def __init__(self, exc: BaseException) -> None:
            self.exc = exc

        def exception(self) -> BaseException:
            return self.exc

    state = RetryCallState(None, None, (), {})  # type: ignore[arg-type]
    state.outcome = Outcome(TransientError("429", "rate_limited", retry_after=7))  # type: ignore[assignment]
    assert 7 <= wait(state) <= 7.7
    state.outcome = Outcome(TransientError("429", "rate_limited", retry_after=600))  # type: ignore[assignment]
    assert 30 <= wait(state) <= 31  # capped
    state.outcome = Outcome(TransientError("5xx", "server"))  # type: ignore[assignment]
    state.attempt_number = 3
    assert 0 <= wait(state) <= 30


def test_csv_replay_rows(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text(
        "id,platform,source_id,text,created_at,region_hint,lat,lon,likes,extra,source_topic\n"
        'vk:wall-1_1,vk,-1,"Яма, большая",2026-11-16T08:00:00+03:00,RU-TVE,56.8,35.9,12,x,Дороги\n'
        "vk:wall-1_2,vk,-1,Нет воды,2026-11-16T09:00:00+03:00,,,,,,\n",
        encoding="utf-8",
    )
    rows = [json.loads(b) for b in read_csv_mentions(path)]
    assert rows[0] == {
        "id": "vk:wall-1_1", "platform": "vk", "source": {"id": "-1"}, "text": "Яма, большая",
        "created_at": "2026-11-16T08:00:00+03:00", "region_hint": "RU-TVE",
        "geo": {"lat": 56.8, "lon": 35.9}, "metrics": {"likes": 12}, "source_topic": "Дороги",
    }  # fmt: skip
    assert "region_hint" not in rows[1] and "geo" not in rows[1] and "source_topic" not in rows[1]


def test_retry_after_from_headers_or_the_bot_api_body() -> None:
    from multidict import CIMultiDict

    from incidents.connectors.base import HttpResponse

    body = b'{"ok": false, "error_code": 429, "parameters": {"retry_after": 14}}'
    assert HttpResponse(429, CIMultiDict(), body).body_retry_after() == 14
    assert HttpResponse(429, CIMultiDict({"retry-after": "3"}), b"").retry_after() == 3
    assert HttpResponse(429, CIMultiDict(), b"<html>").body_retry_after() is None
    f = Fetched.skipped("no_text", {"x": 1}, "ref")
    assert f.skip == "no_text" and f.mention is None
