"""`incidents dlq show` and `incidents dlq replay`: the dead letters, and sending them back.

``show`` lists them from mentions.dlq in Kafka, or from the ``dead_letters`` table in
ClickHouse (what is left after ``make demo``, whose broker is gone); ``replay``
publishes the original bytes back to the topic they came from, after a fix
(:mod:`incidents.ops.dlq_replay`).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from incidents.cli.clickhouse import clickhouse_failure, open_clickhouse
from incidents.config.command import (
    Failure,
    UsageError,
    add_command,
    add_connect_timeout,
    positive_int,
    wait_for_kafka,
)
from incidents.config.settings import Settings, load_settings
from incidents.contracts.topology import STAGES
from incidents.ops import dlq_replay
from incidents.ops.dlq_replay import DeadLetterReader, Filter
from incidents.oversight.report import wide_console


def register(sub: Any) -> None:
    sp = add_command(
        sub,
        "dlq",
        "show dead letters, or replay them after a fix",
        "Dead letters: input the pipeline could not use, kept with the original bytes and the "
        "reason on mentions.dlq (Kafka), and with the reason in the dead_letters table "
        "(ClickHouse). `show` lists them, from Kafka by default or from ClickHouse with "
        "--from clickhouse (what is left after `make demo`, whose broker is gone). `replay` "
        "publishes the original bytes back to the topic they came from, after a fix; it "
        "continues where the last replay stopped. See docs/operations.md.",
    )
    sp.add_argument(
        "action",
        choices=["show", "replay"],
        help="show: list dead letters with their reasons; replay: send them back (Kafka only)",
    )
    sp.add_argument(
        "--from",
        dest="source",
        choices=["kafka", "clickhouse"],
        help="show: read mentions.dlq in Kafka (default), or the dead_letters table in "
        "ClickHouse (INCIDENTS_CLICKHOUSE_URL, or a worker with --via)",
    )
    sp.add_argument(
        "--via",
        metavar="URL",
        help="with --from clickhouse: query through a running worker, e.g. http://127.0.0.1:6066",
    )
    sp.add_argument(
        "--stage",
        choices=STAGES,
        help="only dead letters of this pipeline stage",
    )
    sp.add_argument(
        "--kind",
        choices=["invalid_json", "invalid_encoding", "schema", "too_large", "unknown_region",
                 "unknown_incident", "processing_error"],
        help="only dead letters of this kind of error",
    )  # fmt: skip
    sp.add_argument("--since", help="only dead letters from this time on (ISO 8601 with offset)")
    sp.add_argument(
        "--limit", type=positive_int, default=50, help="show: rows to list (default 50)"
    )
    sp.add_argument(
        "--dry-run", action="store_true", help="replay: count what would be replayed, send nothing"
    )
    sp.add_argument(
        "--from-beginning",
        action="store_true",
        help="replay: everything again, not only what the last replay did not reach",
    )
    add_connect_timeout(sp)
    sp.set_defaults(fn=cmd_dlq)


def cmd_dlq(args: argparse.Namespace) -> int:
    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since)
        except ValueError:
            raise UsageError(f"--since: not an ISO time: {args.since!r}") from None
        if since.tzinfo is None:
            raise UsageError("--since needs a UTC offset, e.g. 2026-11-20T00:00:00+03:00")
    source = args.source or ("clickhouse" if args.via else "kafka")
    if args.via and source != "clickhouse":
        raise UsageError("--via reads ClickHouse through a worker: it goes with --from clickhouse")
    if args.action == "replay" and source == "clickhouse":
        raise UsageError(
            "dlq replay reads mentions.dlq in Kafka: ClickHouse keeps each dead letter's "
            "reason, not its original bytes"
        )
    flt = Filter(stage=args.stage, kind=args.kind, since=since)
    s = load_settings()
    if source == "clickhouse":
        return _dlq_show_clickhouse(s, flt, args.limit, args.via)
    try:
        wait_for_kafka(s.kafka, timeout=args.connect_timeout)
    except Failure as exc:
        if args.action != "show":
            raise
        raise Failure(
            f"{exc}; or read the dead letters the sink stored: `incidents dlq show --from "
            "clickhouse`"
        ) from None
    err = Console(stderr=True)
    if args.action == "show":
        return _dlq_show_kafka(s, flt, args.limit)
    with err.status("replaying dead letters…") as status:
        try:
            result = dlq_replay.replay(
                s,
                flt,
                dry_run=args.dry_run,
                from_beginning=args.from_beginning,
                progress=lambda r: status.update(
                    f"replaying dead letters… {r.seen} read, {r.replayed} sent"
                ),
            )
        except RuntimeError as exc:
            raise Failure(str(exc)) from None
    verb = "would replay" if args.dry_run else "replayed"
    sent = result.matched - result.connector if args.dry_run else result.replayed
    err.print(
        f"read {result.seen} dead letters, {result.matched} matched, {verb} {sent}; "
        f"{result.unreadable} unreadable"
    )
    if result.connector:
        err.print(
            f"{result.connector} came from a connector (platform JSON, not a RawMention): "
            "not replayed; fix the cause and let the connector fetch them again"
        )
    return 0


def _dlq_table(title: str) -> Any:
    table = Table(title=title)
    for col in ("failed at (UTC)", "stage", "kind", "topic", "offset", "reason"):
        table.add_column(col, overflow="ellipsis", no_wrap=col != "reason", max_width=70)
    return table


def _dlq_show_kafka(s: Settings, flt: Any, limit: int) -> int:
    table = _dlq_table("dead letters (mentions.dlq)")
    shown = 0
    try:
        reader = DeadLetterReader(s, None, True)
    except RuntimeError as exc:
        raise Failure(str(exc)) from None
    try:
        for d, _ in reader:
            if d is None or not flt(d):
                continue
            shown += 1
            if shown <= limit:
                table.add_row(
                    d.failed_at.strftime("%Y-%m-%d %H:%M:%S"),
                    d.stage,
                    d.error_kind,
                    d.topic,
                    f"{d.partition}:{d.offset}",
                    Text(d.reason),  # plain: a reason quoting "[a-z]" is no rich markup
                )
    finally:
        reader.close()
    wide_console().print(table)
    Console(stderr=True).print(
        f"{shown} matching dead letters" + (f" (first {limit} shown)" if shown > limit else "")
    )
    return 0


def _dlq_show_clickhouse(s: Settings, flt: Any, limit: int, via: str | None) -> int:
    """The dead letters the sink stored: what is left after `make demo` (its broker is gone)."""
    db = s.clickhouse.database
    where = []  # values come from argparse choices and a parsed datetime: nothing to inject
    if flt.stage:
        where.append(f"stage = '{flt.stage}'")
    if flt.kind:
        where.append(f"error_kind = '{flt.kind}'")
    if flt.since:
        at = flt.since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        where.append(f"failed_at >= toDateTime64('{at}', 6, 'UTC')")
    cond = f"WHERE {' AND '.join(where)}" if where else ""
    query, close = open_clickhouse(s, via, "dlq show")
    try:
        total = int(query(f"SELECT count() FROM {db}.dead_letters FINAL {cond}")[1][0][0])
        _, rows = query(
            "SELECT toString(toDateTime(failed_at)), stage, error_kind, topic, "
            f"concat(toString(partition), ':', toString(offset)), reason "
            f"FROM {db}.dead_letters FINAL {cond} ORDER BY failed_at, dlq_id LIMIT {limit}"
        )
    except Exception as exc:
        raise clickhouse_failure(exc, s, via, "dlq show") from None
    finally:
        close()
    table = _dlq_table(f"dead letters ({db}.dead_letters in ClickHouse)")
    for row in rows:
        table.add_row(*(Text(str(v)) for v in row))  # plain: "[a-z]" in a reason is no markup
    wide_console().print(table)
    Console(stderr=True).print(
        f"{total} matching dead letters" + (f" (first {limit} shown)" if total > limit else "")
    )
    return 0
