"""Feeds the console's view from Kafka: every partition of the incident topics, from offset 0.

Each console process reads ``incidents``, ``incidents.events``,
``mentions.resolved`` and ``mentions.dlq`` from the beginning with manual
assignment (its group id, ``<app id>.console``, names it to the brokers but
splits nothing: two consoles both see everything) and keeps reading for
changes, so a restart rebuilds the same view. It never stops at the high
watermark: the embedded broker under-reports it (docs/operations.md), so the
watermark only decides when the first load is *probably* done (the "загрузка"
banner), not where reading ends.

librdkafka's poll runs in a thread; records are applied on the event loop, so
the web handlers read the view without locks.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import msgspec
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from incidents.config.settings import Settings
from incidents.console.view import DeskView
from incidents.contracts.models import DeadLetter, Incident, IncidentEvent, Mention
from incidents.observability import logs, metrics

log = logs.get("console.follow")

_DECODERS: dict[str, msgspec.json.Decoder[Any]] = {
    "incidents": msgspec.json.Decoder(Incident),
    "incidents.events": msgspec.json.Decoder(IncidentEvent),
    "mentions.resolved": msgspec.json.Decoder(Mention),
    "mentions.dlq": msgspec.json.Decoder(DeadLetter),
}


@dataclass
class Follower:
    settings: Settings
    view: DeskView
    loaded: bool = False
    records: int = 0
    started: float = field(default_factory=time.monotonic)
    load_s: float | None = None
    _stop: bool = False
    _bases: dict[str, str] = field(default_factory=dict)
    _targets: dict[tuple[str, int], int] = field(default_factory=dict)
    _consumer: Consumer | None = None

    def _connect(self) -> Consumer:
        s = self.settings
        consumer = Consumer(
            {
                **s.kafka.librdkafka(),
                "group.id": f"{s.worker.app_id}.console",
                "client.id": "incidents-console",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "fetch.wait.max.ms": 100,
                "enable.partition.eof": False,
            }
        )
        self._bases = {s.topics.name(b): b for b in _DECODERS}
        return consumer

    def _assign(self, consumer: Consumer) -> bool:
        """All partitions of the four topics from offset 0; False while a topic is missing."""
        md = consumer.list_topics(timeout=10)
        parts: list[TopicPartition] = []
        for topic in self._bases:
            t = md.topics.get(topic)
            if t is None or t.error is not None or not t.partitions:
                return False
            parts.extend(TopicPartition(topic, p, OFFSET_BEGINNING) for p in t.partitions)
        for tp in parts:
            if self._bases[tp.topic] == "mentions.dlq":
                continue  # the first load does not wait for old dead letters
            _low, high = consumer.get_watermark_offsets(tp, timeout=10, cached=False)
            if high > 0:
                self._targets[(tp.topic, tp.partition)] = high - 1
        consumer.assign(parts)
        return True

    def apply(
        self, topic: str, partition: int, offset: int, key: bytes | None, value: bytes
    ) -> None:
        base = self._bases.get(topic, topic)
        metrics.CONSOLE_RECORDS.labels(base).inc()
        try:
            obj = _DECODERS[base].decode(value)
        except (msgspec.ValidationError, msgspec.DecodeError, KeyError) as exc:
            # Not ours to dead-letter (the pipeline wrote it); counted and logged, not dropped
            # silently: the record stays on its topic.
            metrics.CONSOLE_BAD_RECORDS.labels(base).inc()
            log.warning(
                "record not readable",
                topic=topic,
                partition=partition,
                offset=offset,
                error=str(exc),
            )
            return
        if isinstance(obj, Incident):
            self.view.apply_incident(obj)
        elif isinstance(obj, IncidentEvent):
            self.view.apply_event(obj)
        elif isinstance(obj, Mention):
            self.view.apply_mention(obj, key.decode("utf-8", "replace") if key else None)
        elif isinstance(obj, DeadLetter):
            self.view.apply_dead_letter(obj)

    def _check_loaded(self, topic: str, partition: int, offset: int) -> None:
        target = self._targets.get((topic, partition))
        if target is not None and offset >= target:
            del self._targets[(topic, partition)]
        if not self._targets and not self.loaded:
            self.loaded = True
            self.load_s = time.monotonic() - self.started
            metrics.CONSOLE_LOADED.set(1)
            log.info(
                "view loaded",
                seconds=round(self.load_s, 2),
                records=self.records,
                incidents=len(self.view.incidents),
                posts=len(self.view.posts),
            )

    async def run(self, changed: asyncio.Event) -> None:
        """Read forever; `changed` is set after every batch that changed the view."""
        loop = asyncio.get_running_loop()
        consumer = self._consumer = await loop.run_in_executor(None, self._connect)
        try:
            while not self._stop:
                try:
                    ok = await loop.run_in_executor(None, self._assign, consumer)
                except KafkaException as exc:
                    log.warning("cannot list topics yet", error=str(exc))
                    ok = False
                if ok:
                    break
                await asyncio.sleep(1.0)
            if not self._targets:
                self._check_loaded("", -1, 0)
            while not self._stop:
                batch = await loop.run_in_executor(None, consumer.consume, 2000, 0.2)
                before = self.view.changes
                for msg in batch:
                    if msg.error() is not None:
                        log.warning("consumer error", error=str(msg.error()))
                        continue
                    value = msg.value()
                    topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
                    if value is None or topic is None or partition is None or offset is None:
                        continue
                    self.records += 1
                    self.apply(topic, partition, offset, msg.key(), value)
                    if not self.loaded:
                        self._check_loaded(topic, partition, offset)
                if self.view.changes != before:
                    changed.set()
                    metrics.CONSOLE_INCIDENTS.set(len(self.view.incidents))
        finally:
            await loop.run_in_executor(None, consumer.close)

    def stop(self) -> None:
        self._stop = True
