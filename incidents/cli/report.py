"""`incidents report`: the oversight tables from ClickHouse, in the terminal or as a page.

Reads ClickHouse directly or through a running worker (``--via``, while it owns the
embedded ClickHouse directory); see :mod:`incidents.cli.clickhouse` for the one line a
missing database or an unreachable worker ends in.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from incidents.cli.clickhouse import clickhouse_failure, open_clickhouse
from incidents.config.command import Failure, add_command, argument_type
from incidents.config.settings import load_settings
from incidents.oversight.report import collect, render

#: `--top N`: a whole number of rows, 0 or more (argparse turns the error into one line).
_rows = argument_type(
    int,
    lambda n: n >= 0,
    "expected a whole number of rows, got {text!r}",
    "must be 0 (all rows) or more, got {value}",
)


def register(sub: Any) -> None:
    sp = add_command(sub, "report", "print the oversight tables from ClickHouse")
    sp.add_argument(
        "--via",
        metavar="URL",
        help="query through a running worker, e.g. http://127.0.0.1:6066 (while it owns the "
        "embedded ClickHouse directory)",
    )
    sp.add_argument(
        "--top",
        type=_rows,
        default=15,
        metavar="N",
        help="rows shown per table at most (default 15; 0 = all)",
    )
    sp.add_argument(
        "--html", metavar="FILE", help="write a self-contained HTML page with charts instead"
    )
    sp.set_defaults(fn=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    s = load_settings()
    query, close = open_clickhouse(s, args.via, "report")
    try:
        if args.html:
            from incidents.oversight.report_html import build  # lazy: the HTML report

            page = build(query, s.clickhouse.database)
        else:
            sections = collect(query, s.clickhouse.database, top=args.top)
    except Exception as exc:
        raise clickhouse_failure(exc, s, args.via, "report") from None
    finally:
        close()
    if args.html:
        try:
            Path(args.html).write_text(page, encoding="utf-8")
        except OSError as exc:
            raise Failure(f"cannot write {args.html}: {exc.strerror or exc}") from None
        print(f"wrote {args.html} (a self-contained page: no network needed to open it)")
        return 0
    render(sections)
    return 0
