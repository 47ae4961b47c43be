"""respond: responses + incidents.commands → desk.commands (keyed by region).

Operators answer and command from consoles that know incident ids (which carry
the region) but not our partitioning. This router validates their messages,
dead-letters the bad ones, and re-keys the good ones by region (the route step,
incidents/domain/stages.py) so that each lands on the partition whose desk owns
the incident. The desk then updates the incident and fans one Reply out to
every mention of it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from incidents.contracts.models import TickCommand, encode
from incidents.domain.copies.dedup import UNKNOWN_REGION
from incidents.domain.places.gazetteer import Gazetteer
from incidents.domain.stages import route_step
from incidents.stream import runner
from incidents.stream.decoders import decode_operator_command, decode_response

if TYPE_CHECKING:
    import faust

    from incidents.stream.app import Runtime

STAGE = "respond"


def register(app: faust.App, rt: Runtime) -> None:
    s, t = rt.settings, rt.topics

    def publish(out: runner.Outputs, done: list[Any]) -> None:
        for d in done:
            key, command = d.value
            out.send(t.desk_commands, key.encode(), encode(command))

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
            publish=publish,
            take=s.worker.batch_size,
            within=s.worker.batch_within_s,
        ),
    )

    if s.sla.tick_interval_s > 0:

        @app.timer(s.sla.tick_interval_s, on_leader=True)
        async def tick() -> None:
            """Advance event time on quiet regions so their SLA timers fire (live deployments)."""
            at = datetime.now(UTC) - timedelta(seconds=s.sla.tick_lateness_s)
            for region in [*Gazetteer.default().region_codes(), UNKNOWN_REGION]:
                cmd = TickCommand(
                    command_id=f"tick:{region}:{int(at.timestamp())}", at=at, region=region
                )
                rt.send(t.desk_commands, region.encode(), encode(cmd), STAGE)
            await rt.settle()
