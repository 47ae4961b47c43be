"""Workers joining and leaving mid-stream: the partitions move, nothing is lost or doubled."""

from __future__ import annotations

import random
import time

import pytest

from tests.support.faults import (
    SOAK,
    Load,
    assert_nothing_lost,
    expected_of,
    settle_until_complete,
)
from tests.support.stack import Stack, Worker

pytestmark = [pytest.mark.integration, pytest.mark.faults]

PROCESSING = "enrich,dedup,group,respond"


def test_workers_joining_and_leaving_lose_nothing(stack: Stack) -> None:
    rebalances = 10 if SOAK else 4
    sink = stack.start_worker(INCIDENTS_WORKER_ROLES="sink")
    first = stack.start_worker(INCIDENTS_WORKER_ROLES=PROCESSING)
    load = Load(stack, total=8000 if SOAK else 2500, rate=200 if SOAK else 150, seed=23).start()
    rng = random.Random(9)
    extra: list[Worker] = []
    for i in range(rebalances):
        time.sleep(rng.uniform(1.5, 3.0))
        if len(extra) < 2 and (i % 3 != 2 or not extra):
            extra.append(stack.start_worker(wait=False, INCIDENTS_WORKER_ROLES=PROCESSING))
        else:
            leaving = extra.pop(rng.randrange(len(extra)))
            if rng.random() < 0.5:
                leaving.stop()  # graceful: commits on the way out
            else:
                leaving.kill()  # abrupt: the group notices after the session timeout
    load.join()
    # Well inside the test's own timeout, so that a stall still ends in the
    # diagnostics below (where each lost mention got to) rather than a bare timeout.
    result = settle_until_complete(stack, sink, expected_of(stack, load.lines), timeout=180)
    print(f"\n{rebalances} rebalances: {result.summary()}")
    for w in (first, sink):
        assert w.alive(), f"{w.log.name} exited with {w.proc.returncode}:\n{w.tail(60)}"
    assert_nothing_lost(stack, result)
    assert not any(result.duplicated_rows.values()), result.duplicated_rows
    assert result.duplicated_replies == 0
    assert not result.missing_dead_letters
