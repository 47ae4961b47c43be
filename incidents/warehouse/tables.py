"""The fact tables the pipeline writes: their key, columns and lookup bounds.

One entry per table (:data:`TABLES`): the natural key the writer deduplicates on, the
time and region columns that bound its "already stored?" lookup, the column order the
row mappers (:mod:`incidents.warehouse.rows`) follow, and the column retention runs from.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TableSpec:
    name: str
    key: str
    time_col: str | None  # equal for every copy of a row: bounds the "already there?" lookup
    region_col: str | None
    columns: tuple[str, ...]
    filter_existing: bool = True
    ttl_col: str = ""  # the table's TTL runs from this column (default: time_col)

    @property
    def retention_col(self) -> str:
        return self.ttl_col or self.time_col or ""


TABLES: dict[str, TableSpec] = {
    "mentions": TableSpec(
        "mentions",
        "id",
        "created_at",
        "region",
        (
            "id", "platform", "source_id", "source_name", "source_kind", "author_pseudonym",
            "created_at", "text", "url", "fingerprint", "is_appeal", "appeal_score", "category",
            "category_confidence", "priority", "priority_cues", "region", "municipality", "oktmo",
            "address", "lat", "lon", "agency", "status", "duplicate_of", "incident_id", "likes",
            "reposts", "comments", "views", "_partition", "_offset",
        ),
    ),
    "incidents": TableSpec(
        "incidents",
        "id",
        "opened_at",
        "region",
        (
            "id", "region", "municipality", "category", "agency", "status", "priority",
            "opened_at", "updated_at", "closed_at", "version", "title", "mentions_count",
            "address", "lat", "lon", "primary_mention_id", "platforms", "first_reaction_due",
            "first_reaction_at", "first_reaction_breached", "final_answer_due", "final_answer_at",
            "final_answer_breached", "reopened_from", "merged_into",
        ),
        # Latest state: every version is a row, ReplacingMergeTree(version) keeps the last.
        filter_existing=False,
    ),
    "incident_events": TableSpec(
        "incident_events",
        "event_id",
        "at",
        "region",
        (
            "event_id", "incident_id", "type", "at", "region", "incident_version", "category",
            "agency", "priority", "status", "mention_id", "response_id", "detail",
        ),
    ),
    "replies": TableSpec(
        "replies",
        "reply_id",
        "responded_at",
        "region",
        (
            "reply_id", "response_id", "incident_id", "mention_id", "platform", "source_id",
            "kind", "agency", "responded_at", "region", "post_url",
        ),
    ),
    "dead_letters": TableSpec(
        "dead_letters",
        "dlq_id",
        None,  # failed_at is the wall clock of each attempt: look up by id alone
        None,
        (
            "dlq_id", "stage", "topic", "partition", "offset", "error_kind", "reason",
            "failed_at", "original_size", "mention_id", "replayed",
        ),
        ttl_col="failed_at",
    ),
}  # fmt: skip

#: Tables whose TTL is their own, not INCIDENTS_CLICKHOUSE_TTL_DAYS.
OWN_TTL = frozenset({"fact_inserts", "expired_on_arrival"})
