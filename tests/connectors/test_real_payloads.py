"""Connectors fed with real platform answers recorded by other projects (fixtures/real).

Each test names the payload it reads and the defect it pins: what a connector did
with that answer before it was read from real traffic (an empty repost skipped,
markup left raw, an edit dropped, a private chat published with a link that does
not exist…). fixtures/README.md says where every payload comes from and under
which licence; fixtures/written/ holds the ones the project wrote where no public
recording exists, in the same shapes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import feedparser
import pytest

from incidents.connectors.base import map_item, poll_forever
from incidents.connectors.registry import Registry, parse_registry
from incidents.connectors.sources import rss, telegram, vk
from incidents.contracts.models import RawMention
from incidents.observability import connectors as metrics
from tests.support.connectors import MemoryPublisher, conf_for, run, runtime
from tests.support.fakes import FIXTURES, FakeTelegram, FakeVk

REAL = FIXTURES / "real"
WRITTEN = FIXTURES / "written"

SOURCES: list[dict[str, Any]] = [
    {"platform": "vk", "id": "-41237765", "name": "Тверь | Главное", "kind": "city_public",
     "region": "RU-TVE", "municipality": "Тверь"},
    {"platform": "vk", "id": "-51000001", "name": "Подслушано Тверь", "kind": "city_public",
     "region": "RU-TVE"},
    {"platform": "vk", "id": "-109125816", "name": "Фудшеринг", "kind": "city_public",
     "region": "RU-MOW", "comments": True},
    {"platform": "vk", "id": "-69459624", "name": "Сообщество с ветками", "kind": "city_public",
     "region": "RU-MOW", "comments": True},
    {"platform": "telegram", "id": "-1001733245519", "name": "Тверь онлайн", "kind": "chat",
     "region": "RU-TVE"},
    {"platform": "telegram", "id": "-1002000111222", "name": "Подслушано Тверь",
     "kind": "city_public", "region": "RU-TVE"},
]  # fmt: skip
PRIVATE = {"platform": "telegram", "id": "private", "name": "Бот ЦУР", "kind": "chat",
           "region": "RU-TVE"}  # fmt: skip


def _registry(*extra: dict[str, Any]) -> Registry:
    return parse_registry({"sources": [*SOURCES, *extra]})


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _vk_items(name: str) -> list[dict[str, Any]]:
    return list(_json(REAL / "vk" / name)["response"]["items"])


def _mention(out: object) -> RawMention:
    assert isinstance(out, RawMention), out
    return out


# --------------------------------------------------------------------- VK
def test_vk_repost_without_words_of_its_own_publishes_the_original() -> None:
    """real/vk/vknet-wall-get-user-repost.json: a user wall's repost whose own text is
    empty; the community post it copies is in copy_history. It used to be skipped
    (`no_text`); it is the original's text, with the original named in `origin`."""
    (post,) = _vk_items("vknet-wall-get-user-repost.json")
    assert post["text"] == "" and post["copy_history"][0]["text"]
    m = _mention(vk.map_post(post, _registry()))
    assert m.id == "vk:wall1563369_1164" and m.author is not None and m.author.id == "id1563369"
    assert m.text == "Мы оформляем храм...\n#пасха #весна #праздник #цветы #храм"
    assert m.origin is not None and m.origin.id == "vk:wall-42895313_128"
    assert m.origin.url == "https://vk.com/wall-42895313_128" and m.origin.platform == "vk"
    # The original's place, as VK gives it ("lat lon"), is the repost's place too.
    assert m.geo is not None and m.geo.lat == pytest.approx(47.2827, abs=1e-3)
    with_text = _vk_items("vknet-wall-get-repost-with-text.json")[0]
    m2 = _mention(vk.map_post(with_text, _registry()))
    assert m2.text.startswith("Закрыл стол!") and m2.origin is not None
    assert m2.origin.id == "vk:wall91781360_2569"


def test_vk_repost_of_a_photo_alone_is_still_skipped() -> None:
    """real/vk/vknet-wall-get-repost-photo-only.json: a repost of a photo, no words
    anywhere in the chain: nothing to publish, counted as no_text."""
    (post,) = _vk_items("vknet-wall-get-repost-photo-only.json")
    assert vk.map_post(post, _registry()) == "no_text"


def test_vk_repost_with_a_comment_keeps_both_marked() -> None:
    """written/vk-reposts.json (shapes of the real ones): a city public reposts a
    resident's post with words of its own. It used to publish the comment alone."""
    items = _json(WRITTEN / "vk-reposts.json")["response"]["items"]
    m = _mention(vk.map_post(items[0], _registry()))
    original = items[0]["copy_history"][0]["text"]
    assert m.text == (
        f"{original}\n\n{vk.REPOST_COMMENT} Подслушано Тверь, администрация, обратите внимание!"
    )
    assert m.origin is not None and m.origin.id == "vk:wall-41237765_61502"
    assert m.source.id == "-51000001" and m.region_hint == "RU-TVE"
    # A repost of a repost: the original is the last of the chain, each reposter's words
    # follow it, this post's first.
    chained = _mention(vk.map_post(items[1], _registry()))
    assert chained.origin is not None and chained.origin.id == "vk:wall-41237765_61501"
    assert chained.text.startswith("Третий день нет горячей воды")
    assert chained.text.endswith(f"{vk.REPOST_COMMENT} Репост от соседей:")
    # Signed by a member: the member is the author, not the community; edited: a version.
    signed = _mention(vk.map_post(items[2], _registry()))
    assert signed.author is not None and signed.author.id == "id318204600"
    assert signed.edited_at is not None and signed.edited_at > signed.created_at


def test_vk_markup_and_html_escapes_become_plain_text() -> None:
    """real/vk/hackit-wall-get-community.json (a community wall: `[club…|Name]`),
    vknet-wall-getcomments-reply.json (`[id6099|Дмитрий]`), vknet-newsfeed-search.json
    (`&#10071;`, HTML escapes), vknet-wall-getcomments-br.json (`<br>`): they reached
    the pipeline raw."""
    reg = _registry()
    wall = {p["id"]: p for p in _vk_items("hackit-wall-get-community.json")}
    contest = _mention(vk.map_post(wall[519471], reg))
    assert "[club109125816|" not in contest.text
    assert "группу Фудшеринг Отдам даром еду" in contest.text
    (reply,) = _vk_items("vknet-wall-getcomments-reply.json")
    c = _mention(vk.map_comment(reply, -1, 1, reg))
    assert c.text.startswith("Дмитрий, я не хочу даже сейчас спорить")
    found = _vk_items("vknet-newsfeed-search.json")
    assert found[0]["text"].startswith("&#10071;")
    s = _mention(vk.map_post(found[0], reg))
    assert s.text.startswith("❗Принимаю заказы") and "&#" not in s.text
    entities = _vk_items("vknet-newsfeed-search-entities.json")
    e = _mention(vk.map_post(entities[0], reg))
    assert e.text.startswith("✈️ Вильнюс (Литва) → Прага (Чехия)")
    br = _vk_items("vknet-wall-getcomments-br.json")[0]
    assert "<br>" in br["text"]
    assert _mention(vk.map_comment(br, -1, 1, reg)).text == (
        "Поздравляю вас!!!\nРастите здоровыми, счастливыми и красивыми!"
    )


def test_vk_comment_answering_a_comment_points_at_it() -> None:
    """real/vk/vknet-wall-getcomments-reply.json: `reply_to_comment` was never read, so
    an answer to a comment looked like an answer to the post."""
    (reply,) = _vk_items("vknet-wall-getcomments-reply.json")
    assert reply["reply_to_comment"] == 73673
    c = _mention(vk.map_comment(reply, -30666517, 1, _registry()))
    assert c.reply_to == "vk:wall-30666517_1?reply=73673"
    assert c.id == "vk:wall-30666517_1?reply=73674"


def test_every_real_vk_item_maps_or_is_skipped_with_a_reason() -> None:
    """Every post and comment of every recorded VK answer becomes a valid RawMention or
    a counted skip; none is dead-lettered."""
    reg = _registry()
    seen = 0
    for path in sorted((REAL / "vk").glob("*.json")):
        for item in _json(path)["response"]["items"]:
            is_comment = "post_id" in item or "getcomments" in path.name
            mapper = (
                (lambda c: vk.map_comment(c, -1, 1, reg))
                if is_comment
                else (lambda p: vk.map_post(p, reg))
            )
            got = map_item(item, mapper, {}, "x")
            assert got.error_kind is None, (path.name, got.reason)
            assert got.mention is not None or got.skip in ("no_text", "deleted"), path.name
            seen += 1
    assert seen >= 20


def _vk_rt(tmp: Path, server: FakeVk, reg: Registry, pub: MemoryPublisher) -> Any:
    return runtime("vk", conf_for(tmp, vk_api_url=f"{server.url}/method"), reg, pub)


def _poll(rt: Any) -> None:
    async def go() -> None:
        api, sources = vk.build_sources(rt)
        try:
            await poll_forever(rt, sources, once=True)
        finally:
            await api.close()

    run(go())


def _skipped(reason: str) -> float:
    return (
        metrics.REGISTRY.get_sample_value(
            "incidents_connector_skipped_total", {"connector": "vk", "reason": reason}
        )
        or 0.0
    )


def test_vk_first_run_counts_the_pinned_post_and_re_reads_edited_posts(tmp_path: Path) -> None:
    """real/vk/hackit-wall-get-community.json served by the fake API: a pinned post
    first, posts with `edited`. The first run skipped the pinned post without counting
    it; a post edited after it was published was never read again."""
    wall = _vk_items("hackit-wall-get-community.json")
    assert wall[0]["is_pinned"] == 1
    reg = parse_registry({"sources": [SOURCES[2]]})
    pub = MemoryPublisher()
    with FakeVk(page_cap=100) as server:
        server.walls = {-109125816: [dict(p) for p in wall]}
        server.comments = {}
        rt = _vk_rt(tmp_path, server, reg, pub)
        pinned = _skipped("pinned")
        _poll(rt)
        assert _skipped("pinned") == pinned + 1
        first = [m for m in pub.mentions() if "?reply" not in m["id"]]
        assert "vk:wall-109125816_519471" not in [m["id"] for m in first]
        assert len(first) == len(wall) - 1
        edited = {m["id"]: m.get("edited_at") for m in first}
        assert edited["vk:wall-109125816_520290"] is not None  # `edited` is published
        # A resident corrects a post: VK returns it with new text and a later `edited`.
        post = next(p for p in server.walls[-109125816] if p["id"] == 520269)
        post["text"] += " Адрес: Лихоборы, ул. Михалковская, 20."
        post["edited"] = post["date"] + 3600
        _poll(rt)
        again = [m for m in pub.mentions()[len(first) :] if "?reply" not in m["id"]]
        assert [m["id"] for m in again] == ["vk:wall-109125816_520269"]
        assert again[0]["text"].endswith("Михалковская, 20.")
        assert again[0]["edited_at"] > again[0]["created_at"]
        _poll(rt)  # nothing changed since: nothing again
        assert len(pub.mentions()) == len(first) + 1


def test_vk_comment_threads_are_read(tmp_path: Path) -> None:
    """real/vk/vknet-wall-getcomments-threads.json: comments with `thread` (a deleted one
    among them). Replies in threads were never read. The fake API serves the recorded
    comments, and replies in their threads written by the project (VK returns
    `thread.items` only when asked with `thread_items_count`, and a long thread's rest
    by `comment_id`)."""
    recorded = _vk_items("vknet-wall-getcomments-threads.json")
    comments = [dict(c) for c in recorded]
    replies = [
        {"id": 482130 + i, "from_id": 100 + i, "date": 1553181000 + i * 60, "post_id": 482121,
         "owner_id": -69459624, "parents_stack": [482124], "text": f"Ответ в ветке {i}"}
        for i in range(12)
    ]  # fmt: skip
    replies[1]["reply_to_comment"] = replies[0]["id"]
    comments[0]["thread"] = {**comments[0]["thread"], "count": 12, "items": replies}
    reg = parse_registry({"sources": [SOURCES[3]]})
    post = {"id": 482121, "owner_id": -69459624, "from_id": -69459624, "date": 1553180000,
            "text": "Пост", "comments": {"count": 15}}  # fmt: skip
    pub = MemoryPublisher()
    with FakeVk() as server:
        server.walls = {-69459624: [post]}
        server.comments = {(-69459624, 482121): comments}
        rt = _vk_rt(tmp_path, server, reg, pub)
        rt.store.save("vk:wall:-69459624", {"last_id": 482121})
        _poll(rt)
        got = {m["id"]: m for m in pub.mentions() if "?reply=" in m["id"]}
        base = "vk:wall-69459624_482121"
        assert f"{base}?reply=482124" in got and f"{base}?reply=482418" in got
        in_thread = [i for i in got if 482130 <= int(i.rsplit("=", 1)[1]) < 482142]
        assert len(in_thread) == 12  # 10 inline, the other 2 read by comment_id
        assert got[f"{base}?reply=482130"]["reply_to"] == f"{base}?reply=482124"
        assert got[f"{base}?reply=482131"]["reply_to"] == f"{base}?reply=482130"
        assert got[f"{base}?reply=482130"]["url"].endswith("?reply=482130&thread=482124")
        assert list(got) == sorted(got, key=lambda i: int(i.rsplit("=", 1)[1]))  # id order
        assert any(c.get("comment_id") == "482124" for c in server.called("wall.getComments"))
        # A new reply in the old thread is found on the next round (the post's count moved).
        new = {"id": 482500, "from_id": 7, "date": 1553240000, "text": "Ещё ответ"}
        comments[0]["thread"]["items"].append(new)
        comments[0]["thread"]["count"] = 13
        post["comments"]["count"] = 16
        before = len(pub.mentions())
        _poll(rt)
        assert [m["id"] for m in pub.mentions()[before:]] == [f"{base}?reply=482500"]


# --------------------------------------------------------------- Telegram
def _tx(name: str, i: int = 0) -> dict[str, Any]:
    """A teloxide recorded update (update.rs) or message (message.rs, wrapped in one)."""
    sel = _json(REAL / "telegram" / "teloxide-updates.json")
    if name in sel["update.rs"]:
        return dict(sel["update.rs"][name][i])
    return {"update_id": 1, "message": sel["message.rs"][name][i]}


def _aiogram(name: str, kind: str = "message") -> dict[str, Any]:
    return {"update_id": 1, kind: _json(REAL / "telegram" / "aiogram-dataset.json")[name]}


def test_telegram_private_chats_are_not_sources_unless_registered() -> None:
    """real/telegram/teloxide-updates.json and aiogram-dataset.json: messages in a
    user's private chat with the bot. They were published with `kind: chat` and a
    `t.me/<username>/<id>` link, which exists only for public channels and groups."""
    for update in (_tx("message"), _tx("de_private_chat_text_message"), _aiogram("MESSAGE")):
        assert telegram.map_update(update, _registry()) == "private_chat"
    m = _mention(telegram.map_update(_aiogram("MESSAGE"), _registry(PRIVATE)))
    assert m.url is None and m.source.id == "private" and m.source.name == "Бот ЦУР"
    assert m.region_hint == "RU-TVE" and m.id == "telegram:12345678/11223"


def test_telegram_edits_are_new_versions() -> None:
    """real/telegram/aiogram-dataset.json EDITED_MESSAGE, written/telegram-updates.json
    (an edit in a group, an edited channel post): edits were skipped as `edited`."""
    m = _mention(
        telegram.map_update(_aiogram("EDITED_MESSAGE", "edited_message"), _registry(PRIVATE))
    )
    assert m.text == "hi there (edited)" and m.id == "telegram:12345678/12345"
    assert m.edited_at is not None and int(m.edited_at.timestamp()) == 1508825379
    ups = {u["update_id"]: u for u in _json(WRITTEN / "telegram-updates.json")["result"]}
    first = _mention(telegram.map_update(ups[880003], _registry()))
    edit = _mention(telegram.map_update(ups[880004], _registry()))
    assert edit.id == first.id and edit.created_at == first.created_at and first.edited_at is None
    assert edit.edited_at is not None and "Склизкова" in edit.text
    post = _mention(telegram.map_update(ups[880005], _registry()))
    assert post.id == "telegram:-1002000111222/5120" and post.edited_at is not None


def test_telegram_forward_names_its_origin_and_its_original_author() -> None:
    """real/telegram/openintegrations-forward-message.json: a channel post forwarded
    (forward_origin of type channel, and the older forward_from_chat fields). It was
    published with the forwarder as author and no origin."""
    msg = _json(REAL / "telegram" / "openintegrations-forward-message.json")["result"]
    m = _mention(telegram.map_update({"update_id": 1, "message": msg}, _registry(PRIVATE)))
    assert m.origin is not None and m.origin.id == "telegram:-1001893407333/22536"
    assert m.origin.url == "https://t.me/testsichee/22536"
    assert m.author is not None and m.author.id == "-1001893407333"
    assert m.author.name == "Тестовый канал"
    assert m.source.id == "private"  # forwarded into the bot's chat: that chat is the source
    # The older fields alone (Bot API before 7.0) name the same origin.
    old = {k: v for k, v in msg.items() if k != "forward_origin"}
    m_old = _mention(telegram.map_update({"update_id": 2, "message": old}, _registry(PRIVATE)))
    assert m_old.origin == m.origin
    # written/telegram-updates.json: the same in a registered group.
    ups = {u["update_id"]: u for u in _json(WRITTEN / "telegram-updates.json")["result"]}
    fwd = _mention(telegram.map_update(ups[880002], _registry()))
    assert fwd.origin is not None and fwd.origin.id == "telegram:-1002000111222/5120"
    assert fwd.source.id == "-1001733245519" and fwd.region_hint == "RU-TVE"
    assert fwd.author is not None and fwd.author.name == "Админ Ольга"
    # aiogram FORWARDED_MESSAGE: forwarded from a private chat, which has no post id.
    legacy = _mention(telegram.map_update(_aiogram("FORWARDED_MESSAGE"), _registry(PRIVATE)))
    assert legacy.origin is None and legacy.author is not None
    assert legacy.author.id == "12345678"


def test_telegram_messages_sent_as_a_chat_have_that_chat_as_author() -> None:
    """real/telegram/teloxide-updates.json issue_419: an anonymous group admin
    (from: GroupAnonymousBot, sender_chat: the group, author_signature) forwarding an
    anonymous admin's message; written/telegram-updates.json: a channel post with
    sender_chat and author_signature. GroupAnonymousBot used to be the author, and an
    unregistered channel's post got kind `chat` and no author."""
    m = _mention(telegram.map_update(_tx("issue_419"), _registry()))
    assert m.author is not None and m.author.id == "-1001160242915" and m.author.name == "TITLE"
    assert m.origin is None  # forwarded from a group: no post id is named
    ups = {u["update_id"]: u for u in _json(WRITTEN / "telegram-updates.json")["result"]}
    empty = parse_registry({"sources": []})
    post = _mention(telegram.map_update(ups[880001], empty))
    assert post.source.kind == "channel" and post.author is not None
    assert post.author.id == "-1002000111222" and post.author.name == "Админ Ольга"
    assert post.url == "https://t.me/podslushano_tver_demo/5120"


def test_every_real_telegram_update_maps_or_is_skipped_with_a_reason() -> None:
    """teloxide (update.rs, message.rs), aiogram, OpenIntegrations getUpdates: service
    messages (pinned, forum topics, video chat, migration) and stories are counted
    skips; public groups get their t.me link, replies their reply_to."""
    reg = _registry()
    sel = _json(REAL / "telegram" / "teloxide-updates.json")
    updates = [u for group in sel["update.rs"].values() for u in group]
    updates += [{"update_id": 9, "message": m} for g in sel["message.rs"].values() for m in g]
    updates += _json(REAL / "telegram" / "openintegrations-get-updates.json")["result"]
    aio = _json(REAL / "telegram" / "aiogram-dataset.json")
    updates += [
        {"update_id": 8, "message": aio[k]} for k in ("REPLY_MESSAGE", "MESSAGE_FROM_CHANNEL")
    ]
    outcomes = []
    for u in updates:
        got = map_item(u, lambda u: telegram.map_update(u, reg), {}, "x")
        assert got.error_kind is None, (u.get("update_id"), got.reason)
        outcomes.append(got.mention or got.skip)
    assert {o for o in outcomes if isinstance(o, str)} == {"no_text", "private_chat"}
    report = next(o for o in outcomes if isinstance(o, RawMention) and o.text == "/report")
    assert report.url == "https://t.me/cryptoinside_talk/134546"
    assert report.reply_to == "telegram:-1001293752024/134545"
    assert report.source.kind == "chat" and report.region_hint is None
    channel = next(o for o in outcomes if isinstance(o, RawMention) and o.id.endswith("/123432"))
    assert (
        channel.source.kind == "channel" and channel.url == "https://t.me/best_channel_ever/123432"
    )


# --------------------------------------------------------------------- RSS
def _entries(name: str) -> tuple[list[dict[str, Any]], Any]:
    feed = feedparser.parse((WRITTEN / name).read_bytes())
    title = feed.feed.get("title")
    return [rss.simplify(e, title) for e in feed.entries], feed


@pytest.mark.parametrize(
    ("name", "index", "ends", "author"),
    [
        ("rss-wordpress.xml", 0, "В управляющей компании обещают…", "Ирина Соколова"),
        ("rss-wordpress.xml", 1, "закрыть провал у дома 48 к пятнице…", None),  # rubric
        ("rss-bitrix.xml", 0, "Движение в сторону Москвы затруднено…", None),  # rubric
        ("rss-bitrix.xml", 1, "Паши Савельевой и Коминтерна.", None),  # the outlet
        ("rss-dle.xml", 0, "дворники не появляются с начала снегопада…", None),  # the outlet
        ("rss-dle.xml", 1, "начнёт работу в субботу…", "Алексей Петров"),
    ],
)
def test_rss_text_is_tidy_and_the_author_is_a_person(
    name: str, index: int, ends: str, author: str | None
) -> None:
    """written/rss-*.xml (WordPress, 1C-Bitrix and DLE shapes, windows-1251 included):
    «Читать далее…» and its kin stayed in the text, with no-break spaces, and a
    rubric or the outlet's name became `author.id`."""
    entries, _ = _entries(name)
    source = parse_registry(
        {
            "sources": [
                {
                    "platform": "rss",
                    "id": "feed",
                    "kind": "media",
                    "region": "RU-TVE",
                    "feed_url": "http://127.0.0.1:9/x",
                }
            ]
        }
    ).sources[0]
    m = _mention(rss.map_entry(entries[index], source))
    assert m.text.endswith(ends), m.text
    for junk in ("\xa0", "\u200b", "Читать", "Подробнее", "Read more", "[…]", "→", "»…"):
        assert junk not in m.text, (junk, m.text)
    assert (m.author.id if m.author else None) == author


def test_real_telegram_updates_through_long_polling(tmp_path: Path) -> None:
    """The recorded updates served by the fake Bot API, one getUpdates page after
    another: what is published, and every other update counted with its reason."""
    sel = _json(REAL / "telegram" / "teloxide-updates.json")
    messages = [u["message"] for g in sel["update.rs"].values() for u in g if "message" in u]
    messages += [m for g in sel["message.rs"].values() for m in g]
    recorded = _json(REAL / "telegram" / "openintegrations-get-updates.json")["result"]
    kinds = [{k: v for k, v in u.items() if k != "update_id"} for u in recorded]
    forward = _json(REAL / "telegram" / "openintegrations-forward-message.json")["result"]
    kinds += [{"message": m} for m in (*messages, forward)]
    updates = [{"update_id": 500 + i, **k} for i, k in enumerate(kinds)]

    def skipped(reason: str) -> float:
        labels = {"connector": "telegram", "reason": reason}
        value = metrics.REGISTRY.get_sample_value("incidents_connector_skipped_total", labels)
        return value or 0.0

    before = {r: skipped(r) for r in ("private_chat", "no_text")}
    pub = MemoryPublisher()
    with FakeTelegram() as server:
        server.updates = updates
        conf = conf_for(tmp_path, telegram_api_url=server.url)
        rt = runtime("telegram", conf, _registry(), pub)

        async def go() -> None:
            api, sources = telegram.build_sources(rt)
            try:
                await poll_forever(rt, sources, once=True)
            finally:
                await api.close()

        run(go())
    assert pub.ids() == [
        "telegram:-1001293752024/134546",  # the /report reply in a public group
        "telegram:-1001160242915/1",  # the anonymous admin's forward
        "telegram:-1001847508954/5",  # a forum topic message
    ]
    assert pub.dead_letters() == []
    assert skipped("private_chat") - before["private_chat"] == 3  # incl. the forward
    assert skipped("no_text") - before["no_text"] == len(updates) - 3 - 3
    assert rt.store.get("telegram:updates") == {"offset": 500 + len(updates)}
