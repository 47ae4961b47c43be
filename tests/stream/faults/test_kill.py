"""kill -9 of a worker in the middle of its batches, repeatedly, under a steady load."""

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
from tests.support.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.faults]


def test_kill_9_repeatedly_loses_nothing_and_doubles_nothing(stack: Stack) -> None:
    kills = 20 if SOAK else 3
    load = Load(stack, total=6000 if SOAK else 1500, rate=200 if SOAK else 150, seed=11)
    w = stack.start_worker()
    load.start()
    rng = random.Random(5)
    done = 0
    while done < kills:
        time.sleep(rng.uniform(2.0, 4.0))
        w.kill()  # SIGKILL: no commit, no flush, mid-batch
        done += 1
        w = stack.start_worker()
    load.join()
    result = settle_until_complete(stack, w, expected_of(stack, load.lines))
    print(f"\nkill -9 x{kills}: {result.summary()}")
    assert_nothing_lost(stack, result)
    assert not any(result.duplicated_rows.values()), result.duplicated_rows
    assert result.duplicated_replies == 0
    assert not result.missing_dead_letters
