"""The console's local view of the desk, built from the incident topics; no Kafka here.

The follower (:mod:`incidents.console.follow`) feeds it every record of
``incidents`` (compacted: latest state per id), ``incidents.events``,
``mentions.resolved`` (the posts behind incidents) and ``mentions.dlq``; a
restart reads them again from the beginning and rebuilds the same view. The web
handlers ask it for a region-limited queue, one incident's card and search hits.

Everything follows the contracts' idempotency rules (docs/contracts.md): the
highest ``version`` of an incident wins, events are kept once per ``event_id``,
a post once per id. The view also remembers the actions this console sent and
marks each applied when the pipeline's own event for it arrives *and* the
incident version that event names is held, so a card shows what the pipeline
did, never an optimistic guess.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Literal

from incidents.config.settings import SlaSettings
from incidents.contracts.models import DeadLetter, Incident, IncidentEvent, Mention
from incidents.contracts.topology import INCIDENT_STATUSES, OPEN_STATUSES
from incidents.domain.copies.dedup import UNKNOWN_REGION
from incidents.domain.desk.records import short_hash
from incidents.domain.desk.sla import WorkCalendar

#: Final states: the incident left the queue.
FINAL_STATUSES = frozenset(INCIDENT_STATUSES) - frozenset(OPEN_STATUSES)

#: Queue filters (query parameter → what it compares).
FILTERS = ("municipality", "category", "problem", "agency", "platform", "status", "priority")

_PRIORITY_RANK = {"critical": 0, "high": 1, "normal": 2}


def region_of(incident_id: str) -> str:
    """The region code an incident id starts with, or ``unknown``."""
    return incident_id.split("/", 1)[0] or UNKNOWN_REGION


def expected_event_id(incident_id: str, kind: str, cause: str) -> str:
    """The event id the desk gives the event a command causes (incidents/domain/desk/state.py)."""
    return short_hash(incident_id, kind, cause, size=10)


class WorkRuler:
    """Working seconds from a fixed moment, read off a calendar in O(1) per moment.

    `working_seconds(a, b)` walks the days between a and b on every call; the queue asks
    it for every open incident on every page. Here each day's start gets its running
    total once (memoised), so time left to a deadline is `at(due) - at(now)`, the same
    number (tests compare the two), for thousands of incidents per page.
    """

    def __init__(self, cal: WorkCalendar) -> None:
        self.cal = cal
        self.day_s = cal.hours_per_day * 3600
        self.cum: dict[date, float] = {}
        self.lo: date | None = None
        self.hi: date | None = None

    def _start_of(self, d: date) -> float:
        """Working seconds from the anchor day's start to `d`'s start."""
        got = self.cum.get(d)
        if got is not None:
            return got
        if self.lo is None or self.hi is None:
            self.lo = self.hi = d
            self.cum[d] = 0.0
            return 0.0
        while d > self.hi:
            nxt = self.hi + timedelta(days=1)
            work = self.day_s if self.cal.is_workday(self.hi) else 0.0
            self.cum[nxt] = self.cum[self.hi] + work
            self.hi = nxt
        while d < self.lo:
            prev = self.lo - timedelta(days=1)
            work = self.day_s if self.cal.is_workday(prev) else 0.0
            self.cum[prev] = self.cum[self.lo] - work
            self.lo = prev
        return self.cum[d]

    def at(self, t: datetime) -> float:
        local = t.astimezone(self.cal.tz)
        d = local.date()
        total = self._start_of(d)
        if self.cal.is_workday(d):
            lo = datetime.combine(d, self.cal.start, tzinfo=self.cal.tz)
            hi = datetime.combine(d, self.cal.end, tzinfo=self.cal.tz)
            total += (min(max(local, lo), hi) - lo).total_seconds()
        return total


@dataclass(slots=True)
class Post:
    """What a card shows of one post (a Mention from mentions.resolved)."""

    id: str
    platform: str
    source_id: str
    source_name: str | None
    created_at: datetime
    text: str
    url: str | None
    status: str | None
    duplicate_of: str | None
    incident_id: str | None
    relevance: str | None
    address: str | None
    municipality: str | None
    lat: float | None
    lon: float | None

    @classmethod
    def of(cls, m: Mention) -> Post:
        geo = m.place.geo
        return cls(
            id=m.id,
            platform=m.platform,
            source_id=m.source.id,
            source_name=m.source.name,
            created_at=m.created_at,
            text=m.text,
            url=m.url,
            status=m.status,
            duplicate_of=m.duplicate_of,
            incident_id=m.incident_id,
            relevance=m.relevance,
            address=m.place.address,
            municipality=m.place.municipality,
            lat=geo.lat if geo else None,
            lon=geo.lon if geo else None,
        )


@dataclass(slots=True)
class Pending:
    """An action this console sent, until the pipeline has applied (or refused) it."""

    action_id: str  # command_id or response_id
    incident_id: str
    kind: str  # assign, set_status, merge, split, respond
    what: str  # the operator's words for it, shown on the card
    operator: str
    sent_at: datetime
    expect_event: str  # the event id that says it was applied
    state: Literal["pending", "applied", "failed"] = "pending"
    reason: str | None = None
    version: int | None = None  # the incident version that carries the result


@dataclass(slots=True)
class Deadline:
    """The SLA clock that runs out first on an open incident."""

    which: Literal["first_reaction", "final_answer"] | None
    due: datetime | None
    left_s: float  # working (or, for round-the-clock targets, plain) seconds; < 0: overdue
    breached: bool
    day_s: float = 86_400.0  # a "day" of left_s: a working day's seconds in working time

    def sort_key(self) -> tuple[int, float]:
        if self.which is None:
            return (2, 0.0)
        return (0, self.left_s) if self.breached else (1, self.left_s)


@dataclass(slots=True)
class _Entry:
    version: int
    values: tuple[tuple[str, ...], ...]
    which: Literal["first_reaction", "final_answer"] | None
    due: datetime | None
    flagged: bool
    ruler: WorkRuler | None  # None: round-the-clock (or no clock)
    w_due: float
    rank: tuple[int, float, str]  # ties: priority, then the older first


@dataclass
class Queue:
    rows: list[tuple[Incident, Deadline]]
    total: int  # open incidents in the user's regions matching the filters
    counts: dict[str, int]  # over the user's open incidents, before filters
    options: dict[str, list[tuple[str, int]]]  # filter values with their counts


@dataclass
class Card:
    incident: Incident
    deadline: Deadline
    posts: list[tuple[Post | None, str, list[Post | None]]]  # original, its id, its copies
    signals: list[tuple[Post | None, str]]
    events: list[IncidentEvent]
    merged_from: list[str]
    split_from: str | None
    pending: list[Pending]


@dataclass
class DeskView:
    """Latest incidents, their events and posts, for the regions this console serves."""

    sla: SlaSettings
    timezone_of: Callable[[str | None, str | None], tzinfo]
    clock: Literal["wall", "events"] = "wall"
    regions: frozenset[str] | None = None  # None: every region
    incidents: dict[str, Incident] = field(default_factory=dict)
    events: dict[str, dict[str, IncidentEvent]] = field(default_factory=dict)
    posts: dict[str, Post] = field(default_factory=dict)
    merged_from: dict[str, set[str]] = field(default_factory=dict)
    split_from: dict[str, str] = field(default_factory=dict)
    open_ids: dict[str, set[str]] = field(default_factory=dict)
    all_ids: dict[str, set[str]] = field(default_factory=dict)
    region_clock: dict[str, datetime] = field(default_factory=dict)
    pending: dict[str, Pending] = field(default_factory=dict)
    pending_by_incident: dict[str, list[str]] = field(default_factory=dict)
    #: a counter per region, bumped on every change there (live updates compare it)
    region_changes: dict[str, int] = field(default_factory=dict)
    incident_changes: dict[str, int] = field(default_factory=dict)
    changes: int = 0
    skipped: int = 0  # records of other regions, not kept
    _calendars: dict[tuple[str | None, str | None], WorkCalendar] = field(default_factory=dict)
    _rulers: dict[int, WorkRuler] = field(default_factory=dict)
    _entries: dict[str, _Entry] = field(default_factory=dict)
    _hay: dict[str, str] = field(default_factory=dict)
    _post_incident: dict[str, str] = field(default_factory=dict)

    # ------------------------------------------------------------ feeding
    def keeps(self, region: str) -> bool:
        return self.regions is None or region in self.regions

    def _touch(self, incident_id: str) -> None:
        self.changes += 1
        rk = region_of(incident_id)
        self.region_changes[rk] = self.changes
        self.incident_changes[incident_id] = self.changes
        self._hay.pop(incident_id, None)

    def _see_time(self, region: str, at: datetime) -> None:
        """The region's event clock: its newest post, as the desk's (operator actions and
        answers do not move it: they happen in wall time, not in the replayed history)."""
        held = self.region_clock.get(region)
        if held is None or at > held:
            self.region_clock[region] = at

    def apply_incident(self, inc: Incident) -> bool:
        """Keep the highest version per id; False when the record changed nothing."""
        rk = region_of(inc.id)
        if not self.keeps(rk):
            self.skipped += 1
            return False
        held = self.incidents.get(inc.id)
        if held is not None and inc.version <= held.version:
            return False
        self.incidents[inc.id] = inc
        self.all_ids.setdefault(rk, set()).add(inc.id)
        opened = self.open_ids.setdefault(rk, set())
        if inc.status in OPEN_STATUSES:
            opened.add(inc.id)
        else:
            opened.discard(inc.id)
        if inc.merged_into:
            self.merged_from.setdefault(inc.merged_into, set()).add(inc.id)
            self._touch(inc.merged_into)
        for mid in inc.mention_ids:
            self._post_incident[mid] = inc.id
        self._touch(inc.id)
        self._settle(inc.id)
        return True

    def apply_event(self, ev: IncidentEvent) -> bool:
        """Keep each event id once (the first copy, as the contract says)."""
        rk = region_of(ev.incident_id)
        if not self.keeps(rk):
            self.skipped += 1
            return False
        kept = self.events.setdefault(ev.incident_id, {})
        if ev.event_id in kept:
            return False
        kept[ev.event_id] = ev
        if ev.type == "split" and isinstance(ev.detail.get("into"), str):
            self.split_from[str(ev.detail["into"])] = ev.incident_id
            self._touch(str(ev.detail["into"]))
        if ev.type == "merged" and isinstance(ev.detail.get("into"), str):
            into = str(ev.detail["into"])
            self.merged_from.setdefault(into, set()).add(ev.incident_id)
            self._touch(into)
        self._touch(ev.incident_id)
        self._settle(ev.incident_id)
        return True

    def apply_mention(self, m: Mention, key_region: str | None = None) -> bool:
        """Posts of incidents (and media reports linked to one); the rest is not kept."""
        rk = key_region or m.place.region or UNKNOWN_REGION
        if not self.keeps(rk):
            self.skipped += 1
            return False
        self._see_time(rk, m.created_at)
        if m.incident_id is None or m.id in self.posts:
            return False
        self.posts[m.id] = Post.of(m)
        owner = self._post_incident.get(m.id, m.incident_id)
        self._touch(owner)
        return True

    def apply_dead_letter(self, dl: DeadLetter) -> bool:
        """A command or answer of ours that the pipeline refused: the card says why."""
        try:
            original = json.loads(base64.b64decode(dl.original_b64))
        except ValueError:
            return False
        if not isinstance(original, dict):
            return False
        ids = {original.get("command_id"), original.get("response_id")}
        response = original.get("response")
        if isinstance(response, dict):
            ids.add(response.get("response_id"))
        for action_id in ids:
            p = self.pending.get(action_id) if isinstance(action_id, str) else None
            if p is not None and p.state == "pending":
                p.state = "failed"
                p.reason = f"{dl.error_kind}: {dl.reason}"
                self._touch(p.incident_id)
                return True
        return False

    # ------------------------------------------------------------ own writes
    def expect(self, p: Pending) -> None:
        """Remember an action just sent; it shows as pending on the card until applied."""
        self.pending[p.action_id] = p
        self.pending_by_incident.setdefault(p.incident_id, []).append(p.action_id)
        self._touch(p.incident_id)
        self._settle(p.incident_id)

    def _settle(self, incident_id: str) -> None:
        """Pending actions whose event arrived and whose incident version is held."""
        inc = self.incidents.get(incident_id)
        for action_id in self.pending_by_incident.get(incident_id, ()):
            p = self.pending[action_id]
            if p.state != "pending":
                continue
            ev = self.events.get(incident_id, {}).get(p.expect_event)
            if ev is None:
                continue
            if inc is not None and inc.version >= ev.incident_version:
                p.state = "applied"
                p.version = ev.incident_version

    # ------------------------------------------------------------ clocks
    def calendar(self, region: str | None, municipality: str | None) -> WorkCalendar:
        key = (region, municipality)
        cal = self._calendars.get(key)
        if cal is None:
            cal = self._calendars[key] = WorkCalendar.from_settings(
                self.sla, self.timezone_of(region, municipality)
            )
        return cal

    def now(self, region: str) -> datetime:
        """The moment SLA time is counted to: the wall clock, or the region's newest event."""
        if self.clock == "events" and region in self.region_clock:
            return self.region_clock[region]
        return datetime.now(UTC)

    def deadline(self, inc: Incident, now: datetime | None = None) -> Deadline:
        """The clock that runs out first: first reaction until one came, then final answer."""
        sla = inc.sla
        if inc.status not in OPEN_STATUSES:
            breached = sla.first_reaction_breached or sla.final_answer_breached
            return Deadline(None, None, 0.0, breached)
        now = now or self.now(region_of(inc.id))
        if sla.first_reaction_due and sla.first_reaction_at is None:
            which: Literal["first_reaction", "final_answer"] = "first_reaction"
            due = sla.first_reaction_due
            flagged = sla.first_reaction_breached
            plain = not self.sla.first_reaction_working_time.get(inc.priority, True)
        elif sla.final_answer_due and sla.final_answer_at is None:
            which, due = "final_answer", sla.final_answer_due
            flagged, plain = sla.final_answer_breached, False
        else:
            return Deadline(None, None, 0.0, False)
        cal = self.calendar(inc.region, inc.municipality)
        if plain:
            left = (due - now).total_seconds()
        else:
            ruler = self._rulers.get(id(cal))
            if ruler is None:
                ruler = self._rulers[id(cal)] = WorkRuler(cal)
            left = ruler.at(due) - ruler.at(now)
        day = 86_400.0 if plain else cal.hours_per_day * 3600
        return Deadline(which, due, left, flagged or due <= now, day)

    # ------------------------------------------------------------ reading
    def regions_of(self, allowed: frozenset[str] | None) -> list[str]:
        """The regions a user may see that this view holds (None: all of them)."""
        held = set(self.all_ids)
        return sorted(held if allowed is None else held & allowed)

    def visible(self, incident_id: str, allowed: frozenset[str] | None) -> Incident | None:
        """An incident, only when the user's regions include its region."""
        if allowed is not None and region_of(incident_id) not in allowed:
            return None
        return self.incidents.get(incident_id)

    def _open(self, allowed: frozenset[str] | None) -> Iterator[Incident]:
        for rk in self.regions_of(allowed):
            for iid in self.open_ids.get(rk, ()):
                yield self.incidents[iid]

    @staticmethod
    def _values(inc: Incident, name: str) -> list[str]:
        if name == "platform":
            return list(inc.platforms)
        value = getattr(inc, name, None)
        return [value] if value else ["—"]

    def _entry(self, inc: Incident) -> _Entry:
        """What the queue needs of an incident that does not depend on the time: its filter
        values and its running clock, cached per version."""
        held = self._entries.get(inc.id)
        if held is not None and held.version == inc.version:
            return held
        values = tuple(tuple(self._values(inc, name)) for name in FILTERS)
        which, due, flagged, plain, ruler, w_due = None, None, False, False, None, 0.0
        sla = inc.sla
        if sla.first_reaction_due and sla.first_reaction_at is None:
            which, due, flagged = (
                "first_reaction",
                sla.first_reaction_due,
                sla.first_reaction_breached,
            )
            plain = not self.sla.first_reaction_working_time.get(inc.priority, True)
        elif sla.final_answer_due and sla.final_answer_at is None:
            which, due, flagged = "final_answer", sla.final_answer_due, sla.final_answer_breached
        if due is not None and not plain:
            cal = self.calendar(inc.region, inc.municipality)
            ruler = self._rulers.get(id(cal))
            if ruler is None:
                ruler = self._rulers[id(cal)] = WorkRuler(cal)
            w_due = ruler.at(due)
        entry = _Entry(
            version=inc.version,
            values=values,
            which=which,  # type: ignore[arg-type]
            due=due,
            flagged=flagged,
            ruler=ruler,
            w_due=w_due,
            rank=(_PRIORITY_RANK.get(inc.priority, 3), inc.opened_at.timestamp(), inc.id),
        )
        self._entries[inc.id] = entry
        return entry

    def queue(
        self,
        allowed: frozenset[str] | None,
        filters: dict[str, str] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Queue:
        """Open incidents of the user's regions, most urgent first, with counts and options."""
        filters = {k: v for k, v in (filters or {}).items() if k in FILTERS and v}
        wanted = [(FILTERS.index(k), v) for k, v in filters.items()]
        options: list[dict[str, int]] = [{} for _ in FILTERS]
        nows: dict[str, datetime] = {}
        w_nows: dict[int, float] = {}
        ranked = []
        total = breached = critical = unassigned = new = 0
        for inc in self._open(allowed):
            total += 1
            e = self._entry(inc)
            for i, vals in enumerate(e.values):
                for v in vals:
                    options[i][v] = options[i].get(v, 0) + 1
            if not all(v in e.values[i] for i, v in wanted):
                continue
            rk = region_of(inc.id)
            now = nows.get(rk) or nows.setdefault(rk, self.now(rk))
            if e.due is None:
                key: tuple[int, float] = (2, 0.0)
                late = False
            else:
                if e.ruler is None:
                    left = (e.due - now).total_seconds()
                else:
                    w_now = w_nows.get(id(e.ruler))
                    if w_now is None:
                        w_now = w_nows[id(e.ruler)] = e.ruler.at(now)
                    left = e.w_due - w_now
                late = e.flagged or e.due <= now
                key = (0, left) if late else (1, left)
            breached += late
            critical += inc.priority == "critical"
            unassigned += not inc.agency
            new += inc.status == "new"
            ranked.append((key, e.rank, inc))
        ranked.sort(key=lambda r: (r[0], r[1]))
        counts = {
            "open": total,
            "shown": len(ranked),
            "breached": breached,
            "critical": critical,
            "unassigned": unassigned,
            "new": new,
        }
        return Queue(
            rows=[
                (inc, self.deadline(inc, nows[region_of(inc.id)]))
                for _, _, inc in ranked[offset : offset + limit]
            ],
            total=len(ranked),
            counts=counts,
            options={
                name: sorted(options[i].items(), key=lambda kv: (-kv[1], kv[0]))
                for i, name in enumerate(FILTERS)
            },
        )

    def card(self, incident_id: str, allowed: frozenset[str] | None) -> Card | None:
        inc = self.visible(incident_id, allowed)
        if inc is None:
            return None
        members = set(inc.mention_ids)
        originals: list[tuple[Post | None, str, list[Post | None]]] = []
        children: dict[str, list[Post | None]] = {}
        for mid in inc.mention_ids:
            post = self.posts.get(mid)
            parent = post.duplicate_of if post is not None else None
            if parent is not None and parent in members and parent != mid:
                children.setdefault(parent, []).append(post)
        for mid in inc.mention_ids:
            post = self.posts.get(mid)
            parent = post.duplicate_of if post is not None else None
            if parent is not None and parent in members and parent != mid:
                continue
            originals.append((post, mid, children.get(mid, [])))
        own = list(self.events.get(inc.id, {}).values())
        # a merge is recorded on the incident that disappeared; show it on the survivor too
        merged = sorted(self.merged_from.get(inc.id, set()))
        for other in merged:
            own.extend(e for e in self.events.get(other, {}).values() if e.type == "merged")
        own.sort(key=lambda e: (e.at, e.incident_version, e.event_id))
        return Card(
            incident=inc,
            deadline=self.deadline(inc),
            posts=originals,
            signals=[(self.posts.get(s), s) for s in inc.signal_ids],
            events=own,
            merged_from=merged,
            split_from=self.split_from.get(inc.id),
            pending=[self.pending[a] for a in self.pending_by_incident.get(inc.id, ())],
        )

    def _haystack(self, inc: Incident) -> str:
        hay = self._hay.get(inc.id)
        if hay is None:
            parts = [inc.id, inc.title, inc.address or "", inc.municipality or "", inc.agency or ""]
            for mid in (*inc.mention_ids, *inc.signal_ids):
                parts.append(mid)
                post = self.posts.get(mid)
                if post is not None:
                    parts.extend((post.text, post.url or "", post.address or ""))
            hay = self._hay[inc.id] = "\n".join(parts).casefold().replace("ё", "е")
        return hay

    def search(
        self, query: str, allowed: frozenset[str] | None, limit: int = 100
    ) -> tuple[list[Incident], int]:
        """Incidents of the user's regions (open or not) whose id, title, address, agency,
        post texts or post URLs contain every word of the query; open and newest first."""
        words = query.casefold().replace("ё", "е").split()
        if not words:
            return [], 0
        hits = []
        for rk in self.regions_of(allowed):
            for iid in self.all_ids.get(rk, ()):
                inc = self.incidents[iid]
                hay = self._haystack(inc)
                if all(w in hay for w in words):
                    hits.append(inc)
        hits.sort(key=lambda i: (i.status not in OPEN_STATUSES, -i.updated_at.timestamp(), i.id))
        return hits[:limit], len(hits)

    def merge_targets(self, inc: Incident) -> list[Incident]:
        """Incidents of the same region an incident can be merged into (the desk merges
        within one region's partition only)."""
        rk = region_of(inc.id)
        out = [
            self.incidents[i]
            for i in self.open_ids.get(rk, ())
            if i != inc.id and self.incidents[i].status != "merged_into"
        ]
        out.sort(key=lambda i: (i.category != inc.category, -i.updated_at.timestamp(), i.id))
        return out

    def changed_since(self, allowed: frozenset[str] | None) -> int:
        """The newest change counter over the user's regions (live updates compare it)."""
        regions: Iterable[str] = self.region_changes if allowed is None else allowed
        return max((self.region_changes.get(r, 0) for r in regions), default=0)
