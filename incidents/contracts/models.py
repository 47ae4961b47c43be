"""Message contracts v1: one msgspec Struct per message type.

These Structs are the single source of truth. The JSON Schemas under
``incidents/contracts/json/`` are generated from them (``incidents schemas export``) and a
contract test fails when the committed files drift. On the hot path msgspec
decodes *and* validates in one pass (types, enums, lengths, patterns, UTF-8,
time zones), which is an order of magnitude cheaper than decoding to dicts and
running a JSON Schema validator afterwards.

Unknown fields are ignored on decode so that producers may add optional fields
without breaking consumers (backward-compatible evolution, see
``incidents/contracts/topics/*.yaml``).

Rules between fields ("`incident_id`, or `mention_id` with `region`") are declared
once, in :data:`RULES`: the Structs enforce them in ``__post_init__`` (msgspec runs
it on every decode, so a stage's decoder refuses what the rule refuses) and
``incidents/contracts/registry.py`` writes the same rule into the JSON Schema.

Why this module is long: it is the contract, every message type of every topic in one
place, read top to bottom by the teams that consume the topics. The JSON Schemas,
the decoders and the examples are generated or checked from it; splitting it by topic
would spread one versioned contract over files that must change together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from types import UnionType
from typing import Annotated, Any, Literal, get_args

import msgspec
from msgspec import Meta, Struct, field

Platform = Literal["vk", "ok", "telegram", "pos", "rss", "web", "other"]
PLATFORMS: tuple[str, ...] = ("vk", "ok", "telegram", "pos", "rss", "web", "other")

Priority = Literal["critical", "high", "normal"]
MentionStatus = Literal["accepted", "duplicate"]
Relevance = Literal["appeal", "signal", "noise"]
IncidentStatus = Literal[
    "new",
    "assigned",
    "in_progress",
    "answered_interim",
    "answered_final",
    "closed",
    "rejected",
    "merged_into",
]
ResponseKind = Literal["interim", "final"]

MAX_TEXT_CHARS = 65_536

AwareTime = Annotated[datetime, Meta(tz=True, description="RFC 3339 timestamp with a UTC offset")]
RegionCode = Annotated[
    str,
    Meta(
        pattern=r"^RU-[A-Z]{2,3}$",
        description="ISO 3166-2:RU subdivision code, e.g. RU-TVE",
        examples=["RU-TVE", "RU-MOW"],
    ),
]
#: The regions of the bundled gazetteer (incidents/domain/data/regions.csv; a unit test
#: holds the two equal). A producer's `region_hint` must be one of them.
KnownRegionCode = Literal[
    "RU-AD", "RU-AL", "RU-ALT", "RU-AMU", "RU-ARK", "RU-AST", "RU-BA", "RU-BEL", "RU-BRY",
    "RU-BU", "RU-CE", "RU-CHE", "RU-CHU", "RU-CR", "RU-CU", "RU-DA", "RU-IN", "RU-IRK",
    "RU-IVA", "RU-KAM", "RU-KB", "RU-KC", "RU-KDA", "RU-KEM", "RU-KGD", "RU-KGN", "RU-KHA",
    "RU-KHM", "RU-KIR", "RU-KK", "RU-KL", "RU-KLU", "RU-KO", "RU-KOS", "RU-KR", "RU-KRS",
    "RU-KYA", "RU-LEN", "RU-LIP", "RU-MAG", "RU-ME", "RU-MO", "RU-MOS", "RU-MOW", "RU-MUR",
    "RU-NEN", "RU-NGR", "RU-NIZ", "RU-NVS", "RU-OMS", "RU-ORE", "RU-ORL", "RU-PER", "RU-PNZ",
    "RU-PRI", "RU-PSK", "RU-ROS", "RU-RYA", "RU-SA", "RU-SAK", "RU-SAM", "RU-SAR", "RU-SE",
    "RU-SEV", "RU-SMO", "RU-SPE", "RU-STA", "RU-SVE", "RU-TA", "RU-TAM", "RU-TOM", "RU-TUL",
    "RU-TVE", "RU-TY", "RU-TYU", "RU-UD", "RU-ULY", "RU-VGG", "RU-VLA", "RU-VLG", "RU-VOR",
    "RU-YAN", "RU-YAR", "RU-YEV", "RU-ZAB",
]  # fmt: skip
REGION_CODES: tuple[str, ...] = get_args(KnownRegionCode)
KnownRegion = Annotated[
    KnownRegionCode,
    Meta(
        description="ISO 3166-2:RU code of a region the pipeline knows (the 85 of its "
        "gazetteer), e.g. RU-TVE",
        examples=["RU-TVE", "RU-MOW"],
    ),
]
MentionId = Annotated[
    str,
    Meta(
        min_length=3,
        max_length=512,
        pattern=r"^[a-z]+:\S+$",
        description="Globally unique `platform:native-id`, e.g. vk:wall-1234_567",
    ),
]
ShortText = Annotated[str, Meta(max_length=1024)]
SourceTopic = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=1024,
        description="The source's own classification of the post (a portal's category or "
        "reason chosen by the resident), as the source words it; grouping never joins two "
        "posts of one source that it classed differently",
        examples=["Неисправное освещение в парадной"],
    ),
]
NonEmptyId = Annotated[str, Meta(min_length=1, max_length=512)]
ProblemCode = Annotated[
    str,
    Meta(
        pattern=r"^[a-z][a-z0-9_]{1,63}$",
        description="A problem type of the taxonomy (docs/problems.md), e.g. street_light_out",
        examples=["street_light_out", "no_hot_water"],
    ),
]


class Source(Struct, omit_defaults=True):
    """The community, channel, chat or portal a mention was published in."""

    id: NonEmptyId
    name: ShortText | None = None
    kind: Annotated[
        str | None,
        Meta(description="official, city_public, media, chat, portal, ..."),
    ] = None
    url: ShortText | None = None


class Author(Struct, omit_defaults=True):
    """The author of a post; raw in mentions.raw, pseudonymized everywhere after."""

    id: NonEmptyId
    name: ShortText | None = None


class GeoPoint(Struct):
    lat: Annotated[float, Meta(ge=-90, le=90)]
    lon: Annotated[float, Meta(ge=-180, le=180)]


class Engagement(Struct, omit_defaults=True):
    likes: Annotated[int, Meta(ge=0)] | None = None
    reposts: Annotated[int, Meta(ge=0)] | None = None
    comments: Annotated[int, Meta(ge=0)] | None = None
    views: Annotated[int, Meta(ge=0)] | None = None


class Origin(Struct, omit_defaults=True):
    """The post a repost or a forward copies, as its platform names it."""

    id: Annotated[
        MentionId,
        Meta(
            description="The original's mention id (`platform:native-id`), as a connector "
            "would publish the original itself, e.g. vk:wall-41237765_61502",
            examples=["vk:wall-41237765_61502", "telegram:-1001888000111/2291"],
        ),
    ]
    platform: Platform
    url: ShortText | None = None


OriginField = Annotated[
    Origin | None,
    Meta(
        description="Set when the platform states that this post copies another one (a VK "
        "repost's copy_history, a Telegram forward of a channel post): dedup links the two "
        "without comparing texts (docs/dedup.md). Absent when the platform names no "
        "original post"
    ),
]
EditedAt = Annotated[
    AwareTime | None,
    Meta(
        description="When the platform says the post was last edited. A post read again "
        "after an edit is published again with the same id and a later edited_at: a new "
        "version of the same mention, which the pipeline re-judges. Versions of one id are "
        "ordered by edited_at (absent: the first version, before any edit); a version not "
        "newer than the one already seen changes nothing"
    ),
]


class RawMention(Struct, omit_defaults=True):
    """RawMention v1: what connectors publish to mentions.raw.

    v1.1 added the optional ``origin`` and ``edited_at`` in place (backward compatible).
    """

    id: MentionId
    platform: Platform
    source: Source
    text: Annotated[
        str,
        Meta(
            min_length=1,
            max_length=MAX_TEXT_CHARS,
            pattern=r"\S",
            description="the post's text: at least one character that is not white space",
        ),
    ]
    created_at: AwareTime
    author: Author | None = None
    url: ShortText | None = None
    reply_to: Annotated[str, Meta(max_length=512)] | None = None
    region_hint: KnownRegion | None = None
    geo: GeoPoint | None = None
    metrics: Engagement | None = None
    source_topic: SourceTopic | None = None
    origin: OriginField = None
    edited_at: EditedAt = None

    def __post_init__(self) -> None:
        enforce(self)


class Place(Struct, omit_defaults=True):
    """Where a mention is about, and how that was found."""

    region: RegionCode | None = None
    region_source: Literal["hint", "geo", "text"] | None = None
    municipality: ShortText | None = None
    municipality_source: Literal["text", "geo", "hint"] | None = None
    oktmo: Annotated[str, Meta(pattern=r"^\d{8,11}$")] | None = None
    address: ShortText | None = None
    geo: GeoPoint | None = None


class Mention(Struct, omit_defaults=True):
    """Mention v1: an enriched mention.

    On mentions.enriched the dedup and grouping fields (status, duplicate_of,
    incident_id) are absent; on mentions.deduped status and duplicate_of are set,
    and on mentions.resolved all three. A duplicate carries what its original was
    found to be about (place, agency, appeal and category), whatever its own
    source or text suggested; when its own evidence named another region, that
    reading is kept in ``own_place``.
    """

    id: MentionId
    platform: Platform
    source: Source
    text: Annotated[str, Meta(min_length=1, max_length=MAX_TEXT_CHARS)]
    created_at: AwareTime
    fingerprint: Annotated[
        str, Meta(description="hash of the normalized text; equal texts, equal prints")
    ]
    is_appeal: bool
    appeal_score: Annotated[
        float,
        Meta(
            ge=0,
            le=1,
            description="confidence that the post is an appeal (the relevance model's "
            "probability); is_appeal when it reaches the deployment's threshold",
        ),
    ]
    category: Annotated[
        str | None, Meta(description="rubric code of an appeal; null for every non-appeal")
    ]
    category_confidence: Annotated[float, Meta(ge=0, le=1)]
    priority: Priority
    place: Place
    agency: str | None
    author: Author | None = None
    url: ShortText | None = None
    reply_to: str | None = None
    metrics: Engagement | None = None
    priority_cues: list[str] = field(default_factory=list)
    status: MentionStatus | None = None
    duplicate_of: MentionId | None = None
    incident_id: str | None = None
    pipeline_version: str = "1"
    source_topic: SourceTopic | None = None
    problems: Annotated[
        list[ProblemCode],
        Meta(
            max_length=8,
            description="What is wrong with what: the problem types recognised in the text, "
            "the main one first (docs/problems.md); empty or absent when the text names no "
            "known problem (then the category comes from the text classifier)",
        ),
    ] = field(default_factory=list)
    relevance: Annotated[
        Relevance | None,
        Meta(
            description="appeal; signal (a media report or announcement about a local "
            "problem: not an appeal, never answered, may be linked to an incident as "
            "context); noise (chatter, memes, ads, thanks, opinions, other news)"
        ),
    ] = None
    needs_review: Annotated[
        bool,
        Meta(
            description="appeal_score lies near the deployment's threshold: an operator "
            "console may show the post for a decision (absent when false)"
        ),
    ] = False
    origin: OriginField = None
    edited_at: EditedAt = None
    own_place: Annotated[
        Place | None,
        Meta(
            description="Only on a duplicate whose own evidence (region hint, coordinates, "
            "text) placed it in another region than its original: that reading, kept and "
            "flagged. `place` is the original's"
        ),
    ] = None


#: What the internal topics mentions.enriched and mentions.deduped carry: a batch of
#: mentions, one Kafka message per stage batch and key (a JSON array), or a single
#: mention (a dead letter replayed to the topic).
MentionBatch = list[Mention] | Mention


class MentionRef(Struct, omit_defaults=True):
    """Enough of a mention to address a reply to it."""

    id: MentionId
    platform: Platform
    source_id: str
    created_at: AwareTime
    url: str | None = None
    duplicate_of: str | None = None


class SlaState(Struct, omit_defaults=True):
    first_reaction_due: AwareTime | None = None
    final_answer_due: AwareTime | None = None
    first_reaction_at: AwareTime | None = None
    final_answer_at: AwareTime | None = None
    first_reaction_breached: bool = False
    final_answer_breached: bool = False


class Incident(Struct, omit_defaults=True):
    """Incident v1: the latest state of one problem, on the compacted incidents topic."""

    id: Annotated[str, Meta(description="`<region or RU-UNK>/<id>`: the key carries the region")]
    region: RegionCode | None
    category: str | None
    status: IncidentStatus
    priority: Priority
    opened_at: AwareTime
    updated_at: AwareTime
    version: Annotated[int, Meta(ge=1, description="increases with every change")]
    title: str
    mentions_count: Annotated[int, Meta(ge=1)]
    municipality: str | None = None
    address: str | None = None
    agency: str | None = None
    geo: GeoPoint | None = None
    primary_mention_id: str | None = None
    mention_ids: list[str] = field(default_factory=list)
    platforms: list[str] = field(default_factory=list)
    sla: SlaState = field(default_factory=SlaState)
    reopened_from: str | None = None
    merged_into: str | None = None
    closed_at: AwareTime | None = None
    problem: Annotated[
        ProblemCode | None,
        Meta(description="The incident's problem type (docs/problems.md), when recognised"),
    ] = None
    signal_ids: Annotated[
        list[str],
        Meta(
            description="media reports about the same problem linked as context: not "
            "counted in mentions_count, never answered (at most 20 kept)"
        ),
    ] = field(default_factory=list)


IncidentEventType = Literal[
    "created",
    "attached",
    "detached",
    "duplicate_linked",
    "assigned",
    "status_changed",
    "responded",
    "sla_breached",
    "sla_breach_retracted",
    "reopened",
    "merged",
    "split",
    "closed",
]


class IncidentEvent(Struct, omit_defaults=True):
    """IncidentEvent v1: one change of one incident, on incidents.events."""

    event_id: Annotated[str, Meta(description="deterministic: replays give the same id")]
    incident_id: str
    type: IncidentEventType
    at: AwareTime
    region: RegionCode | None
    incident_version: Annotated[int, Meta(ge=1)]
    category: str | None = None
    agency: str | None = None
    priority: Priority | None = None
    status: IncidentStatus | None = None
    mention_id: str | None = None
    response_id: str | None = None
    detail: dict[str, str | int | float | bool | None] = field(default_factory=dict)


class OfficialResponse(Struct, omit_defaults=True):
    """OfficialResponse v1: an agency's answer, from the operator console."""

    response_id: NonEmptyId
    kind: ResponseKind
    agency: Annotated[str, Meta(min_length=1, max_length=512)]
    text: Annotated[str, Meta(min_length=1, max_length=MAX_TEXT_CHARS)]
    responded_at: AwareTime
    incident_id: str | None = None
    mention_id: MentionId | None = None
    region: RegionCode | None = None
    operator: ShortText | None = None

    def __post_init__(self) -> None:
        enforce(self)


class Reply(Struct, omit_defaults=True):
    """Reply v1: one answer addressed to one post, on replies.outbound."""

    reply_id: Annotated[str, Meta(description="hash of response_id and mention_id")]
    response_id: str
    incident_id: str
    mention_id: MentionId
    platform: Platform
    source_id: str
    kind: ResponseKind
    agency: str
    text: str
    responded_at: AwareTime
    region: RegionCode | None = None
    post_url: str | None = None


ReplyStatus = Literal["posted", "dry_run", "failed", "unknown", "unsupported"]


class ReplyResult(Struct, omit_defaults=True):
    """ReplyResult v1: what happened to one Reply, on replies.results (key mention id)."""

    reply_id: Annotated[str, Meta(description="the Reply this is the outcome of")]
    mention_id: MentionId
    response_id: str
    incident_id: str
    platform: Platform
    status: Annotated[
        ReplyStatus,
        Meta(
            description="posted; dry_run (no token: logged, not sent); failed (the platform "
            "refused for good); unknown (sent, no confirmation: an operator checks); "
            "unsupported (no publisher for this platform)"
        ),
    ]
    at: AwareTime
    attempts: Annotated[int, Meta(ge=0)] = 0
    external_id: Annotated[str | None, Meta(description="the platform's id of the answer")] = None
    error: str | None = None


class IncidentCommand(Struct, omit_defaults=True, tag_field="type"):
    """Base for messages on incidents.commands (keyed by region)."""

    command_id: NonEmptyId
    at: AwareTime


class AssignCommand(IncidentCommand, tag="assign"):
    incident_id: str
    agency: Annotated[str, Meta(min_length=1)]
    operator: str | None = None


class StatusCommand(IncidentCommand, tag="set_status"):
    incident_id: str
    status: Literal["in_progress", "closed", "rejected"]
    operator: str | None = None
    reason: str | None = None


class MergeCommand(IncidentCommand, tag="merge"):
    incident_id: Annotated[str, Meta(description="the incident that disappears")]
    into: str
    operator: str | None = None


class SplitCommand(IncidentCommand, tag="split"):
    incident_id: str
    mention_ids: Annotated[list[str], Meta(min_length=1)]
    operator: str | None = None


class RespondCommand(IncidentCommand, tag="respond"):
    """An OfficialResponse routed to the partition that owns its incident."""

    response: OfficialResponse


class TickCommand(IncidentCommand, tag="tick"):
    """Advances a region's event-time clock when it has no traffic (SLA timers); internal."""

    region: Annotated[str | None, Meta(description="region code or 'unknown'")] = None


class AdoptCommand(IncidentCommand, tag="adopt"):
    """Internal, from the dedup stage to the desk of a post that had no region: a post
    placed in `region` copies it (or it copied that post and arrived first), so its
    incident moves to that region."""

    mention_id: Annotated[str, Meta(description="the post without a region (the root)")]
    region: RegionCode
    by: Annotated[str, Meta(description="the post that gave the region")]


class TakeOverCommand(IncidentCommand, tag="take_over"):
    """Internal, from desk to desk: an incident of posts without a region, moved into the
    region a copy of them gave (see AdoptCommand). The receiving desk continues it as
    `into` (or adds it to `into` when a copy already opened that)."""

    into: str
    incident: Incident
    members: list[MentionRef] = field(default_factory=list)
    answers: list[OfficialResponse] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)
    places: list[str] = field(default_factory=list)


AnyCommand = (
    AssignCommand
    | StatusCommand
    | MergeCommand
    | SplitCommand
    | RespondCommand
    | TickCommand
    | AdoptCommand
    | TakeOverCommand
)
#: What operator consoles may write to incidents.commands: `respond` and `tick` are internal.
OperatorCommand = AssignCommand | StatusCommand | MergeCommand | SplitCommand

ErrorKind = Literal[
    "invalid_json",
    "invalid_encoding",
    "schema",
    "too_large",
    "unknown_region",
    "unknown_incident",
    "processing_error",
]


class DeadLetter(Struct, omit_defaults=True):
    """DeadLetter v1: an input a stage could not handle, with its original bytes."""

    dlq_id: Annotated[str, Meta(description="hash of topic, partition and offset")]
    stage: str
    topic: str
    partition: int
    offset: int
    error_kind: ErrorKind
    reason: Annotated[str, Meta(max_length=2048)]
    failed_at: AwareTime
    original_b64: Annotated[str, Meta(description="the original value bytes, base64")]
    original_size: Annotated[int, Meta(ge=0)]
    key_b64: str | None = None
    mention_id: str | None = None
    replayed: Annotated[int, Meta(ge=0, description="times this record was replayed")] = 0


#: name -> (Struct, version); what ``incidents schemas export`` writes.
SCHEMAS: dict[str, tuple[type | UnionType, int]] = {
    "raw-mention": (RawMention, 1),
    "mention": (Mention, 1),
    "mention-batch": (MentionBatch, 1),
    "incident": (Incident, 1),
    "incident-event": (IncidentEvent, 1),
    "official-response": (OfficialResponse, 1),
    "reply": (Reply, 1),
    "reply-result": (ReplyResult, 1),
    "incident-command": (AnyCommand, 1),
    "operator-command": (OperatorCommand, 1),
    "dead-letter": (DeadLetter, 1),
}


# ------------------------------------------------------------ rules between fields
def _set(value: object) -> bool:
    return value is not None and value != ""


@dataclass(frozen=True)
class AnyOfSets:
    """At least one of these sets of fields is wholly set (present, not null, not empty)."""

    sets: tuple[tuple[str, ...], ...]
    message: str

    def check(self, obj: object) -> None:
        if not any(all(_set(getattr(obj, f)) for f in fields) for fields in self.sets):
            raise ValueError(self.message)

    def schema(self) -> dict[str, Any]:
        is_set = {"not": {"enum": [None, ""]}}
        return {
            "description": self.message,
            "anyOf": [
                {"required": list(fields), "properties": {f: is_set for f in fields}}
                for fields in self.sets
            ],
        }


@dataclass(frozen=True)
class PrefixedBy:
    """`field` starts with the value of `by` and a colon (an id `vk:wall-1_2` on platform vk)."""

    field: str
    by: str
    values: tuple[str, ...]  # every value `by` can take

    def check(self, obj: object) -> None:
        value, prefix = getattr(obj, self.field), getattr(obj, self.by)
        if not str(value).startswith(f"{prefix}:"):
            raise ValueError(f"{self.field} {value!r} must start with '{prefix}:'")

    def schema(self) -> dict[str, Any]:
        return {
            "description": f"`{self.field}` starts with `{self.by}` and a colon",
            "allOf": [
                {
                    "if": {"required": [self.by], "properties": {self.by: {"const": v}}},
                    "then": {"properties": {self.field: {"pattern": f"^{re.escape(v)}:"}}},
                }
                for v in self.values
            ],
        }


Rule = AnyOfSets | PrefixedBy

#: Every rule between fields, by Struct: enforced on decode (``__post_init__``) and
#: written into the JSON Schemas (incidents/contracts/registry.py). The one place to add one.
RULES: dict[type, tuple[Rule, ...]] = {
    RawMention: (PrefixedBy("id", "platform", PLATFORMS),),
    OfficialResponse: (
        AnyOfSets(
            (("incident_id",), ("mention_id", "region")),
            "a response names `incident_id`, or `mention_id` with `region` (the region "
            "routes it to the desk that owns the mention)",
        ),
    ),
}


def enforce(obj: object) -> None:
    """Raise ValueError (msgspec: ValidationError on decode) when a rule of RULES fails."""
    for rule in RULES.get(type(obj), ()):
        rule.check(obj)


_encoder = msgspec.json.Encoder()


def encode(obj: object) -> bytes:
    return _encoder.encode(obj)
