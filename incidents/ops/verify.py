"""Reconcile what went into the pipeline with what came out: lost, doubled, unverified.

Inputs are the lines that were published (JSONL files or bytes): a line that
decodes as a valid RawMention must end up as exactly one row in ClickHouse
`mentions`; a line that does not must end up as a dead letter. Outputs are read
from ClickHouse, including the `fact_inserts` audit log, which keeps one row
per insert and never deduplicates, so a double write is visible even after
ReplacingMergeTree merged it away.

`incidents verify FILE...` runs this against a deployment; the fault-injection
tests run it after every fault.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from incidents.connectors.sources.file import read_lines
from incidents.domain.enrichment import Enricher, InvalidInput
from incidents.kafka.dlq import dead_letter_id

QueryFn = Callable[[str], tuple[list[str], list[tuple[Any, ...]]]]


@dataclass
class Expected:
    """What the published lines should produce."""

    valid_ids: set[str] = field(default_factory=set)
    dead_letter_ids: set[str] = field(default_factory=set)
    redeliveries: int = 0

    @classmethod
    def of_lines(cls, lines: Iterable[bytes], enricher: Enricher, raw_topic: str) -> Expected:
        e = cls()
        for line in lines:
            try:
                raw = enricher.decode(line)
            except InvalidInput:
                e.dead_letter_ids.add(dead_letter_id("enrich", raw_topic, line))
                continue
            if raw.id in e.valid_ids:
                e.redeliveries += 1
            e.valid_ids.add(raw.id)
        return e


@dataclass
class Reconciliation:
    expected: int
    stored: int
    lost: list[str]
    unexpected: list[str]
    duplicated_rows: dict[str, int]  # table -> keys inserted more than once
    duplicated_replies: int  # (response, mention) pairs with more than one reply id
    missing_dead_letters: list[str]  # invalid inputs that are not in dead_letters
    dead_letters: int

    @property
    def ok(self) -> bool:
        return (
            not self.lost
            and not any(self.duplicated_rows.values())
            and self.duplicated_replies == 0
            and not self.missing_dead_letters
        )

    def rows(self) -> list[tuple[str, str]]:
        out = [
            ("mentions expected", str(self.expected)),
            ("mentions stored", str(self.stored)),
            ("lost", str(len(self.lost))),
            ("unverified (stored, not published by this run)", str(len(self.unexpected))),
            ("invalid inputs missing from dead letters", str(len(self.missing_dead_letters))),
            ("dead letters stored", str(self.dead_letters)),
            ("duplicated replies", str(self.duplicated_replies)),
        ]
        out += [
            (f"keys inserted twice: {t}", str(n)) for t, n in sorted(self.duplicated_rows.items())
        ]
        return out

    def summary(self) -> str:
        dup = sum(self.duplicated_rows.values())
        return (
            f"expected {self.expected}, stored {self.stored}, lost {len(self.lost)}, "
            f"duplicated rows {dup}, duplicated replies {self.duplicated_replies}, "
            f"invalid inputs not dead-lettered {len(self.missing_dead_letters)}"
        )


def reconcile(expected: Expected, query: QueryFn, db: str = "incidents") -> Reconciliation:
    _, rows = query(f"SELECT DISTINCT id FROM {db}.mentions")
    stored = {r[0] for r in rows}
    _, dup_rows = query(
        f"SELECT table, count() FROM (SELECT table, key FROM {db}.fact_inserts "
        "GROUP BY table, key HAVING count() > 1) GROUP BY table"
    )
    _, dup_replies = query(
        f"SELECT count() FROM (SELECT response_id, mention_id FROM {db}.replies "
        "GROUP BY response_id, mention_id HAVING uniqExact(reply_id) > 1)"
    )
    _, dl = query(f"SELECT DISTINCT dlq_id FROM {db}.dead_letters")
    dead = {r[0] for r in dl}
    return Reconciliation(
        expected=len(expected.valid_ids),
        stored=len(stored & expected.valid_ids),
        lost=sorted(expected.valid_ids - stored),
        unexpected=sorted(stored - expected.valid_ids),
        duplicated_rows={str(t): int(n) for t, n in dup_rows},
        duplicated_replies=int(dup_replies[0][0]) if dup_replies else 0,
        missing_dead_letters=sorted(expected.dead_letter_ids - dead),
        dead_letters=len(dead),
    )


def lines_of(paths: Sequence[Any]) -> list[bytes]:
    out: list[bytes] = []
    for p in paths:
        out.extend(read_lines(p))
    return out
