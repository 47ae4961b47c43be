"""Run the stream worker: topics, Faust app, agents by role, web endpoints.

Exit codes: 0 after SIGTERM/SIGINT (graceful: in-flight batches finish and are
committed), 1 when an agent crashed or the DLQ limit tripped (crash-only: let
the supervisor restart the process; nothing was committed past the failure).
An offset gap (records the broker skipped) restarts the process in place
instead, up to `worker.gap_restarts` times in a row.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from typing import Any

import faust

from incidents.config.gc import tune_gc
from incidents.config.settings import Settings
from incidents.domain.copies import speedups
from incidents.kafka.topics import ensure_topics
from incidents.observability import logs
from incidents.stream.agents import register_roles
from incidents.stream.app import create_app
from incidents.stream.health import Health
from incidents.stream.transport import broker_kind


def run_worker(settings: Settings) -> None:
    logs.configure(settings.log, settings.loglevel)
    log = logs.get("incidents.stream.worker")
    settings.worker.data_dir.mkdir(parents=True, exist_ok=True)
    created = ensure_topics(settings)
    app, rt = create_app(settings, register_roles)
    # The embedded broker skips records; on Apache Kafka an offset jump can be a
    # transaction marker, so a jump is checked before it counts as a hole (OffsetGuards.hole).
    broker: str = settings.kafka.broker
    if broker == "auto":
        broker = broker_kind(settings.kafka.librdkafka())
    rt.offsets.strict_gaps = broker == "tansu"
    tune_gc()  # after the models and gazetteer are loaded
    if (
        "enrich" in settings.worker.roles
        and settings.enrich.pseudonym_key.get_secret_value().startswith("dev-only")
    ):
        log.warning(
            "dev_pseudonym_key",
            hint="set INCIDENTS_ENRICH_PSEUDONYM_KEY to a secret: author pseudonyms are only "
            "as private as this key",
        )
    log.info(
        "worker_starting",
        app_id=app.conf.id,
        roles=settings.worker.roles,
        bootstrap=settings.kafka.bootstrap,
        broker=broker,
        clickhouse=settings.clickhouse.resolved_url() if "sink" in settings.worker.roles else None,
        web=f"http://{settings.worker.web_host}:{settings.worker.web_port}",
        topics_created=created,
        # dedup's compiled twins (docs/dedup.md#compiled-twins): false means the C
        # extension was not built here, and dedup runs about half as fast
        compiled_twins=speedups.built is not None,
    )
    worker = faust.Worker(
        app,
        loglevel=settings.loglevel.upper(),
        quiet=True,
        override_logging=False,
        redirect_stdouts=False,
    )
    rt.health.worker = worker
    rt.health.on_crash = lambda: _arm_crash_exit(rt.health, settings, log)
    try:
        worker.execute_from_commandline()
    finally:
        if rt.warehouse is not None:
            rt.warehouse.close()
        if rt.health.crashed:
            _end_after_crash(rt.health, settings, log)


# Consecutive in-place restarts after offset gaps; not an INCIDENTS_ setting (internal).
GAP_RESTARTS_ENV = "_INCIDENTS_GAP_RESTARTS"
_ending = threading.Lock()
_STARTED = time.monotonic()


def _arm_crash_exit(health: Health, settings: Settings, log: Any) -> None:
    """Faust's shutdown after a crash can hang ("Wait for streams…") with the web
    server still answering; the process must end anyway, so a timer ends it."""
    timer = threading.Timer(
        settings.worker.crash_exit_s, _end_after_crash, args=(health, settings, log)
    )
    timer.daemon = True
    timer.start()


def _end_after_crash(health: Health, settings: Settings, log: Any) -> None:
    """Exit 1 for the orchestrator, or, after an offset gap, start again in place.

    An offset gap is the broker's fault, not the code's: a fresh process resumes
    from the committed offset and reads the skipped records. Restarting in place
    (exec, same process id) needs no orchestrator, so a laptop or a test keeps
    going; after `gap_restarts` gaps in a row it is the orchestrator's turn.
    """
    if not _ending.acquire(blocking=False):
        return
    gaps = int(os.environ.get(GAP_RESTARTS_ENV, "0") or 0)
    if time.monotonic() - _STARTED > 600:
        gaps = 0  # ten quiet minutes since the last start: not "in a row"
    only_gaps = all(reason.startswith("OffsetGap") for reason in health.crashed.values())
    if only_gaps and gaps < settings.worker.gap_restarts:
        log.warning("restarting_after_offset_gap", restarts=gaps + 1, crashed=health.crashed)
        os.environ[GAP_RESTARTS_ENV] = str(gaps + 1)
        _flush_std()
        # Close every inherited descriptor (sockets, chDB's files and locks) first.
        os.closerange(3, _max_fd())
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
    log.error("worker_exiting_after_crash", crashed=health.crashed)
    _flush_std()
    os._exit(1)


def _flush_std() -> None:
    """The log lines written so far reach the file before exec or _exit drops them."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def _max_fd() -> int:
    try:
        return os.sysconf("SC_OPEN_MAX")
    except (ValueError, OSError):
        return 4096
