"""File replay: JSONL lines to a topic, as they are (invalid lines included).

A line that is not valid JSON is still published: the pipeline, not the
replayer, decides what is invalid, and dead-letters it with the reason. That is
also how `incidents replay` exercises the DLQ path.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import msgspec

from incidents.kafka.producer import MentionProducer


def read_lines(path: Path) -> Iterator[bytes]:
    """Raw byte lines (gz allowed), blank lines skipped; broken UTF-8 kept as is."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        for line in f:
            line = line.rstrip(b"\r\n")
            if line.strip():
                yield line


def key_of(line: bytes, field: str = "id") -> bytes | None:
    """The message key: the first of the `|`-separated fields that the line has.

    "region_hint|id" keys a backfill by region, so one region's posts share a
    partition and keep their order through the enrich stage.
    """
    try:
        obj = msgspec.json.decode(line)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None
    if isinstance(obj, dict):
        for name in field.split("|"):
            value = obj.get(name)
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


@dataclass
class History:
    """How much of a file is older than a cutoff (the retention, before a backfill)."""

    lines: int = 0  # lines with a readable time
    older: int = 0  # of them, before the cutoff
    oldest: datetime | None = None


def older_than(path: Path, time_field: str, cutoff: datetime) -> History:
    """Count the lines whose `time_field` (RFC 3339 with an offset) is before `cutoff`;
    lines without a readable time are the pipeline's to refuse and are not counted."""
    stamp = msgspec.json.Decoder(msgspec.defstruct("Stamp", [(time_field, datetime | None, None)]))
    h = History()
    for line in read_lines(path):
        try:
            at = getattr(stamp.decode(line), time_field)
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
            continue
        if at is None or at.tzinfo is None:
            continue
        h.lines += 1
        if at < cutoff:
            h.older += 1
            h.oldest = at if h.oldest is None or at < h.oldest else h.oldest
    return h


def _time_of(line: bytes, field: str) -> float | None:
    try:
        obj = msgspec.json.decode(line)
        return datetime.fromisoformat(str(obj[field])).timestamp()
    except Exception:  # invalid lines have no time; they keep their place in their file
        return None


def merge_by_time(
    sources: list[tuple[Path, str, str, str, str]],
) -> list[tuple[float, int, int, str, bytes, bytes | None, str]]:
    """Lines of several files in event-time order (stable; invalid lines keep their place).

    sources: (path, topic, key field, time field, schema). Mentions and the
    operators' responses replayed together this way reach the desk roughly as
    they happened, so SLA clocks see answers at their own time.
    """
    items = []
    for n, (path, topic, key_field, time_field, schema) in enumerate(sources):
        last = float("-inf")
        for i, line in enumerate(read_lines(path)):
            t = _time_of(line, time_field)
            last = t if t is not None else last
            items.append((last, n, i, topic, line, key_of(line, key_field), schema))
    items.sort(key=lambda x: (x[0], x[1], x[2]))
    return items


def replay_merged(
    producer: MentionProducer,
    sources: list[tuple[Path, str, str, str, str]],
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    sent: dict[str, int] = {}
    for _, _, _, topic, line, key, schema in merge_by_time(sources):
        producer.publish(topic, line, key=key, headers={"schema": schema.encode()})
        sent[topic] = sent.get(topic, 0) + 1
        if progress:
            progress(1)
    producer.flush()
    return sent


# ---------------------------------------------------------------------- CSV
#: CSV columns → RawMention fields; nested ones by a dotted name.
CSV_COLUMNS: dict[str, str] = {
    "id": "id",
    "platform": "platform",
    "source_id": "source.id",
    "source_name": "source.name",
    "source_kind": "source.kind",
    "source_url": "source.url",
    "author_id": "author.id",
    "author_name": "author.name",
    "text": "text",
    "created_at": "created_at",
    "url": "url",
    "reply_to": "reply_to",
    "region_hint": "region_hint",
    "lat": "geo.lat",
    "lon": "geo.lon",
    "likes": "metrics.likes",
    "reposts": "metrics.reposts",
    "comments": "metrics.comments",
    "views": "metrics.views",
    "source_topic": "source_topic",
}
_NUMERIC = {"geo.lat": float, "geo.lon": float}


def read_csv_mentions(path: Path) -> Iterator[bytes]:
    """RawMention JSON lines from a CSV with a header row (columns: CSV_COLUMNS; gz allowed).

    Like JSONL replay, rows are not validated here: a row with a bad value is
    published as it is and the pipeline dead-letters it with the reason.
    Empty cells are omitted; unknown columns are ignored; numbers are converted
    when they parse (metrics as integers, coordinates as floats).
    """
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
        for row in csv.DictReader(text):
            obj: dict[str, object] = {}
            for column, value in row.items():
                target = CSV_COLUMNS.get((column or "").strip().lower())
                if target is None or value is None or not value.strip():
                    continue
                cell: object = value if target in ("text",) else value.strip()
                if target.startswith("metrics."):
                    cell = int(value) if value.strip().isdigit() else value.strip()
                elif target in _NUMERIC:
                    try:
                        cell = _NUMERIC[target](value)
                    except ValueError:
                        cell = value.strip()
                head, _, tail = target.partition(".")
                if tail:
                    sub = obj.setdefault(head, {})
                    assert isinstance(sub, dict)
                    sub[tail] = cell
                else:
                    obj[head] = cell
            if obj:
                yield msgspec.json.encode(obj)


def replay_csv(
    producer: MentionProducer,
    path: Path,
    topic: str,
    progress: Callable[[int], None] | None = None,
) -> int:
    sent = 0
    for line in read_csv_mentions(path):
        producer.publish(topic, line, key=key_of(line), headers={"schema": b"RawMention/1"})
        sent += 1
        if progress:
            progress(1)
    producer.flush()
    return sent
