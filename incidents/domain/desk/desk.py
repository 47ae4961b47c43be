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

The desk's parts live beside it: records.py (records, codecs, Outcome), state.py
(the mapping and the indexes), placement.py (grouping a post among open incidents,
scored by grouping.py), copies.py (copies, edits, adoption), commands.py (operators'
commands), answers.py (official answers and replies), clocks.py (SLA timers, expiry,
given-up answers); ``Desk`` composes them and holds the entry points.

Every decision is a pure function of the mapping and the input, and every
output carries a deterministic id, so redelivered input re-emits the same
outputs instead of new ones (at-least-once delivery made idempotent).
"""

from __future__ import annotations

from typing import Literal

import msgspec

from incidents.contracts.models import (
    AdoptCommand,
    AnyCommand,
    IncidentEventType,
    Mention,
    RespondCommand,
    TakeOverCommand,
    TickCommand,
)
from incidents.domain.copies.dedup import region_key
from incidents.domain.desk.answers import AnswersMixin
from incidents.domain.desk.commands import CommandsMixin
from incidents.domain.desk.copies import CopiesMixin
from incidents.domain.desk.records import (
    OPEN_STATUSES,
    Detail,
    MentionRecord,
    Outcome,
    Post,
    _created_detail,
    _dec_adopt,
    _dt,
    _iso,
    _ts,
)


class Desk(CopiesMixin, AnswersMixin, CommandsMixin):
    """The incident desk of a set of regions: posts in (``resolve``), commands in
    (``command``), outcomes out; its state in the mapping it was given."""

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
        return self._operate(cmd)

    # ---------------------------------------------------------------- stats
    def open_incidents(self) -> int:
        self._ensure_built()
        return sum(1 for st in self._status.values() if st in OPEN_STATUSES)


def _newer(m: Mention, known: MentionRecord) -> bool:
    """Whether a mention is a later version than the one the desk placed: versions are
    ordered by the platform's edit time (none: the first version); ties keep the first."""
    return m.edited_at is not None and m.edited_at.timestamp() > known.edited
