"""A worker's health: which agents run, which crashed, and the pages that say so.

Crash-only (docs/operations.md): an agent that crashes is not restarted inside
the process; :class:`Health` marks the worker unhealthy, counts the crash with
its reason (saved to a file, so the next process still reports it) and stops the
worker (exit 1). The pages Kubernetes and Prometheus read (/healthz, /readyz,
/metrics, /status) and the consumer-lag timer are registered here.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust

from incidents.config.settings import Settings
from incidents.kafka.dlq import DlqLimitExceeded
from incidents.observability import metrics
from incidents.observability.logs import get as get_logger
from incidents.stream.guards import OffsetGap, base_name

log = get_logger("incidents.stream.health")
AgentFn = Callable[[Any], Awaitable[None]]


@dataclass
class Health:
    """Which agents of one worker started and which crashed, and what a crash sets off."""

    crashed: dict[str, str] = field(default_factory=dict)
    started: set[str] = field(default_factory=set)
    worker: Any = None
    on_crash: Callable[[], None] | None = None  # the worker's watchdog (incidents/stream/worker.py)
    crash_file: Path | None = None  # where the crash counters outlive the process

    def supervised(self, stage: str) -> Callable[[AgentFn], AgentFn]:
        """Wrap an agent body: a crash marks the worker unhealthy and stops it (exit 1)."""

        def wrap(fn: AgentFn) -> AgentFn:
            @functools.wraps(fn)
            async def agent(stream: Any) -> None:
                try:
                    await fn(stream)
                except asyncio.CancelledError:
                    raise
                except BaseException as exc:
                    await self.on_agent_error(stage, exc)
                    raise

            return agent

        return wrap

    async def on_agent_error(self, stage: str, exc: BaseException) -> None:
        self.crashed[stage] = f"{type(exc).__name__}: {exc}"
        metrics.AGENT_UP.labels(stage).set(0)
        reason = _crash_reason(exc)
        metrics.crashed(stage, reason)
        log.error("agent_crashed", stage=stage, reason=reason, error=str(exc)[:500], exc_info=exc)
        if self.crash_file is not None:
            try:
                metrics.save(self.crash_file)
            except OSError as err:  # a read-only disk must not hide the crash itself
                log.warning("crash_counters_not_saved", path=str(self.crash_file), error=str(err))
        if self.on_crash is not None:
            self.on_crash()
        if self.worker is not None:
            # Crash-only: a worker with a dead agent must not look alive.
            await self.worker.crash(exc)


def _crash_reason(exc: BaseException) -> str:
    """The `reason` label of a crash (metrics.CRASH_REASONS)."""
    if isinstance(exc, DlqLimitExceeded):
        return "dlq_limit"
    if isinstance(exc, OffsetGap):
        return "offset_gap"
    return "error"


def liveness(health: Health) -> tuple[int, dict[str, Any]]:
    if health.crashed:
        return 503, {"status": "crashed", "agents": health.crashed}
    return 200, {"status": "ok", "agents": sorted(health.started)}


def register_pages(app: faust.App, health: Health, settings: Settings) -> None:
    """/healthz, /readyz, /metrics and /status."""

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        """Liveness: fails when any agent crashed (Kubernetes restarts the pod)."""
        code, body = liveness(health)
        return web.json(body, status=code)

    @app.page("/readyz")
    async def readyz(web: Any, request: Any) -> Any:
        ready = not health.crashed and app.rebalancing is False and bool(health.started)
        return web.json({"ready": ready}, status=200 if ready else 503)

    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        return web.bytes(metrics.render(), content_type="text/plain; version=0.0.4")

    @app.page("/status")
    async def status(web: Any, request: Any) -> Any:
        return web.json(status_snapshot(app, settings, health))


def _counter_total(counter: Any, by: Iterable[str] = ()) -> dict[str, float]:
    out: dict[str, float] = {}
    for mf in counter.collect():
        for s in mf.samples:
            if not s.name.endswith("_total"):
                continue
            label = "/".join(s.labels.get(b, "") for b in by) or "all"
            out[label] = out.get(label, 0.0) + s.value
    return out


def _assignment(app: faust.App, settings: Settings) -> list[str]:
    try:
        tps = app.consumer.assignment()
    except Exception:  # consumer not started yet
        return []
    return sorted(f"{base_name(tp.topic, settings)}:{tp.partition}" for tp in tps)


def status_snapshot(app: faust.App, settings: Settings, health: Health) -> dict[str, Any]:
    return {
        "app_id": app.conf.id,
        "roles": settings.worker.roles,
        "agents": sorted(health.started),
        "crashed": health.crashed,
        "rebalancing": bool(app.rebalancing),
        "assignment": _assignment(app, settings),
        "messages_in": _counter_total(metrics.MESSAGES_IN, ["stage", "topic"]),
        "messages_out": _counter_total(metrics.MESSAGES_OUT, ["stage", "topic"]),
        "mentions": _counter_total(metrics.MENTIONS, ["status"]),
        "dlq": _counter_total(metrics.DLQ, ["stage"]),
        "sink_rows": _counter_total(metrics.SINK_ROWS, ["table"]),
        "sink_skipped": _counter_total(metrics.SINK_SKIPPED, ["table"]),
        "sink_errors": _counter_total(metrics.SINK_ERRORS, ["table"]),
    }


def register_lag(app: faust.App, inputs: set[str], settings: Settings) -> None:
    """Consumer lag per assigned partition of the topics the agents consume, from the
    high watermark of fetch responses.

    The embedded broker under-reports ListOffsets (docs/operations.md), but the
    watermark it returns with fetched records is right, and that is what
    aiokafka caches; partitions not fetched yet report nothing.
    """
    shown: set[tuple[str, str]] = set()

    @app.timer(15.0)
    async def consumer_lag() -> None:
        consumer = app.consumer
        now: set[tuple[str, str]] = set()
        for tp in consumer.assignment():
            if tp.topic not in inputs:
                continue  # the desk's changelog, Faust's assignor topic
            try:
                high = consumer.highwater(tp)
                pos = await consumer.position(tp)
            except Exception:  # not fetched yet, or revoked meanwhile
                continue
            if high is None or pos is None:
                continue
            labels = (base_name(tp.topic, settings), str(tp.partition))
            metrics.CONSUMER_LAG.labels(*labels).set(max(0, high - pos))
            now.add(labels)
        for labels in shown - now:
            metrics.CONSUMER_LAG.remove(*labels)
        shown.clear()
        shown.update(now)
