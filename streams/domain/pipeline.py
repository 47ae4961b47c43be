"""The offline path: the stream's domain code run in-process over a file.

``incidents process`` uses this, and so do benchmarks and backfills. It calls
exactly what the agents call (Enricher.decode/enrich, Desk.prepare/resolve,
Desk.command), in the same order, with a dict instead of a Faust table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from schemas.models import Mention, OfficialResponse, RawMention, RespondCommand
from streams.domain.enrichment import Enricher, InvalidInput
from streams.domain.incidents import Desk, Outcome
from streams.settings import Settings


def lenient_id(value: bytes) -> str | None:
    """The id of a rejected line when it can still be read, for the report."""
    try:
        obj = msgspec.json.decode(value)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None
    if isinstance(obj, dict) and isinstance(obj.get("id"), str):
        return obj["id"][:512]
    return None


def build_desk(settings: Settings, store: MutableMapping[str, bytes], enricher: Enricher) -> Desk:
    return Desk(
        store=store,
        dedup=settings.dedup,
        grouping=settings.grouping,
        sla=settings.sla,
        timezone_of=enricher.gazetteer.timezone,
        population_of=enricher.gazetteer.population,
        problems=enricher.problems,
    )


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
    ) -> None:
        """``on_outcome`` sees every desk outcome (incidents, events, replies), in order."""
        self.settings = settings
        self.on_outcome = on_outcome
        self.enricher = enricher or Enricher.from_settings(settings.enrich)
        self.store: MutableMapping[str, bytes] = store if store is not None else {}
        self.desk = build_desk(settings, self.store, self.enricher)
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
        results: list[LineResult | None] = [None] * len(lines)
        valid: list[tuple[int, RawMention]] = []
        for i, line in enumerate(lines):
            try:
                valid.append((i, self.enricher.decode(line)))
            except InvalidInput as err:
                results[i] = self._rejected(lenient_id(line), err.kind, err.reason)
        mentions = self.enricher.enrich([raw for _, raw in valid])
        prepared = self.desk.prepare(mentions)
        for (i, _), p in zip(valid, prepared, strict=True):
            outcome = self.desk.resolve(p)
            if self.on_outcome is not None:
                self.on_outcome(outcome)
            results[i] = self._accepted(outcome)
        done = [r for r in results if r is not None]
        self.totals.lines += len(done)
        return done

    def respond(self, response: OfficialResponse) -> Outcome:
        """An official answer, as the respond router hands it to the desk (`replay --responses`).

        Feed answers and mention lines in event-time order, as the stream does;
        a response names its mention's region or its incident (as the router
        requires) and is not re-validated here.
        """
        outcome = self.desk.command(
            RespondCommand(
                command_id=response.response_id, at=response.responded_at, response=response
            )
        )
        if self.on_outcome is not None:
            self.on_outcome(outcome)
        return outcome

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
            redelivery=outcome.redelivered,
        )
