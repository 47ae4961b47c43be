"""Official answers on the desk: the incident's clocks, replies to its posts, parking.

An answer addressed to an incident (or to a post of one) stops its SLA clocks and
becomes a reply to every post of the incident; one that came before its post is
parked until the post arrives; one to a post the classifier passed over opens an
incident for it; one to an incident that moved to another region's desk follows it.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from incidents.contracts.models import (
    Incident,
    MentionRef,
    OfficialResponse,
    RespondCommand,
    SlaState,
)
from incidents.domain.copies.dedup import region_key
from incidents.domain.desk.clocks import ClocksMixin
from incidents.domain.desk.records import (
    _MAX_ANSWERS_KEPT,
    OPEN_STATUSES,
    GivenUp,
    IncidentRecord,
    MentionRecord,
    Outcome,
    ParkedResponse,
    _by,
    _dec_parked,
    _enc,
    _enc_json,
    _response_key,
    incident_region,
    short_hash,
)


class AnswersMixin(ClocksMixin):
    """Answers, parked answers and the incidents operators' answers open."""

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
