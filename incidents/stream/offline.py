"""The offline path: the stream's stages run in-process over a file.

``incidents process`` uses this, and so do benchmarks and backfills. It runs the
very steps the agents run (incidents/domain/stages.py: the enrich, dedup and desk
steps, their event-time order and failure isolation included), with dicts
instead of Faust tables; what one stage sends another (a copy's AdoptCommand, a
moved incident) is handed over at once instead of through desk.commands.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec

from incidents.config.settings import Settings
from incidents.contracts.models import (
    AnyCommand,
    Mention,
    OfficialResponse,
    RawMention,
    RespondCommand,
)
from incidents.domain.copies.dedup import Deduplicator
from incidents.domain.desk.desk import Desk
from incidents.domain.desk.records import Outcome
from incidents.domain.enrichment import Enricher, InvalidInput
from incidents.domain.places.gazetteer import Gazetteer
from incidents.domain.stages import dedup_step, desk_step, enrich_step
from incidents.domain.steps import Done, Failed
from incidents.domain.understanding.problems import Taxonomy

# How many desk-to-desk hand-overs one input may cause (an adoption: two).
_MAX_HOPS = 8

T = TypeVar("T")


def lenient_id(value: bytes) -> str | None:
    """The id of a rejected line when it can still be read, for the report."""
    try:
        obj = msgspec.json.decode(value)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None
    if isinstance(obj, dict) and isinstance(obj.get("id"), str):
        return obj["id"][:512]
    return None


def build_desk(
    settings: Settings,
    store: MutableMapping[str, bytes],
    gazetteer: Gazetteer | None = None,
    problems: Taxonomy | None = None,
) -> Desk:
    """The desk, wired once for the stream and for `incidents process`. Without a
    gazetteer the bundled one is loaded when the desk first needs a time zone."""

    def places() -> Gazetteer:
        return gazetteer if gazetteer is not None else Gazetteer.default()

    return Desk(
        store=store,
        dedup=settings.dedup,
        grouping=settings.grouping,
        sla=settings.sla,
        timezone_of=lambda region, municipality: places().timezone(region, municipality),
        population_of=lambda region, municipality: places().population(region, municipality),
        problems=problems if problems is not None else Taxonomy.load(settings.enrich.problems_file),
    )


class Resolver:
    """The stateful stages in process: the dedup step, then the desk step of the post's
    region, then what they send each other, as the dedup and group agents do."""

    def __init__(
        self,
        dedup: Deduplicator,
        desk: Desk,
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> None:
        self.dedup = dedup
        self.desk = desk
        self.on_outcome = on_outcome
        self._dedup = dedup_step(dedup)
        self._desk = desk_step(desk)

    def run(self, items: Sequence[tuple[T, Mention]]) -> Iterator[Done[T, Outcome] | Failed[T]]:
        """Each post's desk outcome (its first mention is the post), in event-time order;
        a copy's commands reach their desk right after it."""
        for found in self._dedup.run(items):
            if isinstance(found, Failed):
                yield found
                continue
            verdict = found.value
            (decided,) = self._desk.run([(found.tag, verdict.mention)])
            if isinstance(decided, Done):
                self._seen(decided.value, 0)
            yield decided
            for _key, cmd in verdict.commands:
                self.command(cmd)

    def resolve(self, mentions: Sequence[Mention]) -> list[Outcome]:
        """One desk outcome per mention, in input order (a failure: an Outcome with error)."""
        outcomes = [Outcome() for _ in mentions]
        for r in self.run(list(enumerate(mentions))):
            outcomes[r.tag] = r.value if isinstance(r, Done) else _refused(r)
        return outcomes

    def command(self, cmd: AnyCommand, hops: int = 0) -> Outcome:
        (r,) = self._desk.run([(None, cmd)])
        outcome = r.value if isinstance(r, Done) else _refused(r)
        self._seen(outcome, hops)
        return outcome

    def _seen(self, outcome: Outcome, hops: int) -> None:
        if self.on_outcome is not None:
            self.on_outcome(outcome)
        if hops < _MAX_HOPS:
            for _key, cmd in outcome.forward:
                self.command(cmd, hops + 1)


def _refused(failed: Failed[Any]) -> Outcome:
    return Outcome(error=(failed.kind, failed.reason))


def build_dedup(settings: Settings, store: MutableMapping[str, bytes]) -> Deduplicator:
    return Deduplicator(store=store, settings=settings.dedup)


@dataclass
class LineResult:
    """One output line of `incidents process` (DESIGN §3)."""

    id: str | None
    status: str
    duplicate_of: str | None = None
    is_appeal: bool | None = None
    category: str | None = None
    category_confidence: float | None = None
    # What is wrong with what: the recognised problem types, main first (docs/problems.md).
    problems: list[str] | None = None
    region: str | None = None
    municipality: str | None = None
    address: str | None = None
    agency: str | None = None
    priority: str | None = None
    incident_id: str | None = None
    # A duplicate whose own evidence placed it elsewhere: that region (`region` is its
    # original's).
    own_region: str | None = None
    redelivery: bool = False
    error_kind: str | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Totals:
    lines: int = 0
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    appeals: int = 0
    incidents: set[str] = field(default_factory=set)
    errors: dict[str, int] = field(default_factory=dict)


class OfflinePipeline:
    def __init__(
        self,
        settings: Settings,
        enricher: Enricher | None = None,
        store: MutableMapping[str, bytes] | None = None,
        on_outcome: Callable[[Outcome], None] | None = None,
        dedup_store: MutableMapping[str, bytes] | None = None,
    ) -> None:
        """``on_outcome`` sees every desk outcome (incidents, events, replies), in order;
        ``store`` is the desk's state, ``dedup_store`` the dedup window's."""
        self.settings = settings
        self.on_outcome = on_outcome
        self.enricher = enricher or Enricher.from_settings(settings.enrich)
        self.store: MutableMapping[str, bytes] = store if store is not None else {}
        self.dedup_store: MutableMapping[str, bytes] = (
            dedup_store if dedup_store is not None else {}
        )
        self.desk = build_desk(
            settings, self.store, self.enricher.gazetteer, self.enricher.problems
        )
        self._enrich = enrich_step(self.enricher, settings.faults.fail_marker)
        self.dedup = build_dedup(settings, self.dedup_store)
        self.resolver = Resolver(self.dedup, self.desk, on_outcome)
        self.totals = Totals()

    def run(self, lines: Iterable[bytes], batch: int = 500) -> Iterator[LineResult]:
        """Results in input order, one per line; blank lines are skipped."""
        chunk: list[bytes] = []
        for line in lines:
            line = line.rstrip(b"\r\n")
            if not line.strip():
                continue
            chunk.append(line)
            if len(chunk) >= batch:
                yield from self._chunk(chunk)
                chunk = []
        if chunk:
            yield from self._chunk(chunk)

    def _chunk(self, lines: list[bytes]) -> list[LineResult]:
        """The enrich step, then the dedup and desk steps, as the agents run them: event
        time order inside the chunk, one bad line failing alone; results in input order."""
        results: list[LineResult | None] = [None] * len(lines)
        decoded: list[tuple[int, RawMention]] = []
        for i, line in enumerate(lines):
            try:
                decoded.append((i, self.enricher.decode(line)))
            except InvalidInput as err:
                results[i] = self._rejected(lenient_id(line), err.kind, err.reason)
        enriched: list[tuple[int, Mention]] = []
        for r in self._enrich.run(decoded):
            if isinstance(r, Done):
                enriched.append((r.tag, r.value))
            else:
                results[r.tag] = self._rejected(r.id, r.kind, r.reason)
        for d in self.resolver.run(enriched):
            if isinstance(d, Done):
                results[d.tag] = self._accepted(d.value)
            else:
                results[d.tag] = self._rejected(d.id, d.kind, d.reason)
        done = [r for r in results if r is not None]
        self.totals.lines += len(done)
        return done

    def respond(self, response: OfficialResponse) -> Outcome:
        """An official answer, as the respond router hands it to the desk (`replay --responses`).

        Feed answers and mention lines in event-time order, as the stream does;
        a response names its mention's region or its incident (as the router
        requires) and is not re-validated here.
        """
        return self.resolver.command(
            RespondCommand(
                command_id=response.response_id, at=response.responded_at, response=response
            )
        )

    def _rejected(self, mention_id: str | None, kind: str, reason: str) -> LineResult:
        self.totals.rejected += 1
        self.totals.errors[kind] = self.totals.errors.get(kind, 0) + 1
        return LineResult(id=mention_id, status="rejected", error_kind=kind, error=reason)

    def _accepted(self, outcome: Outcome) -> LineResult:
        m: Mention = outcome.mentions[0]
        status = m.status or "accepted"
        duplicate_of = m.duplicate_of
        if outcome.redelivered:
            status, duplicate_of = "duplicate", m.duplicate_of or m.id
        if outcome.revised:
            pass  # a later version of a mention counted at its first
        elif status == "duplicate":
            self.totals.duplicate += 1
        else:
            self.totals.accepted += 1
            if m.is_appeal:
                self.totals.appeals += 1
        if m.incident_id:
            self.totals.incidents.add(m.incident_id)
        return LineResult(
            id=m.id,
            status=status,
            duplicate_of=duplicate_of,
            is_appeal=m.is_appeal,
            category=m.category,
            category_confidence=m.category_confidence,
            problems=list(m.problems),
            region=m.place.region,
            municipality=m.place.municipality,
            address=m.place.address,
            agency=m.agency,
            priority=m.priority,
            incident_id=m.incident_id,
            own_region=m.own_place.region if m.own_place else None,
            redelivery=outcome.redelivered,
        )
