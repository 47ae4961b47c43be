"""`make bench` must keep working: every benchmark runs at its small size and prints a figure.

The figures themselves are not asserted (speed is measured by `make bench`, not by tests).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def test_the_quick_benchmarks_run_and_print_their_figures() -> None:
    names = ["process", "enrich", "dedup", "dedup-500k", "dashboard"]
    args = [arg for name in names for arg in ("--only", name)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("INCIDENTS_")}
    done = subprocess.run(
        [sys.executable, "-m", "incidents.cli.main", "bench", "--quick", *args],
        capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    for name in names:
        assert re.search(rf"^{name}: [\d,.]+ \S", done.stdout, re.M), (name, done.stdout)
    assert "rows/s" in done.stdout  # the sink next to a plain insert
