"""File replay: JSONL lines to a topic, as they are (invalid lines included).

A line that is not valid JSON is still published: the pipeline, not the
replayer, decides what is invalid, and dead-letters it with the reason. That is
also how `incidents replay` exercises the DLQ path.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec

from connectors.producer import MentionProducer


def read_lines(path: Path) -> Iterator[bytes]:
    """Raw byte lines (gz allowed), blank lines skipped; broken UTF-8 kept as is."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        for line in f:
            line = line.rstrip(b"\r\n")
            if line.strip():
                yield line


def key_of(line: bytes, field: str = "id") -> bytes | None:
    try:
        obj = msgspec.json.decode(line)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None
    if isinstance(obj, dict):
        value = obj.get(field)
        if isinstance(value, str) and value:
            return value.encode("utf-8")
    return None


def replay_file(
    producer: MentionProducer,
    path: Path,
    topic: str,
    key_field: str = "id",
    schema: str = "RawMention/1",
    progress: Callable[[int], None] | None = None,
) -> int:
    sent = 0
    for line in read_lines(path):
        producer.publish(
            topic, line, key=key_of(line, key_field), headers={"schema": schema.encode()}
        )
        sent += 1
        if progress:
            progress(1)
    producer.flush()
    return sent


def count_lines(path: Path) -> int:
    return sum(1 for _ in read_lines(path))
