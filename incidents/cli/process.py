"""`incidents process` and `incidents replay`: the pipeline over JSONL files.

``process`` runs the domain code of the stream agents over a file, offline, one result
line per input line; ``replay`` publishes files to the topics the worker reads. Both
check their files before the models load or Kafka is asked: one line per mistake.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from incidents.cli.files import input_lines, open_output, os_reason
from incidents.cli.models import offline_pipeline
from incidents.config.command import (
    Failure,
    UsageError,
    add_command,
    add_connect_timeout,
    positive_int,
    wait_for_kafka,
)
from incidents.config.gc import tune_gc
from incidents.config.settings import Settings, load_settings
from incidents.connectors.sources.file import (
    count_lines,
    older_than,
    read_lines,
    replay_file,
    replay_merged,
)
from incidents.kafka.producer import MentionProducer, PublishError
from incidents.kafka.topics import Topics, ensure_topics


def register(sub: Any) -> None:
    sp = add_command(
        sub,
        "process",
        "run the pipeline's domain code over a JSONL file, offline",
        "Run the pipeline's domain code (the very code of the stream agents) over RawMention "
        "JSONL, offline: one result line per input line, in order. Exit 1 when no line is a "
        "valid RawMention or the input is empty.",
    )
    sp.add_argument("input", help="RawMention JSONL (.gz allowed, - for stdin)")
    sp.add_argument(
        "-o", "--output", help="output JSONL (default stdout); its directory must exist"
    )
    sp.add_argument("--batch", type=positive_int, default=500, help="lines per batch (default 500)")
    sp.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    sp.set_defaults(fn=cmd_process)

    sp = add_command(sub, "replay", "publish JSONL files to mentions.raw (and responses)")
    sp.add_argument("files", nargs="+", help="RawMention JSONL files")
    sp.add_argument(
        "--responses",
        action="append",
        metavar="FILE",
        help="OfficialResponse JSONL to publish to `responses` (repeatable)",
    )
    sp.add_argument(
        "--in-file-order",
        action="store_true",
        help="publish each file in turn, as written (default with --responses: all lines "
        "merged by event time)",
    )
    sp.add_argument(
        "--key",
        choices=["region", "id"],
        default="region",
        help="mentions.raw key: `region` (region_hint, else the id; default) keeps each "
        "region's posts in one partition, so the desk sees them in event-time order; "
        "`id` spreads them over every partition, as connectors do",
    )
    add_connect_timeout(sp)
    sp.set_defaults(fn=cmd_replay)


def cmd_process(args: argparse.Namespace) -> int:
    src = Path(args.input)
    stdin = str(src) == "-"
    total = None if stdin else input_lines(src)
    if total == 0:
        raise Failure(f"{src} is empty (no lines): nothing to process")
    s = load_settings()
    out = sys.stdout.buffer if args.output in (None, "-") else open_output(args.output)
    err = Console(stderr=True)
    with err.status("loading models and gazetteer…"):
        pipeline = offline_pipeline(s)
    tune_gc()
    lines = iter(sys.stdin.buffer) if stdin else read_lines(src)
    enc = msgspec.json.Encoder()
    started = time.perf_counter()
    show = args.output not in (None, "-") and not args.quiet
    try:
        with Progress(
            TextColumn("process"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            disable=not show,
        ) as bar:
            task = bar.add_task("lines", total=total)
            for result in pipeline.run(lines, batch=args.batch):
                out.write(enc.encode(result.as_dict()) + b"\n")
                bar.advance(task)
    except (OSError, EOFError) as exc:  # a truncated .gz, a disk that filled up
        raise Failure(f"process stopped: {os_reason(exc)}") from None
    finally:
        if out is not sys.stdout.buffer:
            out.close()
    elapsed = time.perf_counter() - started
    t = pipeline.totals
    if t.lines == 0:  # stdin gave nothing (files are checked before the models load)
        raise Failure("no input lines on stdin: nothing processed")
    if not args.quiet:
        rate = t.lines / max(elapsed, 1e-9)
        table = Table(title=f"process: {t.lines} lines in {elapsed:.1f} s ({rate:,.0f}/s)")
        for c in ("accepted", "duplicate", "rejected", "appeals", "incidents"):
            table.add_column(c, justify="right")
        table.add_row(
            str(t.accepted),
            str(t.duplicate),
            str(t.rejected),
            str(t.appeals),
            str(len(t.incidents)),
        )
        err.print(table)
        if t.errors:
            err.print(
                "rejected by kind: " + ", ".join(f"{k}={v}" for k, v in sorted(t.errors.items()))
            )
    if t.accepted + t.duplicate == 0:
        kinds = ", ".join(f"{k}={v}" for k, v in sorted(t.errors.items()))
        raise Failure(
            f"none of the {t.lines} lines is a valid RawMention ({kinds}); "
            "each line's reason is in the output's `error`"
        )
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    s = load_settings()
    topics = Topics.from_settings(s)
    plan: list[tuple[Path, str, str, str, str]] = []
    mention_key = "region_hint|id" if args.key == "region" else "id"
    for f in args.files:
        plan.append((Path(f), topics.raw, mention_key, "created_at", "RawMention/1"))
    for f in args.responses or []:
        plan.append(
            (Path(f), topics.responses, "response_id", "responded_at", "OfficialResponse/1")
        )
    for path, *_ in plan:  # any bytes go: the pipeline, not the replayer, says what is invalid
        if path.is_dir():
            raise UsageError(f"{path} is a directory: give JSONL files")
        if not path.is_file():
            raise UsageError(f"no such file: {path}")
    err = Console(stderr=True)
    _warn_older_than_retention(plan, s, err)
    wait_for_kafka(s.kafka, timeout=args.connect_timeout)
    ensure_topics(s)
    producer = MentionProducer(s.kafka, client_id="incidents-replay")
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=err) as bar:
            if args.responses and not args.in_file_order:
                total = sum(count_lines(p) for p, *_ in plan)
                task = bar.add_task("mentions + responses by event time", total=total)
                replay_merged(producer, plan, progress=lambda n: bar.advance(task, n))
            else:
                for path, topic, key_field, _time_field, schema in plan:
                    task = bar.add_task(f"{path.name} → {topic}", total=count_lines(path))
                    replay_file(
                        producer,
                        path,
                        topic,
                        key_field,
                        schema,
                        progress=functools.partial(bar.advance, task),
                    )
    except PublishError as exc:
        raise Failure(f"replay failed: {exc}") from None
    err.print(f"published {producer.delivered} messages to {s.kafka.bootstrap}")
    return 0


def _warn_older_than_retention(
    plan: list[tuple[Path, str, str, str, str]], s: Settings, err: Any
) -> None:
    """Before a backfill: say how much of it ClickHouse will not store (older than the
    retention), naming the setting that keeps it."""
    days = s.clickhouse.ttl_days
    cutoff = datetime.now(UTC) - timedelta(days=days)
    for path, _topic, _key, time_field, _schema in plan:
        h = older_than(path, time_field, cutoff)
        if h.older:
            oldest = f", the oldest {h.oldest:%Y-%m-%d}" if h.oldest else ""
            err.print(
                f"warning: {h.older} of {h.lines} lines of {path.name} are older than the "
                f"retention of {days} days ({time_field}{oldest}): ClickHouse will not store "
                "them. To keep them, raise INCIDENTS_CLICKHOUSE_TTL_DAYS for the worker and "
                "restart it (or run `incidents migrate`) before replaying.",
                markup=False,
                highlight=False,
            )
