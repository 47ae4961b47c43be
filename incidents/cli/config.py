"""`incidents config`: the effective settings (secrets hidden), or the defaults.

``--defaults --markdown`` prints the table of docs/configuration.md.
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.table import Table

from incidents.config.command import add_command
from incidents.config.settings import effective, load_settings, reference
from incidents.oversight.report import wide_console


def register(sub: Any) -> None:
    sp = add_command(sub, "config", "show the effective settings (or the defaults)")
    sp.add_argument("--defaults", action="store_true", help="the defaults, not this environment")
    sp.add_argument("--markdown", action="store_true", help="as a Markdown table")
    sp.set_defaults(fn=cmd_config)


def cmd_config(args: argparse.Namespace) -> int:
    rows = reference() if args.defaults else effective(load_settings())
    if args.markdown:
        print("| variable | default | what it does |")
        print("|---|---|---|")
        for name, value, doc in rows:
            shown = f"`{value}`" if value else ""
            print(f"| `{name}` | {shown} | {doc} |")
        return 0
    table = Table(title="defaults" if args.defaults else "effective settings (secrets hidden)")
    for col in ("variable", "value", "what it does"):
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*row)
    wide_console().print(table)
    return 0
