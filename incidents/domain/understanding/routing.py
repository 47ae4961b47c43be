"""Which agency must answer an appeal: a table of category × place → agency.

Every region splits responsibility differently (roads of a city belong to the
municipality, regional roads to a ministry, healthcare to the regional ministry
of health ...), so the table is configuration, not code: ``data/routing.yaml``
is the bundled example and a deployment points the pipeline at its own file.
The table can also be learned from a labelled history (``RoutingTable.learn``).

Lookup goes from the most specific place to the least, and within a place
from the problem type (when one was recognised, docs/problems.md) to its agency
kind, the category and the place's catch-all:

    region/municipality/{problem, agency kind, category, default}
    → region/{problem, agency kind, category, default}
    → {problem, agency kind, category, default}
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from incidents.domain import DATA

DEFAULT_ROUTING_PATH = DATA / "routing.yaml"

_WILD = "*"


def _key(name: str | None) -> str:
    """Municipality and region names compare case- and ё-insensitively."""
    if name is None:
        return _WILD
    return " ".join(name.replace("ё", "е").replace("Ё", "Е").split()).casefold() or _WILD


@dataclass
class _Node:
    """One place level: its catch-all agency and its per-category agencies."""

    default: str | None = None
    categories: dict[str, str] = field(default_factory=dict)
    # problem type code → agency, and agency kind (of the problem taxonomy) → agency
    problems: dict[str, str] = field(default_factory=dict)
    agencies: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.default is not None:
            out["default"] = self.default
        for name in ("problems", "agencies", "categories"):
            entries = getattr(self, name)
            if entries:
                out[name] = dict(sorted(entries.items()))
        return out

    def lookup(self, category: str | None, problem: str | None, kind: str | None) -> str | None:
        """The most specific entry of this place: problem, agency kind, category, default."""
        if problem is not None and (hit := self.problems.get(problem)) is not None:
            return hit
        if kind is not None and (hit := self.agencies.get(kind)) is not None:
            return hit
        if category is not None and (hit := self.categories.get(category)) is not None:
            return hit
        return self.default


def _node(doc: Mapping[str, Any] | None, where: str) -> _Node:
    doc = doc or {}
    if not isinstance(doc, Mapping):
        raise ValueError(f"routing table: {where} must be a mapping")
    sections = {}
    for name in ("categories", "problems", "agencies"):
        entries = doc.get(name) or {}
        if not isinstance(entries, Mapping):
            raise ValueError(f"routing table: {where}.{name} must be a mapping")
        sections[name] = {str(k): str(v) for k, v in entries.items()}
    default = doc.get("default")
    return _Node(
        None if default is None else str(default),
        sections["categories"],
        sections["problems"],
        sections["agencies"],
    )


class RoutingTable:
    """category × region/municipality → agency, with defaults at every level."""

    def __init__(self) -> None:
        self.root = _Node()
        # region key → (display name, node)
        self.regions: dict[str, tuple[str, _Node]] = {}
        # (region key, municipality key) → (display name, node)
        self.municipalities: dict[tuple[str, str], tuple[str, _Node]] = {}

    # -- loading and saving ------------------------------------------------
    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> RoutingTable:
        table = cls()
        table.root = _node(doc, "top level")
        for region, rdoc in (doc.get("regions") or {}).items():
            rdoc = rdoc or {}
            table.regions[_key(region)] = (str(region), _node(rdoc, f"regions.{region}"))
            for muni, mdoc in (rdoc.get("municipalities") or {}).items():
                table.municipalities[(_key(region), _key(muni))] = (
                    str(muni),
                    _node(mdoc, f"regions.{region}.municipalities.{muni}"),
                )
        # municipalities valid in any region (names unique in a deployment)
        for muni, mdoc in (doc.get("municipalities") or {}).items():
            table.municipalities[(_WILD, _key(muni))] = (
                str(muni),
                _node(mdoc, f"municipalities.{muni}"),
            )
        return table

    @classmethod
    def load(cls, path: Path | None = None) -> RoutingTable:
        with open(path or DEFAULT_ROUTING_PATH, encoding="utf-8") as f:
            doc = yaml.safe_load(f) or {}
        if not isinstance(doc, Mapping):
            raise ValueError(f"routing table {path}: top level must be a mapping")
        return cls.from_dict(doc)

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = self.root.to_dict()
        regions: dict[str, Any] = {}
        rnames: dict[str, str] = {}
        for rkey, (rname, node) in sorted(self.regions.items()):
            regions[rname] = node.to_dict()
            rnames[rkey] = rname
        loose: dict[str, Any] = {}
        for (rkey, _mkey), (mname, node) in sorted(self.municipalities.items()):
            if rkey == _WILD:
                loose[mname] = node.to_dict()
                continue
            rname = rnames.setdefault(rkey, rkey)
            regions.setdefault(rname, {}).setdefault("municipalities", {})[mname] = node.to_dict()
        if regions:
            doc["regions"] = regions
        if loose:
            doc["municipalities"] = loose
        return doc

    def dump(self, path: Path) -> None:
        path.write_text(
            "# Routing table: category × region/municipality → agency.\n"
            "# See docs/understanding.md for the lookup order.\n"
            + yaml.safe_dump(self.to_dict(), allow_unicode=True, sort_keys=False),
            encoding="utf-8",
        )

    # -- lookup -----------------------------------------------------------
    def route(
        self,
        category: str | None,
        region: str | None,
        municipality: str | None,
        problem: str | None = None,
        agency_kind: str | None = None,
    ) -> str | None:
        """The agency for an appeal; ``problem`` and ``agency_kind`` come from the
        problem taxonomy (docs/problems.md) when a problem type was recognised. Within
        each place, most specific first: the problem type, its agency kind, the
        category, the place's default."""
        rkey, mkey = _key(region), _key(municipality)
        nodes: list[_Node] = []
        if mkey != _WILD:
            hit = self.municipalities.get((rkey, mkey))
            if hit is None:
                hit = self.municipalities.get((_WILD, mkey))
            if hit is not None:
                nodes.append(hit[1])
        if rkey != _WILD:
            rhit = self.regions.get(rkey)
            if rhit is not None:
                nodes.append(rhit[1])
        nodes.append(self.root)
        for node in nodes:
            agency = node.lookup(category, problem, agency_kind)
            if agency is not None:
                return agency
        return None

    def agencies(
        self, region: str | None, municipality: str | None = None, whole_region: bool = False
    ) -> list[str]:
        """Every agency the table names for a place: the municipality's entries (or, with
        ``whole_region``, those of every municipality of the region), the region's and the
        catch-all ones. What an operator console offers when an incident is (re)assigned."""
        rkey, mkey = _key(region), _key(municipality)
        nodes: list[_Node] = []
        for (r, m), (_name, node) in self.municipalities.items():
            if (whole_region and r == rkey and rkey != _WILD) or (
                mkey != _WILD and m == mkey and r in (rkey, _WILD)
            ):
                nodes.append(node)
        if rkey != _WILD and rkey in self.regions:
            nodes.append(self.regions[rkey][1])
        nodes.append(self.root)
        out: dict[str, None] = {}
        for node in nodes:
            for name in (
                node.default,
                *node.problems.values(),
                *node.agencies.values(),
                *node.categories.values(),
            ):
                if name:
                    out.setdefault(name, None)
        return list(out)

    # -- learning ---------------------------------------------------------
    @classmethod
    def learn(
        cls,
        records: Iterable[tuple[str | None, str | None, str | None, str]],
        min_support: int = 5,
    ) -> RoutingTable:
        """Majority agency per (place, category) seen at least ``min_support`` times.

        Entries that the lookup would answer the same without them are left
        out, so the learned table stays small enough to review by hand.
        """
        counts: dict[tuple[str, str, str], Counter[str]] = {}
        names: dict[str, str] = {}

        def add(key: tuple[str, str, str], agency: str) -> None:
            counts.setdefault(key, Counter())[agency] += 1

        for category, region, municipality, agency in records:
            if not agency:
                continue
            cat = category if category is not None else _WILD
            rkey, mkey = _key(region), _key(municipality)
            if region is not None:
                names.setdefault(rkey, region)
            if municipality is not None:
                names.setdefault(mkey, municipality)
            levels = [(_WILD, _WILD)]
            if rkey != _WILD:
                levels.append((rkey, _WILD))
                if mkey != _WILD:
                    levels.append((rkey, mkey))
            elif mkey != _WILD:
                levels.append((_WILD, mkey))
            for r, m in levels:
                add((r, m, _WILD), agency)
                if cat != _WILD:
                    add((r, m, cat), agency)

        def majority(key: tuple[str, str, str]) -> str | None:
            c = counts.get(key)
            if not c or sum(c.values()) < min_support:
                return None
            # most common; ties broken by name so the result is deterministic
            return min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0]

        table = cls()

        def set_entry(r: str, m: str, cat: str, agency: str) -> None:
            if m != _WILD:
                slot = table.municipalities.setdefault((r, m), (names.get(m, m), _Node()))
                node = slot[1]
            elif r != _WILD:
                node = table.regions.setdefault(r, (names.get(r, r), _Node()))[1]
            else:
                node = table.root
            if cat == _WILD:
                node.default = agency
            else:
                node.categories[cat] = agency

        def lookup(r: str, m: str, cat: str) -> str | None:
            return table.route(
                None if cat == _WILD else cat,
                None if r == _WILD else names.get(r, r),
                None if m == _WILD else names.get(m, m),
            )

        # general before specific: a specific entry never changes a general lookup,
        # so whether it is redundant can be decided once its parents are final
        def order(key: tuple[str, str, str]) -> tuple[int, int, str, str, str]:
            r, m, cat = key
            depth = (m != _WILD) * 2 + (r != _WILD)
            return (depth, cat != _WILD, r, m, cat)

        for key in sorted(counts, key=order):
            winner = majority(key)
            if winner is None or lookup(*key) == winner:
                continue
            set_entry(*key, winner)
        return table
