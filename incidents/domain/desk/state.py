"""The desk's state: the mapping it stores records in, and the indexes derived from it.

``DeskState`` reads and writes records, rebuilds the in-memory indexes (open
incidents per region and category, SLA timers, expiry heaps, parked answers) from
the mapping after a restart or a rebalance, and builds the events and replies every
part of the desk emits, with ids that depend only on their cause. The desk's
responsibilities (placement.py, copies.py, commands.py, answers.py, clocks.py)
extend it; desk.py composes them.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable, MutableMapping
from datetime import datetime, tzinfo

from incidents.contracts.models import (
    Incident,
    IncidentEvent,
    IncidentEventType,
    Mention,
    MentionRef,
    OfficialResponse,
    Reply,
)
from incidents.domain.copies.dedup import region_key
from incidents.domain.desk.grouping import (
    GroupIndex,
    Profile,
    Rules,
)
from incidents.domain.desk.records import (
    GROUPABLE_STATUSES,
    Detail,
    IncidentRecord,
    MentionRecord,
    _dec_incident,
    _dec_mention,
    _dec_parked,
    _enc,
    _ts,
    short_hash,
)
from incidents.domain.desk.sla import SlaPolicy, WorkCalendar
from incidents.domain.policy import DedupSettings, GroupingSettings, SlaSettings
from incidents.domain.understanding.problems import Taxonomy


class DeskState:
    """Storage, derived indexes and output builders shared by every part of the desk."""

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

    def _bucket(self, category: str | None) -> str | None:
        """Which incidents an appeal is compared with: those of its category, or, with
        the problem model, all of the region's (the problem types decide; two posts about
        one problem that the classifier put in two categories still meet)."""
        return None if self._groups.rules.taxonomy is not None else category

    # --------------------------------------------------------------- outputs
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
