"""A worker whose agent crashed must not look healthy, and the crash must be seen."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from incidents.kafka.dlq import DlqLimitExceeded
from incidents.observability import metrics
from incidents.stream.guards import OffsetGap
from incidents.stream.health import Health, liveness
from tests.support.paths import ROOT


class _Worker:
    def __init__(self) -> None:
        self.crashed_with: BaseException | None = None

    async def crash(self, exc: BaseException) -> None:
        self.crashed_with = exc


def _gauge(stage: str) -> float:
    return metrics.REGISTRY.get_sample_value("incidents_agent_up", {"stage": stage}) or 0.0


def test_a_crash_in_an_agent_fails_liveness_zeroes_the_metric_and_crashes_the_worker() -> None:
    rt = Health()
    rt.worker = _Worker()
    rt.started.add("enrich")
    metrics.AGENT_UP.labels("enrich").set(1)
    assert liveness(rt)[0] == 200

    @rt.supervised("enrich")
    async def body(stream: object) -> None:
        raise ValueError("boom")

    with contextlib.suppress(ValueError):
        asyncio.run(body(None))
    code, payload = liveness(rt)
    assert code == 503 and payload["agents"] == {"enrich": "ValueError: boom"}
    assert _gauge("enrich") == 0.0
    assert isinstance(rt.worker.crashed_with, ValueError)


def _crashes(stage: str, reason: str) -> float:
    labels = {"stage": stage, "reason": reason}
    return metrics.REGISTRY.get_sample_value("incidents_agent_crashes_total", labels) or 0.0


def _crash(rt: Health, stage: str, exc: BaseException) -> None:
    @rt.supervised(stage)
    async def body(stream: object) -> None:
        raise exc

    with contextlib.suppress(type(exc)):
        asyncio.run(body(None))


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (ValueError("boom"), "error"),
        (DlqLimitExceeded("too much invalid input"), "dlq_limit"),
        (OffsetGap("mentions.raw[0]: expected offset 4, got 6"), "offset_gap"),
    ],
)
def test_a_crash_is_counted_with_its_reason_and_saved_for_the_next_process(
    tmp_path: Path, exc: BaseException, reason: str
) -> None:
    """The crashed process ends within seconds, often before a scrape: the counter and
    the time of the crash are written to the data directory, and the next process
    starts from them."""
    rt = Health()
    rt.crash_file = tmp_path / "crash-test.crashes.json"
    stage = f"unit-{reason}"
    _crash(rt, stage, exc)
    assert _crashes(stage, reason) == 1
    # a new process (a fresh interpreter) reads them back
    script = (
        "import sys; from pathlib import Path; from incidents.observability import metrics; "
        "metrics.restore(Path(sys.argv[1])); sys.stdout.buffer.write(metrics.render())"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(rt.crash_file)],
        capture_output=True,
        check=True,
        cwd=ROOT,
    ).stdout.decode()
    assert f'incidents_agent_crashes_total{{reason="{reason}",stage="{stage}"}} 1.0' in out
    stamp = re.search(
        rf'incidents_agent_last_crash_timestamp_seconds{{reason="{reason}",stage="{stage}"}} (\S+)',
        out,
    )
    assert stamp and abs(float(stamp.group(1)) - time.time()) < 3600


def test_workers_sharing_a_data_directory_add_up_their_crashes(tmp_path: Path) -> None:
    path = tmp_path / "shared.crashes.json"
    labels = {"stage": "unit-shared", "reason": "error"}
    other = {"incidents_agent_crashes_total": [[labels, 5.0]]}
    path.write_text(json.dumps(other))  # another worker saved 5 meanwhile
    metrics.crashed("unit-shared", "error")
    metrics.save(path)
    saved = json.loads(path.read_text())["incidents_agent_crashes_total"]
    assert [labels, 6.0] in saved
