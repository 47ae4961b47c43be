"""The source registry: every monitored community, channel, chat, feed and portal.

One YAML file (``INCIDENTS_CONNECTORS_REGISTRY_FILE``) lists the sources with
their platform, native id, region, municipality and kind; connectors poll the
sources of their platform and stamp ``region_hint`` from here. The same file
holds VK keyword searches and the field mappings of portal APIs, so that one
reviewed file says what the deployment watches. Region codes are checked
against the bundled gazetteer, so a typo fails at start, not in the reports.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from incidents.config.settings import ConfigError
from incidents.domain.places.gazetteer import Gazetteer

Kind = Literal["official", "city_public", "media", "chat", "portal", "other"]
RegistryPlatform = Literal["vk", "ok", "telegram", "pos", "rss", "web", "other"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceEntry(_Strict):
    platform: RegistryPlatform
    id: str = Field(
        min_length=1,
        description="native id: VK owner id (-club), OK gid, chat id (`private`: the bot's "
        "private chats, Telegram)",
    )
    name: str | None = None
    kind: Kind
    region: str = Field(pattern=r"^RU-[A-Z]{2,3}$")
    municipality: str | None = None
    url: str | None = None
    feed_url: str | None = Field(None, description="RSS/Atom: the feed to poll")
    comments: bool = Field(False, description="VK/OK: also watch comments under recent posts")
    enabled: bool = True

    @model_validator(mode="after")
    def _feed(self) -> SourceEntry:
        if self.platform == "rss" and not self.feed_url:
            raise ValueError("an rss source needs feed_url")
        return self


class SearchEntry(_Strict):
    platform: Literal["vk"] = "vk"
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="stable key of its cursor")
    query: str = Field(min_length=1)
    region: str | None = Field(
        None,
        pattern=r"^RU-[A-Z]{2,3}$",
        description="hint for results from communities not in `sources` (a regional query)",
    )


class FieldMap(_Strict):
    """Dotted paths into one portal item (``author.id``, ``location.lat``)."""

    id: str
    text: list[str] = Field(min_length=1, description="joined with a blank line, empty skipped")
    created_at: str
    author_id: str | None = None
    author_name: str | None = None
    url: str | None = None
    lat: str | None = None
    lon: str | None = None
    region: str | None = Field(None, description="a region code in the item wins over the source's")
    topic: list[str] = Field(
        default_factory=list,
        description="the portal's own category of the item (category, subcategory, reason), "
        "joined with ' / ' into source_topic; grouping never joins items it classed differently",
    )


class PortalEntry(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    source: str = Field(description="id of the registered source (platform pos or other)")
    url: str
    items: str = Field(description="dotted path of the item list in a page, '' for a bare list")
    next: str | None = Field(None, description="dotted path of the next-page cursor")
    cursor_param: str = "cursor"
    page_size_param: str | None = "limit"
    page_size: int = Field(100, ge=1, le=1000)
    params: dict[str, str] = Field(default_factory=dict)
    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer"
    url_template: str | None = Field(None, description="post URL, `{id}` replaced by the item id")
    fields: FieldMap


class Registry(_Strict):
    sources: list[SourceEntry] = Field(default_factory=list)
    searches: list[SearchEntry] = Field(default_factory=list)
    portals: list[PortalEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> Registry:
        seen: set[tuple[str, str]] = set()
        for s in self.sources:
            if (s.platform, s.id) in seen:
                raise ValueError(f"source {s.platform}:{s.id} is listed twice")
            seen.add((s.platform, s.id))
        names = [p.name for p in self.portals] + [q.name for q in self.searches]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"names must be unique: {sorted(dup)}")
        for p in self.portals:
            if not any(s.id == p.source and s.platform in ("pos", "other") for s in self.sources):
                raise ValueError(f"portal {p.name}: no pos/other source with id {p.source!r}")
        return self

    def lookup(self, platform: str, native_id: str) -> SourceEntry | None:
        for s in self.sources:
            if s.platform == platform and s.id == native_id:
                return s
        return None

    def of(self, platform: str) -> list[SourceEntry]:
        return [s for s in self.sources if s.platform == platform and s.enabled]

    def check_places(self) -> None:
        """Region codes and municipalities must be ones the gazetteer knows."""
        gaz = Gazetteer.default()
        for i, s in enumerate(self.sources):
            if not gaz.is_region(s.region):
                raise ValueError(f"sources[{i}] ({s.platform}:{s.id}): unknown region {s.region!r}")
            if s.municipality and gaz.city(s.region, s.municipality) is None:
                raise ValueError(
                    f"sources[{i}] ({s.platform}:{s.id}): {s.municipality!r} is not a "
                    f"municipality of {s.region} in the gazetteer"
                )
        for i, q in enumerate(self.searches):
            if q.region and not gaz.is_region(q.region):
                raise ValueError(f"searches[{i}] ({q.name}): unknown region {q.region!r}")


def _one_line(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    msg = str(first["msg"]).removeprefix("Value error, ")
    return f"{where}: {msg}" if where else msg


def parse_registry(data: Any, check_places: bool = True) -> Registry:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValueError("the registry must be a mapping with a `sources:` list")
    try:
        reg = Registry.model_validate(data)
    except ValidationError as err:
        raise ValueError(_one_line(err)) from None
    if check_places:
        reg.check_places()
    return reg


def load_registry(path: Path | None, check_places: bool = True) -> Registry:
    """The registry file, or an empty registry when none is configured."""
    var = "INCIDENTS_CONNECTORS_REGISTRY_FILE"
    if path is None:
        return Registry()
    if not path.is_file():
        raise ConfigError(f"{var}: no such file {str(path)!r}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"{var}: {path} is not valid YAML: {str(err).splitlines()[0]}") from None
    try:
        return parse_registry(data, check_places)
    except ValueError as err:
        raise ConfigError(f"{var}: {path}: {err}") from None
