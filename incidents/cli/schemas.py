"""`incidents schemas`: export or check the JSON Schemas generated from the models.

CI runs ``check``: a committed schema that differs from a fresh export is exit 1 with
the stale files named.
"""

from __future__ import annotations

import argparse
from typing import Any

from incidents.config.command import Failure, add_command
from incidents.contracts.registry import export_all, stale_files


def register(sub: Any) -> None:
    sp = add_command(
        sub,
        "schemas",
        "export or check the JSON Schemas generated from the models",
        "The JSON Schemas in incidents/contracts/json are generated from "
        "incidents/contracts/models.py (msgspec). "
        "`export` rewrites them; `check` exits 1 when a committed file differs from a fresh "
        "export (CI runs it).",
    )
    sp.add_argument(
        "action",
        choices=["export", "check"],
        help="export: write incidents/contracts/json/*.schema.json from the models; "
        "check: compare them "
        "without writing",
    )
    sp.set_defaults(fn=cmd_schemas)


def cmd_schemas(args: argparse.Namespace) -> int:
    if args.action == "export":
        for path in export_all():
            print(f"wrote {path}")
        return 0
    stale = stale_files()
    if stale:
        raise Failure("JSON Schemas are out of date: " + ", ".join(stale) + " (run `make schemas`)")
    print("JSON Schemas match incidents/contracts/models.py")
    return 0
