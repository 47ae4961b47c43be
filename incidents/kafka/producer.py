"""The idempotent producer every connector and `incidents replay` publishes with.

confluent-kafka (librdkafka) with ``enable.idempotence``: retries cannot
duplicate or reorder a partition's messages. ``murmur2_random`` is the Java
client's partitioner, which Faust/aiokafka also use, so a key lands on the same
partition whoever produced it (librdkafka's default, CRC32, would not).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from confluent_kafka import KafkaError, Message, Producer

from incidents.config.settings import KafkaSettings


class PublishError(RuntimeError):
    pass


class MentionProducer:
    def __init__(
        self, kafka: KafkaSettings, client_id: str = "incidents-producer", **extra: Any
    ) -> None:
        conf = {
            **kafka.librdkafka(),
            "client.id": client_id,
            "enable.idempotence": True,
            "acks": "all",
            "partitioner": "murmur2_random",
            "linger.ms": 20,
            "compression.type": "zstd",
            "message.timeout.ms": 120_000,
            **extra,
        }
        self._producer = Producer(conf)
        self.delivered = 0
        self.failed: list[str] = []
        self.last_offsets: dict[tuple[str, int], int] = {}

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self.failed.append(f"{msg.topic()}: {err.str()}")
            return
        self.delivered += 1
        # A delivered message always carries its topic, partition and offset.
        key = (cast(str, msg.topic()), cast(int, msg.partition()))
        self.last_offsets[key] = max(self.last_offsets.get(key, -1), cast(int, msg.offset()))

    def publish(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        headers: dict[str, bytes] | None = None,
        on_delivery: Callable[[KafkaError | None, Message], None] | None = None,
    ) -> None:
        while True:
            try:
                self._producer.produce(
                    topic,
                    value=value,
                    key=key,
                    # dict is invariant: dict[str, bytes] is a valid HeadersType value
                    headers=cast("dict[str, str | bytes | None] | None", headers),
                    on_delivery=on_delivery or self._on_delivery,
                )
                break
            except BufferError:
                self._producer.poll(0.1)  # local queue full: serve callbacks, then retry
        self._producer.poll(0)

    def flush(self, timeout: float = 60.0) -> None:
        remaining = self._producer.flush(timeout)
        if remaining:
            raise PublishError(f"{remaining} messages not delivered within {timeout:.0f} s")
        if self.failed:
            raise PublishError(f"{len(self.failed)} messages failed: {self.failed[0]}")
