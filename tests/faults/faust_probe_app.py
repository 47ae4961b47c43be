"""A plain Faust app for reproducing the rebalance hazard of DESIGN §4.

One agent with a table, concurrency 1, that forwards every record to an output
topic. Run two workers, the second joining while records are in flight, and
count what reached the output. The transport (kafka:// or our kafkasafe://)
comes from PROBE_SCHEME.
"""

from __future__ import annotations

import asyncio
import os

import faust

import streams.transport  # noqa: F401  (registers kafkasafe://)

SCHEME = os.environ.get("PROBE_SCHEME", "kafka")
PREFIX = os.environ["PROBE_PREFIX"]
app = faust.App(
    f"{PREFIX}probe",
    broker=f"{SCHEME}://{os.environ['PROBE_BOOTSTRAP']}",
    value_serializer="raw",
    key_serializer="raw",
    broker_session_timeout=6,
    broker_heartbeat_interval=1,
    broker_rebalance_timeout=5,
    topic_partitions=4,
    web_port=int(os.environ["PROBE_PORT"]),
    store="memory://",
)
if SCHEME == "kafkasafe":
    app.librdkafka_conf = {"bootstrap.servers": os.environ["PROBE_BOOTSTRAP"]}
src = app.topic(f"{PREFIX}src", partitions=4)
out = app.topic(f"{PREFIX}out", partitions=4)
seen = app.Table("seen", default=int, partitions=4, key_type=bytes, value_type=int)


@app.agent(src, concurrency=1)
async def forward(stream: faust.StreamT[bytes]) -> None:
    async for event in stream.events():
        seen[event.key] += 1
        await out.send(key=event.key, value=event.value)
        await asyncio.sleep(0.0005)  # a little work, so records pile up in flight
