"""Run the stream worker: topics, Faust app, agents by role, web endpoints.

Exit codes: 0 after SIGTERM/SIGINT (graceful: in-flight batches finish and are
committed), 1 when an agent crashed or the DLQ limit tripped (crash-only: let
the supervisor restart the process; nothing was committed past the failure).
"""

from __future__ import annotations

import faust

from streams import logs
from streams.app import create_app
from streams.settings import Settings
from streams.topics import ensure_topics


def run_worker(settings: Settings) -> None:
    logs.configure(settings.log, settings.loglevel)
    log = logs.get("streams.worker")
    settings.worker.data_dir.mkdir(parents=True, exist_ok=True)
    created = ensure_topics(settings)
    app, rt = create_app(settings)
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
        clickhouse=settings.clickhouse.resolved_url() if "sink" in settings.worker.roles else None,
        web=f"http://{settings.worker.web_host}:{settings.worker.web_port}",
        topics_created=created,
    )
    worker = faust.Worker(
        app,
        loglevel=settings.loglevel.upper(),
        quiet=True,
        override_logging=False,
        redirect_stdouts=False,
    )
    rt.worker = worker
    try:
        worker.execute_from_commandline()
    finally:
        if rt.warehouse is not None:
            rt.warehouse.close()
