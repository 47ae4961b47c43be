"""Which open incident is a new appeal about? Rules and the index that makes them cheap.

An appeal joins an incident of the same region and category, inside the
grouping window, when
1. both have coordinates and they are within ``radius_m``; or
2. both have an address and the addresses are the same (street + house); or
3. otherwise (one side has no place), the words agree strongly
   (Jaccard of content stems ≥ ``text_threshold``),
and never when both name different municipalities. Among several matches the
best score wins (place evidence first, then words, then distance).

Scanning every open incident of a busy region and category for each appeal is
quadratic, so candidates come from three indexes whose union provably contains
every incident the rules can accept: a grid of ``radius_m`` cells (rule 1),
address keys (rule 2), and an inverted index of stems, keeping only incidents
that share enough stems to possibly reach the threshold (rule 3).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from schemas.models import GeoPoint

EARTH_M = 6_371_000.0


def haversine_m(a: GeoPoint, b: GeoPoint) -> float:
    rlat1, rlat2 = math.radians(a.lat), math.radians(b.lat)
    dlat, dlon = rlat2 - rlat1, math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(rlat1) * math.cos(rlat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_M * math.asin(min(1.0, math.sqrt(h)))


@dataclass(slots=True)
class Profile:
    """What grouping needs of a joinable incident, kept in memory."""

    id: str
    municipality: str | None
    address_key: str | None
    geo: GeoPoint | None
    terms: frozenset[str]
    last_at: float
    opened_at: float
    status: str


@dataclass(frozen=True, slots=True)
class Probe:
    """The appeal being placed."""

    municipality: str | None
    address_key: str | None
    geo: GeoPoint | None
    terms: frozenset[str]
    at: float


@dataclass(frozen=True)
class Rules:
    radius_m: float
    text_threshold: float
    window_s: float

    def score(self, prof: Profile, p: Probe) -> float | None:
        """None when not the same problem; otherwise higher is a better match."""
        if prof.municipality and p.municipality and prof.municipality != p.municipality:
            return None
        if prof.geo is not None and p.geo is not None:
            d = haversine_m(prof.geo, p.geo)
            if d > self.radius_m:
                return None
            return 2.0 + _jaccard(prof.terms, p.terms) + (1 - d / self.radius_m)
        if p.address_key and prof.address_key:
            if p.address_key != prof.address_key:
                return None
            return 2.0 + _jaccard(prof.terms, p.terms)
        text = _jaccard(prof.terms, p.terms)
        return 1.0 + text if text >= self.text_threshold else None


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


class _Bucket:
    """Joinable incidents of one (region, category)."""

    def __init__(self, cell_deg: float) -> None:
        self.cell_deg = cell_deg
        self.profiles: dict[str, Profile] = {}
        self.by_cell: dict[tuple[int, int], set[str]] = defaultdict(set)
        self.by_address: dict[str, set[str]] = defaultdict(set)
        self.by_term: dict[str, set[str]] = defaultdict(set)

    def _cell(self, g: GeoPoint) -> tuple[int, int]:
        # Longitude cells shrink towards the poles; widen them so a cell stays >= radius.
        lon_deg = self.cell_deg / max(0.05, math.cos(math.radians(g.lat)))
        return (math.floor(g.lat / self.cell_deg), math.floor(g.lon / lon_deg))

    def put(self, prof: Profile) -> None:
        self.remove(prof.id)
        self.profiles[prof.id] = prof
        if prof.geo is not None:
            self.by_cell[self._cell(prof.geo)].add(prof.id)
        if prof.address_key:
            self.by_address[prof.address_key].add(prof.id)
        for t in prof.terms:
            self.by_term[t].add(prof.id)

    def remove(self, inc_id: str) -> None:
        prof = self.profiles.pop(inc_id, None)
        if prof is None:
            return
        if prof.geo is not None:
            _discard(self.by_cell, self._cell(prof.geo), inc_id)
        if prof.address_key:
            _discard(self.by_address, prof.address_key, inc_id)
        for t in prof.terms:
            _discard(self.by_term, t, inc_id)

    def candidates(self, p: Probe, text_threshold: float) -> set[str]:
        found: set[str] = set()
        if p.geo is not None:
            cy, cx = self._cell(p.geo)
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    found |= self.by_cell.get((cy + dy, cx + dx), set())
        if p.address_key:
            found |= self.by_address.get(p.address_key, set())
        if p.terms:
            need = max(1, math.ceil(text_threshold * len(p.terms)))
            shared: dict[str, int] = defaultdict(int)
            for t in p.terms:
                for inc_id in self.by_term.get(t, ()):
                    shared[inc_id] += 1
            found |= {i for i, n in shared.items() if n >= need}
        return found


def _discard(index: dict, key: object, value: str) -> None:  # type: ignore[type-arg]
    bucket = index.get(key)
    if bucket is not None:
        bucket.discard(value)
        if not bucket:
            del index[key]


class GroupIndex:
    """Joinable incidents per (region key, category), with candidate indexes."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        # 1 degree of latitude ~ 111 km: a cell as large as the radius.
        self._cell_deg = max(rules.radius_m / 111_000.0, 1e-5)
        self._buckets: dict[tuple[str, str | None], _Bucket] = {}

    def clear(self) -> None:
        self._buckets.clear()

    def put(self, group: tuple[str, str | None], prof: Profile) -> None:
        bucket = self._buckets.get(group)
        if bucket is None:
            bucket = self._buckets[group] = _Bucket(self._cell_deg)
        bucket.put(prof)

    def remove(self, group: tuple[str, str | None], inc_id: str) -> None:
        bucket = self._buckets.get(group)
        if bucket is not None:
            bucket.remove(inc_id)

    def best(self, group: tuple[str, str | None], p: Probe) -> str | None:
        bucket = self._buckets.get(group)
        if bucket is None:
            return None
        best: tuple[float, str] | None = None
        expired: list[str] = []
        for inc_id in bucket.candidates(p, self.rules.text_threshold):
            prof = bucket.profiles[inc_id]
            if p.at - prof.last_at > self.rules.window_s:
                expired.append(inc_id)  # out of the window: no longer joinable
                continue
            if prof.opened_at - p.at > self.rules.window_s:
                continue
            score = self.rules.score(prof, p)
            if score is not None and (best is None or (score, inc_id) > best):
                best = (score, inc_id)
        for inc_id in expired:
            bucket.remove(inc_id)
        return best[1] if best else None

    def prune(self, region_key: str, now: float) -> int:
        """Drop incidents of a region whose window has passed (they stay in the store)."""
        dropped = 0
        for (rk, _), bucket in self._buckets.items():
            if rk != region_key:
                continue
            for inc_id in [
                i for i, p in bucket.profiles.items() if now - p.last_at > self.rules.window_s
            ]:
                bucket.remove(inc_id)
                dropped += 1
        return dropped

    def sizes(self) -> Iterable[int]:
        return (len(b.profiles) for b in self._buckets.values())
