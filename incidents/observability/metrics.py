"""Every Prometheus metric of the worker, declared once.

One prefix (``incidents_``), base units, counters end in ``_total``, and label
values are bounded sets (stages, statuses, platforms, error kinds, tables):
never mention, incident or source ids. Topic labels are base names
(``mentions.raw``, not ``tver.mentions.raw``).

Labelled counters are created at 0 for every label value a stage can use
(:func:`declare_stage`) before the first scrape: Prometheus sees a series that
appears at 5 as 5 and nothing else, so ``rate()`` and ``increase()`` would miss
every first increment. The crash counters are kept in a file in the worker's
data directory (:func:`restore`, :func:`save`): a crash ends the process within
seconds, usually before Prometheus scrapes it again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import get_args

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

from incidents.contracts.models import (
    ErrorKind,
    IncidentEventType,
    MentionStatus,
    Platform,
    Priority,
)

# The `*_created` series (one per counter and histogram child, a start time) double
# the exposition and no rule or dashboard reads them.
disable_created_metrics()

REGISTRY = CollectorRegistry(auto_describe=True)
# The standard process_* (CPU, memory, descriptors, start time) and python_* (GC, version).
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

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
    "Mentions decided by the desk: accepted, duplicate, redelivered (same id again), "
    "revised (a later version of one already decided: an edit).",
    ["platform", "status"],
    registry=REGISTRY,
)
APPEALS = Counter(
    "incidents_appeals_total",
    "Accepted mentions classified as appeals, per category.",
    ["category"],
    registry=REGISTRY,
)
RELEVANCE = Counter(
    "incidents_relevance_total",
    "Mentions the enrich stage decided, per platform and relevance (appeal, signal, noise) "
    "and whether they lie near the threshold (review=true): the appeal rate per platform. "
    "Per source, where ids are unbounded, see ClickHouse (the report's appeal-rate tables).",
    ["platform", "relevance", "review"],
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
    "Times a stage stopped the worker because too many of its own failures (processing "
    "errors, invalid messages on topics the pipeline writes) passed the DLQ limit.",
    ["stage"],
    registry=REGISTRY,
)
INVALID_INPUT_OVER_LIMIT = Gauge(
    "incidents_invalid_input_over_limit",
    "1 while the invalid share of one input topic written from outside the pipeline "
    "(mentions.raw, responses, incidents.commands) is over the DLQ limit: a producer's "
    "mistake; the stage dead-letters it and keeps serving the valid messages.",
    ["stage", "topic"],
    registry=REGISTRY,
)
INVALID_INPUT_LIMIT_EXCEEDED = Counter(
    "incidents_invalid_input_limit_exceeded_total",
    "Times the invalid share of one input topic written from outside the pipeline went "
    "over the DLQ limit (the stage kept running).",
    ["stage", "topic"],
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
    "gave its region-less original's family its region), redelivered, revised (a new "
    "version of a post already decided: an edit, judged again).",
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
SINK_EXPIRED = Counter(
    "incidents_sink_expired_rows_total",
    "Rows the sink did not store because they were already older than the table's "
    "retention (its TTL, INCIDENTS_CLICKHOUSE_TTL_DAYS) when they arrived: a backfill of "
    "old history. Each fact once (noted in ClickHouse expired_on_arrival).",
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
OFFSETS_WITHOUT_RECORDS = Counter(
    "incidents_offsets_without_records_total",
    "Offsets a gapless topic's consumer jumped over that hold no record for it (transaction "
    "markers on Apache Kafka): checked, not a gap.",
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
AGENT_CRASHES = Counter(
    "incidents_agent_crashes_total",
    "Agent crashes that ended the worker, per stage and reason (error, dlq_limit, offset_gap); "
    "kept across restarts in the worker's data directory.",
    ["stage", "reason"],
    registry=REGISTRY,
)
AGENT_LAST_CRASH = Gauge(
    "incidents_agent_last_crash_timestamp_seconds",
    "Unix time of a stage's last crash, per reason; kept across restarts.",
    ["stage", "reason"],
    registry=REGISTRY,
)

CRASH_REASONS = ("error", "dlq_limit", "offset_gap")
MENTION_STATUSES = (*get_args(MentionStatus), "redelivered", "revised")
SLA_CLOCKS = ("first_reaction", "final_answer")

#: What a crash changes just before the process ends, by exposed name: kept in a file.
DURABLE: dict[str, Counter | Gauge] = {
    "incidents_agent_crashes_total": AGENT_CRASHES,
    "incidents_agent_last_crash_timestamp_seconds": AGENT_LAST_CRASH,
    "incidents_dlq_limit_exceeded_total": DLQ_LIMIT,
    "incidents_offset_gaps_total": OFFSET_GAPS,
    # counted at a restart's first read, often just before an offset gap restarts it again
    "incidents_expired_unread_total": EXPIRED_UNREAD,
}


def declare_stage(
    stage: str, inputs: Iterable[str], outputs: Iterable[str], gapless: Iterable[str]
) -> None:
    """A stage's series at 0 before its first message (topics are base names)."""
    for topic in inputs:
        MESSAGES_IN.labels(stage, topic)
        EXPIRED_UNREAD.labels(topic)
    for topic in gapless:
        OFFSET_GAPS.labels(topic)
        OFFSETS_WITHOUT_RECORDS.labels(topic)
    for topic in outputs:
        MESSAGES_OUT.labels(stage, topic)
    for kind in get_args(ErrorKind):
        DLQ.labels(stage, kind)
    DLQ_LIMIT.labels(stage)
    for reason in CRASH_REASONS:
        AGENT_CRASHES.labels(stage, reason)
    STAGE_LATENCY.labels(stage)


def declare_enrich() -> None:
    """The enrich stage's relevance counters at 0: every platform, relevance and review."""
    for platform in get_args(Platform):
        for relevance in ("appeal", "signal", "noise"):
            for review in ("true", "false"):
                RELEVANCE.labels(platform, relevance, review)


def declare_desk(categories: Iterable[str]) -> None:
    """The group stage's decision counters at 0: every platform, status, category, event type."""
    for platform in get_args(Platform):
        REPLIES.labels(platform)
        for status in MENTION_STATUSES:
            MENTIONS.labels(platform, status)
    for category in (*categories, "none"):
        APPEALS.labels(category)
    for event_type in get_args(IncidentEventType):
        INCIDENT_EVENTS.labels(event_type)
    for sla in SLA_CLOCKS:
        for priority in get_args(Priority):
            SLA_BREACHES.labels(sla, priority)


#: How the dedup stage placed a post (incidents/domain/copies/dedup.py Placing).
DEDUP_PLACINGS = (
    "original",
    "same_region",
    "region_filled",
    "region_differs",
    "no_region",
    "adopted",
    "redelivered",
    "revised",
)


def declare_dedup() -> None:
    """The dedup stage's decision counter at 0 for every placing."""
    for placing in DEDUP_PLACINGS:
        DEDUP_PLACING.labels(placing)


def declare_sink(tables: Iterable[str]) -> None:
    for table in tables:
        SINK_ROWS.labels(table)
        SINK_SKIPPED.labels(table)
        SINK_ERRORS.labels(table)
        SINK_INSERT.labels(table)
        if table != "schema_migrations":
            SINK_EXPIRED.labels(table)


def declare_outside_inputs(stage: str, topics: Iterable[str]) -> None:
    """The DLQ-limit series of a stage's inputs written from outside the pipeline (base
    names), at 0: not over the limit, never exceeded."""
    for topic in topics:
        INVALID_INPUT_OVER_LIMIT.labels(stage, topic).set(0)
        INVALID_INPUT_LIMIT_EXCEEDED.labels(stage, topic)


def crashed(stage: str, reason: str) -> None:
    AGENT_CRASHES.labels(stage, reason).inc()
    AGENT_LAST_CRASH.labels(stage, reason).set_to_current_time()


# Per durable sample, the value this process last loaded or saved: a save adds only
# what changed since, so workers sharing a data directory do not erase each other's.
_synced: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}


def _durable_samples() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for name, metric in DURABLE.items():
        for family in metric.collect():
            for sample in family.samples:
                if sample.name == name:
                    out[(name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def _read(path: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        return {
            (name, tuple(sorted(labels.items()))): float(value)
            for name, series in saved.items()
            if name in DURABLE
            for labels, value in series
        }
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def restore(path: Path) -> None:
    """Load the crash series an earlier process of this worker saved (once, at start)."""
    for (name, labels), value in _read(path).items():
        metric = DURABLE[name]
        if isinstance(metric, Counter):
            metric.labels(**dict(labels)).inc(value)
        else:
            metric.labels(**dict(labels)).set(value)
        _synced[(name, labels)] = value


def save(path: Path) -> None:
    """Write the crash series for the next process: counters add what changed since the
    last load or save, timestamps keep the latest."""
    merged = _read(path)
    for key, value in _durable_samples().items():
        if isinstance(DURABLE[key[0]], Counter):
            merged[key] = merged.get(key, 0.0) + value - _synced.get(key, 0.0)
        else:
            merged[key] = max(merged.get(key, 0.0), value)
        _synced[key] = value
    doc: dict[str, list[tuple[dict[str, str], float]]] = {}
    for (name, labels), value in sorted(merged.items()):
        doc.setdefault(name, []).append((dict(labels), value))
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def render() -> bytes:
    return generate_latest(REGISTRY)


# ------------------------------------------------------------ operator console
# The console (`incidents console`) is its own process with its own /metrics: a registry
# of its own, so it does not expose the worker's series at zero.
CONSOLE_REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=CONSOLE_REGISTRY)

CONSOLE_RECORDS = Counter(
    "incidents_console_records_total",
    "Records the console read into its view, per topic (base name).",
    ["topic"],
    registry=CONSOLE_REGISTRY,
)
CONSOLE_BAD_RECORDS = Counter(
    "incidents_console_bad_records_total",
    "Records the console could not decode (logged with topic, partition and offset), per topic.",
    ["topic"],
    registry=CONSOLE_REGISTRY,
)
CONSOLE_LOADED = Gauge(
    "incidents_console_view_loaded",
    "1 once the console's view has read the topics up to where they stood at its start.",
    registry=CONSOLE_REGISTRY,
)
CONSOLE_INCIDENTS = Gauge(
    "incidents_console_view_incidents",
    "Incidents held in the console's view (its regions).",
    registry=CONSOLE_REGISTRY,
)
CONSOLE_ACTIONS = Counter(
    "incidents_console_actions_total",
    "Operator actions the console published, per kind (assign, set_status, merge, split, "
    "respond) and outcome (sent, refused: not allowed or invalid).",
    ["kind", "outcome"],
    registry=CONSOLE_REGISTRY,
)
CONSOLE_LOGINS = Counter(
    "incidents_console_logins_total",
    "Login attempts, per outcome (ok, wrong, limited).",
    ["outcome"],
    registry=CONSOLE_REGISTRY,
)
CONSOLE_PAGE = Histogram(
    "incidents_console_page_seconds",
    "Time to build a page, per page (queue, card, search, rows).",
    ["page"],
    buckets=_LATENCY_BUCKETS,
    registry=CONSOLE_REGISTRY,
)
for _outcome in ("ok", "wrong", "limited"):
    CONSOLE_LOGINS.labels(_outcome)


def render_console() -> bytes:
    return generate_latest(CONSOLE_REGISTRY)
