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

What a post publishes, read from real answers (tests/connectors/fixtures/real):

- a repost (``copy_history``, the chain of reposted posts, the original last)
  publishes the *original's* text, then each reposter's own words marked
  ``Комментарий к репосту:``, and names the original in ``origin``; a repost of
  a photo with no words anywhere is skipped (``no_text``);
- mention markup (``[club123|Имя]``, ``[id6099|Дмитрий]``, ``@id1 (Имя)``)
  becomes the name; HTML escapes and ``<br>`` that some methods still return
  (``newsfeed.search``, old comments) are undone;
- ``edited`` is published as ``edited_at``: a wall post re-read with a newer
  ``edited`` is published again, a new version of the same id;
- comments come with their threads (``thread.items``, and the rest of a long
  thread by ``comment_id``); a reply's ``reply_to`` is the comment it answers
  (``reply_to_comment``), else the post.
"""

from __future__ import annotations

import html
import re
import time
from functools import partial
from typing import Any

from msgspec import json

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
from incidents.connectors.registry import Registry, SearchEntry, SourceEntry

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
THREAD_ITEMS = 10  # replies VK returns inline with each comment (its maximum)
EDITS_KEPT = 300  # newest wall posts whose `edited` time the cursor remembers
REPOST_COMMENT = "Комментарий к репосту:"
# [id6099|Дмитрий], [club123|Имя], [public1|…], [event1|…], [https://vk.com/x|текст]
_MARKUP = re.compile(
    r"\[(?:(?:id|club|public|event)\d+|https?://[^\[\]|]+|vk\.com/[^\[\]|]+)\|([^\[\]]+)\]"
)
_AT_MENTION = re.compile(r"@(?:id|club|public)\d+ \(([^()]+)\)")  # @id1 (Имя)
_BR = re.compile(r"<br\s*/?>", re.I)


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


def vk_text(raw: Any, what: str = "text") -> str:
    """A post's or comment's words as a reader sees them: markup to names, escapes undone."""
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise TypeError(f"{what} must be a string, got {type(raw).__name__}")
    text = _BR.sub("\n", raw)
    if "&" in text:
        text = html.unescape(text)
    return _AT_MENTION.sub(r"\1", _MARKUP.sub(r"\1", text)).strip()


def _geo(post: dict[str, Any]) -> dict[str, float] | None:
    """`geo.coordinates` ("lat lon") of a post, when readable."""
    geo = post.get("geo")
    coords = geo.get("coordinates") if isinstance(geo, dict) else None
    if isinstance(coords, str):
        parts = coords.split()
        try:
            lat, lon = float(parts[0]), float(parts[1])
        except (IndexError, ValueError):
            return None
        if -90 <= lat <= 90 and -180 <= lon <= 180:
            return {"lat": lat, "lon": lon}
    return None


def _repost(post: dict[str, Any], own: str) -> tuple[str, dict[str, Any] | None, Any]:
    """(text, origin, geo) of a post: for a repost, the original's words first and each
    reposter's own words after them, marked; the original named in `origin`."""
    chain = post.get("copy_history")
    if not chain:
        return own, None, _geo(post)
    if not isinstance(chain, list) or not all(isinstance(c, dict) for c in chain):
        raise TypeError("copy_history must be a list of posts")
    root = chain[-1]  # the chain runs from the reposted post back to the original
    r_owner, r_id = root.get("owner_id"), root.get("id")
    if not isinstance(r_owner, int) or not isinstance(r_id, int):
        raise TypeError(f"copy_history: owner_id/id must be integers, got {r_owner!r}/{r_id!r}")
    native = f"wall{r_owner}_{r_id}"
    origin = {"id": f"vk:{native}", "platform": "vk", "url": f"https://vk.com/{native}"}
    original = vk_text(root.get("text"), "copy_history text")
    # Words the reposters added, this post's first, then those of the reposts between.
    comments = [own, *(vk_text(c.get("text"), "copy_history text") for c in chain[:-1])]
    comments = [c for c in comments if c]
    if not original:
        return "\n\n".join(comments), origin, _geo(post) or _geo(root)
    text = "\n\n".join([original, *(f"{REPOST_COMMENT} {c}" for c in comments)])
    return text, origin, _geo(post) or _geo(root)


def map_post(
    post: dict[str, Any], registry: Registry, search: SearchEntry | None = None
) -> MapResult:
    owner, pid = post["owner_id"], post["id"]
    if not isinstance(owner, int) or not isinstance(pid, int):
        raise TypeError(f"owner_id/id must be integers, got {owner!r}/{pid!r}")
    if "text" in post and not isinstance(post["text"], str):
        raise TypeError(f"text must be a string, got {type(post['text']).__name__}")
    text, origin, geo = _repost(post, vk_text(post.get("text")))
    if not text:
        return "no_text"  # a photo, or a repost of one, without a word
    entry = registry.lookup("vk", str(owner))
    fields = source_fields(
        entry, str(owner), url=f"https://vk.com/{'club' if owner < 0 else 'id'}{abs(owner)}"
    )
    if entry is None and search is not None and search.region:
        fields["region_hint"] = search.region
    # A community post signed by a member: the member wrote it.
    author = post.get("signer_id") or post.get("from_id")
    edited = post.get("edited")
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
        geo=geo,
        origin=origin,
        edited_at=from_unix(edited) if edited else None,
        **fields,
    )


def _author(from_id: Any) -> str:
    if not isinstance(from_id, int):
        raise TypeError(f"from_id must be an integer, got {from_id!r}")
    return f"id{from_id}" if from_id > 0 else f"club{-from_id}"


def map_comment(
    c: dict[str, Any], owner: int, post: int, registry: Registry, thread: int | None = None
) -> MapResult:
    """A comment, or (``thread``: the comment whose thread it is in) a reply in a thread."""
    cid = c["id"]
    if not isinstance(cid, int):
        raise TypeError(f"comment id must be an integer, got {cid!r}")
    if c.get("deleted"):
        return "deleted"
    if not isinstance(c.get("text"), str):
        raise TypeError(f"text must be a string, got {type(c.get('text')).__name__}")
    text = vk_text(c["text"])
    if not text:
        return "no_text"
    answers = c.get("reply_to_comment")
    if not isinstance(answers, int) or answers <= 0:
        answers = thread
    url = f"https://vk.com/wall{owner}_{post}?reply={cid}"
    if thread is not None:
        url += f"&thread={thread}"
    entry = registry.lookup("vk", str(owner))
    return mention(
        id=post_id(owner, post, cid),
        platform="vk",
        text=text,
        created_at=from_unix(c["date"]),
        author={"id": _author(c["from_id"])},
        url=url,
        reply_to=post_id(owner, post, answers),
        **source_fields(entry, str(owner)),
    )


class WallSource:
    """New posts of one community wall, and new versions of its newest posts.

    Cursor ``{"last_id": N, "edited": {post id: its `edited` time when published}}``:
    posts above ``last_id`` are new; a post of the newest page whose ``edited`` is
    later than the one remembered is published again, a new version of the same
    mention (only the newest page is watched for edits, the posts of one request).
    """

    def __init__(self, api: VkApi, entry: SourceEntry, registry: Registry, max_pages: int) -> None:
        self.api, self.entry, self.registry, self.max_pages = api, entry, registry, max_pages
        self.owner = int(entry.id)
        self.key = f"vk:wall:{entry.id}"

    async def poll(self, cursor: Cursor | None) -> Page:
        last = int(cursor["last_id"]) if cursor else None
        # None: a cursor from before edits were followed; this round learns them.
        known = cursor.get("edited") if cursor else None
        known = dict(known) if isinstance(known, dict) else None
        remembered: dict[str, int] = dict(known or {})
        # post id → (what, post); a post met twice (pages overlap by one) counts once
        todo: dict[int, tuple[str, Any]] = {}
        offset = 0
        for page_no in range(self.max_pages):
            resp = await self.api.call(
                "wall.get", owner_id=self.owner, offset=offset, count=WALL_PAGE, filter="all"
            )
            items = _items(resp, "wall.get")
            reached = False
            for post in items:
                pid = post.get("id") if isinstance(post, dict) else None
                if not isinstance(pid, int):
                    todo[-len(todo) - 1] = ("post", post)  # unreadable: dead-lettered below
                    continue
                if last is None and post.get("is_pinned"):
                    # First run: a pinned post is usually an old one (rules, contacts).
                    todo[pid] = ("pinned", post)
                    continue
                if last is not None and pid <= last:
                    if not post.get("is_pinned"):
                        reached = True
                    edited = post.get("edited")
                    if page_no == 0 and isinstance(edited, int):
                        seen = known.get(str(pid)) if known is not None else None
                        if seen is not None and edited > seen:
                            todo[pid] = ("edit", post)
                        elif str(pid) not in remembered:
                            remembered[str(pid)] = edited  # learnt, not published again
                    continue
                todo[pid] = ("post", post)
            total = resp.get("count") if isinstance(resp, dict) else None
            end = not items or not isinstance(total, int) or offset + len(items) >= total
            if reached or last is None or end:
                break  # first run: only the newest page, no backfill of the whole wall
            offset += len(items) - 1  # overlap one: a post deleted meanwhile cannot hide one
        out: list[Fetched] = []
        top = last or 0
        for pid in sorted(todo):
            what, post = todo[pid]
            ref = f"vk:wall{self.owner}_{pid}"
            if what != "pinned" and pid > 0:
                top = max(top, pid)
                edited = post.get("edited")
                remembered[str(pid)] = edited if isinstance(edited, int) else 0
            resume = {"last_id": top, "edited": _newest(remembered)}
            if what == "pinned":
                out.append(Fetched.skipped("pinned", resume, ref))
                continue
            out.append(map_item(post, lambda p: map_post(p, self.registry), resume, ref))
        return Page(out, {"last_id": top, "edited": _newest(remembered)})


def _newest(edits: dict[str, int]) -> dict[str, int]:
    """The `edited` times of the newest EDITS_KEPT posts (a copy for one cursor)."""
    if len(edits) > EDITS_KEPT:
        keep = sorted(edits, key=int)[-EDITS_KEPT:]
        for k in set(edits) - set(keep):
            del edits[k]
    return dict(edits)


class CommentsSource:
    """New comments, and replies in their threads, under the latest posts of one community.

    Cursor ``{"posts": {post_id: {"last": comment_id, "count": n, "threads": {…}}}}``
    for the posts in the watch window; a post is read again when its comment count
    changed. Comment ids grow with time across a wall, whatever thread a comment is
    in, so the new ones of a post (``id > last``) are published in id order and a
    restart in the middle resumes after the last one published. ``threads`` holds
    the reply count of each thread too long to come inline (``thread_items_count``),
    read in full by ``comment_id`` when it changes.
    """

    def __init__(self, api: VkApi, entry: SourceEntry, registry: Registry, posts: int) -> None:
        self.api, self.entry, self.registry, self.posts = api, entry, registry, posts
        self.owner = int(entry.id)
        self.key = f"vk:comments:{entry.id}"

    async def poll(self, cursor: Cursor | None) -> Page:
        state: dict[str, dict[str, Any]] = dict((cursor or {}).get("posts", {}))
        resp = await self.api.call("wall.get", owner_id=self.owner, count=self.posts, filter="all")
        window: dict[str, dict[str, Any]] = {}
        todo: list[tuple[int, int]] = []
        for post in _items(resp, "wall.get"):
            if not isinstance(post, dict) or not isinstance(post.get("id"), int):
                continue  # the wall source dead-letters unreadable posts
            pid, count = post["id"], _count(post, "comments") or 0
            known = state.get(str(pid), {"last": 0, "count": 0})
            window[str(pid)] = _copy(known)
            if count and count != known.get("count"):
                todo.append((pid, count))
        out: list[Fetched] = []
        for pid, count in sorted(todo):
            st = window[str(pid)]
            try:
                found = await self._read_post(pid, int(st.get("last", 0)), st)
            except SourceUnavailable:
                window.pop(str(pid), None)  # the post was deleted or its comments closed
                continue
            for cid, c, thread in found:
                if cid > 0:
                    st["last"] = cid
                snapshot = {"posts": {k: _copy(v) for k, v in window.items()}}
                mapper = partial(
                    map_comment, owner=self.owner, post=pid, registry=self.registry, thread=thread
                )
                out.append(map_item(c, mapper, snapshot, f"vk:wall{self.owner}_{pid}?reply={cid}"))
            st["count"] = count
        return Page(out, {"posts": window})

    async def _read_post(
        self, pid: int, last: int, st: dict[str, Any]
    ) -> list[tuple[int, Any, int | None]]:
        """(id, comment, thread it is in) of every comment and reply above ``last``, in id
        order; unreadable ones first (negative ids, dead-lettered)."""
        found: dict[int, tuple[Any, int | None]] = {}
        threads: dict[str, int] = dict(st.get("threads", {}))

        def take(c: Any, thread: int | None) -> None:
            cid = c.get("id") if isinstance(c, dict) else None
            if not isinstance(cid, int):
                found[-len(found) - 1] = (c, thread)
            elif cid > last:
                found[cid] = (c, thread)

        async for c in self._pages(pid):
            take(c, None)
            th = c.get("thread") if isinstance(c, dict) else None
            if not isinstance(th, dict) or not isinstance(c.get("id"), int):
                continue
            got = th.get("items")
            inline: list[Any] = got if isinstance(got, list) else []
            for reply in inline:
                take(reply, c["id"])
            total = th.get("count")
            if not isinstance(total, int):
                continue
            if total > len(inline) and threads.get(str(c["id"])) != total:
                async for reply in self._pages(pid, thread=c["id"]):
                    take(reply, c["id"])
                threads[str(c["id"])] = total
        if threads:
            st["threads"] = threads
        return [(cid, *found[cid]) for cid in sorted(found)]

    async def _pages(self, pid: int, thread: int | None = None) -> Any:
        """Every comment of a post (or every reply of one thread), oldest first."""
        offset = 0
        while True:
            r = await self.api.call(
                "wall.getComments",
                owner_id=self.owner,
                post_id=pid,
                comment_id=thread,
                sort="asc",
                offset=offset,
                count=COMMENTS_PAGE,
                thread_items_count=None if thread else THREAD_ITEMS,
            )
            items = _items(r, "wall.getComments")
            for c in items:
                yield c
            total = r.get("current_level_count", r.get("count")) if isinstance(r, dict) else None
            if not items or not isinstance(total, int) or offset + len(items) >= total:
                return
            offset += len(items)


def _copy(v: Any) -> Any:
    return {k: (dict(x) if isinstance(x, dict) else x) for k, x in v.items()}


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


def build_sources(rt: ConnectorRuntime) -> tuple[VkApi, list[Source]]:
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
