"""Prometheus metrics of connector processes, declared once.

Prefix ``incidents_connector_``; label values are bounded: the connector name
(vk, ok, telegram, portal, rss, webhook, replies), API method names, platforms
and fixed reason words, never source, mention or reply ids.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

FETCHED = Counter(
    "incidents_connector_fetched_total",
    "Items read from a platform (posts, comments, messages, entries, webhook bodies).",
    ["connector"],
    registry=REGISTRY,
)
PUBLISHED = Counter(
    "incidents_connector_published_total",
    "RawMentions published to mentions.raw and acknowledged by the broker.",
    ["connector"],
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "incidents_connector_dead_letters_total",
    "Platform items that could not be mapped to a RawMention, sent to mentions.dlq.",
    ["connector", "error_kind"],
    registry=REGISTRY,
)
SKIPPED = Counter(
    "incidents_connector_skipped_total",
    "Items deliberately not published (no text, edits, service messages), per reason.",
    ["connector", "reason"],
    registry=REGISTRY,
)
ERRORS = Counter(
    "incidents_connector_errors_total",
    "Failed requests or rounds, per reason (rate_limited, flood, server, network, timeout, "
    "malformed, access_denied, deleted, quota, auth, ...).",
    ["connector", "reason"],
    registry=REGISTRY,
)
REQUESTS = Histogram(
    "incidents_connector_request_seconds",
    "Duration of one platform API request, per method.",
    ["connector", "method"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
LAG = Gauge(
    "incidents_connector_lag_seconds",
    "Age (now minus created_at) of the newest mention in the last published batch: "
    "how far behind the platform this connector is.",
    ["connector"],
    registry=REGISTRY,
)
LAST_SUCCESS = Gauge(
    "incidents_connector_last_success_timestamp_seconds",
    "Unix time of the last polling round (or webhook) that completed without error.",
    ["connector"],
    registry=REGISTRY,
)
CURSOR_SAVES = Counter(
    "incidents_connector_cursor_saves_total",
    "Cursor writes (each after a flushed batch).",
    ["connector"],
    registry=REGISTRY,
)
UP = Gauge(
    "incidents_connector_up",
    "1 while the connector runs, 0 once it stopped on a fatal error.",
    ["connector"],
    registry=REGISTRY,
)
REPLIES = Counter(
    "incidents_connector_replies_total",
    "Replies handled by the replies worker, per platform and outcome "
    "(posted, dry_run, duplicate, failed, unknown, unsupported, invalid).",
    ["platform", "outcome"],
    registry=REGISTRY,
)


def render() -> bytes:
    return generate_latest(REGISTRY)
