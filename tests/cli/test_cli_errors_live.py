"""The CLI against a real worker and real chDB: one line that says what to do instead.

A chDB directory belongs to one process. While a worker owns it, `incidents report`
must say to read through the worker (`--via`), not print chDB's own lock error and
a driver error; dead letters the sink stored must be readable from ClickHouse, through
the worker or, once it stopped (as after `make demo`), from the directory itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.chdb import ChdbProcess
from tests.support.stack import Stack

pytestmark = pytest.mark.integration


def _cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "incidents.cli.main", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_report_while_the_worker_owns_clickhouse_and_dead_letters_from_clickhouse(
    stack: Stack,
) -> None:
    w = stack.start_worker()
    stack.publish("mentions.raw", [b'{"id": "vk:wall-1_1", "text": "broken'], [b"vk:wall-1_1"])
    stack.wait_drained()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not w.scalar(
        "SELECT count() FROM incidents.dead_letters"
    ):
        time.sleep(0.5)
    data = stack.root / "clickhouse"
    port = w.url.rsplit(":", 1)[1]

    report = _cli(w.env, stack.root, "report")
    assert report.returncode == 1
    assert report.stderr.strip().splitlines() == [
        f"incidents: the ClickHouse data in {data} is held by another process (a running "
        f"worker?): read through it with `incidents report --via http://127.0.0.1:{port}`, "
        "or stop it first"
    ]
    through = _cli(w.env, stack.root, "report", "--via", w.url)
    assert through.returncode == 0, through.stderr

    shown = _cli(w.env, stack.root, "dlq", "show", "--from", "clickhouse", "--via", w.url)
    assert shown.returncode == 0, shown.stderr
    assert "invalid_json" in shown.stdout and "mentions.raw" in shown.stdout
    assert shown.stderr.strip() == "1 matching dead letters"

    assert w.stop() == 0
    # What `make demo` leaves: no broker, the dead letters only in the chDB directory.
    env = stack.env(INCIDENTS_KAFKA_BOOTSTRAP="127.0.0.1:1")
    stored = _cli(env, stack.root, "dlq", "show", "--from", "clickhouse", "--kind", "invalid_json")
    assert stored.returncode == 0, stored.stderr
    assert "invalid_json" in stored.stdout
    assert stored.stderr.strip() == "1 matching dead letters"
    none = _cli(env, stack.root, "dlq", "show", "--from", "clickhouse", "--kind", "schema")
    assert none.returncode == 0 and none.stderr.strip() == "0 matching dead letters"
    kafka = _cli(env, stack.root, "dlq", "show")
    assert kafka.returncode == 1
    assert (
        kafka.stderr.strip()
        .splitlines()[-1]
        .endswith(
            "or read the dead letters the sink stored: `incidents dlq show --from clickhouse`"
        )
    )


def test_a_chdb_directory_without_our_database_says_run_migrate(tmp_path: Path) -> None:
    data = tmp_path / "clickhouse"
    with ChdbProcess(data) as engine:  # an engine ran here once: the directory exists
        engine.query("SELECT 1")
    env = {k: v for k, v in os.environ.items() if not k.startswith("INCIDENTS_")}
    proc = _cli({**env, "INCIDENTS_CLICKHOUSE_URL": f"chdb://{data}"}, tmp_path, "report")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"incidents: no database `incidents` in ClickHouse at chdb://{data}: "
        "run `incidents migrate` first"
    ]
