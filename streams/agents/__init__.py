"""Agents: one thin module per stage, registered explicitly by role.

Each agent declares its stage (input topics and their decoders, outputs, the
stage's step from streams/domain/stages.py, what it publishes) and the step
runner (streams/runner.py) runs it: decode, step, dead-letter, send, settle,
count. No domain logic lives here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from streams.agents import dedup, enrich, group, respond, sink

if TYPE_CHECKING:
    import faust

    from streams.app import Runtime


def register_roles(app: faust.App, rt: Runtime, roles: Iterable[str]) -> None:
    modules = {"enrich": enrich, "dedup": dedup, "group": group, "respond": respond, "sink": sink}
    for role in roles:
        modules[role].register(app, rt)
