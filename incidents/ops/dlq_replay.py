"""`incidents dlq show|replay`: look at dead letters and send them back after a fix.

Dead letters keep the original bytes, the stage, and the topic they came from,
so replaying one is publishing those bytes to that topic again, with a header
counting the replays. Replay is at-least-once and safe to repeat: the pipeline
is idempotent (a mention id it already has is a redelivery), and a line that
fails again becomes the same dead letter (same content-addressed id).

Progress is kept in a consumer group (`<app id>-dlq-replay`), so a second
`replay` continues where the first stopped; `--from-beginning` starts over.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

import msgspec
from confluent_kafka import Consumer, KafkaError, TopicPartition

from incidents.config.settings import Settings
from incidents.contracts.models import DeadLetter
from incidents.kafka.producer import MentionProducer
from incidents.kafka.topics import Topics

_decoder = msgspec.json.Decoder(DeadLetter)


@dataclass(frozen=True)
class Filter:
    stage: str | None = None
    kind: str | None = None
    since: datetime | None = None

    def __call__(self, d: DeadLetter) -> bool:
        if self.stage and d.stage != self.stage:
            return False
        if self.kind and d.error_kind != self.kind:
            return False
        return not (self.since and d.failed_at < self.since)


class DeadLetterReader:
    """Every record of mentions.dlq until the topic is idle (None for one that is no DeadLetter)."""

    def __init__(
        self, settings: Settings, group: str | None, from_beginning: bool, idle_s: float = 3.0
    ) -> None:
        self.topic = Topics.from_settings(settings).dlq
        self.idle_s = idle_s
        self.consumer = Consumer(
            {
                **settings.kafka.librdkafka(),
                "group.id": group or f"{settings.worker.app_id}-dlq-show-{uuid.uuid4().hex[:6]}",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            }
        )
        md = self.consumer.list_topics(self.topic, timeout=10)
        if self.topic not in md.topics or md.topics[self.topic].error is not None:
            self.consumer.close()
            raise RuntimeError(f"topic {self.topic} does not exist")
        parts = [TopicPartition(self.topic, p, 0) for p in md.topics[self.topic].partitions]
        if group is not None and not from_beginning:
            parts = [
                TopicPartition(self.topic, tp.partition, max(tp.offset, 0))
                for tp in self.consumer.committed(parts, timeout=10)
            ]
        self.consumer.assign(parts)

    def __iter__(self) -> Iterator[tuple[DeadLetter | None, bytes]]:
        quiet = time.monotonic()
        while time.monotonic() - quiet < self.idle_s:
            msg = self.consumer.poll(0.2)
            if msg is None:
                continue
            err = msg.error()
            if err:
                if err.code() != KafkaError._PARTITION_EOF:
                    raise RuntimeError(f"reading {self.topic}: {err}")
                continue
            quiet = time.monotonic()
            value = msg.value() or b""
            try:
                d: DeadLetter | None = _decoder.decode(value)
            except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
                d = None
            yield d, value

    def commit(self) -> None:
        try:
            self.consumer.commit(asynchronous=False)
        except Exception as exc:  # nothing consumed yet: nothing to commit
            if "NO_OFFSET" not in str(exc):
                raise

    def close(self) -> None:
        self.consumer.close()


@dataclass
class ReplayResult:
    seen: int = 0
    matched: int = 0
    replayed: int = 0
    unreadable: int = 0
    #: matched, but written by a connector from the platform's own JSON: publishing it to
    #: mentions.raw would only dead-letter it again; the connector must fetch it anew
    connector: int = 0


def replay(
    settings: Settings,
    flt: Filter,
    dry_run: bool = False,
    from_beginning: bool = False,
    progress: Callable[[ReplayResult], None] | None = None,
) -> ReplayResult:
    result = ReplayResult()
    producer = (
        None if dry_run else MentionProducer(settings.kafka, client_id="incidents-dlq-replay")
    )
    group = None if dry_run else f"{settings.worker.app_id}-dlq-replay"
    reader = DeadLetterReader(settings, group, from_beginning)
    try:
        for d, _value in reader:
            result.seen += 1
            if d is None:
                result.unreadable += 1
            elif flt(d):
                result.matched += 1
                if d.stage.startswith("connector:"):
                    result.connector += 1
                elif producer is not None:
                    producer.publish(
                        d.topic,
                        base64.b64decode(d.original_b64),
                        key=base64.b64decode(d.key_b64) if d.key_b64 else None,
                        headers={
                            "dlq.replayed": str(d.replayed + 1).encode(),
                            "dlq.id": d.dlq_id.encode(),
                        },
                    )
                    result.replayed += 1
            if producer is not None and result.seen % 500 == 0:
                producer.flush()  # published before the group's offset moves past them
                reader.commit()
            if progress:
                progress(result)
        if producer is not None:
            producer.flush()
            reader.commit()
    finally:
        reader.close()
    return result
