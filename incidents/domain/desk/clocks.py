"""The desk's clocks: event time per region, SLA deadlines, the dedup window's expiry.

Time moves on a region's mentions and ticks (never on answers, which can run ahead):
the watermark fires SLA timers, mentions leave the dedup window (an appeal's slim
record stays for late answers, then goes too), and answers parked for a mention that
never came are given up as dead letters. A late answer is caught, and a breach it
proves wrong withdrawn, by the checks here.
"""

from __future__ import annotations

import heapq
from datetime import datetime

from incidents.contracts.models import (
    Incident,
    IncidentEvent,
    OfficialResponse,
)
from incidents.domain.copies.dedup import region_key
from incidents.domain.desk.records import (
    ANSWERED_PLATFORMS,
    GivenUp,
    Outcome,
    _dec_parked,
    _dt,
    _enc,
    _enc_json,
    _response_key,
)
from incidents.domain.desk.state import DeskState


class ClocksMixin(DeskState):
    """SLA timers, breaches and their retraction, expiry and eviction."""

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
