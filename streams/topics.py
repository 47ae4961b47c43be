"""Topic names, keys and configs in one place, and their creation.

The per-topic contracts (purpose, producers, consumers, schema versions,
examples) are in ``schemas/topics/<topic>.yaml``; this module is what the code
uses. Two stateful stages, two meeting points:

- ``mentions.enriched`` feeds the dedup stage and is keyed by the dedup scope
  (one key, ``DEDUP_SCOPE``): every post meets every earlier post of the window,
  whatever its region, on one partition;
- ``mentions.deduped`` and ``desk.commands`` feed the desk and must have the same
  partition count and be keyed by region, because the desk's table is
  co-partitioned with them: everything that can belong to one incident meets on
  one partition.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import msgspec

from streams.settings import Settings

#: The key of every post on mentions.enriched: the window is one (docs/architecture.md).
DEDUP_SCOPE = b"all"
#: The largest batch message on mentions.enriched and mentions.deduped: within one
#: consumer fetch of a partition (streams/app.py, 128 KB); a mention longer than that
#: goes alone, as any message would.
MAX_BATCH_BYTES = 96 * 1024
_raw_list = msgspec.json.Decoder(list[msgspec.Raw])


def pack_mentions(encoded: Iterable[bytes], limit: int = MAX_BATCH_BYTES) -> list[bytes]:
    """Encoded mentions as JSON arrays of at most ``limit`` bytes (a mention alone may
    be larger): one Kafka message per stage batch and key on the internal mention
    topics, so a hop costs the broker and the consumer a message per batch, not per
    mention."""
    out: list[bytes] = []
    chunk: list[bytes] = []
    size = 1  # "[", then each item with the "," or "]" after it
    for item in encoded:
        if chunk and size + len(item) + 1 > limit:
            out.append(b"[" + b",".join(chunk) + b"]")
            chunk, size = [], 1
        chunk.append(item)
        size += len(item) + 1
    if chunk:
        out.append(b"[" + b",".join(chunk) + b"]")
    return out


def unpack_mentions(value: bytes | None) -> list[bytes] | None:
    """The mentions of a message: a batch (JSON array) split into each mention's bytes,
    one mention (a dead letter replayed) as it is; None when a batch is not valid JSON
    (the whole message is then dead-lettered)."""
    if not value or value.lstrip()[:1] != b"[":
        return [value or b""]
    try:
        return [bytes(item) for item in _raw_list.decode(value)]
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None


HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


@dataclass(frozen=True)
class TopicSpec:
    base: str
    key: str
    compacted: bool = False
    retention_ms: int | None = None
    partitions: int | None = None  # None → settings.topics.partitions


@dataclass(frozen=True)
class Topics:
    raw: str
    dlq: str
    enriched: str
    deduped: str
    resolved: str
    incidents: str
    events: str
    commands: str
    desk_commands: str
    responses: str
    replies: str
    reply_results: str

    @classmethod
    def from_settings(cls, s: Settings) -> Topics:
        n = s.topics.name
        return cls(
            raw=n("mentions.raw"),
            dlq=n("mentions.dlq"),
            enriched=n("mentions.enriched"),
            deduped=n("mentions.deduped"),
            resolved=n("mentions.resolved"),
            incidents=n("incidents"),
            events=n("incidents.events"),
            commands=n("incidents.commands"),
            desk_commands=n("desk.commands"),
            responses=n("responses"),
            replies=n("replies.outbound"),
            reply_results=n("replies.results"),
        )

    def from_outside(self) -> frozenset[str]:
        """The input topics producers outside the pipeline write (connectors and replays,
        operator consoles): invalid input there is theirs to fix (streams/dlq.py)."""
        return frozenset({self.raw, self.responses, self.commands})

    def specs(self, s: Settings) -> list[tuple[str, TopicSpec]]:
        keep = s.topics.retention_days * DAY_MS
        return [
            (
                self.raw,
                TopicSpec(
                    "mentions.raw",
                    "mention id",
                    retention_ms=s.topics.raw_retention_hours * HOUR_MS,
                ),
            ),
            (self.dlq, TopicSpec("mentions.dlq", "original key", retention_ms=30 * DAY_MS)),
            (self.enriched, TopicSpec("mentions.enriched", "dedup scope", retention_ms=keep)),
            (self.deduped, TopicSpec("mentions.deduped", "region", retention_ms=keep)),
            (self.resolved, TopicSpec("mentions.resolved", "region", retention_ms=keep)),
            (self.incidents, TopicSpec("incidents", "incident id", compacted=True)),
            (self.events, TopicSpec("incidents.events", "incident id", retention_ms=keep)),
            (self.commands, TopicSpec("incidents.commands", "incident id", retention_ms=keep)),
            (self.desk_commands, TopicSpec("desk.commands", "region", retention_ms=keep)),
            (self.responses, TopicSpec("responses", "response id", retention_ms=keep)),
            (self.replies, TopicSpec("replies.outbound", "mention id", retention_ms=keep)),
            (self.reply_results, TopicSpec("replies.results", "mention id", retention_ms=keep)),
        ]

    def all(self) -> list[str]:
        return [
            self.raw,
            self.dlq,
            self.enriched,
            self.deduped,
            self.resolved,
            self.incidents,
            self.events,
            self.commands,
            self.desk_commands,
            self.responses,
            self.replies,
            self.reply_results,
        ]


def topic_config(spec: TopicSpec) -> dict[str, str]:
    conf: dict[str, str] = {}
    if spec.compacted:
        conf["cleanup.policy"] = "compact"
    if spec.retention_ms is not None:
        conf["retention.ms"] = str(spec.retention_ms)
    return conf


def ensure_topics(s: Settings, timeout: float = 30.0) -> list[str]:
    """Create missing topics with their partitions and configs; return the created names.

    Idempotent: existing topics are left alone (their partition count is
    checked, since a mismatch would break co-partitioning).
    """
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(s.kafka.librdkafka())
    topics = Topics.from_settings(s)
    existing = admin.list_topics(timeout=timeout).topics
    created: list[str] = []
    wanted: list[NewTopic] = []
    for name, spec in topics.specs(s):
        parts = spec.partitions or s.topics.partitions
        if name in existing:
            have = len(existing[name].partitions)
            if have != parts and name in (topics.deduped, topics.desk_commands):
                raise RuntimeError(
                    f"topic {name} has {have} partitions but INCIDENTS_TOPICS_PARTITIONS={parts}: "
                    "the stateful stage needs them equal"
                )
            continue
        wanted.append(
            NewTopic(
                name,
                num_partitions=parts,
                replication_factor=s.topics.replication_factor,
                config=topic_config(spec),
            )
        )
    if wanted:
        for name, fut in admin.create_topics(wanted, request_timeout=timeout).items():
            try:
                fut.result(timeout=timeout)
                created.append(name)
            except Exception as exc:  # already created by a concurrent worker is fine
                if "TOPIC_ALREADY_EXISTS" not in str(exc) and "already exists" not in str(exc):
                    raise
    return created
