"""Portals (Gosuslugi «Решаем вместе» / ПОС and others): JSON over HTTP, mapped by config.

Such platforms give regional operators their own APIs, which differ and
change, so nothing here is specific to one: each portal in the registry's
``portals:`` list names its URL, where the item list and the next-page
cursor are in a page (dotted paths), the query parameters for the cursor and
page size, and a field map from an item to a RawMention. The bearer token is
``INCIDENTS_CONNECTORS_PORTAL_TOKENS`` (JSON: portal name → token).

Paging must be a cursor over items in a stable, oldest-first order (the
usual "changes since" feed of such APIs). The durable cursor is
``{"page": <token of the page being read>, "skip": <items of it published>}``:
a restart re-requests that page and skips what was already published; when
the last page has no next token, the next round asks for the same page again
and publishes only what was appended to it.

Ids: ``<platform>:<portal name>/<item id>`` (``pos:pos-tver/771204``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

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
    map_item,
    mention,
    no_sources,
    source_fields,
)
from incidents.connectors.cursor import Cursor
from incidents.connectors.registry import PortalEntry, Registry, SourceEntry

_MISSING = object()


def dig(obj: Any, path: str | None, default: Any = _MISSING) -> Any:
    """Follow a dotted path (`data.items`, `author.name`, `photos.0.url`); '' is the object."""
    if not path:
        return obj
    for part in path.split("."):
        if isinstance(obj, dict) and part in obj:
            obj = obj[part]
        elif isinstance(obj, list) and part.isdigit() and int(part) < len(obj):
            obj = obj[int(part)]
        elif default is not _MISSING:
            return default
        else:
            raise KeyError(path)
    return obj


def parse_time(value: Any) -> datetime:
    if isinstance(value, bool):
        raise TypeError(f"created_at: not a time: {value!r}")
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 100_000_000_000 else value  # milliseconds
        return datetime.fromtimestamp(seconds, UTC)
    if isinstance(value, str):
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if when.tzinfo is None:
            raise ValueError(f"created_at {value!r} has no UTC offset")
        return when
    raise TypeError(f"created_at: not a time: {value!r}")


def map_portal_item(item: Any, portal: PortalEntry, entry: SourceEntry) -> MapResult:
    if not isinstance(item, dict):
        raise TypeError(f"an item must be an object, got {type(item).__name__}")
    f = portal.fields
    native = dig(item, f.id)
    if not isinstance(native, str | int) or isinstance(native, bool) or str(native).strip() == "":
        raise TypeError(f"id must be a string or a number, got {native!r}")
    native = str(native).strip()
    parts = []
    for path in f.text:
        v = dig(item, path, None)
        if v is not None and not isinstance(v, str):
            raise TypeError(f"{path} must be a string, got {type(v).__name__}")
        if v and v.strip():
            parts.append(v.strip())
    if not parts:
        return "no_text"
    fields = source_fields(entry, entry.id)
    region = dig(item, f.region, None) if f.region else None
    if region:
        fields["region_hint"] = region
    author = None
    if f.author_id and dig(item, f.author_id, None) is not None:
        name = dig(item, f.author_name, None) if f.author_name else None
        author = {"id": str(dig(item, f.author_id)), "name": name}
    url = None
    if f.url:
        url = dig(item, f.url, None)
    elif portal.url_template:
        url = portal.url_template.replace("{id}", native)
    geo = None
    if f.lat and f.lon:
        lat, lon = dig(item, f.lat, None), dig(item, f.lon, None)
        if lat is not None and lon is not None:
            geo = {"lat": float(lat), "lon": float(lon)}
    topic = []
    for path in f.topic:
        v = dig(item, path, None)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, str | int):
            raise TypeError(f"{path} must be a string or a number, got {type(v).__name__}")
        if str(v).strip():
            topic.append(" ".join(str(v).split()))
    return mention(
        id=f"{entry.platform}:{portal.name}/{native}".replace(" ", "_"),
        platform=entry.platform,
        text="\n\n".join(parts),
        created_at=parse_time(dig(item, f.created_at)),
        author=author,
        url=url,
        geo=geo,
        source_topic=" / ".join(topic)[:1024] or None,
        **fields,
    )


class PortalSource:
    def __init__(
        self, http: HttpClient, portal: PortalEntry, entry: SourceEntry, token: str | None
    ) -> None:
        self.http, self.portal, self.entry, self.token = http, portal, entry, token
        self.key = f"portal:{portal.name}"

    async def poll(self, cursor: Cursor | None) -> Page:
        p = self.portal
        token = cursor.get("page") if cursor else None
        skip = int(cursor.get("skip", 0)) if cursor else 0
        params = dict(p.params)
        if p.page_size_param:
            params[p.page_size_param] = str(p.page_size)
        if token:
            params[p.cursor_param] = str(token)
        headers = {}
        if self.token:
            headers[p.auth_header] = f"{p.auth_scheme} {self.token}".strip()
        resp = await self.http.request(p.name, "GET", p.url, params=params, headers=headers)
        if resp.status in (401, 403):
            raise FatalError(
                f"portal {p.name} refused the token (HTTP {resp.status}); check "
                "INCIDENTS_CONNECTORS_PORTAL_TOKENS",
                "auth",
            )
        if resp.status == 404:
            raise SourceUnavailable(f"portal {p.name}: HTTP 404 for {p.url}", "not_found")
        if resp.status != 200:
            raise TransientError(f"portal {p.name}: HTTP {resp.status}", "http", resp.retry_after())
        body = resp.json()
        try:
            items = dig(body, p.items)
        except KeyError:
            raise MalformedResponse(
                f"portal {p.name}: no `{p.items}` in the page", resp.body
            ) from None
        if not isinstance(items, list):
            raise MalformedResponse(f"portal {p.name}: `{p.items}` is not a list", resp.body)
        nxt = dig(body, p.next, None) if p.next else None
        out: list[Fetched] = []
        for i, item in enumerate(items):
            if i < skip:
                continue
            ref = str(dig(item, p.fields.id, "?")) if isinstance(item, dict) else "?"
            out.append(
                map_item(
                    item,
                    lambda it: map_portal_item(it, p, self.entry),
                    {"page": token, "skip": i + 1},
                    f"{self.entry.platform}:{p.name}/{ref}",
                )
            )
        if nxt:
            return Page(out, {"page": str(nxt), "skip": 0}, more=True)
        return Page(out, {"page": token, "skip": max(skip, len(items))})


def _enabled(registry: Registry) -> list[tuple[PortalEntry, SourceEntry]]:
    """Each portal with its registry source, unless that source is disabled."""
    out = []
    for portal in registry.portals:
        entry = next(
            s for s in registry.sources if s.id == portal.source and s.platform in ("pos", "other")
        )
        if entry.enabled:
            out.append((portal, entry))
    return out


def build_sources(rt: ConnectorRuntime) -> tuple[HttpClient, list[Source]]:
    http = HttpClient(rt.name, rt.conf)
    sources: list[Source] = []
    for portal, entry in _enabled(rt.registry):
        token = rt.conf.portal_tokens.get(portal.name)
        if token is None:
            rt.log.warning("portal_without_token", portal=portal.name)
        sources.append(
            PortalSource(http, portal, entry, token.get_secret_value() if token else None)
        )
    return http, sources


def check(conf: ConnectorSettings, registry: Registry) -> None:
    """The connector's own settings, before anything connects: one line, exit 2."""
    unknown = set(conf.portal_tokens) - {p.name for p in registry.portals}
    if unknown:
        raise FatalError(
            "INCIDENTS_CONNECTORS_PORTAL_TOKENS names portals not in the registry: "
            f"{sorted(unknown)}"
        )
    if not _enabled(registry):
        raise no_sources("portal")
