"""After a crash the process ends; after an offset gap it starts again in place, a few times.

os.execv and os._exit are replaced here: ending the test process is not an option.
The real path (a gap, the same process going on) is in tests/stream/faults/test_outages.py.
"""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

from incidents.config.settings import Settings
from incidents.stream import worker


class Ended(Exception):
    pass


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    def execv(path: str, argv: list[str]) -> None:
        seen.append(("exec", argv))
        raise Ended

    def _exit(code: int) -> None:
        seen.append(("exit", code))
        raise Ended

    monkeypatch.setattr(worker.os, "execv", execv)
    monkeypatch.setattr(worker.os, "_exit", _exit)
    monkeypatch.setattr(worker.os, "closerange", lambda a, b: None)
    monkeypatch.setattr(worker, "_ending", threading.Lock())
    monkeypatch.setattr(worker, "_STARTED", time.monotonic())  # "in a row": just started
    monkeypatch.setenv(worker.GAP_RESTARTS_ENV, "0")  # restored after the test
    return seen


def _end(crashed: dict[str, str], settings: Settings | None = None) -> None:
    log = SimpleNamespace(warning=lambda *a, **k: None, error=lambda *a, **k: None)
    with pytest.raises(Ended):
        worker._end_after_crash(SimpleNamespace(crashed=crashed), settings or Settings(), log)


def test_a_gap_restarts_in_place_and_counts(calls: list[tuple[str, Any]]) -> None:
    _end({"enrich": "OffsetGap: t.mentions.raw[3]: expected offset 50, got 91"})
    assert calls[0][0] == "exec"
    assert worker.os.environ[worker.GAP_RESTARTS_ENV] == "1"


def test_gaps_in_a_row_end_with_exit_1_for_the_orchestrator(
    calls: list[tuple[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(worker.GAP_RESTARTS_ENV, "5")
    _end({"enrich": "OffsetGap: …"})
    assert calls == [("exit", 1)]


def test_gaps_after_ten_quiet_minutes_start_counting_again(
    calls: list[tuple[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(worker.GAP_RESTARTS_ENV, "5")
    monkeypatch.setattr(worker, "_STARTED", time.monotonic() - 601)
    _end({"enrich": "OffsetGap: …"})
    assert calls[0][0] == "exec" and worker.os.environ[worker.GAP_RESTARTS_ENV] == "1"


def test_any_other_crash_exits_1(calls: list[tuple[str, Any]]) -> None:
    _end({"enrich": "OffsetGap: …", "group": "RuntimeError: a bug"})
    assert calls == [("exit", 1)]
