"""What each stage accepts from each topic: one decoder per topic, the contract's rules.

The JSON Schemas in ``incidents/contracts/json`` are generated from the same Structs, rules
between fields included (``incidents.contracts.models.RULES``), so a message valid against
its topic's schema decodes here and one refused here is refused by the schema,
except for the few rules that need the stage's clock or state: each topic's
contract lists those under ``stage_rules`` (``incidents/contracts/topics/*.yaml``).
``tests/contracts/test_stage_decoders.py`` feeds every example and counter-example
to both and holds them to that.

Every decoder raises :class:`InvalidInput` (error kind and reason) for a message
the stage dead-letters.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from incidents.contracts import topology
from incidents.contracts.models import (
    AnyCommand,
    DeadLetter,
    Incident,
    IncidentEvent,
    Mention,
    OfficialResponse,
    OperatorCommand,
    Reply,
    ReplyResult,
)
from incidents.domain.enrichment import InvalidInput, decode_json, decode_raw_mention
from incidents.kafka.topics import unpack_mentions

_response = msgspec.json.Decoder(OfficialResponse)
_operator_command = msgspec.json.Decoder(OperatorCommand)
_desk_command = msgspec.json.Decoder(AnyCommand)
_mention = msgspec.json.Decoder(Mention)
_incident = msgspec.json.Decoder(Incident)
_event = msgspec.json.Decoder(IncidentEvent)
_reply = msgspec.json.Decoder(Reply)
_reply_result = msgspec.json.Decoder(ReplyResult)
_dead_letter = msgspec.json.Decoder(DeadLetter)

_INTERNAL_TYPE = re.compile(r"Invalid value '(tick|respond|adopt|take_over)' - at `\$\.type`")


def decode_response(value: bytes | None) -> OfficialResponse:
    obj = decode_json(value, _response, "OfficialResponse")
    assert isinstance(obj, OfficialResponse)
    return obj


def decode_operator_command(value: bytes | None) -> Any:
    """An operator's command (assign, set_status, merge, split) from incidents.commands."""
    try:
        return decode_json(value, _operator_command, "IncidentCommand")
    except InvalidInput as err:
        m = _INTERNAL_TYPE.search(err.reason)
        if m:
            raise InvalidInput(
                "schema",
                f"IncidentCommand: '{m.group(1)}' is internal; answers go to the `responses` "
                "topic as OfficialResponse",
            ) from None
        raise


def decode_desk_command(value: bytes | None) -> Any:
    return decode_json(value, _desk_command, "IncidentCommand")


def decode_mention(value: bytes | None) -> Mention:
    obj = decode_json(value, _mention, "Mention")
    assert isinstance(obj, Mention)
    return obj


def decode_mention_batch(value: bytes | None) -> list[Mention]:
    """A message of mentions.enriched or mentions.deduped: a batch (a JSON array of
    mentions) or one mention (a dead letter replayed). This is the whole message as
    the contract sees it; the stages decode each mention alone, so one broken mention
    is dead-lettered without its batch (incidents/stream/agents/dedup.py)."""
    parts = unpack_mentions(value)
    if parts is None:
        raise InvalidInput("invalid_json", "Mention batch: not a JSON array of mentions")
    return [decode_mention(part) for part in parts]


def _plain(decoder: msgspec.json.Decoder, what: str) -> Callable[[bytes | None], Any]:
    return lambda value: decode_json(value, decoder, what)


@dataclass(frozen=True)
class StageDecoder:
    """The stage that reads a topic (``incidents.contracts.topology``; "outside" when only readers
    outside the pipeline do) and how."""

    stage: str
    decode: Callable[[bytes | None], Any]


_DECODERS: dict[str, Callable[[bytes | None], Any]] = {
    "mentions.raw": decode_raw_mention,
    "mentions.enriched": decode_mention_batch,
    "mentions.deduped": decode_mention_batch,
    "desk.commands": decode_desk_command,
    "responses": decode_response,
    "incidents.commands": decode_operator_command,
    "mentions.resolved": decode_mention,
    "incidents": _plain(_incident, "Incident"),
    "incidents.events": _plain(_event, "IncidentEvent"),
    "replies.outbound": _plain(_reply, "Reply"),
    "mentions.dlq": _plain(_dead_letter, "DeadLetter"),
    "replies.results": _plain(_reply_result, "ReplyResult"),
}

#: Topic base name -> the decoder of the stage that consumes it. A topic read by two
#: stages (mentions.resolved by the sink and analytics) is decoded the same way by both.
STAGE_DECODERS: dict[str, StageDecoder] = {
    t.base: StageDecoder(t.consumer or "outside", _DECODERS[t.base]) for t in topology.CREATED
}
