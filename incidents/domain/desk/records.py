"""What the desk stores and returns: its records, their codecs, and the helpers every
part of the desk shares.

The desk's only durable state is a ``MutableMapping[str, bytes]`` (a Faust table in
the stream, a dict offline) holding these records under `m:`, `a:`, `i:`, `r:`, `c:`,
`p:` keys (incidents/contracts/topics/desk.changelog.yaml); ``Outcome`` is what one
input produced. Kept apart from the behaviour: the desk's parts share them, and
readers of its state and outcomes (the console, the DLQ replay, the stage wiring)
import them without the desk.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import msgspec

from incidents.contracts import topology
from incidents.contracts.models import (
    AdoptCommand,
    AnyCommand,
    Incident,
    IncidentEvent,
    Mention,
    MentionRef,
    OfficialResponse,
    Reply,
)
from incidents.domain.copies.dedup import UNKNOWN_REGION
from incidents.domain.desk.grouping import (
    Topic,
    building_details,
    place_marks,
    topic_of,
)
from incidents.domain.text.normalize import strip_and_split

Detail = dict[str, str | int | float | bool | None]  # an IncidentEvent's detail


def _by(operator: str | None, **detail: str | None) -> Detail:
    """An event's detail with the operator who caused it (`by`), when the message named one."""
    out: Detail = dict(detail)
    if operator:
        out["by"] = operator
    return out


def _created_detail(inc: Incident) -> Detail | None:
    """A `created` event names the incident this one follows, if any."""
    return {"reopened_from": inc.reopened_from} if inc.reopened_from else None


OPEN_STATUSES = frozenset(topology.OPEN_STATUSES)
# Incidents a new appeal may still join: open ones, answered ones (the answer may
# be disputed) and closed ones (a repeat reopens them) inside the grouping window.
GROUPABLE_STATUSES = OPEN_STATUSES | {"answered_final", "closed"}
# Feedback platforms: every post there is an appeal that expects an answer.
ANSWERED_PLATFORMS = frozenset({"pos"})
_MAX_TERMS = 200
_MAX_PLACES = 60
_MAX_TOPICS = 16
# Media reports an incident lists as context (signal_ids).
_MAX_SIGNALS = 20
# Answers an incident keeps for posts that join it later (the latest ones).
_MAX_ANSWERS_KEPT = 32
_STOP = frozenset(
    (
        "и в во на не что это как так по за из у к о об от до для же ли бы то все уже "
        "еще или а но да нет мы вы они он она оно я ты его ее их нам вам нас вас меня "
        "мне был была были есть быть будет этот эта эти тот та те там тут здесь когда "
        "где который которая которые очень просто снова опять сколько можно почему "
        "просим прошу помогите пожалуйста"
    ).split()
)


def short_hash(*parts: str, size: int = 8) -> str:
    h = hashlib.blake2b(digest_size=size)
    for p in parts:
        h.update(p.encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()


def incident_region(incident_id: str) -> str | None:
    """The region an incident id carries (`RU-TVE/…`), None for `unknown/…`."""
    head = incident_id.split("/", 1)[0]
    return None if head == UNKNOWN_REGION else head


def _ts(dt: datetime) -> float:
    return dt.timestamp()


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def _terms(words: Sequence[str]) -> set[str]:
    """Content stems: stop words out, 6-letter prefixes as a cheap inflection fold."""
    return {w[:6] for w in words if len(w) >= 3 and w not in _STOP and not w.isdigit()}


def _topic(m: Mention) -> Topic | None:
    return topic_of(m.source.id, m.source_topic)


def _with_topic(topics: list[Topic], topic: Topic | None) -> list[Topic]:
    """The incident's source topics with one more (kept short: an operator's merge can
    bring several; grouping itself never joins a second topic of one source)."""
    if topic is None or topic in topics or len(topics) >= _MAX_TOPICS:
        return topics
    return [*topics, topic]


class MentionRecord(msgspec.Struct, array_like=True, omit_defaults=True):
    """What the desk remembers of a post: its decision and addressing (no text; the
    dedup stage keeps that). `m:` inside the dedup window, `a:` after it for posts of
    an incident and of a feedback platform (late answers)."""

    id: str
    rk: str
    at: float
    created_at: str
    status: str
    platform: str
    source_id: str
    url: str | None = None
    duplicate_of: str | None = None
    incident_id: str | None = None
    category: str | None = None
    municipality: str | None = None
    # The version judged: the platform's edit time (0: the first version, never edited),
    # and its words' fingerprint (an edit that changes only punctuation keeps the verdict).
    edited: float = 0.0
    fp: str = ""


class ParkedResponse(msgspec.Struct):
    """An answer that arrived before its mention (it travels a shorter path)."""

    response: OfficialResponse
    target: str  # the mention id it waits for
    parked_at: float  # the region's event time when it was parked


class IncidentRecord(msgspec.Struct, omit_defaults=True):
    incident: Incident
    members: list[MentionRef]
    terms: list[str]
    address_key: str | None
    last_at: float
    responses: list[str] = msgspec.field(default_factory=list)
    places: list[str] = msgspec.field(default_factory=list)  # streets and houses named
    commands: list[str] = msgspec.field(default_factory=list)
    # The latest answers, so a post that joins after them still gets them.
    answers: list[OfficialResponse] = msgspec.field(default_factory=list)
    # (source id, topic) of its posts whose source classed them itself (source_topic).
    topics: list[Topic] = msgspec.field(default_factory=list)
    # Floors and entrances its posts name (``f:4``, ``e:2``), for building-level problems.
    details: list[str] = msgspec.field(default_factory=list)


_enc = msgspec.msgpack.Encoder()
_enc_json = msgspec.json.Encoder()
_dec_mention = msgspec.msgpack.Decoder(MentionRecord)
_dec_incident = msgspec.msgpack.Decoder(IncidentRecord)
_dec_parked = msgspec.msgpack.Decoder(ParkedResponse)
_dec_adopt = msgspec.msgpack.Decoder(AdoptCommand)


@dataclass(frozen=True, slots=True)
class GivenUp:
    """An input the desk held and gave up on later, to be dead-lettered as it arrived.

    ``source`` is the logical topic the bytes came in on (``responses`` for an
    answer), so a replay of the dead letter sends them back where they belong.
    """

    kind: str
    reason: str
    original: bytes
    source: str = "responses"
    key: bytes | None = None


@dataclass(slots=True)
class Outcome:
    """What one input produced: messages to publish, in this order."""

    mentions: list[Mention] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    events: list[IncidentEvent] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    redelivered: bool = False
    revised: bool = False  # a new version (an edit) of a mention already decided
    parked: bool = False  # an answer waiting for its mention to arrive
    error: tuple[str, str] | None = None  # (error_kind, reason) when the input is refused
    # Inputs given up on later (an answer whose mention never came).
    dead_letters: list[GivenUp] = field(default_factory=list)
    # Commands for the desk of another region (region key, command): an incident moved
    # there (TakeOverCommand), an answer to an incident that moved.
    forward: list[tuple[str, AnyCommand]] = field(default_factory=list)

    def extend(self, other: Outcome) -> None:
        self.mentions.extend(other.mentions)
        self.incidents.extend(other.incidents)
        self.events.extend(other.events)
        self.replies.extend(other.replies)
        self.dead_letters.extend(other.dead_letters)
        self.forward.extend(other.forward)


@dataclass(slots=True)
class Post:
    """A post as the desk handles it; its words are split only when grouping needs them."""

    mention: Mention
    rk: str
    at: float  # created_at as a timestamp
    _words: list[str] | None = None
    _terms: frozenset[str] | None = None
    _places: frozenset[str] | None = None
    _details: frozenset[str] | None = None

    @property
    def terms(self) -> frozenset[str]:
        """Content stems, for grouping appeals (computed only when needed)."""
        if self._terms is None:
            if self._words is None:
                self._words = strip_and_split(self.mention.text)[2]
            self._terms = frozenset(_terms(self._words))
        return self._terms

    @property
    def details(self) -> frozenset[str]:
        """Floors and entrances the text names (only when needed)."""
        if self._details is None:
            self._details = building_details(self.mention.text)
        return self._details

    @property
    def places(self) -> frozenset[str]:
        """Streets and houses the text names, for grouping appeals (only when needed)."""
        if self._places is None:
            self._places = place_marks(self.mention.text)
        return self._places


def _iso(at: datetime) -> str:
    """RFC 3339, as datetime.fromisoformat reads it back ("Z" for UTC); a tenth of
    what datetime.isoformat costs."""
    return _enc_json.encode(at)[1:-1].decode()


def _response_key(r: OfficialResponse) -> bytes:
    """The key the responses topic carries (the response id, see incidents/kafka/topics.py)."""
    return r.response_id.encode()


def _rank(priority: str) -> int:
    return {"normal": 0, "high": 1, "critical": 2}.get(priority, 0)


def all_records(store: MutableMapping[str, bytes]) -> Iterable[IncidentRecord]:
    for key, raw in store.items():
        if key.startswith("i:") and raw:
            yield _dec_incident.decode(raw)
