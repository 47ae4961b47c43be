"""Placing a post among the open incidents of its region: grouping, opening, attaching.

A new appeal joins the best open incident of its region (and category, without the
problem model) as grouping.py scores them, or refills the incident it was alone in
before an edit, or opens an incident of its own; a media report is listed on one as
context. Attaching merges what the post says (terms, places, problem) into the
incident and gives the post the answers the incident already has.
"""

from __future__ import annotations

from collections.abc import Sequence

from incidents.contracts.models import (
    Incident,
    IncidentEventType,
    Mention,
    SlaState,
)
from incidents.domain.copies.dedup import address_key
from incidents.domain.desk.grouping import (
    Probe,
)
from incidents.domain.desk.records import (
    _MAX_PLACES,
    _MAX_SIGNALS,
    _MAX_TERMS,
    IncidentRecord,
    Outcome,
    Post,
    _created_detail,
    _rank,
    _topic,
    _with_topic,
    short_hash,
)
from incidents.domain.desk.state import DeskState
from incidents.domain.understanding.problems import Taxonomy


def _depth(tax: Taxonomy, code: str) -> int:
    depth = 0
    while (parent := tax.types[code].parent) and depth < 8:
        code, depth = parent, depth + 1
    return depth


class PlacementMixin(DeskState):
    """Grouping appeals and signals into incidents, opening and attaching."""

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
