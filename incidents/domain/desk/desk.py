"""The incident desk: grouping, lifecycle, replies, SLA, for the posts of its regions.

The desk takes posts after the dedup stage (incidents/domain/copies/dedup.py),
which has already said whether each one is new or a copy (and of which post, in
which region). A copy joins its original's incident; a new appeal is grouped
with the open incidents of its region and category, or opens one. A newer version
of a post (an edit, judged again by the dedup stage) whose words changed leaves
its incident and is placed again by its new verdict.

Everything that needs memory of earlier mentions lives here, behind a plain
``MutableMapping[str, bytes]``. In the stream that mapping is a Faust table
(changelogged, partitioned by region, so one worker owns a region at a time);
offline (``incidents process``) it is a dict. The desk keeps derived indexes
(open incidents per region and category, timers, expiry heaps) in memory and
rebuilds them from the mapping after a restart or a rebalance, so the mapping is
the only state that must survive.

Every decision is a pure function of the mapping and the input, and every
output carries a deterministic id, so redelivered input re-emits the same
outputs instead of new ones (at-least-once delivery made idempotent).
"""

from __future__ import annotations

import hashlib
import heapq
from collections import defaultdict
from collections.abc import Callable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Literal

import msgspec

from incidents.contracts import topology
from incidents.contracts.models import (
    AdoptCommand,
    AnyCommand,
    AssignCommand,
    Incident,
    IncidentEvent,
    IncidentEventType,
    Mention,
    MentionRef,
    MergeCommand,
    OfficialResponse,
    Reply,
    RespondCommand,
    SlaState,
    SplitCommand,
    StatusCommand,
    TakeOverCommand,
    TickCommand,
)
from incidents.domain.copies.dedup import UNKNOWN_REGION, address_key, region_key
from incidents.domain.desk.grouping import (
    GroupIndex,
    Probe,
    Profile,
    Rules,
    Topic,
    building_details,
    place_marks,
    topic_of,
)
from incidents.domain.desk.sla import SlaPolicy, WorkCalendar
from incidents.domain.policy import DedupSettings, GroupingSettings, SlaSettings
from incidents.domain.text.normalize import strip_and_split
from incidents.domain.understanding.problems import Taxonomy

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


def _depth(tax: Taxonomy, code: str) -> int:
    depth = 0
    while (parent := tax.types[code].parent) and depth < 8:
        code, depth = parent, depth + 1
    return depth


def _iso(at: datetime) -> str:
    """RFC 3339, as datetime.fromisoformat reads it back ("Z" for UTC); a tenth of
    what datetime.isoformat costs."""
    return _enc_json.encode(at)[1:-1].decode()


class Desk:
    def __init__(
        self,
        store: MutableMapping[str, bytes],
        dedup: DedupSettings,
        grouping: GroupingSettings,
        sla: SlaSettings,
        timezone_of: Callable[[str | None, str | None], tzinfo],
        population_of: Callable[[str | None, str | None], int | None] | None = None,
        problems: Taxonomy | None = None,
    ) -> None:
        self.store = store
        self.problems = problems
        self.dedup = dedup
        self.grouping = grouping
        self.sla_settings = sla
        self.policy = SlaPolicy(sla)
        self.timezone_of = timezone_of
        self.population_of = population_of
        self._calendars: dict[tuple[str | None, str | None], WorkCalendar] = {}
        self._built = False
        self._expiry: dict[str, list[tuple[float, str]]] = defaultdict(list)
        # Slim records of appeals past the dedup window, so late answers find their post.
        self._archive_expiry: dict[str, list[tuple[float, str]]] = defaultdict(list)
        self._groups = GroupIndex(
            Rules(
                radius_m=grouping.radius_m,
                text_threshold=max(grouping.min_similarity * 2, 0.45),
                window_s=grouping.window_hours * 3600,
                min_terms=grouping.min_terms,
                span_s=grouping.max_span_hours * 3600,
                source_topics=grouping.source_topics,
                taxonomy=problems if grouping.problems else None,
                unknown=grouping.unknown_problem,
                unknown_similarity=grouping.unknown_similarity,
            )
        )
        self._pruned_at: dict[str, float] = {}
        self._parked: dict[str, set[str]] = {}  # mention id → parked response ids
        self._status: dict[str, str] = {}
        self._timers: dict[str, list[tuple[float, str, str]]] = defaultdict(list)
        self._clock: dict[str, float] = {}
        # Set while a new version of a mention is re-judged: its events get ids of their own.
        self._revision = ""

    # ----------------------------------------------------------------- state
    def _get_mention(self, mention_id: str) -> MentionRecord | None:
        raw = self.store.get("m:" + mention_id)
        return _dec_mention.decode(raw) if raw else None

    def _get_known(self, mention_id: str) -> MentionRecord | None:
        """A mention in the dedup window, or an appeal's slim record kept after it."""
        rec = self._get_mention(mention_id)
        if rec is None:
            raw = self.store.get("a:" + mention_id)
            rec = _dec_mention.decode(raw) if raw else None
        return rec

    def _put_mention(self, rec: MentionRecord) -> None:
        self.store["m:" + rec.id] = _enc.encode(rec)

    def get_incident(self, incident_id: str) -> IncidentRecord | None:
        raw = self.store.get("i:" + incident_id)
        return _dec_incident.decode(raw) if raw else None

    def _put_incident(self, rec: IncidentRecord) -> None:
        self.store["i:" + rec.incident.id] = _enc.encode(rec)

    def invalidate(self) -> None:
        """Forget derived indexes; they are rebuilt from the store on next use."""
        self._built = False

    def _ensure_built(self) -> None:
        if self._built:
            return
        self._expiry.clear()
        self._archive_expiry.clear()
        self._groups.clear()
        self._status.clear()
        self._timers.clear()
        self._clock.clear()
        self._parked.clear()
        for key, raw in list(self.store.items()):
            if not raw:
                continue
            if key.startswith("m:"):
                m = _dec_mention.decode(raw)
                self._index_mention(m)
                self._clock[m.rk] = max(self._clock.get(m.rk, 0.0), m.at)
            elif key.startswith("i:"):
                self._index_incident(_dec_incident.decode(raw))
            elif key.startswith("c:"):
                rk = key[2:]
                self._clock[rk] = max(self._clock.get(rk, 0.0), float(raw.decode()))
            elif key.startswith("r:"):
                parked = _dec_parked.decode(raw)
                self._parked.setdefault(parked.target, set()).add(parked.response.response_id)
            elif key.startswith("a:"):
                a = _dec_mention.decode(raw)
                heapq.heappush(self._archive_expiry[a.rk], (a.at, a.id))
        self._built = True

    def _index_mention(self, m: MentionRecord) -> None:
        """The window's expiry: a post's record leaves with the dedup window."""
        heapq.heappush(self._expiry[m.rk], (m.at, m.id))

    def _index_incident(self, rec: IncidentRecord) -> None:
        inc = rec.incident
        rk = region_key(inc.region)
        group = (rk, self._bucket(inc.category))
        self._status[inc.id] = inc.status
        if inc.status in GROUPABLE_STATUSES:
            self._groups.put(
                group,
                Profile(
                    id=inc.id,
                    municipality=inc.municipality,
                    address_key=rec.address_key,
                    geo=inc.geo,
                    terms=frozenset(rec.terms),
                    last_at=rec.last_at,
                    opened_at=inc.opened_at.timestamp(),
                    status=inc.status,
                    places=frozenset(rec.places),
                    topics=frozenset(rec.topics),
                    problem=inc.problem,
                    details=frozenset(rec.details),
                ),
            )
        else:
            self._groups.remove(group, inc.id)
        # Timers are (re)armed idempotently: a stale entry is skipped when it fires.
        sla = inc.sla
        if sla.first_reaction_due and not sla.first_reaction_at and not sla.first_reaction_breached:
            heapq.heappush(
                self._timers[rk], (_ts(sla.first_reaction_due), inc.id, "first_reaction")
            )
        if sla.final_answer_due and not sla.final_answer_at and not sla.final_answer_breached:
            heapq.heappush(self._timers[rk], (_ts(sla.final_answer_due), inc.id, "final_answer"))

    def calendar(self, region: str | None, municipality: str | None) -> WorkCalendar:
        key = (region, municipality)
        cal = self._calendars.get(key)
        if cal is None:
            cal = WorkCalendar.from_settings(
                self.sla_settings, self.timezone_of(region, municipality)
            )
            self._calendars[key] = cal
        return cal

    # ------------------------------------------------------------- mentions
    def resolve(self, m: Mention) -> Outcome:
        """Take one post as the dedup stage decided it (status, duplicate_of): a copy joins
        its original's incident, a new appeal is grouped or opens one; a redelivery
        re-emits what the post produced the first time, a new version (an edit) moves the
        post where its new verdict puts it."""
        self._ensure_built()
        rk = region_key(m.place.region)
        current = self._get_mention(m.id)
        known: MentionRecord | None
        if current is not None and _newer(m, current):
            if current.rk == rk:
                return self._revise(m, current)
            # A new version placed in another region is a new post on that region's desk:
            # in the stream it is another partition, perhaps another worker's, and this
            # desk decides as one that does not see it (docs/incidents.md, "Edited posts").
            known = None
        else:
            known = current or self._get_known(m.id)
        if known is not None:
            return self._redelivery(m, known)
        out = Outcome()
        p = Post(mention=m, rk=rk, at=m.created_at.timestamp())
        # Time first: fire the region's due timers and expire the window up to now.
        self._advance(p.rk, p.at, out)
        self._decide(p, out)
        return out

    def _decide(self, p: Post, out: Outcome, vacated: str | None = None) -> None:
        """Place the post: a copy in its original's incident, an appeal grouped or in an
        incident of its own, a media report as context; and remember it.

        ``vacated``: an incident this post (a new version of it) was the only member of
        and has just left; it is reused when the post opens none of another.
        """
        m = p.mention
        at = p.at
        status: Literal["accepted", "duplicate"] = "accepted"
        incident_id: str | None = None
        duplicate_of: str | None = None
        if m.status == "duplicate" and m.duplicate_of:
            status, duplicate_of = "duplicate", m.duplicate_of
            incident_id = self._join_family(p, duplicate_of, out)
        elif m.is_appeal:
            incident_id = self._group(p, at, out, vacated)
        elif m.relevance == "signal":
            incident_id = self._link_signal(p, out)
        if vacated and incident_id != vacated:
            # Merged into the incident the post is now a member of; closed when it is in
            # none, or only as a signal (no longer an appeal).
            member_of = incident_id if duplicate_of is not None or m.is_appeal else None
            self._vacate(vacated, member_of, m, out)

        rec = MentionRecord(
            id=m.id,
            rk=p.rk,
            at=at,
            created_at=_iso(m.created_at),
            status=status,
            platform=m.platform,
            source_id=m.source.id,
            url=m.url,
            duplicate_of=duplicate_of,
            incident_id=incident_id,
            category=m.category,
            municipality=m.place.municipality,
            edited=m.edited_at.timestamp() if m.edited_at else 0.0,
            fp=m.fingerprint,
        )
        self._put_mention(rec)
        self._index_mention(rec)
        if m.id in self._parked:
            self._unpark(m.id, out)
        out.mentions.insert(
            0,
            msgspec.structs.replace(
                m, status=status, duplicate_of=duplicate_of, incident_id=incident_id
            ),
        )
        waiting = self.store.get("p:" + m.id)
        if waiting:  # its family's region came first (AdoptCommand parked by _adopt)
            del self.store["p:" + m.id]
            out.extend(self._adopt(_dec_adopt.decode(waiting)))

    # ----------------------------------------------------------------- edits
    def _revise(self, m: Mention, old: MentionRecord) -> Outcome:
        """A new version of a post already placed (the platform says it was edited); the
        dedup stage has judged it again.

        Same words: the new version is recorded and keeps its place. Other words: the
        post leaves the incident it was in and is placed again by its new verdict, as if
        it had just come (docs/incidents.md, "Edited posts"); copies of it stay where
        they are.
        """
        assert m.edited_at is not None
        out = Outcome(revised=True)
        p = Post(mention=m, rk=old.rk, at=m.created_at.timestamp())
        self._advance(p.rk, p.at, out)
        if old.fp and m.fingerprint == old.fp:
            old.edited = m.edited_at.timestamp()
            self._put_mention(old)
            out.mentions.append(
                msgspec.structs.replace(
                    m,
                    status=old.status,
                    duplicate_of=old.duplicate_of,
                    incident_id=old.incident_id,
                )
            )
            return out
        self._revision = "@" + _iso(m.edited_at)
        try:
            vacated = self._leave(old.incident_id, m, out) if old.incident_id else None
            self._decide(p, out, vacated)
        finally:
            self._revision = ""
        return out

    def _leave(self, inc_id: str, m: Mention, out: Outcome) -> str | None:
        """The edited post leaves its incident; returns the incident if the post was its
        only member (then it stays as it is until _decide knows where the post goes)."""
        rec = self.get_incident(inc_id)
        if rec is None:
            return None
        inc = rec.incident
        at = m.edited_at or m.created_at
        if m.id in inc.signal_ids:
            inc.signal_ids.remove(m.id)
            detail: Detail = {"as": "signal", "by": "edit"}
        elif any(r.id == m.id for r in rec.members) or m.id in inc.mention_ids:
            if inc.mentions_count <= 1:
                self._groups.remove((region_key(inc.region), self._bucket(inc.category)), inc.id)
                return inc.id
            rec.members = [r for r in rec.members if r.id != m.id]
            inc.mention_ids = [i for i in inc.mention_ids if i != m.id]
            inc.mentions_count -= 1
            if inc.primary_mention_id == m.id:
                inc.primary_mention_id = rec.members[0].id if rec.members else None
            detail = {"by": "edit"}
        else:
            return None
        inc.updated_at = max(inc.updated_at, at)
        inc.version += 1
        out.events.append(self._event(inc, "detached", at, mention_id=m.id, detail=detail))
        self._put_incident(rec)
        self._index_incident(rec)
        out.incidents.append(inc)
        return None

    def _vacate(self, inc_id: str, now: str | None, m: Mention, out: Outcome) -> None:
        """The incident an edited post was alone in, once the post went elsewhere: merged
        into the incident it joined, or closed when it joined none (no longer an appeal)."""
        rec = self.get_incident(inc_id)
        if rec is None:
            return
        inc = rec.incident
        at = m.edited_at or m.created_at
        inc.version += 1
        out.events.append(self._event(inc, "detached", at, mention_id=m.id, detail={"by": "edit"}))
        if now is not None:
            inc.status, inc.merged_into = "merged_into", now
            kind: IncidentEventType = "merged"
            detail: Detail = {"into": now, "by": "edit"}
        else:
            inc.status, inc.closed_at = "closed", at
            kind, detail = "closed", {"reason": "edited", "by": "edit"}
        inc.updated_at = max(inc.updated_at, at)
        inc.version += 1
        out.events.append(self._event(inc, kind, at, cause=f"{kind}:{m.id}", detail=detail))
        self._put_incident(rec)
        self._index_incident(rec)
        out.incidents.append(inc)

    def _refill(self, inc_id: str, p: Post, at: float, out: Outcome) -> str:
        """An incident whose only post was edited and still opens no other: the post stays
        its member and the incident takes what the new version says."""
        m = p.mention
        rec = self.get_incident(inc_id)
        assert rec is not None
        inc = rec.incident
        ref = self._ref(m)
        rec.members, inc.mention_ids = [ref], [m.id]
        inc.mentions_count = 1
        inc.primary_mention_id = m.id
        inc.title = m.text[:140]
        inc.category = m.category
        inc.municipality = m.place.municipality
        inc.address = m.place.address
        inc.geo = m.place.geo
        inc.problem = m.problems[0] if m.problems else None
        if _rank(m.priority) > _rank(inc.priority):
            inc.priority = m.priority
        if not inc.agency and m.agency:
            inc.agency = m.agency
        rec.terms = sorted(p.terms)[:_MAX_TERMS]
        rec.places = sorted(p.places)[:_MAX_PLACES]
        rec.details = sorted(p.details)[:_MAX_PLACES]
        rec.topics = _with_topic([], _topic(m))
        rec.address_key = address_key(m.place.address)
        rec.last_at = max(rec.last_at, at)
        edited = m.edited_at or m.created_at
        inc.updated_at = max(inc.updated_at, edited)
        inc.version += 1
        out.events.append(
            self._event(inc, "attached", edited, mention_id=m.id, detail={"by": "edit"})
        )
        self._put_incident(rec)
        self._index_incident(rec)
        out.incidents.append(inc)
        return inc.id

    def _join_family(self, p: Post, original_id: str, out: Outcome) -> str | None:
        """A copy joins its original's incident (none when the original has none).

        The dedup stage keys a copy by its original's region, so the original is on
        this desk. Not when the original had no region and this copy gave its family
        one (adoption): the original's incident is still on the desk of `unknown`,
        which moves it here as `<region>/<hash of the original>` (TakeOverCommand). A
        copy that arrives first opens that incident (an appeal), or joins it.
        """
        original = self._get_known(original_id)
        # Only a record of this region's partition: a worker that happens to hold the
        # partition of `unknown` too sees its records, and must decide as one that does not.
        if original is not None and original.rk == p.rk:
            if original.incident_id:
                self._attach(original.incident_id, p.mention, p, p.at, out, original_id)
            return original.incident_id
        family = f"{p.rk}/{short_hash(original_id)}"
        if self.get_incident(family) is not None:
            self._attach(family, p.mention, p, p.at, out, original_id)
            return family
        if not p.mention.is_appeal:
            return None
        return self._open_incident(
            p, p.at, address_key(p.mention.place.address), out, inc_id=family
        )

    def _redelivery(self, m: Mention, known: MentionRecord) -> Outcome:
        """The same id again: re-emit what it produced, change nothing."""
        out = Outcome(redelivered=True)
        out.mentions.append(
            msgspec.structs.replace(
                m,
                status=known.status,
                duplicate_of=known.duplicate_of,
                incident_id=known.incident_id,
            )
        )
        if known.incident_id:
            rec = self.get_incident(known.incident_id)
            if rec is not None:
                inc = rec.incident
                out.incidents.append(inc)
                kind: IncidentEventType = "duplicate_linked" if known.duplicate_of else "attached"
                detail: Detail | None = {"as": "signal"} if m.id in inc.signal_ids else None
                if inc.primary_mention_id == m.id:
                    kind, detail = "created", _created_detail(inc)
                out.events.append(
                    self._event(
                        inc, kind, _dt(known.at), mention_id=m.id, detail=detail, stable=True
                    )
                )
                ref = next((x for x in rec.members if x.id == m.id), None)
                if ref is not None:  # the answers it got, again (same reply ids)
                    out.replies.extend(self._reply(rec.incident, ref, a) for a in rec.answers)
        return out

    # ------------------------------------------------------------- grouping
    def _probe(self, p: Post, at: float, addr: str | None) -> Probe:
        m = p.mention
        return Probe(
            municipality=m.place.municipality,
            address_key=addr,
            geo=m.place.geo,
            terms=frozenset(p.terms),
            at=at,
            places=p.places,
            words_alone=self._words_alone(m.place.region, m.place.municipality),
            topic=_topic(m),
            problems=tuple(m.problems),
            details=p.details,
        )

    def _group(self, p: Post, at: float, out: Outcome, vacated: str | None = None) -> str:
        m = p.mention
        addr = address_key(m.place.address)
        probe = self._probe(p, at, addr)
        best, follows = self._groups.best((p.rk, self._bucket(m.category)), probe)
        if best is not None:
            self._attach(best, m, p, at, out)
            return best
        if vacated is not None:
            return self._refill(vacated, p, at, out)
        return self._open_incident(p, at, addr, out, follows)

    def _bucket(self, category: str | None) -> str | None:
        """Which incidents an appeal is compared with: those of its category, or, with
        the problem model, all of the region's (the problem types decide; two posts about
        one problem that the classifier put in two categories still meet)."""
        return None if self._groups.rules.taxonomy is not None else category

    def _refined_problem(self, current: str | None, problems: Sequence[str]) -> str | None:
        """An incident of unknown problem takes its first post's type; a generic type
        («graffiti», «pothole») gives way to a refinement of it («entrance_graffiti»),
        so that a refinement elsewhere («graffiti on a fence») no longer joins."""
        if not problems:
            return current
        if current is None:
            return problems[0]
        tax = self.problems
        if tax is not None and current in tax.types and tax.types[current].generic:
            for code in problems:
                # compatible and deeper: a refinement of the current type
                refines = code in tax.types and tax.compatible(current, code)
                if refines and _depth(tax, code) > _depth(tax, current):
                    return code
        return current

    def _link_signal(self, p: Post, out: Outcome) -> str | None:
        """A media report about a problem an open incident is about: listed on it as
        context (signal_ids), not a member: not counted, never answered, opens nothing."""
        m = p.mention
        inc_id = self._groups.best_in_region(
            p.rk, self._probe(p, p.at, address_key(m.place.address))
        )
        rec = self.get_incident(inc_id) if inc_id else None
        if rec is None:
            return None
        inc = rec.incident
        if len(inc.signal_ids) < _MAX_SIGNALS:
            inc.signal_ids.append(m.id)
        inc.updated_at = max(inc.updated_at, m.created_at)
        inc.version += 1
        out.events.append(
            self._event(inc, "attached", m.created_at, mention_id=m.id, detail={"as": "signal"})
        )
        self._put_incident(rec)
        out.incidents.append(inc)
        return inc.id

    def _words_alone(self, region: str | None, municipality: str | None) -> bool:
        """Words alone may group posts in a small town (or when no gazetteer is given)."""
        if self.population_of is None:
            return True
        population = self.population_of(region, municipality)
        limit = self.grouping.words_alone_max_population
        return population is not None and population <= limit

    def _open_incident(
        self,
        p: Post,
        at: float,
        addr: str | None,
        out: Outcome,
        follows: str | None = None,
        inc_id: str | None = None,
    ) -> str:
        m = p.mention
        inc_id = inc_id or f"{p.rk}/{short_hash(m.id)}"
        opened = m.created_at
        cal = self.calendar(m.place.region, m.place.municipality)
        sla = SlaState(first_reaction_due=self.policy.first_reaction_due(cal, opened, m.priority))
        inc = Incident(
            id=inc_id,
            region=m.place.region,
            category=m.category,
            status="new",
            priority=m.priority,
            opened_at=opened,
            updated_at=opened,
            version=1,
            title=m.text[:140],
            mentions_count=1,
            municipality=m.place.municipality,
            address=m.place.address,
            agency=None,
            geo=m.place.geo,
            primary_mention_id=m.id,
            mention_ids=[m.id],
            platforms=[m.platform],
            sla=sla,
            reopened_from=follows,
            problem=m.problems[0] if m.problems else None,
        )
        rec = IncidentRecord(
            incident=inc,
            members=[self._ref(m)],
            terms=sorted(p.terms)[:_MAX_TERMS],
            address_key=addr,
            last_at=at,
            places=sorted(p.places)[:_MAX_PLACES],
            topics=_with_topic([], _topic(m)),
            details=sorted(p.details)[:_MAX_PLACES],
        )
        out.events.append(
            self._event(inc, "created", opened, mention_id=m.id, detail=_created_detail(inc))
        )
        if m.agency:
            inc.agency = m.agency
            inc.status = "assigned"
            inc.version += 1
            out.events.append(
                self._event(inc, "assigned", opened, detail={"by": "routing"}, cause=m.id)
            )
        self._put_incident(rec)
        self._index_incident(rec)
        out.incidents.append(inc)
        return inc_id

    def _attach(
        self,
        inc_id: str,
        m: Mention,
        p: Post,
        at: float,
        out: Outcome,
        duplicate_of: str | None = None,
    ) -> None:
        rec = self.get_incident(inc_id)
        if rec is None:
            return
        inc = rec.incident
        reopened = False
        if inc.status in ("closed", "answered_final") and duplicate_of is None:
            reopened = inc.status == "closed"
        ref = self._ref(m, duplicate_of)
        if len(rec.members) < self.grouping.max_mentions_per_incident:
            rec.members.append(ref)
            inc.mention_ids.append(m.id)
        inc.mentions_count += 1
        if m.platform not in inc.platforms:
            inc.platforms.append(m.platform)
        if duplicate_of is None:
            rec.terms = sorted(set(rec.terms) | p.terms)[:_MAX_TERMS]
            rec.places = sorted(set(rec.places) | p.places)[:_MAX_PLACES]
            rec.topics = _with_topic(rec.topics, _topic(m))
            rec.details = sorted(set(rec.details) | p.details)[:_MAX_PLACES]
            inc.problem = self._refined_problem(inc.problem, m.problems)
            if inc.geo is None and m.place.geo is not None:
                inc.geo = m.place.geo
            if not inc.address and m.place.address:
                inc.address = m.place.address
                rec.address_key = address_key(m.place.address)
        if _rank(m.priority) > _rank(inc.priority):
            inc.priority = m.priority
        rec.last_at = max(rec.last_at, at)
        inc.updated_at = max(inc.updated_at, m.created_at)
        inc.version += 1
        kind: IncidentEventType = "duplicate_linked" if duplicate_of else "attached"
        out.events.append(self._event(inc, kind, m.created_at, mention_id=m.id))
        if reopened:
            inc.status = "assigned" if inc.agency else "new"
            inc.closed_at = None
            inc.version += 1
            out.events.append(self._event(inc, "reopened", m.created_at, cause=m.id))
            rec.answers = []  # answers to the problem before it was closed
        else:
            # The answers given so far reach a post that joins after them: in a stream
            # an answer can overtake the posts it concerns, and the result must not
            # depend on which came first. A repeat after closing is a new problem and
            # gets no stale answer.
            out.replies.extend(self._reply(inc, ref, a) for a in rec.answers)
        self._put_incident(rec)
        self._index_incident(rec)
        out.incidents.append(inc)

    @staticmethod
    def _ref(m: Mention, duplicate_of: str | None = None) -> MentionRef:
        return MentionRef(
            id=m.id,
            platform=m.platform,
            source_id=m.source.id,
            created_at=m.created_at,
            url=m.url,
            duplicate_of=duplicate_of,
        )

    def _event(
        self,
        inc: Incident,
        kind: IncidentEventType,
        at: datetime,
        mention_id: str | None = None,
        response_id: str | None = None,
        detail: Detail | None = None,
        cause: str | None = None,
        stable: bool = False,
    ) -> IncidentEvent:
        """An event whose id depends only on what caused it, so replays give the same id
        (and a new version of a mention, the events of its own)."""
        key = (cause or mention_id or response_id or "") + self._revision
        event_id = short_hash(inc.id, kind, key, size=10)
        return IncidentEvent(
            event_id=event_id,
            incident_id=inc.id,
            type=kind,
            at=at,
            region=inc.region,
            incident_version=inc.version,
            category=inc.category,
            agency=inc.agency,
            priority=inc.priority,
            status=inc.status,
            mention_id=mention_id,
            response_id=response_id,
            detail=detail or {},
        )

    # -------------------------------------------------------------- commands
    def command(self, cmd: AnyCommand) -> Outcome:
        self._ensure_built()
        if isinstance(cmd, RespondCommand):
            return self._respond(cmd.response)
        if isinstance(cmd, TickCommand):
            out = Outcome()
            rk = region_key(getattr(cmd, "region", None))
            self.store["c:" + rk] = str(_ts(cmd.at)).encode()
            self._advance(rk, _ts(cmd.at), out)
            return out
        if isinstance(cmd, AdoptCommand):
            return self._adopt(cmd)
        if isinstance(cmd, TakeOverCommand):
            return self._take_over(cmd)
        target = getattr(cmd, "incident_id", None)
        rec = self.get_incident(target) if target else None
        if rec is None:
            return Outcome(error=("unknown_incident", f"no incident {target!r} on this partition"))
        if cmd.command_id in rec.commands:
            return Outcome(redelivered=True, incidents=[rec.incident])
        out = Outcome()
        inc = rec.incident
        if isinstance(cmd, AssignCommand):
            inc.agency = cmd.agency
            if inc.status == "new":
                inc.status = "assigned"
            inc.version += 1
            out.events.append(
                self._event(
                    inc, "assigned", cmd.at, cause=cmd.command_id, detail={"by": cmd.operator}
                )
            )
        elif isinstance(cmd, StatusCommand):
            inc.status = cmd.status
            inc.version += 1
            kind: IncidentEventType = "closed" if cmd.status == "closed" else "status_changed"
            if cmd.status == "closed":
                inc.closed_at = cmd.at
            out.events.append(
                self._event(
                    inc,
                    kind,
                    cmd.at,
                    cause=cmd.command_id,
                    detail=_by(cmd.operator, reason=cmd.reason),
                )
            )
        elif isinstance(cmd, MergeCommand):
            into = self.get_incident(cmd.into)
            if into is None or cmd.into == inc.id:
                return Outcome(error=("unknown_incident", f"cannot merge into {cmd.into!r}"))
            for ref in rec.members:
                if ref.id not in into.incident.mention_ids:
                    into.members.append(ref)
                    into.incident.mention_ids.append(ref.id)
            into.incident.mentions_count += inc.mentions_count
            into.incident.version += 1
            into.terms = sorted(set(into.terms) | set(rec.terms))[:_MAX_TERMS]
            for topic in rec.topics:
                into.topics = _with_topic(into.topics, topic)
            inc.status = "merged_into"
            inc.merged_into = into.incident.id
            inc.version += 1
            out.events.append(
                self._event(
                    inc,
                    "merged",
                    cmd.at,
                    cause=cmd.command_id,
                    detail=_by(cmd.operator, into=cmd.into),
                )
            )
            into.commands.append(cmd.command_id)
            self._put_incident(into)
            self._index_incident(into)
            out.incidents.append(into.incident)
        elif isinstance(cmd, SplitCommand):
            moving = [r for r in rec.members if r.id in set(cmd.mention_ids)]
            if not moving or len(moving) == len(rec.members):
                return Outcome(
                    error=("processing_error", "split must move some but not all mentions")
                )
            new_id = f"{region_key(inc.region)}/{short_hash(cmd.command_id)}"
            rec.members = [r for r in rec.members if r.id not in set(cmd.mention_ids)]
            inc.mention_ids = [r.id for r in rec.members]
            inc.mentions_count = len(rec.members)
            inc.version += 1
            new_inc = msgspec.structs.replace(
                inc,
                id=new_id,
                version=1,
                mention_ids=[r.id for r in moving],
                mentions_count=len(moving),
                primary_mention_id=moving[0].id,
                opened_at=cmd.at,
                updated_at=cmd.at,
                sla=SlaState(),
            )
            new_rec = IncidentRecord(
                incident=new_inc,
                members=moving,
                terms=list(rec.terms),
                address_key=None,
                last_at=rec.last_at,
                topics=list(rec.topics),
            )
            for ref in moving:
                for prefix in ("m:", "a:"):  # in the dedup window, or kept for late answers
                    raw = self.store.get(prefix + ref.id)
                    if raw:
                        mrec = _dec_mention.decode(raw)
                        mrec.incident_id = new_id
                        self.store[prefix + ref.id] = _enc.encode(mrec)
            out.events.append(
                self._event(
                    inc,
                    "split",
                    cmd.at,
                    cause=cmd.command_id,
                    detail=_by(cmd.operator, into=new_id),
                )
            )
            out.events.append(
                self._event(
                    new_inc,
                    "created",
                    cmd.at,
                    cause=cmd.command_id,
                    detail=_by(cmd.operator, split_from=inc.id),
                )
            )
            self._put_incident(new_rec)
            self._index_incident(new_rec)
            out.incidents.append(new_inc)
        inc.updated_at = max(inc.updated_at, cmd.at)
        rec.commands.append(cmd.command_id)
        self._put_incident(rec)
        self._index_incident(rec)
        out.incidents.insert(0, inc)
        return out

    # ------------------------------------------------------------- adoption
    def _adopt(self, cmd: AdoptCommand) -> Outcome:
        """A post without a region got one from its copy (the dedup stage says so): its
        incident, here on the desk of `unknown`, moves to that region's desk as
        `<region>/<hash of the post>`, where the copy joins it (TakeOverCommand)."""
        root = self._get_known(cmd.mention_id)
        if root is None:
            # The root's own verdict has not reached this desk yet: the command comes on
            # desk.commands, the verdict on mentions.deduped, and nothing orders the two
            # (on a real cluster the command can come first). Held until the root is
            # placed, in the desk's table (survives a restart), then applied.
            self.store["p:" + cmd.mention_id] = _enc.encode(cmd)
            return Outcome()
        rec = self.get_incident(root.incident_id) if root.incident_id else None
        if rec is None or incident_region(rec.incident.id) is not None:
            return Outcome()  # no incident to move (not an appeal): the copy opens its own
        inc = rec.incident
        into = f"{region_key(cmd.region)}/{short_hash(cmd.mention_id)}"
        take = TakeOverCommand(
            command_id=f"take:{inc.id}",
            at=cmd.at,
            into=into,
            incident=msgspec.structs.replace(inc),
            members=list(rec.members),
            answers=list(rec.answers),
            terms=list(rec.terms),
            places=list(rec.places),
        )
        forward: list[tuple[str, AnyCommand]] = [(region_key(cmd.region), take)]
        if cmd.command_id in rec.commands:  # again: the move is sent again, the receiver knows it
            return Outcome(redelivered=True, incidents=[inc], forward=forward)
        if inc.status == "merged_into":
            return Outcome()  # moved already (another copy's region came first) or merged
        out = Outcome(forward=forward)
        inc.status = "merged_into"
        inc.merged_into = into
        inc.version += 1
        out.events.append(
            self._event(
                inc,
                "merged",
                cmd.at,
                cause=cmd.command_id,
                detail={"into": into, "by": "region_from_copy", "copy": cmd.by},
            )
        )
        rec.commands.append(cmd.command_id)
        self._put_incident(rec)
        self._index_incident(rec)
        out.incidents.append(inc)
        return out

    def _take_over(self, cmd: TakeOverCommand) -> Outcome:
        """Continue an incident moved here from `unknown`, or add it to the incident a copy
        of its posts opened here first; its posts get this incident's answers and the
        posts here get the answers it brings."""
        rec = self.get_incident(cmd.into)
        if rec is not None and cmd.command_id in rec.commands:
            return Outcome(redelivered=True, incidents=[rec.incident])
        out = Outcome()
        moved = cmd.incident
        region = incident_region(cmd.into)
        rk = region_key(region)
        if rec is None:
            cal = self.calendar(region, moved.municipality)
            sla = msgspec.structs.replace(moved.sla)
            if sla.first_reaction_at is None and not sla.first_reaction_breached:
                sla.first_reaction_due = self.policy.first_reaction_due(
                    cal, moved.opened_at, moved.priority
                )
            status = moved.status
            if status == "merged_into":
                status = "assigned" if moved.agency else "new"
            inc = msgspec.structs.replace(
                moved,
                id=cmd.into,
                region=region,
                status=status,
                version=1,
                merged_into=None,
                sla=sla,
                mention_ids=[],
                mentions_count=0,
                platforms=[],
            )
            rec = IncidentRecord(
                incident=inc,
                members=[],
                terms=[],
                address_key=address_key(moved.address),
                last_at=_ts(moved.updated_at),
            )
            out.events.append(
                self._event(
                    inc, "created", moved.opened_at, cause=cmd.command_id,
                    detail={"moved_from": moved.id},
                )
            )  # fmt: skip
        inc = rec.incident
        before = list(rec.members)
        held = {ref.id for ref in rec.members}
        fresh = [ref for ref in cmd.members if ref.id not in held]
        for ref in fresh:
            if len(rec.members) < self.grouping.max_mentions_per_incident:
                rec.members.append(ref)
                inc.mention_ids.append(ref.id)
            if ref.platform not in inc.platforms:
                inc.platforms.append(ref.platform)
        inc.mentions_count += moved.mentions_count
        answered = {a.response_id for a in rec.answers} | set(rec.responses)
        brought = [a for a in cmd.answers if a.response_id not in answered]
        rec.answers = sorted(
            [*rec.answers, *brought], key=lambda a: (a.responded_at, a.response_id)
        )[-_MAX_ANSWERS_KEPT:]
        rec.responses.extend(a.response_id for a in brought)
        self._take_answers(inc, moved)
        rec.terms = sorted(set(rec.terms) | set(cmd.terms))[:_MAX_TERMS]
        rec.places = sorted(set(rec.places) | set(cmd.places))[:_MAX_PLACES]
        if not inc.address and moved.address:
            inc.address = moved.address
            rec.address_key = address_key(moved.address)
        rec.last_at = max(rec.last_at, _ts(moved.updated_at))
        inc.updated_at = max(inc.updated_at, moved.updated_at)
        if _rank(moved.priority) > _rank(inc.priority):
            inc.priority = moved.priority
        inc.version += 1
        for ref in fresh:
            kind: IncidentEventType = "duplicate_linked" if ref.duplicate_of else "attached"
            out.events.append(self._event(inc, kind, ref.created_at, mention_id=ref.id))
            out.replies.extend(self._reply(inc, ref, a) for a in rec.answers)
            # So that an answer addressed to the post by its id (and region) finds the
            # incident here. A record of it that this worker already sees (it holds the
            # partition of `unknown` too, or runs offline) leads there as well: the
            # incident it names forwards answers here.
            if self._get_known(ref.id) is None:
                self._archive(ref, rk, cmd.into)
        for ref in before:
            out.replies.extend(self._reply(inc, ref, a) for a in brought)
        rec.commands.append(cmd.command_id)
        self._put_incident(rec)
        self._index_incident(rec)
        out.incidents.append(inc)
        return out

    def _take_answers(self, inc: Incident, moved: Incident) -> None:
        """The earliest answer times of both incidents (their order does not matter)."""
        mine, theirs = inc.sla, moved.sla
        for name in ("first_reaction_at", "final_answer_at"):
            a, b = getattr(mine, name), getattr(theirs, name)
            if b is not None and (a is None or b < a):
                setattr(mine, name, b)
        if mine.final_answer_due is None or (
            theirs.final_answer_due is not None and theirs.final_answer_due < mine.final_answer_due
        ):
            mine.final_answer_due = theirs.final_answer_due
        if inc.status in OPEN_STATUSES:
            if mine.final_answer_at is not None:
                inc.status = "answered_final"
            elif mine.first_reaction_at is not None and theirs.first_reaction_at is not None:
                inc.status = "answered_interim"

    def _archive(self, ref: MentionRef, rk: str, incident_id: str) -> None:
        """A slim record of a post that came here with a moved incident (no window entry:
        the desk never saw the post itself)."""
        at = _ts(ref.created_at)
        rec = MentionRecord(
            id=ref.id,
            rk=rk,
            at=at,
            created_at=_iso(ref.created_at),
            status="duplicate" if ref.duplicate_of else "accepted",
            platform=ref.platform,
            source_id=ref.source_id,
            url=ref.url,
            duplicate_of=ref.duplicate_of,
            incident_id=incident_id,
        )
        self.store["a:" + ref.id] = _enc.encode(rec)
        heapq.heappush(self._archive_expiry[rk], (at, ref.id))

    def _respond(self, r: OfficialResponse) -> Outcome:
        out = Outcome()
        inc_id = r.incident_id
        if inc_id is None and r.mention_id is not None:
            mrec = self._get_known(r.mention_id)
            if mrec is not None and mrec.incident_id is None:
                # An operator answered a post the classifier did not take for an
                # appeal: the answer is the better judge, so it becomes an incident.
                inc_id = self._promote(mrec, out)
            else:
                inc_id = mrec.incident_id if mrec else None
        rec = self.get_incident(inc_id) if inc_id else None
        if rec is None and r.incident_id is None and r.mention_id is not None:
            return self._park(r, r.mention_id)
        moved_to = (
            rec.incident.merged_into if rec and rec.incident.status == "merged_into" else None
        )
        if moved_to and incident_region(moved_to) != rec.incident.region:  # type: ignore[union-attr]
            # The incident moved to another region's desk (a copy gave it a region): so does
            # the answer, addressed to the incident there.
            there = incident_region(moved_to)
            again = msgspec.structs.replace(r, incident_id=moved_to, region=there)
            command = RespondCommand(command_id=r.response_id, at=r.responded_at, response=again)
            return Outcome(forward=[(region_key(there), command)])
        if rec is None:
            where = r.incident_id or r.mention_id
            return Outcome(
                error=("unknown_incident", f"no incident for {where!r} on this partition")
            )
        inc = rec.incident
        replies = [self._reply(inc, ref, r) for ref in rec.members]
        if r.response_id in rec.responses:
            out.redelivered = True
            out.replies = replies
            out.incidents.append(inc)
            out.events.append(
                self._event(inc, "responded", r.responded_at, response_id=r.response_id)
            )
            return out
        sla = inc.sla
        cal = self.calendar(inc.region, inc.municipality)
        # Every time is the earliest of its kind, so the order answers arrive in
        # does not change the result (replays give the same clocks).
        if sla.first_reaction_at is None or r.responded_at < sla.first_reaction_at:
            sla.first_reaction_at = r.responded_at
        if r.kind == "interim":
            if inc.status in OPEN_STATUSES:
                inc.status = "answered_interim"
            due = self.policy.final_answer_due(cal, r.responded_at)
            if sla.final_answer_due is None or due < sla.final_answer_due:
                sla.final_answer_due = due
        else:
            if sla.final_answer_at is None or r.responded_at < sla.final_answer_at:
                sla.final_answer_at = r.responded_at
            if inc.status in OPEN_STATUSES:
                inc.status = "answered_final"
        if not inc.agency:
            inc.agency = r.agency
        inc.updated_at = max(inc.updated_at, r.responded_at)
        inc.version += 1
        rec.responses.append(r.response_id)
        rec.answers = sorted([*rec.answers, r], key=lambda a: (a.responded_at, a.response_id))[
            -_MAX_ANSWERS_KEPT:
        ]
        out.events.append(
            self._event(
                inc,
                "responded",
                r.responded_at,
                response_id=r.response_id,
                detail=_by(r.operator, kind=r.kind, responder=r.agency),
            )
        )
        # A reaction that came after its deadline, without a tick in between.
        self._check_late(inc, r.responded_at, out)
        # An answer in time that reached the desk after the clock had fired its
        # deadline (a backlog, a slow console): the breach is withdrawn.
        self._retract(inc, r, out)
        out.replies = replies
        self._put_incident(rec)
        self._index_incident(rec)
        out.incidents.insert(0, inc)
        # Answers do not move the region's clock: on a replay of history they travel a
        # shorter path than mentions and can run days ahead of them; a clock driven by
        # them would expire the dedup window and parked answers before their mentions
        # arrive. Mentions and ticks move it; a late answer is caught by _check_late.
        return out

    def _park(self, r: OfficialResponse, mention_id: str) -> Outcome:
        """Hold an answer whose mention has not reached the desk yet (redelivery-safe)."""
        key = "r:" + r.response_id
        if key not in self.store:
            rk = region_key(r.region)
            since = max(self._clock.get(rk, 0.0), r.responded_at.timestamp())
            parked = ParkedResponse(response=r, target=mention_id, parked_at=since)
            self.store[key] = _enc.encode(parked)
            self._parked.setdefault(mention_id, set()).add(r.response_id)
        return Outcome(parked=True)

    def _unpark(self, mention_id: str, out: Outcome) -> None:
        for response_id in sorted(self._parked.pop(mention_id, set())):
            raw = self.store.get("r:" + response_id)
            if not raw:
                continue
            del self.store["r:" + response_id]
            answered = self._respond(_dec_parked.decode(raw).response)
            if answered.error:
                kind, reason = answered.error
                response = _dec_parked.decode(raw).response
                out.dead_letters.append(
                    GivenUp(kind, reason, _enc_json.encode(response), key=_response_key(response))
                )
            out.extend(answered)

    def _expire_parked(self, rk: str, now: float, out: Outcome) -> None:
        """Answers whose mention never came within the TTL become dead letters."""
        ttl = self.sla_settings.parked_response_ttl_s
        for mention_id in list(self._parked):
            for response_id in list(self._parked[mention_id]):
                raw = self.store.get("r:" + response_id)
                if not raw:
                    self._parked[mention_id].discard(response_id)
                    continue
                parked = _dec_parked.decode(raw)
                if region_key(parked.response.region) != rk or now - parked.parked_at < ttl:
                    continue
                del self.store["r:" + response_id]
                self._parked[mention_id].discard(response_id)
                out.dead_letters.append(
                    GivenUp(
                        "unknown_incident",
                        f"answer {response_id!r} waited {ttl / 3600:.0f} h of event time "
                        f"for mention {mention_id!r}, which never arrived",
                        _enc_json.encode(parked.response),
                        key=_response_key(parked.response),
                    )
                )
            if not self._parked[mention_id]:
                del self._parked[mention_id]

    def _promote(self, mrec: MentionRecord, out: Outcome) -> str:
        """Open an incident for a mention that has none (see _respond)."""
        inc_id = f"{mrec.rk}/{short_hash(mrec.id)}"
        opened = datetime.fromisoformat(mrec.created_at)
        region = incident_region(inc_id)
        cal = self.calendar(region, mrec.municipality)
        inc = Incident(
            id=inc_id,
            region=region,
            category=mrec.category,
            status="new",
            priority="normal",
            opened_at=opened,
            updated_at=opened,
            version=1,
            title=f"(по ответу оператора) {mrec.url or mrec.id}"[:140],
            mentions_count=1,
            municipality=mrec.municipality,
            primary_mention_id=mrec.id,
            mention_ids=[mrec.id],
            platforms=[mrec.platform],
            sla=SlaState(first_reaction_due=self.policy.first_reaction_due(cal, opened, "normal")),
        )
        ref = MentionRef(
            id=mrec.id,
            platform=mrec.platform,  # type: ignore[arg-type]
            source_id=mrec.source_id,
            created_at=opened,
            url=mrec.url,
        )
        rec = IncidentRecord(
            incident=inc, members=[ref], terms=[], address_key=None, last_at=mrec.at
        )
        out.events.append(
            self._event(
                inc, "created", opened, mention_id=mrec.id, detail={"by": "operator_response"}
            )
        )
        mrec.incident_id = inc_id
        self._put_mention(mrec)
        self._put_incident(rec)
        self._index_incident(rec)
        return inc_id

    def _reply(self, inc: Incident, ref: MentionRef, r: OfficialResponse) -> Reply:
        return Reply(
            reply_id=short_hash(r.response_id, ref.id, size=12),
            response_id=r.response_id,
            incident_id=inc.id,
            mention_id=ref.id,
            platform=ref.platform,
            source_id=ref.source_id,
            kind=r.kind,
            agency=r.agency,
            text=r.text,
            responded_at=r.responded_at,
            region=inc.region,
            post_url=ref.url,
        )

    # ------------------------------------------------------------------ time
    def _check_late(self, inc: Incident, at: datetime, out: Outcome) -> None:
        sla = inc.sla
        frd, fra = sla.first_reaction_due, sla.first_reaction_at
        if frd and fra and not sla.first_reaction_breached and fra > frd:
            sla.first_reaction_breached = True
            out.events.append(self._breach(inc, "first_reaction", frd))
        fad, faa = sla.final_answer_due, sla.final_answer_at
        if fad and faa and not sla.final_answer_breached and faa > fad:
            sla.final_answer_breached = True
            out.events.append(self._breach(inc, "final_answer", fad))

    def _retract(self, inc: Incident, r: OfficialResponse, out: Outcome) -> None:
        sla = inc.sla
        frd, fra = sla.first_reaction_due, sla.first_reaction_at
        if sla.first_reaction_breached and frd and fra and fra <= frd:
            sla.first_reaction_breached = False
            out.events.append(self._retraction(inc, "first_reaction", r))
        fad, faa = sla.final_answer_due, sla.final_answer_at
        if sla.final_answer_breached and fad and faa and faa <= fad:
            sla.final_answer_breached = False
            out.events.append(self._retraction(inc, "final_answer", r))

    def _retraction(self, inc: Incident, kind: str, r: OfficialResponse) -> IncidentEvent:
        return self._event(
            inc,
            "sla_breach_retracted",
            r.responded_at,
            response_id=r.response_id,
            cause=f"{kind}:{r.response_id}",
            detail={"sla": kind},
        )

    def _breach(self, inc: Incident, kind: str, due: datetime) -> IncidentEvent:
        return self._event(inc, "sla_breached", due, cause=kind, detail={"sla": kind})

    def _advance(self, rk: str, at: float, out: Outcome) -> None:
        """Move the region's event-time clock; fire the SLA timers its watermark passes.

        The watermark trails the newest event by the allowed lateness, so an
        answer that travels a slower path (operator console → responses →
        router) than the mentions around it still counts at its own time.
        """
        if at <= self._clock.get(rk, 0.0):
            return
        self._clock[rk] = at
        watermark = at - self.sla_settings.allowed_lateness_s
        timers = self._timers[rk]
        while timers and timers[0][0] <= watermark:
            due, inc_id, kind = heapq.heappop(timers)
            rec = self.get_incident(inc_id)
            if rec is None:
                continue
            inc, sla = rec.incident, rec.incident.sla
            if (
                kind == "first_reaction"
                and sla.first_reaction_at is None
                and not sla.first_reaction_breached
            ):
                sla.first_reaction_breached = True
            elif (
                kind == "final_answer"
                and sla.final_answer_at is None
                and not sla.final_answer_breached
            ):
                sla.final_answer_breached = True
            else:
                continue
            inc.version += 1
            out.events.append(self._breach(inc, kind, _dt(due)))
            self._put_incident(rec)
            out.incidents.append(inc)
        self._evict(rk, at)
        if at - self._pruned_at.get(rk, 0.0) > 3600:
            self._groups.prune(rk, at)
            if self._parked:
                self._expire_parked(rk, at, out)
            self._pruned_at[rk] = at

    def _evict(self, rk: str, now: float) -> None:
        """Mentions leave the dedup window; an appeal's slim record stays for late answers."""
        horizon = now - self.dedup.window_days * 86400
        keep_s = self.sla_settings.answer_lookup_days * 86400
        expiry = self._expiry[rk]
        while expiry and expiry[0][0] < horizon:
            _, mention_id = heapq.heappop(expiry)
            rec = self._get_mention(mention_id)
            if rec is None or rec.rk != rk:  # gone, or a new version placed elsewhere
                continue
            del self.store["m:" + mention_id]
            # Kept: posts of an incident, and every post of a feedback platform (`pos`),
            # where each post expects an answer even when the classifier passed it over.
            if (rec.incident_id or rec.platform in ANSWERED_PLATFORMS) and now - rec.at <= keep_s:
                # What an answer (and a redelivery) needs: incident, addressing, status.
                self.store["a:" + mention_id] = _enc.encode(rec)
                heapq.heappush(self._archive_expiry[rk], (rec.at, mention_id))
        archive = self._archive_expiry[rk]
        while archive and archive[0][0] < now - keep_s:
            _, mention_id = heapq.heappop(archive)
            self.store.pop("a:" + mention_id, None)

    # ---------------------------------------------------------------- stats
    def open_incidents(self) -> int:
        self._ensure_built()
        return sum(1 for st in self._status.values() if st in OPEN_STATUSES)


def _response_key(r: OfficialResponse) -> bytes:
    """The key the responses topic carries (the response id, see incidents/kafka/topics.py)."""
    return r.response_id.encode()


def _newer(m: Mention, known: MentionRecord) -> bool:
    """Whether a mention is a later version than the one the desk placed: versions are
    ordered by the platform's edit time (none: the first version); ties keep the first."""
    return m.edited_at is not None and m.edited_at.timestamp() > known.edited


def _rank(priority: str) -> int:
    return {"normal": 0, "high": 1, "critical": 2}.get(priority, 0)


def all_records(store: MutableMapping[str, bytes]) -> Iterable[IncidentRecord]:
    for key, raw in store.items():
        if key.startswith("i:") and raw:
            yield _dec_incident.decode(raw)


__all__ = [
    "UNKNOWN_REGION",
    "Desk",
    "IncidentRecord",
    "MentionRecord",
    "Outcome",
    "Post",
    "incident_region",
    "region_key",
    "short_hash",
]
