"""Every Prometheus metric of the worker, declared once.

One prefix (``incidents_``), base units, counters end in ``_total``, and label
values are bounded sets (stages, statuses, platforms, error kinds, tables):
never mention, incident or source ids.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

MESSAGES_IN = Counter(
    "incidents_messages_in_total",
    "Messages a stage consumed, per input topic (base name).",
    ["stage", "topic"],
    registry=REGISTRY,
)
MESSAGES_OUT = Counter(
    "incidents_messages_out_total",
    "Messages a stage produced, per output topic (base name).",
    ["stage", "topic"],
    registry=REGISTRY,
)
MENTIONS = Counter(
    "incidents_mentions_total",
    "Mentions decided by the desk: accepted, duplicate, redelivered (same id again).",
    ["platform", "status"],
    registry=REGISTRY,
)
APPEALS = Counter(
    "incidents_appeals_total",
    "Accepted mentions classified as appeals, per category.",
    ["category"],
    registry=REGISTRY,
)
DLQ = Counter(
    "incidents_dlq_total",
    "Inputs sent to the dead-letter topic.",
    ["stage", "error_kind"],
    registry=REGISTRY,
)
DLQ_LIMIT = Counter(
    "incidents_dlq_limit_exceeded_total",
    "Times a stage stopped the worker because too much input was invalid.",
    ["stage"],
    registry=REGISTRY,
)
STAGE_LATENCY = Histogram(
    "incidents_stage_latency_seconds",
    "Processing time per message in a stage (batch time divided by batch size for batched stages).",
    ["stage"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
EVENT_DELAY = Histogram(
    "incidents_event_delay_seconds",
    "Wall-clock time from a mention's created_at to its decision (live freshness).",
    buckets=(1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 86400),
    registry=REGISTRY,
)
OPEN_INCIDENTS = Gauge(
    "incidents_open_incidents",
    "Open incidents held by this worker's desk partitions.",
    registry=REGISTRY,
)
DEDUP_WINDOW = Gauge(
    "incidents_dedup_window_mentions",
    "Mentions held in the near-duplicate window by this worker (the dedup stage).",
    registry=REGISTRY,
)
DEDUP_PLACING = Counter(
    "incidents_dedup_decisions_total",
    "Dedup stage decisions by how the post was placed: original (not a copy), "
    "same_region, region_filled (a copy without a region took its original's), "
    "region_differs (its own region kept in own_place), no_region, adopted (a copy "
    "gave its region-less original's family its region), redelivered.",
    ["placing"],
    registry=REGISTRY,
)
INCIDENT_EVENTS = Counter(
    "incidents_incident_events_total",
    "Incident events emitted, per type.",
    ["type"],
    registry=REGISTRY,
)
SLA_BREACHES = Counter(
    "incidents_sla_breaches_total",
    "SLA breaches fired (event time), per clock and priority.",
    ["sla", "priority"],
    registry=REGISTRY,
)
REPLIES = Counter(
    "incidents_replies_total",
    "Replies addressed to posts, per platform.",
    ["platform"],
    registry=REGISTRY,
)
SINK_ROWS = Counter(
    "incidents_sink_rows_total",
    "Rows written to ClickHouse, per table.",
    ["table"],
    registry=REGISTRY,
)
SINK_SKIPPED = Counter(
    "incidents_sink_skipped_total",
    "Rows not written because ClickHouse already had them (redelivery), per table.",
    ["table"],
    registry=REGISTRY,
)
SINK_ERRORS = Counter(
    "incidents_sink_errors_total",
    "Failed ClickHouse inserts (retried with backoff; offsets stay uncommitted).",
    ["table"],
    registry=REGISTRY,
)
SINK_INSERT = Histogram(
    "incidents_sink_insert_seconds",
    "Time of one batched insert into ClickHouse.",
    ["table"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
AGENT_UP = Gauge(
    "incidents_agent_up",
    "1 while a stage's agent runs, 0 after it crashed (the worker is then unhealthy).",
    ["stage"],
    registry=REGISTRY,
)
OFFSET_GAPS = Counter(
    "incidents_offset_gaps_total",
    "Jumps in a partition's offsets on a gapless topic (records skipped); the worker restarts.",
    ["topic"],
    registry=REGISTRY,
)
EXPIRED_UNREAD = Counter(
    "incidents_expired_unread_total",
    "Records retention deleted before this consumer group read them (the lag outgrew retention).",
    ["topic"],
    registry=REGISTRY,
)
CONSUMER_LAG = Gauge(
    "incidents_consumer_lag_messages",
    "Messages behind the end of each input topic partition, as this worker sees it.",
    ["topic", "partition"],
    registry=REGISTRY,
)


def render() -> bytes:
    return generate_latest(REGISTRY)
