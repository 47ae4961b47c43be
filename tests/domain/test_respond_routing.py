"""The router keys operator messages by the region that owns the incident."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from incidents.contracts.models import (
    AdoptCommand,
    AssignCommand,
    Incident,
    OfficialResponse,
    RespondCommand,
    TakeOverCommand,
    TickCommand,
)
from incidents.domain.enrichment import InvalidInput
from incidents.domain.stages import route
from incidents.stream.decoders import decode_operator_command, decode_response

AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _response(**kw: object) -> OfficialResponse:
    base = dict(response_id="r1", kind="final", agency="A", text="Ответ", responded_at=AT)
    base.update(kw)
    return OfficialResponse(**base)  # type: ignore[arg-type]


def test_answers_are_keyed_by_the_incidents_region() -> None:
    key, cmd = route(_response(incident_id="RU-TVE/0123456789abcdef"))
    assert key == "RU-TVE" and isinstance(cmd, RespondCommand) and cmd.command_id == "r1"
    key, _ = route(_response(incident_id="unknown/0123456789abcdef"))
    assert key == "unknown"
    key, _ = route(_response(mention_id="vk:1", region="RU-IVA"))
    assert key == "RU-IVA"


def test_an_answer_to_a_mention_without_region_is_refused_with_a_reason() -> None:
    """The rule is the contract's (incidents/contracts/json/official-response.v1.schema.json): the
    decoder refuses the message, and code cannot build one either."""
    body = {
        "response_id": "r1",
        "kind": "final",
        "agency": "A",
        "text": "Ответ",
        "responded_at": AT.isoformat(),
        "mention_id": "vk:1",
    }
    with pytest.raises(InvalidInput, match="`incident_id`, or `mention_id` with `region`") as e:
        decode_response(json.dumps(body).encode())
    assert e.value.kind == "schema"
    with pytest.raises(ValueError, match="`mention_id` with `region`"):
        _response(mention_id="vk:1")
    assert decode_response(json.dumps({**body, "region": "RU-IVA"}).encode()).region == "RU-IVA"


def test_operator_commands_route_by_incident_and_internal_ones_are_refused() -> None:
    key, cmd = route(AssignCommand(command_id="c", at=AT, incident_id="RU-NVS/00", agency="X"))
    assert key == "RU-NVS" and isinstance(cmd, AssignCommand)
    for internal in (
        TickCommand(command_id="t", at=AT, region="RU-TVE"),
        RespondCommand(command_id="r", at=AT, response=_response(incident_id="RU-TVE/00")),
        # What the dedup stage and the desks send each other to move an incident.
        AdoptCommand(command_id="a", at=AT, mention_id="vk:1", region="RU-TVE", by="ok:2"),
        TakeOverCommand(
            command_id="t2",
            at=AT,
            into="RU-TVE/00",
            incident=Incident(
                id="unknown/00",
                region=None,
                category=None,
                status="new",
                priority="normal",
                opened_at=AT,
                updated_at=AT,
                version=1,
                title="-",
                mentions_count=1,
            ),
        ),
    ):
        with pytest.raises(InvalidInput, match="internal"):
            route(internal)


def test_internal_commands_on_incidents_commands_are_refused_by_the_decoder() -> None:
    """incidents.commands' contract (operator-command v1) lists the four operator commands."""
    tick = {"type": "tick", "command_id": "t", "at": AT.isoformat(), "region": "RU-TVE"}
    with pytest.raises(InvalidInput, match="'tick' is internal") as e:
        decode_operator_command(json.dumps(tick).encode())
    assert e.value.kind == "schema"
