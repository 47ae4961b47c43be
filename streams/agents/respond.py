"""respond: responses + incidents.commands → desk.commands (keyed by region).

Operators answer and command from consoles that know incident ids (which carry
the region) but not our partitioning. This router validates their messages,
dead-letters the bad ones, and re-keys the good ones by region so that each
lands on the partition whose desk owns the incident. The desk then updates the
incident and fans one Reply out to every mention of it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from schemas.models import (
    AdoptCommand,
    AnyCommand,
    OfficialResponse,
    RespondCommand,
    TakeOverCommand,
    TickCommand,
    encode,
)
from streams import metrics
from streams.app import observe_batch
from streams.contracts import decode_operator_command, decode_response
from streams.domain.enrichment import InvalidInput
from streams.domain.geo import Gazetteer
from streams.domain.incidents import UNKNOWN_REGION, incident_region, region_key

if TYPE_CHECKING:
    import faust

    from streams.app import Runtime

STAGE = "respond"


def route(obj: OfficialResponse | AnyCommand) -> tuple[str, AnyCommand]:
    """The partition key (region) and desk command for one operator message.

    What a message must carry to be routed is in its contract, enforced by the
    decoders (streams/contracts.py): a response names `incident_id`, or `mention_id`
    with `region`; incidents.commands carries operator commands only.
    """
    if isinstance(obj, OfficialResponse):
        region = incident_region(obj.incident_id) if obj.incident_id else obj.region
        return region_key(region), RespondCommand(
            command_id=obj.response_id, at=obj.responded_at, response=obj
        )
    # The decoder refuses them; code may not.
    if isinstance(obj, TickCommand | RespondCommand | AdoptCommand | TakeOverCommand):
        raise InvalidInput(
            "schema",
            f"IncidentCommand: '{obj.__struct_config__.tag}' is internal; answers go to the "
            "`responses` topic as OfficialResponse",
        )
    return region_key(incident_region(obj.incident_id)), obj


def register(app: faust.App, rt: Runtime) -> None:
    s = rt.settings
    source = app.topic(
        rt.topics.responses,
        rt.topics.commands,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=s.topics.partitions,
    )
    rt.declare(
        STAGE, [rt.topics.responses, rt.topics.commands], [rt.topics.desk_commands, rt.topics.dlq]
    )

    @app.agent(source, name=STAGE, concurrency=1)
    @rt.supervised(STAGE)
    async def respond(stream: faust.StreamT[bytes]) -> None:
        guard = rt.guard(STAGE)
        rt.started.add(STAGE)
        metrics.AGENT_UP.labels(STAGE).set(1)
        async for events in rt.batches(stream, s.worker.batch_size, within=s.worker.batch_within_s):
            started = time.perf_counter()
            rt.inject_faults(events)
            for ev in events:
                rt.count_in(STAGE, ev)
                try:
                    if ev.message.topic == rt.topics.responses:
                        obj: Any = decode_response(ev.message.value)
                    else:
                        obj = decode_operator_command(ev.message.value)
                    key, command = route(obj)
                    guard.record(False, ev.message.topic)
                except InvalidInput as err:
                    rt.dead_letter(STAGE, ev, err.kind, err.reason)
                    guard.record(True, ev.message.topic, err.kind)
                    continue
                rt.send(rt.topics.desk_commands, key.encode(), encode(command), STAGE)
            await rt.settle()
            observe_batch(STAGE, started, len(events))

    if s.sla.tick_interval_s > 0:

        @app.timer(s.sla.tick_interval_s, on_leader=True)
        async def tick() -> None:
            """Advance event time on quiet regions so their SLA timers fire (live deployments)."""
            at = datetime.now(UTC) - timedelta(seconds=s.sla.tick_lateness_s)
            regions = [*Gazetteer.default().region_codes(), UNKNOWN_REGION]
            for region in regions:
                cmd = TickCommand(
                    command_id=f"tick:{region}:{int(at.timestamp())}", at=at, region=region
                )
                rt.send(rt.topics.desk_commands, region.encode(), encode(cmd), STAGE)
            await rt.settle()
