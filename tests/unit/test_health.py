"""A worker whose agent crashed must not look healthy."""

from __future__ import annotations

import asyncio
import contextlib

import faust

from streams import metrics
from streams.app import Runtime, liveness
from streams.settings import Settings
from streams.topics import Topics


class _Worker:
    def __init__(self) -> None:
        self.crashed_with: BaseException | None = None

    async def crash(self, exc: BaseException) -> None:
        self.crashed_with = exc


def _gauge(stage: str) -> float:
    return metrics.REGISTRY.get_sample_value("incidents_agent_up", {"stage": stage}) or 0.0


def test_a_crash_in_an_agent_fails_liveness_zeroes_the_metric_and_crashes_the_worker() -> None:
    s = Settings()
    rt = Runtime(settings=s, app=faust.App("health-test"), topics=Topics.from_settings(s))
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
