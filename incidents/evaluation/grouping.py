"""Scoring incident grouping against a truth: pairwise and B-cubed precision, recall, F1.

Two kinds of truth:

- **labelled groups** (`incidents evaluate grouping FILE`: every RawMention line
  carries `group`, the label of the problem it is about): clusters are given;
- **weak truth** from located, rubricated appeals (the St Petersburg portal
  evaluation, scripts/eval_grouping.py): two appeals are about the same problem
  when they have the same reason, the same building (or coordinates within
  ``radius_m``) and were written within ``window_s`` of each other. That is a
  *relation*, not a partition: it is not transitive (A and C may each be within
  7 days of B but 12 days apart). Pairwise figures are scored on the relation
  itself; B-cubed needs clusters, so they are its connected components (which
  chain: a yard that collects a complaint every few days all winter is one
  component), and the pairwise figures on the components are reported too.

A prediction is an incident id per item, None when the pipeline gave it none
(rejected, or not taken for an appeal): such an item is a cluster of its own.
Pairs are unordered index pairs ``(i, j)`` with ``i < j``.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

EARTH_M = 6_371_000.0


@dataclass(frozen=True, slots=True)
class Appeal:
    """What the weak truth looks at: when, where (building and/or point) and the reason."""

    at: float  # epoch seconds
    reason: str
    building: Hashable | None = None
    lat: float | None = None
    lon: float | None = None


def _metres(a: Appeal, b: Appeal) -> float:
    assert a.lat is not None and a.lon is not None and b.lat is not None and b.lon is not None
    rlat1, rlat2 = math.radians(a.lat), math.radians(b.lat)
    dlat, dlon = rlat2 - rlat1, math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(rlat1) * math.cos(rlat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_M * math.asin(min(1.0, math.sqrt(h)))


def weak_truth_pairs(
    items: Sequence[Appeal], radius_m: float = 30.0, window_s: float = 7 * 86_400.0
) -> set[tuple[int, int]]:
    """Pairs with the same reason, same building or points within radius_m, within window_s."""
    pairs: set[tuple[int, int]] = set()
    by_building: dict[tuple[str, Hashable], list[int]] = defaultdict(list)
    cell_deg = radius_m / 111_000.0
    by_cell: dict[tuple[str, int, int], list[int]] = defaultdict(list)

    def cell(a: Appeal) -> tuple[int, int]:
        assert a.lat is not None and a.lon is not None
        lon_deg = cell_deg / max(0.05, math.cos(math.radians(a.lat)))
        return math.floor(a.lat / cell_deg), math.floor(a.lon / lon_deg)

    for i, a in enumerate(items):
        if a.building is not None:
            by_building[(a.reason, a.building)].append(i)
        if a.lat is not None and a.lon is not None:
            cy, cx = cell(a)
            by_cell[(a.reason, cy, cx)].append(i)
    for members in by_building.values():
        members.sort(key=lambda i: items[i].at)
        lo = 0
        for hi, j in enumerate(members):
            while items[j].at - items[members[lo]].at > window_s:
                lo += 1
            for i in members[lo:hi]:
                pairs.add((min(i, j), max(i, j)))
    for (reason, cy, cx), members in by_cell.items():
        near = [
            k
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
            for k in by_cell.get((reason, cy + dy, cx + dx), ())
        ]
        for i in members:
            a = items[i]
            for k in near:
                if k <= i:
                    continue
                b = items[k]
                if abs(a.at - b.at) <= window_s and _metres(a, b) <= radius_m:
                    pairs.add((i, k))
    return pairs


def components(n: int, pairs: Iterable[tuple[int, int]]) -> list[int]:
    """Cluster label per item: connected components of the pair graph (union-find)."""
    parent = list(range(n))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, j in pairs:
        ri, rj = root(i), root(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    return [root(i) for i in range(n)]


def clusters_of(labels: Sequence[Hashable | None]) -> list[Hashable]:
    """Labels with None replaced by a label of its own (an item in no group is alone)."""
    return [("alone", i) if lab is None else lab for i, lab in enumerate(labels)]


@dataclass
class PRF:
    precision: float
    recall: float

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class PairCounts:
    truth: int  # pairs in the truth
    predicted: int  # pairs put in one incident
    both: int  # pairs in both

    @property
    def scores(self) -> PRF:
        return PRF(
            self.both / self.predicted if self.predicted else 1.0,
            self.both / self.truth if self.truth else 1.0,
        )


def rubric_bound(
    items: Sequence[Appeal],
    categories: Sequence[Hashable | None],
    radius_m: float = 30.0,
    window_s: float = 7 * 86_400.0,
) -> PairCounts:
    """How far the rubric alone can take grouping: every pair of appeals the weak
    truth's place and time rules allow (same building or within ``radius_m``,
    within ``window_s``) is judged on its own, "same problem" when both got the
    same predicted category. No incident, chaining or window of the desk is
    involved, so the precision here bounds what any desk rule built on these
    categories can reach on pairs the place and time already agree on.
    """
    anywhere = [
        Appeal(at=a.at, reason="", building=a.building, lat=a.lat, lon=a.lon) for a in items
    ]
    allowed = weak_truth_pairs(anywhere, radius_m, window_s)
    truth = weak_truth_pairs(items, radius_m, window_s)
    same = {
        (i, j) for i, j in allowed if categories[i] is not None and categories[i] == categories[j]
    }
    return PairCounts(truth=len(truth), predicted=len(same), both=len(same & truth))


def pairwise_vs_relation(
    predicted: Sequence[Hashable | None], truth: set[tuple[int, int]]
) -> PairCounts:
    """Pairs of a predicted partition against a truth relation (which need not be transitive)."""
    pred = clusters_of(predicted)
    sizes = Counter(pred)
    n_pred = sum(s * (s - 1) // 2 for s in sizes.values())
    both = sum(1 for i, j in truth if pred[i] == pred[j])
    return PairCounts(truth=len(truth), predicted=n_pred, both=both)


def pairwise_vs_partition(
    predicted: Sequence[Hashable | None], truth: Sequence[Hashable | None]
) -> PairCounts:
    """Pairs of a predicted partition against a true partition (via the contingency table)."""
    pred, true = clusters_of(predicted), clusters_of(truth)
    n_pred = sum(s * (s - 1) // 2 for s in Counter(pred).values())
    n_true = sum(s * (s - 1) // 2 for s in Counter(true).values())
    both = sum(s * (s - 1) // 2 for s in Counter(zip(pred, true, strict=True)).values())
    return PairCounts(truth=n_true, predicted=n_pred, both=both)


def bcubed(predicted: Sequence[Hashable | None], truth: Sequence[Hashable | None]) -> PRF:
    """B-cubed: per item, the share of its predicted cluster in its true one and back, averaged."""
    pred, true = clusters_of(predicted), clusters_of(truth)
    n = len(pred)
    if n == 0:
        return PRF(1.0, 1.0)
    size_p, size_t = Counter(pred), Counter(true)
    joint = Counter(zip(pred, true, strict=True))
    p = sum(joint[(a, b)] / size_p[a] for a, b in zip(pred, true, strict=True)) / n
    r = sum(joint[(a, b)] / size_t[b] for a, b in zip(pred, true, strict=True)) / n
    return PRF(p, r)


@dataclass
class GroupingScore:
    items: int
    in_incident: int  # items the pipeline put in some incident
    incidents: int  # distinct predicted incidents
    true_groups: int  # true clusters with 2+ items
    pairwise: PairCounts  # against the truth as given (relation or partition)
    bcubed: PRF
    pairwise_components: PairCounts | None = None  # weak truth only: against its components
    extra: dict[str, Any] = field(default_factory=dict)

    def rows(self) -> list[tuple[str, str, str, str, str]]:
        """(measure, precision, recall, F1, counts) rows for a table."""

        def pr(name: str, s: PRF, counts: str) -> tuple[str, str, str, str, str]:
            return (name, f"{s.precision:.4f}", f"{s.recall:.4f}", f"{s.f1:.4f}", counts)

        pw = self.pairwise
        out = [
            pr(
                "pairwise" + (" (relation)" if self.pairwise_components else ""),
                pw.scores,
                f"{pw.both:,} of {pw.predicted:,} predicted / {pw.truth:,} true pairs",
            )
        ]
        if self.pairwise_components is not None:
            pc = self.pairwise_components
            out.append(
                pr(
                    "pairwise (components)",
                    pc.scores,
                    f"{pc.both:,} of {pc.predicted:,} predicted / {pc.truth:,} true pairs",
                )
            )
        out.append(
            pr(
                "B-cubed" + (" (components)" if self.pairwise_components else ""),
                self.bcubed,
                f"{self.items:,} items",
            )
        )
        return out

    def render(self) -> str:
        lines = [
            f"items {self.items:,}  in an incident {self.in_incident:,}  "
            f"incidents {self.incidents:,}  true groups of 2+ {self.true_groups:,}",
            f"{'measure':<24} {'precision':>9} {'recall':>9} {'F1':>9}  counts",
        ]
        for name, p, r, f, counts in self.rows():
            lines.append(f"{name:<24} {p:>9} {r:>9} {f:>9}  {counts}")
        return "\n".join(lines)


def _summary(predicted: Sequence[Hashable | None], truth_labels: Sequence[Hashable]) -> dict:
    return {
        "items": len(predicted),
        "in_incident": sum(p is not None for p in predicted),
        "incidents": len({p for p in predicted if p is not None}),
        "true_groups": sum(1 for s in Counter(truth_labels).values() if s > 1),
    }


def score_weak(predicted: Sequence[Hashable | None], truth: set[tuple[int, int]]) -> GroupingScore:
    """Predicted incident per item against a weak-truth relation (see the module notes)."""
    comp = components(len(predicted), truth)
    return GroupingScore(
        **_summary(predicted, comp),
        pairwise=pairwise_vs_relation(predicted, truth),
        bcubed=bcubed(predicted, comp),
        pairwise_components=pairwise_vs_partition(predicted, comp),
    )


def score_labelled(
    predicted: Sequence[Hashable | None], groups: Sequence[Hashable | None]
) -> GroupingScore:
    """Predicted incident per item against given group labels (None: in no group)."""
    true = clusters_of(groups)
    return GroupingScore(
        **_summary(predicted, true),
        pairwise=pairwise_vs_partition(predicted, groups),
        bcubed=bcubed(predicted, groups),
    )


def incident_ids(results: Iterable[Any]) -> dict[str, str | None]:
    """id -> incident_id from `OfflinePipeline.run` results (first decision per id)."""
    out: dict[str, str | None] = {}
    for r in results:
        if r.id is None or r.redelivery or r.id in out:
            continue
        out[r.id] = r.incident_id
    return out
