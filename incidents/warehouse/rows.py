"""Message → row: one function per fact table, from a decoded message to its columns.

Each mapper knows the table's column order (:data:`incidents.warehouse.tables.TABLES`)
and nothing of Kafka or ClickHouse but the partition and offset it is handed, which the
mentions table keeps; the sink maps a batch with :func:`rows_for`, then writes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from incidents.contracts.models import DeadLetter, Incident, IncidentEvent, Mention, Reply


def mention_row(m: Mention, partition: int, offset: int) -> tuple[Any, ...]:
    p = m.place
    e = m.metrics
    return (
        m.id,
        m.platform,
        m.source.id,
        m.source.name or "",
        m.source.kind or "",
        m.author.id if m.author else "",
        m.created_at,
        m.text,
        m.url or "",
        m.fingerprint,
        m.is_appeal,
        m.appeal_score,
        m.category or "",
        m.category_confidence,
        m.priority,
        list(m.priority_cues),
        p.region or "",
        p.municipality or "",
        p.oktmo or "",
        p.address or "",
        p.geo.lat if p.geo else None,
        p.geo.lon if p.geo else None,
        m.agency or "",
        m.status or "accepted",
        m.duplicate_of or "",
        m.incident_id or "",
        (e.likes or 0) if e else 0,
        (e.reposts or 0) if e else 0,
        (e.comments or 0) if e else 0,
        (e.views or 0) if e else 0,
        partition,
        offset,
    )


def incident_row(i: Incident, partition: int, offset: int) -> tuple[Any, ...]:
    s = i.sla
    return (
        i.id,
        i.region or "",
        i.municipality or "",
        i.category or "",
        i.agency or "",
        i.status,
        i.priority,
        i.opened_at,
        i.updated_at,
        i.closed_at,
        i.version,
        i.title,
        i.mentions_count,
        i.address or "",
        i.geo.lat if i.geo else None,
        i.geo.lon if i.geo else None,
        i.primary_mention_id or "",
        list(i.platforms),
        s.first_reaction_due,
        s.first_reaction_at,
        s.first_reaction_breached,
        s.final_answer_due,
        s.final_answer_at,
        s.final_answer_breached,
        i.reopened_from or "",
        i.merged_into or "",
    )


def event_row(e: IncidentEvent, partition: int, offset: int) -> tuple[Any, ...]:
    return (
        e.event_id,
        e.incident_id,
        e.type,
        e.at,
        e.region or "",
        e.incident_version,
        e.category or "",
        e.agency or "",
        e.priority or "",
        e.status or "",
        e.mention_id or "",
        e.response_id or "",
        {k: "" if v is None else str(v) for k, v in e.detail.items()},
    )


def reply_row(r: Reply, partition: int, offset: int) -> tuple[Any, ...]:
    return (
        r.reply_id,
        r.response_id,
        r.incident_id,
        r.mention_id,
        r.platform,
        r.source_id,
        r.kind,
        r.agency,
        r.responded_at,
        r.region or "",
        r.post_url or "",
    )


def dead_letter_row(d: DeadLetter, partition: int, offset: int) -> tuple[Any, ...]:
    return (
        d.dlq_id,
        d.stage,
        d.topic,
        d.partition,
        d.offset,
        d.error_kind,
        d.reason,
        d.failed_at,
        d.original_size,
        d.mention_id or "",
        d.replayed,
    )


def rows_for(table: str, items: Iterable[tuple[Any, int, int]]) -> list[tuple[Any, ...]]:
    """Map (message, partition, offset) triples to rows of a table."""
    mappers: dict[str, Callable[[Any, int, int], tuple[Any, ...]]] = {
        "mentions": mention_row,
        "incidents": incident_row,
        "incident_events": event_row,
        "replies": reply_row,
        "dead_letters": dead_letter_row,
    }
    mapper = mappers[table]
    return [mapper(obj, part, off) for obj, part, off in items]
