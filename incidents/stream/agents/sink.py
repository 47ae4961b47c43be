"""sink: resolved mentions, incidents, events, replies and dead letters → ClickHouse.

Each topic goes to its table; how a batch is written and retried while ClickHouse
is down (offsets held, nothing lost) is incidents/stream/sink.py. The loop is the
step runner's (incidents/stream/runner.py); the sink has no domain step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from incidents.domain.steps import Step
from incidents.observability import metrics
from incidents.stream import runner, sink
from incidents.stream.decoders import STAGE_DECODERS
from incidents.warehouse.writer import Warehouse

if TYPE_CHECKING:
    import faust

    from incidents.stream.runtime import WorkerRuntime


def register(app: faust.App, rt: WorkerRuntime) -> None:
    s, t = rt.settings, rt.topics
    routes = sink.routes(t)
    warehouse = rt.warehouse = Warehouse(s.clickhouse, down_file=s.faults.clickhouse_down_file)
    metrics.declare_sink([*(table for table, _ in routes.values()), "schema_migrations"])
    runner.register(
        app,
        rt,
        runner.Stage(
            "sink",
            inputs={
                topic: runner.single(STAGE_DECODERS[contract].decode)
                for topic, (_table, contract) in routes.items()
            },
            outputs=[t.dlq],
            step=Step("sink"),
            publish=sink.writer(rt, warehouse, routes),
            take=s.clickhouse.batch_rows,
            within=s.clickhouse.flush_interval_s,
            on_start=sink.migrator(rt, warehouse),
        ),
    )
