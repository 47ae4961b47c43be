"""Telegram: messages of the chats and channels the bot is a member of (Bot API).

Two modes (``INCIDENTS_CONNECTORS_TELEGRAM_MODE``):

- ``polling``: ``getUpdates`` long polling with ``offset``. The Bot API keeps
  an update until a later call passes an ``offset`` above its ``update_id``,
  so the durable cursor ``{"offset": last update_id + 1}`` is also the
  acknowledgement: a connector that dies before saving it is sent the same
  updates again. The API keeps unconfirmed updates for 24 hours.
- ``webhook``: the Bot API POSTs each Update to ``/telegram`` on this process
  (``setWebhook`` is called at start when ``TELEGRAM_WEBHOOK_URL`` is set, with
  ``secret_token``); the handler publishes and waits for the broker before it
  answers 200, and the Bot API retries anything else.

``message`` and ``channel_post`` updates with text or a caption are published;
``edited_message`` and ``edited_channel_post`` are published too, as a new
version of the same mention (same id, ``edited_at`` = the edit's time). Service
messages and media without a caption are counted as skipped, and so are the
bot's private chats unless the registry lists a ``telegram`` source with id
``private`` (then they are that source: its name, kind and region; their
messages have no public link). A forward names the post it copies in ``origin``
when the platform does (a channel post: ``forward_origin`` of type ``channel``,
or the older ``forward_from_chat`` + ``forward_from_message_id``); its author
is the original's (the channel, the user forwarded from), not the forwarder's,
and the chat it was forwarded into stays the source. A message sent on behalf
of a chat or channel (``sender_chat``: channel posts, anonymous group admins)
has that chat as its author, named by ``author_signature`` when there is one.
Errors: 401 (bad token) and 409 (a webhook is set, or another getUpdates runs
with the same token) are fatal; 429 is retried after ``parameters.retry_after``.

Ids: ``telegram:<chat id>/<message id>`` (``telegram:-1001733245519/8817``).
"""

from __future__ import annotations

import hmac
from typing import Any

import msgspec
from aiohttp import web

from incidents.config.connectors import ConnectorSettings
from incidents.connectors.base import (
    ConnectorRuntime,
    FatalError,
    HttpClient,
    MalformedResponse,
    MapResult,
    Page,
    Source,
    SourceUnavailable,
    TransientError,
    commit_batch,
    from_unix,
    map_item,
    mention,
    source_fields,
)
from incidents.connectors.cursor import Cursor
from incidents.connectors.registry import Registry
from incidents.observability import connectors as metrics

UPDATES = ("message", "channel_post")
EDITS = ("edited_message", "edited_channel_post")
PAGE = 100
#: The registry source id that makes the bot's private chats a monitored source.
PRIVATE_SOURCE = "private"
# Who Telegram says sent a message posted on behalf of a chat: not a person.
_STAND_INS = frozenset({1087968824, 136817688, 777000})  # GroupAnonymousBot, Channel_Bot, Telegram


def _token(conf: ConnectorSettings) -> None:
    if conf.telegram_token is None:
        raise FatalError("INCIDENTS_CONNECTORS_TELEGRAM_TOKEN is not set (from @BotFather)")


def _webhook_secret(conf: ConnectorSettings) -> bytes:
    if conf.telegram_webhook_secret is None:
        raise FatalError(
            "INCIDENTS_CONNECTORS_TELEGRAM_WEBHOOK_SECRET is not set: webhook mode needs the "
            "secret_token Telegram sends back in X-Telegram-Bot-Api-Secret-Token"
        )
    return conf.telegram_webhook_secret.get_secret_value().encode()


def check(conf: ConnectorSettings, registry: Registry) -> None:
    """The connector's own settings, before anything connects: one line, exit 2."""
    _token(conf)
    if conf.telegram_mode == "webhook":
        _webhook_secret(conf)


class TelegramApi:
    def __init__(self, conf: ConnectorSettings, connector: str = "telegram") -> None:
        _token(conf)
        assert conf.telegram_token is not None
        self.conf = conf
        self.base = (
            f"{conf.telegram_api_url.rstrip('/')}/bot{conf.telegram_token.get_secret_value()}"
        )
        self.http = HttpClient(connector, conf)

    async def call(self, method: str, timeout_s: float | None = None, **params: Any) -> Any:
        body_params = {k: v for k, v in params.items() if v is not None}
        resp = await self.http.request(
            method, "POST", f"{self.base}/{method}", json_body=body_params, timeout_s=timeout_s
        )
        body = resp.json()
        if not isinstance(body, dict) or "ok" not in body:
            raise MalformedResponse(f"{method}: not a Bot API answer", resp.body)
        if body["ok"] is True:
            return body.get("result")
        code = body.get("error_code", resp.status)
        desc = str(body.get("description", ""))[:200]
        if code in (401, 404):  # 404: the token is malformed, so the bot URL does not exist
            raise FatalError(
                f"Telegram rejected the bot token ({code}: {desc}); check "
                "INCIDENTS_CONNECTORS_TELEGRAM_TOKEN",
                "auth",
            )
        if code == 409:
            raise FatalError(
                f"Telegram: {desc} (409): one consumer of updates per bot token", "conflict"
            )
        if code == 429:
            after = (body.get("parameters") or {}).get("retry_after")
            raise TransientError(
                f"{method}: 429 {desc}", "rate_limited", float(after) if after else None
            )
        if code == 403:
            raise SourceUnavailable(f"{method}: 403 {desc}", "access_denied")
        raise SourceUnavailable(f"{method}: {code} {desc}", "api_error")

    async def close(self) -> None:
        await self.http.close()


def message_url(chat: dict[str, Any], message_id: int) -> str | None:
    """The public link of a message: only channels and groups have one."""
    if chat.get("type") == "private":
        return None
    username = chat.get("username")
    if isinstance(username, str) and username:
        return f"https://t.me/{username}/{message_id}"
    cid = str(chat.get("id", ""))
    if cid.startswith("-100"):
        return f"https://t.me/c/{cid[4:]}/{message_id}"
    return None


def _chat_author(chat: dict[str, Any], signature: Any) -> dict[str, Any] | None:
    if chat.get("id") is None:
        return None
    name = signature if isinstance(signature, str) and signature else chat.get("title")
    return {"id": str(chat["id"]), "name": name or None}


def _user_author(user: Any) -> dict[str, Any] | None:
    if not isinstance(user, dict) or user.get("id") is None:
        return None
    name = " ".join(p for p in (user.get("first_name"), user.get("last_name")) if p)
    return {"id": str(user["id"]), "name": name or None}


def forward_of(msg: dict[str, Any]) -> tuple[bool, dict[str, Any] | None, dict[str, Any] | None]:
    """(is a forward, origin, the original's author) of a message.

    ``forward_origin`` (Bot API 7.0) or the older ``forward_*`` fields. Only a
    channel post has an id the platform names (the origin); a forward from a
    user, a hidden user or an anonymous chat admin names an author at most.
    """
    fo = msg.get("forward_origin")
    if isinstance(fo, dict):
        kind = fo.get("type")
        if kind == "channel" and isinstance(fo.get("chat"), dict):
            chat = fo["chat"]
            return (
                True,
                _origin(chat, fo.get("message_id")),
                _chat_author(chat, fo.get("author_signature")),
            )
        if kind == "chat" and isinstance(fo.get("sender_chat"), dict):
            return True, None, _chat_author(fo["sender_chat"], fo.get("author_signature"))
        if kind == "user":
            return True, None, _user_author(fo.get("sender_user"))
        return True, None, None  # hidden_user: a name the user chose, no id
    chat = msg.get("forward_from_chat")
    if isinstance(chat, dict):
        origin = None
        if chat.get("type") == "channel":
            origin = _origin(chat, msg.get("forward_from_message_id"))
        return True, origin, _chat_author(chat, msg.get("forward_signature"))
    if isinstance(msg.get("forward_from"), dict):
        return True, None, _user_author(msg["forward_from"])
    if msg.get("forward_date") is not None:
        return True, None, None  # forward_sender_name only
    return False, None, None


def _origin(chat: dict[str, Any], message_id: Any) -> dict[str, Any] | None:
    if not isinstance(message_id, int) or isinstance(message_id, bool) or message_id <= 0:
        return None
    if not isinstance(chat.get("id"), int):
        return None
    return {
        "id": f"telegram:{chat['id']}/{message_id}",
        "platform": "telegram",
        "url": message_url(chat, message_id),
    }


def _kind(chat: dict[str, Any]) -> str:
    """An unregistered chat's kind: a channel broadcasts, a group talks."""
    return "channel" if chat.get("type") == "channel" else "chat"


def map_update(update: dict[str, Any], registry: Registry) -> MapResult:
    kind = next((k for k in UPDATES + EDITS if k in update), None)
    if kind is None:
        return "other_update"
    msg = update[kind]
    chat = msg["chat"]
    chat_id, message_id = chat["id"], msg["message_id"]
    if not isinstance(chat_id, int) or not isinstance(message_id, int):
        raise TypeError(f"chat.id and message_id must be integers, got {chat_id!r}/{message_id!r}")
    private = chat.get("type") == "private"
    entry = registry.lookup("telegram", PRIVATE_SOURCE if private else str(chat_id))
    if private and entry is None:
        return "private_chat"  # a resident writing to the bot: not a monitored source
    text = msg.get("text", msg.get("caption"))
    if text is None:
        return "no_text"
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    if not text.strip():
        return "no_text"
    forwarded, origin, author = forward_of(msg)
    if not forwarded:
        sender_chat = msg.get("sender_chat")
        sender = msg.get("from")
        if isinstance(sender_chat, dict):
            author = _chat_author(sender_chat, msg.get("author_signature"))
        elif isinstance(sender, dict) and sender.get("id") not in _STAND_INS:
            author = _user_author(sender)
    reply_to = None
    rt = msg.get("reply_to_message")
    if isinstance(rt, dict) and isinstance(rt.get("message_id"), int):
        reply_to = f"telegram:{chat_id}/{rt['message_id']}"
    edited = msg.get("edit_date") if kind in EDITS else None
    if kind in EDITS and not isinstance(edited, int):
        raise TypeError(f"{kind} without an integer edit_date: {edited!r}")
    if private:
        assert entry is not None
        fields = source_fields(entry, PRIVATE_SOURCE)
    else:
        fields = source_fields(entry, str(chat_id), name=chat.get("title"))
        if entry is None:
            fields["source"]["kind"] = _kind(chat)
    return mention(
        id=f"telegram:{chat_id}/{message_id}",
        platform="telegram",
        text=text,
        created_at=from_unix(msg["date"]),
        author=author,
        url=message_url(chat, message_id),
        reply_to=reply_to,
        origin=origin,
        edited_at=from_unix(edited) if edited is not None else None,
        **fields,
    )


class UpdatesSource:
    """getUpdates; cursor ``{"offset": next update_id}``."""

    key = "telegram:updates"
    long_poll = True  # the Bot API does the waiting: no pause between rounds

    def __init__(self, api: TelegramApi, registry: Registry, long_poll_s: int) -> None:
        self.api, self.registry, self.long_poll_s = api, registry, long_poll_s

    async def poll(self, cursor: Cursor | None) -> Page:
        offset = int(cursor["offset"]) if cursor else None
        result = await self.api.call(
            "getUpdates",
            timeout_s=self.api.conf.request_timeout_s + self.long_poll_s,
            offset=offset,
            limit=PAGE,
            timeout=self.long_poll_s,
            allowed_updates=list(UPDATES + EDITS),
        )
        if not isinstance(result, list):
            raise MalformedResponse("getUpdates: result is not a list", msgspec.json.encode(result))
        items = []
        nxt = offset
        for upd in result:
            uid = upd.get("update_id") if isinstance(upd, dict) else None
            if isinstance(uid, int):
                nxt = max(nxt or 0, uid + 1)
            items.append(
                map_item(
                    upd,
                    lambda u: map_update(u, self.registry),
                    {"offset": nxt} if nxt else {},
                    str(uid),
                )
            )
        # Non-empty: ask again at once; an empty answer already waited long_poll_s.
        return Page(items, {"offset": nxt} if nxt else {}, more=bool(result))


def build_sources(rt: ConnectorRuntime) -> tuple[TelegramApi, list[Source]]:
    api = TelegramApi(rt.conf)
    return api, [UpdatesSource(api, rt.registry, rt.conf.telegram_long_poll_s)]


def webhook_routes(app: web.Application, rt: ConnectorRuntime) -> None:
    """POST /telegram: one Update per call, published before the 200."""
    expected = _webhook_secret(rt.conf)

    async def handle(request: web.Request) -> web.Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "").encode()
        if not hmac.compare_digest(given, expected):
            metrics.ERRORS.labels(rt.name, "unauthorized").inc()
            return web.json_response({"error": "bad secret token"}, status=401)
        body = await request.read()
        try:
            update = msgspec.json.decode(body)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            rt.dead_letter(body, "invalid_json", f"telegram webhook: {exc}")
            await rt.flush()
            return web.json_response({"ok": True})  # a retry would not fix it
        metrics.FETCHED.labels(rt.name).inc()
        item = map_item(
            update,
            lambda u: map_update(u, rt.registry),
            {},
            str(update.get("update_id") if isinstance(update, dict) else ""),
        )
        await commit_batch(rt, None, [item], {})
        rt.succeeded()
        return web.json_response({"ok": True})

    app.router.add_post("/telegram", handle)


async def set_webhook(api: TelegramApi, conf: ConnectorSettings) -> None:
    if not conf.telegram_webhook_url:
        return
    assert conf.telegram_webhook_secret is not None
    await api.call(
        "setWebhook",
        url=conf.telegram_webhook_url,
        secret_token=conf.telegram_webhook_secret.get_secret_value(),
        allowed_updates=list(UPDATES + EDITS),
    )


def parse_mention_id(mention_id: str) -> tuple[int, int]:
    """(chat id, message id) of a Telegram mention id, for replies."""
    rest = mention_id.removeprefix("telegram:")
    chat, sep, msg = rest.partition("/")
    if not sep:
        raise ValueError(f"not a Telegram message id: {mention_id!r}")
    return int(chat), int(msg)
