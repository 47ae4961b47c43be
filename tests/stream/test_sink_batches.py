"""The sink's "already stored?" lookup holds for a full batch of long keys.

ClickHouse refuses a query text over max_query_size (256 KiB); 10,000 reply or
mention ids in one IN list exceed it. Runs in a child process: chDB allows one
data path per process.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

CHILD = r"""
import sys
from datetime import UTC, datetime, timedelta
from incidents.config.settings import ClickHouseSettings
from incidents.warehouse.writer import Warehouse

wh = Warehouse(ClickHouseSettings(url="chdb://" + sys.argv[1], database="incidents"))
wh.migrate()
t0 = datetime(2026, 11, 16, 12, 0, tzinfo=UTC)
rows = [
    (f"reply-{i:06d}-{'x' * 40}", "resp-1", "RU-TVE/0123456789abcdef",
     f"telegram:-1001733245519/{i}{'0' * 20}", "telegram", "-1001733245519", "interim",
     "Администрация г. Твери", t0 + timedelta(seconds=i % 600), "RU-TVE", "")
    for i in range(10_000)
]
first, again = wh.insert("replies", rows), wh.insert("replies", rows)
print(first.written, first.skipped)
print(again.written, again.skipped)
print(wh.query("SELECT count() FROM incidents.replies")[1][0][0])
"""


def test_a_full_batch_of_long_keys_is_inserted_once(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "ch")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    first, second, total = done.stdout.split("\n")[:3]
    assert first == "10000 0", "the first insert writes every row"
    assert second == "0 10000", "the replayed batch is recognised in full"
    assert total == "10000"
