"""A backfill older than the retention is counted and said, never dropped without a word.

ClickHouse drops rows older than a table's TTL as they are inserted (after the
materialized views counted them). The sink leaves them out, notes each one, and
says so: a metric, a worker log line, a line in `incidents report`; `incidents
replay` warns before it publishes them; raising INCIDENTS_CLICKHOUSE_TTL_DAYS
raises the tables' TTL, so the history is then kept.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.support.stack import Stack

pytestmark = pytest.mark.integration

# chDB allows one data directory per process: the warehouse runs in a child.
CHILD = r"""
import json, sys
from datetime import UTC, datetime, timedelta
from incidents.oversight.report import collect
from incidents.config.settings import ClickHouseSettings
from incidents.warehouse.tables import TABLES
from incidents.warehouse.writer import Warehouse

path, ttl = sys.argv[1], int(sys.argv[2])
wh = Warehouse(ClickHouseSettings(url="chdb://" + path, ttl_days=ttl))
applied = wh.migrate()
cols = TABLES["replies"].columns
now = datetime.now(UTC)
def reply(i, at):
    return (f"reply-{i}", "resp-1", "RU-TVE/0123456789abcdef", f"vk:wall-1_{i}", "vk", "club1",
            "final", "Администрация г. Твери", at, "RU-TVE", "")
recent = [reply(i, now - timedelta(days=3)) for i in range(3)]
old = [reply(100 + i, datetime(2020, 11, 2, 10, i, tzinfo=UTC)) for i in range(5)]
first = wh.insert("replies", recent + old)
again = wh.insert("replies", recent + old)
sections = {s.title: s for s in collect(wh.query)}
kept_out = sections.get("Not stored: older than the retention")
print(json.dumps({
    "applied": applied,
    "first": [first.written, first.skipped, first.expired, first.ttl_days],
    "again": [again.written, again.skipped, again.expired],
    "stored": wh.scalar("SELECT count() FROM incidents.replies"),
    "note": kept_out.note if kept_out else None,
    "rows": [list(map(str, r)) for r in kept_out.rows] if kept_out else [],
}))
"""


def _child(path: Path, ttl: int) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(ttl)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_rows_older_than_the_retention_are_counted_and_kept_once_it_is_raised(
    tmp_path: Path,
) -> None:
    ch = tmp_path / "ch"
    got = _child(ch, 730)
    assert got["first"] == [3, 0, 5, 730], "3 stored, 5 left out for their age"
    assert got["again"] == [0, 3, 0], "a redelivered batch is not counted twice"
    assert got["stored"] == 3
    assert got["note"].startswith(
        "pipeline health › 5 rows older than the retention of 730 days were not stored"
    )
    assert "INCIDENTS_CLICKHOUSE_TTL_DAYS" in got["note"]
    assert got["rows"][0][:2] == ["replies", "5"]
    # Raising the setting raises the tables' TTL (it was written into them at creation),
    # and the same history is then stored.
    raised = _child(ch, 3650)
    assert "retention of replies raised from 730 to 3650 days" in raised["applied"]
    assert raised["first"] == [5, 3, 0, 3650]
    assert raised["stored"] == 8


def test_a_backfill_older_than_the_retention_is_warned_of_counted_and_reported(
    stack: Stack, tmp_path: Path
) -> None:
    """`incidents replay` of 2020 posts with the default retention: a warning naming the
    setting before publishing, then a worker log line, a metric and the report's line."""
    posts = tmp_path / "history.jsonl"
    old = [
        {
            "id": f"vk:wall-2020_{i}",
            "platform": "vk",
            "source": {"id": "club1", "name": "Тверь онлайн"},
            "text": f"В Твери на улице Склизкова у дома {i} огромная яма, машины ломают колёса",
            "created_at": f"2020-11-0{i + 1}T10:00:00+03:00",
            "region_hint": "RU-TVE",
        }
        for i in range(3)
    ]
    posts.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in old))
    w = stack.start_worker()
    done = subprocess.run(
        [sys.executable, "-m", "incidents.cli.main", "replay", str(posts)],
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    warning = " ".join(done.stderr.split())
    assert "3 of 3 lines of history.jsonl are older than the retention of 730 days" in warning
    assert "INCIDENTS_CLICKHOUSE_TTL_DAYS" in warning
    stack.external["mentions.raw"] = 3
    stack.wait_drained()
    assert w.scalar("SELECT count() FROM incidents.mentions") == 0
    log = w.log.read_text()
    assert '"event": "rows_older_than_retention"' in log
    assert "rows older than the retention of 730 days were not stored" in log
    with urllib.request.urlopen(w.url + "/metrics", timeout=10) as resp:
        metrics = resp.read().decode()
    assert re.search(r'incidents_sink_expired_rows_total\{table="mentions"\} 3\.0', metrics)
    report = subprocess.run(
        [sys.executable, "-m", "incidents.cli.main", "report", "--via", w.url],
        env=stack.env(COLUMNS="200"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert report.returncode == 0, report.stderr
    text = " ".join(report.stdout.split())  # the caption wraps under its table
    line = re.search(r"(\d+) rows older than the retention of 730 days were not stored", text)
    assert line and int(line.group(1)) >= 3, report.stdout[-2000:]
