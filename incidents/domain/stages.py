"""The stages' work as steps (incidents/domain/steps.py): what each stage does to its inputs.

The stream's agents (incidents/stream/agents/*) and `incidents process`
(incidents/stream/offline.py) both take their stages from here, so the rules of a
stage (event-time order, the batch-wide classifier, how operator messages are
routed, what a desk refuses) are written once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from incidents.contracts.models import (
    AdoptCommand,
    AnyCommand,
    Mention,
    OfficialResponse,
    RawMention,
    RespondCommand,
    TakeOverCommand,
    TickCommand,
)
from incidents.domain.copies.dedup import Deduplicator, Prepared, Verdict, region_key
from incidents.domain.desk.desk import Desk
from incidents.domain.desk.records import Outcome, incident_region
from incidents.domain.enrichment import Enricher, InvalidInput
from incidents.domain.steps import Refused, Step

DeskInput = Mention | AnyCommand


def created_at(obj: RawMention | Mention) -> datetime:
    return obj.created_at


def event_time(obj: DeskInput) -> datetime:
    """When a desk input happened: a post's creation, a command's `at`."""
    return obj.created_at if isinstance(obj, Mention) else obj.at


def enrich_step(
    enricher: Enricher, fail_marker: str | None = None
) -> Step[RawMention, Mention, Mention]:
    """Classify, locate and route a batch (the models run once for it), in event-time
    order: partitions of a backlog are fetched one after another, and the later
    stages' clocks run on event time. ``fail_marker`` (fault injection,
    INCIDENTS_FAULTS_FAIL_MARKER): a post whose text holds it fails as a bug would."""
    if not fail_marker:
        return Step("enrich", event_time=created_at, batch=enricher.enrich)

    def enrich(raws: Sequence[RawMention]) -> list[Mention]:
        if any(fail_marker in r.text for r in raws):
            raise RuntimeError(f"fault injection: fail marker {fail_marker!r}")
        return enricher.enrich(raws)

    return Step("enrich", event_time=created_at, batch=enrich)


def dedup_step(window: Deduplicator) -> Step[Mention, Prepared, Verdict]:
    """Sign a batch (once for it), then find each post's original in the window, in
    event-time order: the window's clock runs on event time."""
    return Step("dedup", event_time=created_at, batch=window.prepare, each=window.resolve)


def desk_step(desk: Desk) -> Step[DeskInput, DeskInput, Outcome]:
    """The desk of a region decides each post and command in event-time order (its SLA
    clock and answer parking run on event time); what it refuses is Refused."""

    def decide(obj: DeskInput) -> Outcome:
        outcome = desk.resolve(obj) if isinstance(obj, Mention) else desk.command(obj)
        if outcome.error:
            raise Refused(*outcome.error)
        return outcome

    return Step("group", event_time=event_time, each=decide)


def route(obj: OfficialResponse | AnyCommand) -> tuple[str, AnyCommand]:
    """The partition key (region) and desk command for one operator message.

    What a message must carry to be routed is in its contract, enforced by the
    decoders (incidents/stream/decoders.py): a response names `incident_id`, or `mention_id`
    with `region`; incidents.commands carries operator commands only.
    """
    if isinstance(obj, OfficialResponse):
        region = incident_region(obj.incident_id) if obj.incident_id else obj.region
        return region_key(region), RespondCommand(
            command_id=obj.response_id, at=obj.responded_at, response=obj
        )
    # The decoder refuses them; code may not.
    if isinstance(obj, TickCommand | RespondCommand | AdoptCommand | TakeOverCommand):
        raise InvalidInput(
            "schema",
            f"IncidentCommand: '{obj.__struct_config__.tag}' is internal; answers go to the "
            "`responses` topic as OfficialResponse",
        )
    return region_key(incident_region(obj.incident_id)), obj


def route_step() -> Step[OfficialResponse | AnyCommand, OfficialResponse | AnyCommand, tuple]:
    """Operators' answers and commands, keyed by the region whose desk owns the incident
    (consoles know incident ids, which carry the region, not our partitioning)."""
    return Step("respond", each=route)
