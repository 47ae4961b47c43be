"""The webhook receivers (ours and Telegram's) and the replies worker, in process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest

from incidents.connectors.base import FatalError, serve, web_app
from incidents.connectors.replies import RepliesWorker, ReplyResult, SentStore, build_posters
from incidents.connectors.sources import telegram, webhook
from incidents.contracts.models import Reply
from incidents.kafka.embedded import free_port
from tests.support.connectors import MemoryPublisher, conf_for, run, runtime
from tests.support.fakes import FakeTelegram, FakeVk, fixture
from tests.support.paths import ROOT

EXAMPLES = ROOT / "incidents" / "contracts" / "examples"


def _mention(**over: Any) -> dict[str, Any]:
    m = json.loads((EXAMPLES / "mentions.raw" / "vk-pothole.json").read_text(encoding="utf-8"))
    m.pop("region_hint")
    m.update(over)
    return m


async def _post(port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as s,
        s.post(f"http://127.0.0.1:{port}{path}", data=body, headers=headers) as r,
    ):
        return r.status, await r.json()


def test_webhook_auth_validation_and_dead_letters(tmp_path: Path, registry) -> None:
    pub = MemoryPublisher()
    rt = runtime("webhook", conf_for(tmp_path, webhook_max_bytes=4096), registry, pub)
    port = free_port()
    auth = {"Authorization": "Bearer hook-secret-1", "Content-Type": "application/json"}

    async def go() -> list[tuple[int, Any]]:
        app = web_app(rt)
        webhook.routes(app, rt)
        runner = await serve(app, "127.0.0.1", port)
        good = json.dumps(_mention()).encode()
        try:
            return [
                await _post(port, "/mentions", good, {}),
                await _post(port, "/mentions", good, {"Authorization": "Bearer wrong"}),
                await _post(port, "/mentions", good, auth),
                await _post(
                    port,
                    "/mentions",
                    json.dumps(
                        [
                            _mention(
                                id="telegram:-1001733245519/9001",
                                platform="telegram",
                                source={"id": "-1001733245519"},
                            ),
                            _mention(id="vk:wall-1_1", text=""),
                        ]
                    ).encode(),
                    auth,
                ),
                await _post(
                    port, "/mentions", '{"id": "vk:wall-1_2", "text": "обрыв'.encode(), auth
                ),
                await _post(port, "/mentions", b"x" * 5000, auth),
            ]
        finally:
            await runner.cleanup()

    (no_token, wrong, ok, mixed, broken, big) = run(go())
    assert no_token[0] == 401 and wrong[0] == 401
    assert ok == (202, {"accepted": 1})
    assert mixed[0] == 400 and mixed[1]["accepted"] == 1
    assert mixed[1]["rejected"][0]["index"] == 1 and "text" in mixed[1]["rejected"][0]["error"]
    assert broken[0] == 400 and "not JSON" in broken[1]["error"]
    assert big[0] == 413
    ms = {m["id"]: m for m in pub.mentions()}
    assert ms["vk:wall-41237765_61502"]["region_hint"] == "RU-TVE"  # stamped from the registry
    assert ms["telegram:-1001733245519/9001"]["region_hint"] == "RU-TVE"
    dls = pub.dead_letters()
    assert [d.error_kind for d in dls] == ["schema", "invalid_json"]
    assert dls[0].stage == "connector:webhook" and dls[0].mention_id == "vk:wall-1_1"
    assert "text" in dls[0].reason
    assert (
        msgspec.json.decode(__import__("base64").b64decode(dls[0].original_b64))["id"]
        == "vk:wall-1_1"
    )


def test_webhook_refuses_to_start_without_tokens(tmp_path: Path, registry) -> None:
    rt = runtime("webhook", conf_for(tmp_path, webhook_tokens=[]), registry, MemoryPublisher())
    with pytest.raises(FatalError, match="INCIDENTS_CONNECTORS_WEBHOOK_TOKENS"):
        webhook.routes(web_app(rt), rt)


def test_telegram_webhook_mode(tmp_path: Path, registry) -> None:
    pub = MemoryPublisher()
    conf = conf_for(tmp_path, telegram_mode="webhook", telegram_webhook_secret="tg-hook-secret")
    rt = runtime("telegram", conf, registry, pub)
    port = free_port()
    ups = fixture("telegram_updates.json")

    async def go() -> list[int]:
        app = web_app(rt)
        telegram.webhook_routes(app, rt)
        runner = await serve(app, "127.0.0.1", port)
        ok = {"X-Telegram-Bot-Api-Secret-Token": "tg-hook-secret"}
        try:
            codes = [(await _post(port, "/telegram", json.dumps(ups[0]).encode(), {}))[0]]
            for u in ups:
                codes.append((await _post(port, "/telegram", json.dumps(u).encode(), ok))[0])
            return codes
        finally:
            await runner.cleanup()

    codes = run(go())
    assert codes[0] == 401 and set(codes[1:]) == {200}
    assert len(pub.ids()) == 6 and len(pub.dead_letters()) == 1  # 8817 and its edit


def _replies() -> list[Reply]:
    out = []
    for name in ("vk-interim", "telegram-interim"):
        raw = (EXAMPLES / "replies.outbound" / f"{name}.json").read_bytes()
        out.append(msgspec.json.decode(raw, type=Reply))
    ok_reply = msgspec.structs.replace(
        out[0], reply_id="ok-1", mention_id="ok:55123981_155477290014", platform="ok"
    )
    pos_reply = msgspec.structs.replace(
        out[0], reply_id="pos-1", mention_id="pos:pos-tver/771200", platform="pos"
    )
    comment = msgspec.structs.replace(
        out[0], reply_id="vk-c-1", mention_id="vk:wall-41237765_61502?reply=61510"
    )
    return [*out, ok_reply, pos_reply, comment]


def _worker(tmp: Path, registry: Any, pub: Any, live: list[str], **urls: Any) -> RepliesWorker:
    conf = conf_for(tmp, replies_live=live, **urls)
    rt = runtime("replies", conf, registry, pub)
    return RepliesWorker(rt, SentStore(tmp / "sent.sqlite"), build_posters(conf), "replies.results")


def _results(pub: MemoryPublisher) -> list[ReplyResult]:
    return [
        msgspec.json.decode(v, type=ReplyResult)
        for t, v, _, _ in pub.delivered
        if t == "replies.results"
    ]


def _feed(worker: RepliesWorker, replies: list[Reply], offset: int = 0) -> None:
    async def go() -> None:
        for i, r in enumerate(replies):
            await worker.handle(msgspec.json.encode(r), "replies.outbound", 0, offset + i, None)
        await worker.rt.flush()
        for p in worker.posters.values():
            await p.close()

    run(go())


def test_replies_dry_run_is_the_default(tmp_path: Path, registry) -> None:
    pub = MemoryPublisher()
    w = _worker(tmp_path, registry, pub, live=[])
    _feed(w, _replies())
    assert [r.status for r in _results(pub)] == [
        "dry_run", "dry_run", "dry_run", "unsupported", "dry_run",
    ]  # fmt: skip


def test_replies_post_once_per_reply_id(tmp_path: Path, registry) -> None:
    with FakeVk() as vk, FakeTelegram() as tg:
        pub = MemoryPublisher()
        urls = {"vk_api_url": f"{vk.url}/method", "telegram_api_url": tg.url}
        w = _worker(tmp_path, registry, pub, ["vk", "telegram"], **urls)
        replies = _replies()
        _feed(w, replies)
        # redelivered (a restart before the offset commit): nothing is posted again
        w2 = _worker(tmp_path, registry, pub, ["vk", "telegram"], **urls)
        _feed(w2, replies, offset=10)
        created = vk.called("wall.createComment")
        assert len(created) == 2 and len(tg.sent) == 1
        first = created[0]
        assert first["owner_id"] == "-41237765" and first["post_id"] == "61502"
        assert first["from_group"] == "41237765" and first["guid"] == replies[0].reply_id
        assert created[1]["reply_to_comment"] == "61510"
        assert tg.sent[0]["chat_id"] == -1001733245519
        assert tg.sent[0]["reply_parameters"]["message_id"] == 8817
        res = _results(pub)
        assert [r.status for r in res[:5]] == [
            "posted",
            "posted",
            "dry_run",
            "unsupported",
            "posted",
        ]
        assert res[0].external_id == "vk:wall-41237765_61502?reply=90001"
        assert res[5:] == res[:5]  # the stored results, published again on redelivery


def test_reply_interrupted_while_posting(tmp_path: Path, registry) -> None:
    """Found `sending` after a crash: VK is posted again (guid dedups), Telegram is not."""
    with FakeVk() as vk, FakeTelegram() as tg:
        pub = MemoryPublisher()
        urls = {"vk_api_url": f"{vk.url}/method", "telegram_api_url": tg.url}
        w = _worker(tmp_path, registry, pub, ["vk", "telegram"], **urls)
        vk_reply, tg_reply = _replies()[:2]
        _feed(w, [vk_reply, tg_reply])  # both posted, then pretend the store lost the outcome:
        for r in (vk_reply, tg_reply):
            w.store.db.execute("UPDATE sent SET status='sending' WHERE reply_id=?", (r.reply_id,))
        w2 = _worker(tmp_path, registry, pub, ["vk", "telegram"], **urls)
        _feed(w2, [vk_reply, tg_reply])
        assert len(vk.created) == 1 and len(vk.called("wall.createComment")) == 2
        assert len(tg.sent) == 1
        res = _results(pub)[2:]
        assert [r.status for r in res] == ["posted", "unknown"]
        assert "not posted again" in (res[1].error or "")


def test_reply_to_a_deleted_post_fails_for_good(tmp_path: Path, registry) -> None:
    with FakeVk() as vk:
        pub = MemoryPublisher()
        w = _worker(tmp_path, registry, pub, ["vk"], vk_api_url=f"{vk.url}/method")
        vk.inject("wall.createComment", FakeVk.error(15, "Access denied: post was deleted"))
        vk.inject("wall.createComment", FakeVk.error(6, "Too many requests per second"))
        _feed(w, _replies()[:1] + _replies()[4:])
        res = _results(pub)
        assert [r.status for r in res] == ["failed", "posted"]
        assert "post was deleted" in (res[0].error or "")


def test_invalid_reply_is_dead_lettered(tmp_path: Path, registry) -> None:
    pub = MemoryPublisher()
    w = _worker(tmp_path, registry, pub, [])

    async def go() -> None:
        await w.handle(b'{"reply_id": "x"}', "replies.outbound", 2, 41, b"vk:wall-1_1")
        await w.rt.flush()

    run(go())
    (d,) = pub.dead_letters()
    assert d.stage == "connector:replies" and d.partition == 2 and d.offset == 41
    assert d.error_kind == "schema" and "Reply" in d.reason


def test_ok_replies_need_the_granted_method(tmp_path: Path) -> None:
    with pytest.raises(FatalError, match="OK_REPLY_METHOD"):
        build_posters(conf_for(tmp_path, replies_live=["ok"]))
