"""respond: responses + incidents.commands → desk.commands (keyed by region).

Operators answer and command from consoles that know incident ids (which carry
the region) but not our partitioning. This router validates their messages,
dead-letters the bad ones, and re-keys the good ones by region (the route step,
incidents/domain/stages.py) so that each lands on the partition whose desk owns
the incident. The desk then updates the incident and fans one Reply out to
every mention of it. It also ticks the desks' SLA clocks (incidents/stream/publishers.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from incidents.domain.stages import route_step
from incidents.stream import publishers, runner
from incidents.stream.decoders import decode_operator_command, decode_response

if TYPE_CHECKING:
    import faust

    from incidents.stream.runtime import WorkerRuntime

STAGE = "respond"


def register(app: faust.App, rt: WorkerRuntime) -> None:
    s, t = rt.settings, rt.topics
    runner.register(
        app,
        rt,
        runner.Stage(
            STAGE,
            inputs={
                t.responses: runner.single(decode_response),
                t.commands: runner.single(decode_operator_command),
            },
            outputs=[t.desk_commands, t.dlq],
            step=route_step(),
            publish=publishers.routed(t),
            take=s.worker.batch_size,
            within=s.worker.batch_within_s,
        ),
    )
    publishers.sla_ticks(app, rt, STAGE)
