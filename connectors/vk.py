"""VK: wall posts and comments of registered communities, and keyword search.

API methods (https://dev.vk.com/method): ``wall.get`` (newest first, ``offset``
paging, 100 a page; a pinned post may come first), ``wall.getComments``
(``sort=asc``, ``offset`` paging), ``newsfeed.search`` (``start_time``,
``next_from`` cursor, 200 a page), and for replies ``wall.createComment``
(with ``guid`` so a repeated call does not post twice). Requests carry
``access_token`` and ``v``; answers are ``{"response": ...}`` or
``{"error": {"error_code": N, "error_msg": ...}}``.

Error codes and what they mean here:

| code | meaning | here |
|---|---|---|
| 5, 27, 28 | authorization failed (bad or revoked token) | fatal, exit 2 |
| 6 | too many requests per second | retry after a pause |
| 9 | flood control | retry after a longer pause |
| 1, 10 | unknown / internal server error | retry |
| 29 | the method's daily quota is used up | skip the source this round |
| 15, 18, 30, 212 | access denied, deleted/banned, private, comments closed | skip source or post |
| 100, 113 | bad parameter (a wrong owner id in the registry) | skip the source |

Ids: a post is ``vk:wall<owner>_<post>`` (``vk:wall-41237765_61502``), a
comment ``vk:wall<owner>_<post>?reply=<comment>``, which is also its VK URL.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from connectors.base import (
    FatalError,
    Fetched,
    HttpClient,
    MalformedResponse,
    MapResult,
    Page,
    Runtime,
    Source,
    SourceUnavailable,
    TransientError,
    from_unix,
    map_item,
    mention,
    no_sources,
    source_fields,
)
from connectors.cursor import Cursor
from connectors.registry import Registry, SearchEntry, SourceEntry
from connectors.settings import ConnectorSettings

FATAL = {
    5: "authorization failed",
    27: "group authorization failed",
    28: "app authorization failed",
}
RETRY = {1: "unknown", 6: "rate_limited", 9: "flood", 10: "server"}
SKIP = {
    15: "access_denied",
    18: "deleted",
    29: "quota",
    30: "private",
    100: "invalid_param",
    113: "invalid_param",
    212: "access_denied",
    14: "captcha",
}
WALL_PAGE = 100
COMMENTS_PAGE = 100
SEARCH_PAGE = 200


class VkError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"VK error {code}: {message}")
        self.code = code


def _token(conf: ConnectorSettings) -> str:
    if conf.vk_token is None:
        raise FatalError("INCIDENTS_CONNECTORS_VK_TOKEN is not set (a VK service token)")
    return conf.vk_token.get_secret_value()


def _owner_id(entry: SourceEntry) -> None:
    try:
        int(entry.id)
    except ValueError:
        raise FatalError(
            f"registry: VK source {entry.id!r} must be a numeric owner id "
            "(negative for a community, e.g. -41237765)"
        ) from None


def check(conf: ConnectorSettings, registry: Registry) -> None:
    """The connector's own settings, before anything connects: one line, exit 2."""
    _token(conf)
    for entry in registry.of("vk"):
        _owner_id(entry)
    if not registry.of("vk") and not any(s.platform == "vk" for s in registry.searches):
        raise no_sources("vk")


class VkApi:
    def __init__(self, conf: ConnectorSettings, connector: str = "vk") -> None:
        self.token = _token(conf)
        self.conf = conf
        self.http = HttpClient(connector, conf, per_s=conf.vk_requests_per_s)

    async def call(self, method: str, **params: Any) -> Any:
        """One API call: the `response`, or a classified error."""
        form = {k: str(v) for k, v in params.items() if v is not None}
        form.update(access_token=self.token, v=self.conf.vk_api_version)
        resp = await self.http.request(
            method, "POST", f"{self.conf.vk_api_url.rstrip('/')}/{method}", data=form
        )
        if resp.status != 200:
            raise TransientError(f"{method}: HTTP {resp.status}", "http", resp.retry_after())
        body = resp.json()
        if not isinstance(body, dict):
            raise MalformedResponse(f"{method}: answer is not an object", resp.body)
        if "error" in body:
            err = body["error"] if isinstance(body["error"], dict) else {}
            code = err.get("error_code")
            msg = str(err.get("error_msg", ""))[:200]
            if code in FATAL:
                raise FatalError(
                    f"VK rejected the token (error {code}: {msg}); check "
                    "INCIDENTS_CONNECTORS_VK_TOKEN",
                    "auth",
                )
            if code in RETRY:
                pause = {6: 1.0, 9: 10.0}.get(code)
                raise TransientError(f"{method}: VK error {code}: {msg}", RETRY[code], pause)
            if code in SKIP:
                raise SourceUnavailable(f"{method}: VK error {code}: {msg}", SKIP[code])
            raise SourceUnavailable(f"{method}: VK error {code}: {msg}", "api_error")
        if "response" not in body:
            raise MalformedResponse(f"{method}: neither `response` nor `error`", resp.body)
        return body["response"]

    async def close(self) -> None:
        await self.http.close()


def _items(resp: Any, method: str) -> list[Any]:
    items = resp.get("items") if isinstance(resp, dict) else None
    if not isinstance(items, list):
        from msgspec import json

        raise MalformedResponse(f"{method}: response has no `items` list", json.encode(resp))
    return items


def _count(obj: Any, name: str) -> int | None:
    v = obj.get(name)
    if isinstance(v, dict) and isinstance(v.get("count"), int) and v["count"] >= 0:
        return int(v["count"])
    return None


def post_id(owner_id: int, post: int, comment: int | None = None) -> str:
    base = f"wall{owner_id}_{post}"
    return f"vk:{base}?reply={comment}" if comment is not None else f"vk:{base}"


def map_post(
    post: dict[str, Any], registry: Registry, search: SearchEntry | None = None
) -> MapResult:
    owner, pid = post["owner_id"], post["id"]
    if not isinstance(owner, int) or not isinstance(pid, int):
        raise TypeError(f"owner_id/id must be integers, got {owner!r}/{pid!r}")
    text = post.get("text")
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    if not text.strip():
        return "no_text"  # a photo or a repost without a caption
    entry = registry.lookup("vk", str(owner))
    fields = source_fields(
        entry, str(owner), url=f"https://vk.com/{'club' if owner < 0 else 'id'}{abs(owner)}"
    )
    if entry is None and search is not None and search.region:
        fields["region_hint"] = search.region
    author = post.get("from_id") or post.get("signer_id")
    native = f"wall{owner}_{pid}"
    metrics = {
        k: v
        for k, v in (
            ("likes", _count(post, "likes")),
            ("reposts", _count(post, "reposts")),
            ("comments", _count(post, "comments")),
            ("views", _count(post, "views")),
        )
        if v is not None
    }
    return mention(
        id=f"vk:{native}",
        platform="vk",
        text=text,
        created_at=from_unix(post["date"]),
        author={"id": _author(author)} if author else None,
        url=f"https://vk.com/{native}",
        metrics=metrics or None,
        **fields,
    )


def _author(from_id: Any) -> str:
    if not isinstance(from_id, int):
        raise TypeError(f"from_id must be an integer, got {from_id!r}")
    return f"id{from_id}" if from_id > 0 else f"club{-from_id}"


def map_comment(c: dict[str, Any], owner: int, post: int, registry: Registry) -> MapResult:
    cid = c["id"]
    if not isinstance(cid, int):
        raise TypeError(f"comment id must be an integer, got {cid!r}")
    if c.get("deleted"):
        return "deleted"
    text = c.get("text")
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    if not text.strip():
        return "no_text"
    entry = registry.lookup("vk", str(owner))
    return mention(
        id=post_id(owner, post, cid),
        platform="vk",
        text=text,
        created_at=from_unix(c["date"]),
        author={"id": _author(c["from_id"])},
        url=f"https://vk.com/wall{owner}_{post}?reply={cid}",
        reply_to=post_id(owner, post),
        **source_fields(entry, str(owner)),
    )


class WallSource:
    """New posts of one community wall; cursor ``{"last_id": N}``."""

    def __init__(self, api: VkApi, entry: SourceEntry, registry: Registry, max_pages: int) -> None:
        self.api, self.entry, self.registry, self.max_pages = api, entry, registry, max_pages
        self.owner = int(entry.id)
        self.key = f"vk:wall:{entry.id}"

    async def poll(self, cursor: Cursor | None) -> Page:
        last = int(cursor["last_id"]) if cursor else None
        fresh: dict[int, Any] = {}
        offset = 0
        for _ in range(self.max_pages):
            resp = await self.api.call(
                "wall.get", owner_id=self.owner, offset=offset, count=WALL_PAGE, filter="all"
            )
            items = _items(resp, "wall.get")
            reached = False
            for post in items:
                pid = post.get("id") if isinstance(post, dict) else None
                if not isinstance(pid, int):
                    fresh[-len(fresh) - 1] = post  # unreadable: dead-lettered below
                    continue
                if last is None and post.get("is_pinned"):
                    continue  # first run: a pinned post is usually an old one (rules, contacts)
                if last is not None and pid <= last:
                    if not post.get("is_pinned"):
                        reached = True
                    continue
                fresh[pid] = post
            total = resp.get("count") if isinstance(resp, dict) else None
            end = not items or not isinstance(total, int) or offset + len(items) >= total
            if reached or last is None or end:
                break  # first run: only the newest page, no backfill of the whole wall
            offset += len(items) - 1  # overlap one: a post deleted meanwhile cannot hide one
        out: list[Fetched] = []
        top = last or 0
        for pid in sorted(fresh):
            post = fresh[pid]
            if pid > 0:
                top = max(top, pid)
            out.append(
                map_item(
                    post,
                    lambda p: map_post(p, self.registry),
                    {"last_id": top},
                    f"vk:wall{self.owner}_{pid}",
                )
            )
        return Page(out, {"last_id": top})


class CommentsSource:
    """New comments under the latest posts of one community.

    Cursor ``{"posts": {post_id: {"last": comment_id, "count": n}}}`` for the
    posts in the watch window; a post is read again when its comment count changed.
    """

    def __init__(self, api: VkApi, entry: SourceEntry, registry: Registry, posts: int) -> None:
        self.api, self.entry, self.registry, self.posts = api, entry, registry, posts
        self.owner = int(entry.id)
        self.key = f"vk:comments:{entry.id}"

    async def poll(self, cursor: Cursor | None) -> Page:
        state: dict[str, dict[str, int]] = dict((cursor or {}).get("posts", {}))
        resp = await self.api.call("wall.get", owner_id=self.owner, count=self.posts, filter="all")
        window: dict[str, dict[str, int]] = {}
        todo: list[tuple[int, int]] = []
        for post in _items(resp, "wall.get"):
            if not isinstance(post, dict) or not isinstance(post.get("id"), int):
                continue  # the wall source dead-letters unreadable posts
            pid, count = post["id"], _count(post, "comments") or 0
            known = state.get(str(pid), {"last": 0, "count": 0})
            window[str(pid)] = dict(known)
            if count and count != known.get("count"):
                todo.append((pid, count))
        out: list[Fetched] = []
        for pid, count in sorted(todo):
            last = window[str(pid)]["last"]
            offset = 0
            try:
                while True:
                    r = await self.api.call(
                        "wall.getComments",
                        owner_id=self.owner,
                        post_id=pid,
                        sort="asc",
                        offset=offset,
                        count=COMMENTS_PAGE,
                    )
                    items = _items(r, "wall.getComments")
                    for c in items:
                        cid = c.get("id") if isinstance(c, dict) else None
                        if isinstance(cid, int) and cid <= last:
                            continue
                        if isinstance(cid, int):
                            window[str(pid)]["last"] = cid
                        snapshot = {"posts": {k: dict(v) for k, v in window.items()}}
                        out.append(
                            map_item(
                                c,
                                partial(
                                    map_comment, owner=self.owner, post=pid, registry=self.registry
                                ),
                                snapshot,
                                f"vk:wall{self.owner}_{pid}?reply={cid}",
                            )
                        )
                    total = r.get("count") if isinstance(r, dict) else None
                    if not items or not isinstance(total, int) or offset + len(items) >= total:
                        break
                    offset += len(items)
            except SourceUnavailable:
                window.pop(str(pid), None)  # the post was deleted or its comments closed
                continue
            window[str(pid)]["count"] = count
        return Page(out, {"posts": window})


class SearchSource:
    """newsfeed.search for one query; cursor ``{"since": unix, "ids": [ids at since]}``."""

    def __init__(
        self, api: VkApi, search: SearchEntry, registry: Registry, max_pages: int, backfill_s: float
    ) -> None:
        self.api, self.search, self.registry = api, search, registry
        self.max_pages, self.backfill_s = max_pages, backfill_s
        self.key = f"vk:search:{search.name}"

    async def poll(self, cursor: Cursor | None) -> Page:
        since = int(cursor["since"]) if cursor else int(time.time() - self.backfill_s)
        seen_at_since = set(cursor.get("ids", [])) if cursor else set()
        found: dict[str, tuple[int, Any]] = {}
        start_from: str | None = None
        for _ in range(self.max_pages):
            resp = await self.api.call(
                "newsfeed.search",
                q=self.search.query,
                count=SEARCH_PAGE,
                start_time=since,
                start_from=start_from,
                extended=0,
            )
            for post in _items(resp, "newsfeed.search"):
                ok = isinstance(post, dict) and isinstance(post.get("date"), int)
                date = post["date"] if ok else since
                ref = (
                    f"vk:wall{post.get('owner_id')}_{post.get('id')}"
                    if isinstance(post, dict)
                    else "?"
                )
                if ok and (date < since or (date == since and ref in seen_at_since)):
                    continue
                found[ref] = (date, post)
            start_from = resp.get("next_from") if isinstance(resp, dict) else None
            if not start_from:
                break
        out: list[Fetched] = []
        cur_since, cur_ids = since, set(seen_at_since)
        for ref, (date, post) in sorted(found.items(), key=lambda kv: (kv[1][0], kv[0])):
            if date > cur_since:
                cur_since, cur_ids = date, set()
            cur_ids.add(ref)
            out.append(
                map_item(
                    post,
                    lambda p: map_post(p, self.registry, self.search),
                    {"since": cur_since, "ids": sorted(cur_ids)},
                    ref,
                )
            )
        return Page(out, {"since": cur_since, "ids": sorted(cur_ids)})


def build_sources(rt: Runtime) -> tuple[VkApi, list[Source]]:
    api = VkApi(rt.conf)
    sources: list[Source] = []
    for entry in rt.registry.of("vk"):
        _owner_id(entry)
        sources.append(WallSource(api, entry, rt.registry, rt.conf.max_pages))
        if entry.comments:
            sources.append(CommentsSource(api, entry, rt.registry, rt.conf.vk_comment_posts))
    for search in rt.registry.searches:
        if search.platform == "vk":
            sources.append(
                SearchSource(
                    api, search, rt.registry, rt.conf.max_pages, rt.conf.vk_search_backfill_s
                )
            )
    return api, sources


def parse_mention_id(mention_id: str) -> tuple[int, int, int | None]:
    """(owner, post, comment or None) of a VK mention id, for replies."""
    rest = mention_id.removeprefix("vk:")
    if not rest.startswith("wall"):
        raise ValueError(f"not a VK wall post or comment id: {mention_id!r}")
    rest, _, reply = rest[4:].partition("?reply=")
    owner, _, post = rest.partition("_")
    return int(owner), int(post), int(reply) if reply else None
