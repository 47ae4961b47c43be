"""Odnoklassniki: group topics and their discussions through the OK REST API.

Every call goes to ``fb.do`` with ``application_key``, ``method``,
``format=json``, the method's parameters and ``sig``, and carries the
``access_token`` unsigned (https://apiok.ru/dev/methods/)::

    sig = md5( k1=v1k2=v2... (sorted by name, without access_token/session_key)
               + md5(access_token + application_secret_key) ), lowercase hex

Methods: ``mediatopic.getTopics`` (a group's topics, newest first, ``anchor``
paging) and ``discussions.getComments`` (``discussionType=GROUP_TOPIC``,
oldest first with ``direction=FORWARD``, ``anchor`` paging). Errors come as
``{"error_code": N, "error_msg": ..., "error_data": ...}`` with HTTP 200:
100/101/102/103/104 (parameter, application key, session expired, session
key, signature) are fatal; 1, 2 (service unavailable) and 8 (flood) are
retried; 10 (permission denied), 11 (limit reached) and 300 (not found) skip
the source this round.

Ids: a topic is ``ok:<gid>_<topic id>`` (``ok:55123981_155477290014``), a
comment ``ok:<gid>_<topic id>?comment=<comment id>``. Comment dates are
Moscow time in the API (``2026-11-16 10:17:03``) and are published with +03:00.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any

import msgspec

from incidents.config.connectors import ConnectorSettings
from incidents.connectors.base import (
    ConnectorRuntime,
    FatalError,
    Fetched,
    HttpClient,
    MalformedResponse,
    MapResult,
    Page,
    Source,
    SourceUnavailable,
    TransientError,
    from_unix,
    map_item,
    mention,
    no_sources,
    source_fields,
)
from incidents.connectors.cursor import Cursor
from incidents.connectors.registry import Registry, SourceEntry

MSK = timezone(timedelta(hours=3), "MSK")
FATAL = {
    100: "a required parameter is missing or wrong",
    101: "the application key is unknown",
    102: "the session (access_token) expired",
    103: "the session key (access_token) is invalid",
    104: "the signature is wrong (application secret key?)",
}
RETRY = {1: "unknown", 2: "server", 8: "flood"}
SKIP = {10: "access_denied", 11: "quota", 300: "deleted", 7: "blocked"}
TOPICS_PAGE = 20
COMMENTS_PAGE = 100
UNSIGNED = {"access_token", "session_key", "sig"}


def signature(params: dict[str, str], access_token: str, secret: str) -> str:
    """OK's request signature (see the module docstring)."""
    session_secret = hashlib.md5((access_token + secret).encode("utf-8")).hexdigest()
    pairs = "".join(f"{k}={params[k]}" for k in sorted(params) if k not in UNSIGNED)
    return hashlib.md5((pairs + session_secret).encode("utf-8")).hexdigest().lower()


def _keys(conf: ConnectorSettings) -> None:
    missing = [
        name
        for name, value in (
            ("INCIDENTS_CONNECTORS_OK_APPLICATION_KEY", conf.ok_application_key),
            ("INCIDENTS_CONNECTORS_OK_APPLICATION_SECRET", conf.ok_application_secret),
            ("INCIDENTS_CONNECTORS_OK_ACCESS_TOKEN", conf.ok_access_token),
        )
        if not value
    ]
    if missing:
        raise FatalError(f"{', '.join(missing)} not set (OK application keys and token)")


def _group_id(entry: SourceEntry) -> None:
    if not entry.id.isdigit():
        raise FatalError(f"registry: OK source {entry.id!r} must be a numeric group id (gid)")


def check(conf: ConnectorSettings, registry: Registry) -> None:
    """The connector's own settings, before anything connects: one line, exit 2."""
    _keys(conf)
    for entry in registry.of("ok"):
        _group_id(entry)
    if not registry.of("ok"):
        raise no_sources("ok")


class OkApi:
    def __init__(self, conf: ConnectorSettings, connector: str = "ok") -> None:
        _keys(conf)
        assert conf.ok_application_key and conf.ok_application_secret and conf.ok_access_token
        self.conf = conf
        self.app_key = conf.ok_application_key
        self.secret = conf.ok_application_secret.get_secret_value()
        self.token = conf.ok_access_token.get_secret_value()
        self.http = HttpClient(connector, conf, per_s=conf.ok_requests_per_s)

    def signed(self, method: str, params: dict[str, Any]) -> dict[str, str]:
        form = {k: str(v) for k, v in params.items() if v is not None}
        form.update(application_key=self.app_key, method=method, format="json")
        form["sig"] = signature(form, self.token, self.secret)
        form["access_token"] = self.token
        return form

    async def call(self, method: str, **params: Any) -> Any:
        resp = await self.http.request(
            method, "POST", self.conf.ok_api_url, data=self.signed(method, params)
        )
        if resp.status != 200:
            raise TransientError(f"{method}: HTTP {resp.status}", "http", resp.retry_after())
        body = resp.json()
        if isinstance(body, dict) and "error_code" in body:
            code = body.get("error_code")
            msg = str(body.get("error_msg", ""))[:200]
            if code in FATAL:
                raise FatalError(
                    f"OK rejected the request: {FATAL[code]} (error {code}: {msg}); check "
                    "INCIDENTS_CONNECTORS_OK_APPLICATION_KEY, _OK_APPLICATION_SECRET and "
                    "_OK_ACCESS_TOKEN",
                    "auth",
                )
            if code in RETRY:
                raise TransientError(
                    f"{method}: OK error {code}: {msg}", RETRY[code], 10.0 if code == 8 else None
                )
            reason = SKIP.get(code, "api_error") if isinstance(code, int) else "api_error"
            raise SourceUnavailable(f"{method}: OK error {code}: {msg}", reason)
        return body

    async def close(self) -> None:
        await self.http.close()


def _list(body: Any, name: str, method: str) -> list[Any]:
    value = body.get(name) if isinstance(body, dict) else None
    if value is None and isinstance(body, dict):
        return []  # OK omits empty lists
    if not isinstance(value, list):
        raise MalformedResponse(f"{method}: `{name}` is not a list", msgspec.json.encode(body))
    return value


def _users(body: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    ents = body.get("entities") if isinstance(body, dict) else None
    for u in (ents or {}).get("users", []) if isinstance(ents, dict) else []:
        if isinstance(u, dict) and u.get("uid"):
            name = u.get("name") or " ".join(
                p for p in (u.get("first_name"), u.get("last_name")) if isinstance(p, str)
            )
            out[str(u["uid"])] = name
    return out


def topic_text(topic: dict[str, Any]) -> str:
    media = topic.get("media", [])
    if not isinstance(media, list):
        raise TypeError("media must be a list")
    parts = [
        m["text"]
        for m in media
        if isinstance(m, dict) and m.get("type") == "text" and isinstance(m.get("text"), str)
    ]
    return "\n\n".join(p for p in parts if p.strip())


def map_topic(
    topic: dict[str, Any], gid: str, registry: Registry, users: dict[str, str]
) -> MapResult:
    tid = topic["id"]
    if not isinstance(tid, str | int) or isinstance(tid, bool):
        raise TypeError(f"topic id must be a string, got {tid!r}")
    created = topic["created_ms"]
    if not isinstance(created, int):
        raise TypeError(f"created_ms must be an integer, got {created!r}")
    text = topic_text(topic)
    if not text:
        return "no_text"
    author = None
    ref = topic.get("author_ref")
    if isinstance(ref, str) and ref.startswith("user:"):
        uid = ref.split(":", 1)[1]
        author = {"id": uid, "name": users.get(uid) or None}
    like = topic.get("like_summary") or {}
    disc = topic.get("discussion_summary") or {}
    share = topic.get("reshare_summary") or {}
    metrics = {
        k: v
        for k, v in (
            ("likes", like.get("count")),
            ("comments", disc.get("comments_count")),
            ("reposts", share.get("count")),
        )
        if isinstance(v, int)
    }
    return mention(
        id=f"ok:{gid}_{tid}",
        platform="ok",
        text=text,
        created_at=from_unix(created / 1000),
        author=author,
        url=f"https://ok.ru/group/{gid}/topic/{tid}",
        metrics=metrics or None,
        **source_fields(registry.lookup("ok", gid), gid, url=f"https://ok.ru/group/{gid}"),
    )


def map_comment(c: dict[str, Any], gid: str, tid: str, registry: Registry) -> MapResult:
    cid = c["id"]
    if not isinstance(cid, str) or not cid:
        raise TypeError(f"comment id must be a string, got {cid!r}")
    text = c.get("text")
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    if not text.strip():
        return "no_text"
    when = datetime.strptime(c["date"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=MSK)
    author = c.get("author_id")
    return mention(
        id=f"ok:{gid}_{tid}?comment={cid}",
        platform="ok",
        text=text,
        created_at=when,
        author={"id": str(author), "name": c.get("author_name") or None} if author else None,
        url=f"https://ok.ru/group/{gid}/topic/{tid}",
        reply_to=f"ok:{gid}_{tid}",
        **source_fields(registry.lookup("ok", gid), gid, url=f"https://ok.ru/group/{gid}"),
    )


class TopicsSource:
    """New topics of one group; cursor ``{"since_ms": t, "ids": [topic ids at t]}``."""

    def __init__(self, api: OkApi, entry: SourceEntry, registry: Registry, max_pages: int) -> None:
        self.api, self.entry, self.registry, self.max_pages = api, entry, registry, max_pages
        self.gid = entry.id
        self.key = f"ok:topics:{entry.id}"

    async def poll(self, cursor: Cursor | None) -> Page:
        since = int(cursor["since_ms"]) if cursor else None
        at_since = set(cursor.get("ids", [])) if cursor else set()
        found: dict[str, tuple[int, Any]] = {}
        users: dict[str, str] = {}
        anchor: str | None = None
        for _ in range(self.max_pages):
            body = await self.api.call(
                "mediatopic.getTopics",
                gid=self.gid,
                count=TOPICS_PAGE,
                anchor=anchor,
                direction="FORWARD" if anchor else None,
                fields="media_topic.*,user.uid,user.name",
            )
            users.update(_users(body))
            reached = False
            for t in _list(body, "media_topics", "mediatopic.getTopics"):
                ok = isinstance(t, dict) and isinstance(t.get("created_ms"), int)
                tid = str(t.get("id")) if isinstance(t, dict) else "?"
                ms = t["created_ms"] if ok else (since or 0)
                if ok and since is not None and (ms < since or (ms == since and tid in at_since)):
                    reached = True
                    continue
                found[tid] = (ms, t)
            anchor = body.get("anchor") if isinstance(body, dict) else None
            if reached or since is None or not body.get("has_more") or not anchor:
                break
        out: list[Fetched] = []
        cur, ids = since or 0, set(at_since)
        for tid, (ms, t) in sorted(found.items(), key=lambda kv: (kv[1][0], kv[0])):
            if ms > cur:
                cur, ids = ms, set()
            ids.add(tid)
            out.append(
                map_item(
                    t,
                    lambda t: map_topic(t, self.gid, self.registry, users),
                    {"since_ms": cur, "ids": sorted(ids)},
                    f"ok:{self.gid}_{tid}",
                )
            )
        return Page(out, {"since_ms": cur, "ids": sorted(ids)})


class DiscussionsSource:
    """New comments under a group's latest topics.

    Cursor ``{"topics": {tid: {"anchor": a, "skip": k, "count": n}}}``: the
    anchor of the comment page being read and how many of its comments were
    published, so a restart in the middle of a page resumes inside it.
    """

    def __init__(self, api: OkApi, entry: SourceEntry, registry: Registry) -> None:
        self.api, self.entry, self.registry = api, entry, registry
        self.gid = entry.id
        self.key = f"ok:discussions:{entry.id}"

    async def poll(self, cursor: Cursor | None) -> Page:
        state: dict[str, dict[str, Any]] = dict((cursor or {}).get("topics", {}))
        body = await self.api.call("mediatopic.getTopics", gid=self.gid, count=TOPICS_PAGE)
        window: dict[str, dict[str, Any]] = {}
        todo: list[tuple[str, int]] = []
        for t in _list(body, "media_topics", "mediatopic.getTopics"):
            if not isinstance(t, dict) or t.get("id") is None:
                continue
            tid = str(t["id"])
            count = (t.get("discussion_summary") or {}).get("comments_count") or 0
            known = state.get(tid, {"anchor": None, "skip": 0, "count": 0})
            window[tid] = dict(known)
            if isinstance(count, int) and count and count != known.get("count"):
                todo.append((tid, count))
        out: list[Fetched] = []
        for tid, count in todo:
            st = window[tid]
            try:
                while True:
                    page = await self.api.call(
                        "discussions.getComments",
                        discussionId=tid,
                        discussionType="GROUP_TOPIC",
                        count=COMMENTS_PAGE,
                        anchor=st["anchor"],
                        direction="FORWARD",
                    )
                    comments = _list(page, "comments", "discussions.getComments")
                    for i, c in enumerate(comments):
                        if i < st["skip"]:
                            continue
                        st["skip"] = i + 1
                        snap = {"topics": {k: dict(v) for k, v in window.items()}}
                        cid = c.get("id") if isinstance(c, dict) else "?"
                        ref = f"ok:{self.gid}_{tid}?comment={cid}"
                        out.append(
                            map_item(
                                c,
                                partial(map_comment, gid=self.gid, tid=tid, registry=self.registry),
                                snap,
                                ref,
                            )
                        )
                    nxt = page.get("anchor") if isinstance(page, dict) else None
                    if page.get("has_more") and nxt:
                        st["anchor"], st["skip"] = nxt, 0
                        continue
                    break
            except SourceUnavailable:
                window.pop(tid, None)
                continue
            st["count"] = count
        return Page(out, {"topics": window})


def build_sources(rt: ConnectorRuntime) -> tuple[OkApi, list[Source]]:
    api = OkApi(rt.conf)
    sources: list[Source] = []
    for entry in rt.registry.of("ok"):
        _group_id(entry)
        sources.append(TopicsSource(api, entry, rt.registry, rt.conf.max_pages))
        if entry.comments:
            sources.append(DiscussionsSource(api, entry, rt.registry))
    return api, sources


def parse_mention_id(mention_id: str) -> tuple[str, str, str | None]:
    """(gid, topic id, comment id or None) of an OK mention id, for replies."""
    rest = mention_id.removeprefix("ok:")
    rest, _, comment = rest.partition("?comment=")
    gid, sep, tid = rest.partition("_")
    if not sep or not gid or not tid:
        raise ValueError(f"not an OK topic or comment id: {mention_id!r}")
    return gid, tid, comment or None
