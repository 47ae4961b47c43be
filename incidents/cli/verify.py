"""`incidents verify`: reconcile published files with ClickHouse (lost, doubled).

The files are checked as ``process`` checks its input, the configured models before
any work, and ClickHouse is reached as ``report`` reaches it; exit 1 when a check fails.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.table import Table

from incidents.cli.clickhouse import clickhouse_failure, open_clickhouse
from incidents.cli.files import input_lines
from incidents.cli.models import check_model_setting
from incidents.config.command import add_command
from incidents.config.settings import load_settings
from incidents.kafka.topics import Topics
from incidents.oversight.report import wide_console


def register(sub: Any) -> None:
    sp = add_command(sub, "verify", "reconcile published files with ClickHouse: lost, doubled")
    sp.add_argument("files", nargs="+", help="the RawMention JSONL files that were published")
    sp.add_argument(
        "--via", metavar="URL", help="query through a running worker, e.g. http://127.0.0.1:6066"
    )
    sp.set_defaults(fn=cmd_verify)


def cmd_verify(args: argparse.Namespace) -> int:
    from incidents.domain.enrichment import Enricher  # lazy: the models
    from incidents.ops.verify import (  # lazy: the enrich stage's models
        Expected,
        lines_of,
        reconcile,
    )

    paths = [Path(f) for f in args.files]
    for p in paths:
        input_lines(p)  # a directory, a binary file, a broken .gz: one line each
    s = load_settings()
    check_model_setting(s)
    query, close = open_clickhouse(s, args.via, "verify")
    try:
        expected = Expected.of_lines(
            lines_of(paths), Enricher.from_settings(s.enrich), Topics.from_settings(s).raw
        )
        result = reconcile(expected, query, s.clickhouse.database)
    except Exception as exc:
        raise clickhouse_failure(exc, s, args.via, "verify") from None
    finally:
        close()
    table = Table(title="verify: " + ("OK" if result.ok else "PROBLEMS FOUND"))
    table.add_column("check")
    table.add_column("count", justify="right")
    for row in result.rows():
        table.add_row(*row)
    wide_console().print(table)
    for mention_id in result.lost[:10]:
        print(f"lost: {mention_id}")
    return 0 if result.ok else 1
