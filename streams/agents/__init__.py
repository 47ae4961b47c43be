"""Agents: one thin module per stage, registered explicitly by role.

Each agent decodes raw bytes itself, calls domain code, sends its outputs,
counts, and dead-letters what it cannot handle. No domain logic lives here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import faust

    from streams.app import Runtime


def register_roles(app: faust.App, rt: Runtime, roles: Iterable[str]) -> None:
    from streams.agents import dedup, enrich, group, respond, sink

    modules = {"enrich": enrich, "dedup": dedup, "group": group, "respond": respond, "sink": sink}
    for role in roles:
        modules[role].register(app, rt)
