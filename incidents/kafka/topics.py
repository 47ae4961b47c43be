"""Topic names with the deployment's prefix, their configs, and their creation.

Which topics there are, their keys, compaction, retention and who reads and
writes them is ``incidents/contracts/topology.py``; the per-topic contracts (purpose,
schema versions, examples) are ``incidents/contracts/topics/<topic>.yaml``. This module
turns the table into names and configs under a deployment's settings. Two
stateful stages, two meeting points:

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
from functools import cached_property

import msgspec
from confluent_kafka.admin import AdminClient, NewTopic

from incidents.config.settings import Settings
from incidents.contracts import topology

#: The key of every post on mentions.enriched: the window is one (docs/architecture.md).
DEDUP_SCOPE = b"all"
#: The largest batch message on mentions.enriched and mentions.deduped: within one
#: consumer fetch of a partition (incidents/stream/app.py, 128 KB); a mention longer than that
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
DAY_MS = topology.DAY_MS


@dataclass(frozen=True)
class TopicSpec:
    base: str
    key: str
    compacted: bool = False
    retention_ms: int | None = None
    partitions: int | None = None  # None → settings.topics.partitions


@dataclass(frozen=True)
class Topics:
    """Full topic names (with the deployment's prefix), one attribute per created topic
    of ``incidents.contracts.topology.TOPICS``; everything else here derives from that table."""

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
        return cls(**{t.attr: s.topics.name(t.base) for t in topology.CREATED})

    def named(self, base: str) -> str:
        """The full name of a created topic, from its base name."""
        return str(getattr(self, topology.TOPIC[base].attr))

    def from_outside(self) -> frozenset[str]:
        """The input topics producers outside the pipeline write (connectors and replays,
        operator consoles): invalid input there is theirs to fix (incidents/kafka/dlq.py)."""
        return frozenset(self.named(t.base) for t in topology.CREATED if t.from_outside)

    def compacted(self) -> frozenset[str]:
        """Created topics whose offsets may have holes (compaction): every other one is
        gapless, and a jump in its offsets is checked (incidents/stream/guards.py, per message)."""
        return self._compacted

    @cached_property
    def _compacted(self) -> frozenset[str]:
        return frozenset(self.named(t.base) for t in topology.CREATED if t.compacted)

    def specs(self, s: Settings) -> list[tuple[str, TopicSpec]]:
        return [(self.named(t.base), topic_spec(t, s)) for t in topology.CREATED]

    def all(self) -> list[str]:
        return [self.named(t.base) for t in topology.CREATED]


def topic_spec(topic: topology.Topic, s: Settings) -> TopicSpec:
    """How `incidents topics` creates a topic under these settings."""
    retention_ms = topic.retention_ms
    if topic.retention_setting == "raw_retention_hours":
        retention_ms = s.topics.raw_retention_hours * HOUR_MS
    elif topic.retention_setting == "retention_days":
        retention_ms = s.topics.retention_days * DAY_MS
    return TopicSpec(topic.base, topic.key, compacted=topic.compacted, retention_ms=retention_ms)


def must_match_partitions(topic: topology.Topic) -> bool:
    """A created topic that must keep the partition count of another created topic
    (a table meets them); a changelog partner is Faust's to check."""
    return any(not topology.TOPIC[other].changelog for other in topic.co_partitioned_with)


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
    admin = AdminClient(s.kafka.librdkafka())
    topics = Topics.from_settings(s)
    existing = admin.list_topics(timeout=timeout).topics
    created: list[str] = []
    wanted: list[NewTopic] = []
    for topic in topology.CREATED:
        name, want = topics.named(topic.base), topic_spec(topic, s)
        parts = want.partitions or s.topics.partitions
        if name in existing:
            have = len(existing[name].partitions)
            if have != parts and must_match_partitions(topic):
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
                config=topic_config(want),
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
