"""Shared test configuration: hooks and the fixture plugins of tests/support.

Tests never read the developer's INCIDENTS_* environment: each test that needs
settings builds them explicitly, so a stray variable cannot change a result.

Nothing imports this file. Harnesses live in ``tests/support`` and are imported
from there; the modules below also register their fixtures (the broker, a stack,
the fakes, a console, the pipeline's data) for every test that names one.
"""

from __future__ import annotations

import os

import pytest

from tests.support import brokers

pytest_plugins = [
    "tests.support.stack",
    "tests.support.faults",
    "tests.support.connectors",
    "tests.support.console",
    "tests.support.oversight",
]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("INCIDENTS_"):
            monkeypatch.delenv(name, raising=False)


def pytest_report_header(config: pytest.Config) -> str:
    return brokers.header()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept, dropped = brokers.deselect(items)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Which broker ran, and the outcome counts on each (the header is hidden by -q)."""
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
