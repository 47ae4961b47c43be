"""Agents: one thin module per stage, registered explicitly by role.

Each agent declares its stage (input topics and their decoders, outputs, the
stage's step from incidents/domain/stages.py, what it publishes) and the step
runner (incidents/stream/runner.py) runs it: decode, step, dead-letter, send, settle,
count. No domain logic lives here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from incidents.stream.agents import dedup, enrich, group, respond, sink

if TYPE_CHECKING:
    import faust

    from incidents.stream.runtime import WorkerRuntime


def register_roles(app: faust.App, rt: WorkerRuntime, roles: Iterable[str]) -> None:
    modules = {"enrich": enrich, "dedup": dedup, "group": group, "respond": respond, "sink": sink}
    for role in roles:
        modules[role].register(app, rt)
