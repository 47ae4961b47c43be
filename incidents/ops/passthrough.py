"""A do-nothing Faust worker: mentions.raw → passthrough.out, same batching and acks.

The baseline `make bench` compares the pipeline with: the same framework, the
same broker, the same batch/settle pattern, and no domain work. The ratio of the
two says how much of the end-to-end cost is ours.
"""

from __future__ import annotations

from typing import Any, cast

import faust

from incidents.config.settings import load_settings
from incidents.kafka.topics import Topics, ensure_topics
from incidents.observability import logs
from incidents.stream.app import app_id_for, faust_settings, register_web
from incidents.stream.guards import batches
from incidents.stream.runtime import WorkerRuntime


def main() -> None:
    settings = load_settings()
    logs.configure(settings.log, settings.loglevel)
    settings.worker.data_dir.mkdir(parents=True, exist_ok=True)
    ensure_topics(settings)
    app = faust.App(app_id_for(settings), **faust_settings(settings))
    rt = WorkerRuntime(settings=settings, app=app, topics=Topics.from_settings(settings))
    register_web(app, rt)
    out = settings.topics.name("passthrough.out")

    @app.agent(rt.topic(rt.topics.raw), name="passthrough", concurrency=1)
    @rt.health.supervised("passthrough")
    async def passthrough(stream: Any) -> None:
        rt.health.started.add("passthrough")
        async for events in batches(
            stream, settings.worker.batch_size, within=settings.worker.batch_within_s
        ):
            for ev in events:
                rt.count_in("passthrough", ev)
                # raw records always carry a value; forwarded as is
                value = cast(bytes, ev.message.value)
                rt.send(out, ev.message.key or b"", value, "passthrough")
            await rt.settle()

    worker = faust.Worker(
        app, loglevel=settings.loglevel.upper(), quiet=True, override_logging=False
    )
    rt.health.worker = worker
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
