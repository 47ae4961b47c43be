"""RSS and Atom feeds of local media.

Parsed by feedparser (the long-standing universal feed parser: RSS 0.9x/1.0/2.0
and Atom, broken feeds, dates in any of the formats found in the wild), which
saves us the zoo of date formats and namespaces that xml.etree would leave to
us. Requests are conditional (ETag / If-Modified-Since), so an unchanged feed
costs a 304.

A feed is a window of its latest entries, not a log, so the cursor remembers
the ids of the entries already published (the last 1,000) plus the validators
of the last response: ``{"seen": [...], "etag": ..., "modified": ...}``.
Entries are published oldest first; the validators are saved only with the
cursor of the whole page, so a restart mid-page fetches the feed again.

Ids: ``rss:<source id>/<16 hex of the entry's guid or link>``.

Tidy-ups real feeds need: a summary's "read more" tail («Читать далее…»,
«Подробнее», "Read more") becomes a plain ellipsis (the text was cut, which
dedup must know, but the link words are not the post's); non-breaking and other
odd spaces become spaces; and the entry's author is published only when it is
a person: many regional CMSs put the rubric («Происшествия», «Onliner |
Технологии») or the outlet's name in ``<author>``/``<dc:creator>``, which
would make a rubric look like the author of every post in it.
"""

from __future__ import annotations

import hashlib
import html
import re
from calendar import timegm
from datetime import UTC, datetime
from typing import Any

import feedparser

from incidents.config.connectors import ConnectorSettings
from incidents.connectors.base import (
    ConnectorRuntime,
    Fetched,
    HttpClient,
    MalformedResponse,
    MapResult,
    Page,
    Source,
    SourceUnavailable,
    TransientError,
    map_item,
    mention,
    no_sources,
    source_fields,
)
from incidents.connectors.cursor import Cursor
from incidents.connectors.registry import Registry, SourceEntry

KEEP_SEEN = 1000
_TAG = re.compile(r"<[^>]+>")
_BREAK = re.compile(r"<br\s*/?>|</p>|</div>|</li>", re.I)
# Spaces of every kind a CMS emits (no-break, thin, narrow, ideographic…), zero-width ones.
_SPACE = re.compile(r"[^\S\n]+")
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
# A summary's link to the full text, at its very end: «… Читать далее →», "[…]".
_READ_MORE = re.compile(
    r"(?:\s*(?:…|\.\.\.))?[\s(\[«]*(?:читать\s+(?:далее|дальше|полностью|подробнее)"
    r"|подробнее|далее|показать\s+полностью|read\s+more|continue\s+reading"
    r"|\[\s*(?:…|\.\.\.)\s*\])\s*(?:…|\.\.\.|→|»|>>|&raquo;)?[\s)\]»→.:]*$",
    re.I,
)


_MAILBOX = re.compile(r"^\S+@\S+\s*\((.+)\)$")


def plain(fragment: str) -> str:
    """Text of an HTML fragment (feed summaries are HTML): tags out, paragraphs as lines,
    every kind of space a space, and a "read more" tail as an ellipsis."""
    text = html.unescape(_TAG.sub(" ", _BREAK.sub("\n", fragment)))
    text = _ZERO_WIDTH.sub("", text)
    lines = [_SPACE.sub(" ", line).strip() for line in text.splitlines()]
    text = "\n".join(line for line in lines if line)
    cut = _READ_MORE.search(text)
    if cut and cut.start() > 0:
        text = text[: cut.start()].rstrip(" ,;:—-.") + "…"
    return text


def person(author: str | None, rubrics: set[str], feed_title: str | None) -> str | None:
    """The entry's author when it names a person, not a rubric or the outlet itself."""
    if not author:
        return None
    name = " ".join(author.split())
    mailbox = _MAILBOX.match(name)  # RSS 2.0: "news@site.ru (Имя)"
    if mailbox:
        name = mailbox.group(1).strip()
    elif "@" in name:
        return None  # an address alone names nobody
    low = name.casefold()
    if "|" in name or low in rubrics or (feed_title and low == feed_title.casefold()):
        return None
    return name


def entry_key(guid: str) -> str:
    return hashlib.blake2b(guid.encode("utf-8"), digest_size=8).hexdigest()


def _iso(parsed: Any) -> str | None:
    if not parsed:
        return None
    return datetime.fromtimestamp(timegm(parsed), UTC).isoformat()


def simplify(entry: Any, feed_title: str | None = None) -> dict[str, Any]:
    """The fields we use, as plain JSON (this is what a dead letter keeps)."""
    tags = entry.get("tags") or []
    rubrics = {
        " ".join(str(t.get("term") or t.get("label") or "").split()).casefold()
        for t in tags
        if isinstance(t, dict)
    } - {""}
    return {
        "id": entry.get("id"),
        "link": entry.get("link"),
        "title": entry.get("title"),
        "summary": entry.get("summary"),
        "author": person(entry.get("author"), rubrics, feed_title),
        "published": _iso(entry.get("published_parsed")) or _iso(entry.get("updated_parsed")),
        "published_raw": entry.get("published") or entry.get("updated"),
    }


def map_entry(e: dict[str, Any], source: SourceEntry) -> MapResult:
    guid = e.get("id") or e.get("link")
    if not guid:
        raise ValueError("entry has neither a guid/id nor a link")
    if not e.get("published"):
        raise ValueError(f"entry has no readable date (got {e.get('published_raw')!r})")
    title = plain(e.get("title") or "")
    body = plain(e.get("summary") or "")
    text = title if not body or body.startswith(title) else f"{title}\n\n{body}".strip()
    if text == "…":
        text = ""
    if not text:
        return "no_text"
    sid = re.sub(r"\s+", "_", source.id)
    return mention(
        id=f"rss:{sid}/{entry_key(guid)}",
        platform="rss",
        text=text,
        created_at=datetime.fromisoformat(e["published"]),
        author={"id": e["author"]} if e.get("author") else None,
        url=e.get("link"),
        **source_fields(source, source.id),
    )


class FeedSource:
    def __init__(self, http: HttpClient, entry: SourceEntry) -> None:
        assert entry.feed_url
        self.http, self.entry, self.url = http, entry, entry.feed_url
        self.key = f"rss:{entry.id}"

    async def poll(self, cursor: Cursor | None) -> Page:
        cursor = cursor or {}
        headers = {}
        if cursor.get("etag"):
            headers["If-None-Match"] = cursor["etag"]
        if cursor.get("modified"):
            headers["If-Modified-Since"] = cursor["modified"]
        resp = await self.http.request("feed", "GET", self.url, headers=headers)
        if resp.status == 304:
            return Page([], cursor)
        if resp.status in (401, 403, 404, 410):
            raise SourceUnavailable(
                f"{self.url}: HTTP {resp.status}",
                "access_denied" if resp.status < 404 else "not_found",
            )
        if resp.status != 200:
            raise TransientError(f"{self.url}: HTTP {resp.status}", "http", resp.retry_after())
        feed = feedparser.parse(resp.body)
        if feed.bozo and not feed.entries:
            raise MalformedResponse(
                f"{self.url}: not a feed ({feed.get('bozo_exception')})", resp.body
            )
        seen = list(cursor.get("seen", []))
        known = set(seen)
        fresh = []
        feed_title = feed.feed.get("title") if isinstance(feed.feed, dict) else None
        for raw in feed.entries:
            e = simplify(raw, feed_title)
            guid = e.get("id") or e.get("link")
            k = entry_key(guid) if guid else None
            if k in known:
                continue
            fresh.append((e.get("published") or "", k, e))
        fresh.sort(key=lambda x: (x[0], x[1] or ""))
        out: list[Fetched] = []
        for _, k, e in fresh:
            if k:
                seen.append(k)
                known.add(k)
            seen = seen[-KEEP_SEEN:]
            item_cursor = {**cursor, "seen": list(seen)}
            out.append(
                map_item(
                    e, lambda e: map_entry(e, self.entry), item_cursor, f"rss:{self.entry.id}/{k}"
                )
            )
        done: Cursor = {"seen": seen[-KEEP_SEEN:]}
        for header, name in (("ETag", "etag"), ("Last-Modified", "modified")):
            if resp.headers.get(header):
                done[name] = resp.headers[header]
        return Page(out, done)


def check(conf: ConnectorSettings, registry: Registry) -> None:
    """The connector's own settings, before anything connects: one line, exit 2."""
    if not registry.of("rss"):
        raise no_sources("rss")


def build_sources(rt: ConnectorRuntime) -> tuple[HttpClient, list[Source]]:
    http = HttpClient(rt.name, rt.conf, headers={"User-Agent": rt.conf.rss_user_agent})
    return http, [FeedSource(http, e) for e in rt.registry.of("rss")]
