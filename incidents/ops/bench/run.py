"""`make bench`: throughput figures, printed as a table.

- process: the offline path (validate, enrich, dedup, group) in mentions/s on one core;
- dedup: the dedup stage (normalization + MinHash signatures + LSH lookup + exact
  verification + window bookkeeping), mentions/s on one core, and memory per mention
  held in the window;
- dedup-500k: the same with 500,000 posts in the window (a federal week), and what
  the process holds per post;
- dedup-short: the same on short posts (1-14 words) across three networks, where the
  short-text rules decide;
- enrich: the whole enrich stage (decode, classify, priority, locate, route) on one core;
- e2e: mentions/s through the embedded broker for the full pipeline (enrich → group →
  ClickHouse sink) next to a do-nothing passthrough Faust agent on the same broker in
  the same run, and their ratio;
- e2e-kafka: the same over a local 1-node Apache Kafka (Java 17 and Maven needed;
  skipped, with the reason, without them).

Texts are ~250 characters: St Petersburg portal appeals from ../shared/data glued to
that length when the file is there (development machines), else the bundled sample.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table

from incidents.config.settings import Settings
from incidents.domain.copies import speedups
from incidents.ops.bench.common import _ALL_CPUS, one_core
from incidents.ops.bench.dashboard import bench_dashboard
from incidents.ops.bench.e2e import bench_e2e, bench_e2e_kafka
from incidents.ops.bench.stages import (
    bench_dedup,
    bench_dedup_short,
    bench_dedup_window,
    bench_enrich,
    bench_process,
)
from incidents.ops.console_bench import run


def bench_console(settings: Settings, n: int) -> dict[str, Any]:
    """The operator console's pages over N open incidents (incidents/ops/console_bench.py)."""
    return run(settings, n, clickhouse=n >= 5_000, cpus=_ALL_CPUS)


BENCHES: dict[str, tuple[Callable[[Settings, int], dict[str, Any]], int, int]] = {
    # name: (function, n, quick n)
    "process": (bench_process, 20_000, 2_000),
    "enrich": (bench_enrich, 20_000, 2_000),
    "dedup": (bench_dedup, 50_000, 5_000),
    "dedup-500k": (bench_dedup_window, 500_000, 20_000),
    "dedup-short": (bench_dedup_short, 20_000, 2_000),
    "e2e": (bench_e2e, 20_000, 2_000),
    "e2e-kafka": (bench_e2e_kafka, 20_000, 2_000),
    "dashboard": (bench_dashboard, 10_000_000, 200_000),
    "console": (bench_console, 10_000, 500),
}


def run_bench(
    settings: Settings, quick: bool = False, only: list[str] | None = None, pure: bool = False
) -> int:
    only = [name for names in only or [] for name in names.split(",") if name]
    unknown = set(only) - set(BENCHES)
    if unknown:
        print(
            f"incidents: error: unknown benchmark(s): {', '.join(sorted(unknown))}; "
            f"known: {', '.join(BENCHES)}",
            file=sys.stderr,
        )
        return 2
    compiled = speedups.use(not pure)
    console = Console()
    pinned = one_core()
    twins = "compiled twins on" if compiled else "pure Python"
    if not compiled and not pure:
        twins += " (the C extension was not built)"
    table = Table(
        title=f"incidents bench ({pinned}; {os.cpu_count()} CPUs on this machine; {twins})"
    )
    for col in ("benchmark", "figure", "n", "data", "notes"):
        table.add_column(col)
    for name, (fn, n, qn) in BENCHES.items():
        if only and name not in only:
            continue
        with console.status(f"running {name}…"):
            r = fn(settings, qn if quick else n)
        console.print(f"{name}: {r['figure']:,.0f} {r['unit']} {r.get('extra', '')}")
        table.add_row(
            name, f"{r['figure']:,.0f} {r['unit']}", f"{r['n']:,}", r["data"], r.get("extra", "")
        )
    console.print(table)
    return 0
