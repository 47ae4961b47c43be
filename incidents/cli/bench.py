"""`incidents bench`: throughput figures (:mod:`incidents.ops.bench.run`, imported when run)."""

from __future__ import annotations

import argparse
from typing import Any

from incidents.config.command import add_command
from incidents.config.settings import load_settings


def register(sub: Any) -> None:
    sp = add_command(sub, "bench", "throughput figures")
    sp.add_argument("--quick", action="store_true", help="smaller inputs (for CI smoke runs)")
    sp.add_argument(
        "--only", action="append", help="run only these benchmarks (comma-separated or repeated)"
    )
    sp.add_argument(
        "--pure-python",
        action="store_true",
        help="without the compiled twins of dedup's hot steps, to compare (docs/dedup.md)",
    )
    sp.set_defaults(fn=cmd_bench)


def cmd_bench(args: argparse.Namespace) -> int:
    from incidents.ops.bench.run import run_bench  # lazy: every benchmark's imports

    return run_bench(load_settings(), quick=args.quick, only=args.only, pure=args.pure_python)
