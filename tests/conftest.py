"""Shared test configuration.

Tests never read the developer's INCIDENTS_* environment: each test that needs
settings builds them explicitly, so a stray variable cannot change a result.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "streams" / "demo" / "sample"
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("INCIDENTS_"):
            monkeypatch.delenv(name, raising=False)


def pytest_report_header(config: pytest.Config) -> str:
    from tests import brokers

    return brokers.header()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from tests import brokers

    kept, dropped = brokers.deselect(items)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Which broker ran, and the outcome counts on each (the header is hidden by -q)."""
    from tests import brokers

    per: dict[str, dict[str, int]] = {}
    for outcome in ("passed", "failed", "error", "skipped"):
        for rep in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(rep, "nodeid", "")
            if getattr(rep, "when", "call") != "call" and outcome == "passed":
                continue
            ids = nodeid.rpartition("[")[2].rstrip("]").split("-")
            name = next((b for b in ("kafka", "tansu") if b in ids), None)
            if name:
                per.setdefault(name, {}).setdefault(outcome, 0)
                per[name][outcome] += 1
    terminalreporter.write_line(brokers.header())
    for name, counts in sorted(per.items()):
        shown = ", ".join(f"{n} {k}" for k, n in counts.items())
        terminalreporter.write_line(f"integration tests on {name}: {shown}")
