"""Copies and versions of posts: a copy joins its original, an edit leaves, a family moves.

A copy joins its original's incident; an edited post whose words changed leaves its
incident (closing or merging the one it was alone in); a post without a region that
got one from its copy has its incident moved from the desk of `unknown` to that
region's desk (AdoptCommand there, TakeOverCommand here), answers and posts included.
"""

from __future__ import annotations

import heapq

import msgspec

from incidents.contracts.models import (
    AdoptCommand,
    AnyCommand,
    Incident,
    IncidentEventType,
    Mention,
    MentionRef,
    TakeOverCommand,
)
from incidents.domain.copies.dedup import address_key, region_key
from incidents.domain.desk.placement import PlacementMixin
from incidents.domain.desk.records import (
    _MAX_ANSWERS_KEPT,
    _MAX_PLACES,
    _MAX_TERMS,
    OPEN_STATUSES,
    Detail,
    IncidentRecord,
    MentionRecord,
    Outcome,
    Post,
    _enc,
    _iso,
    _rank,
    _ts,
    incident_region,
    short_hash,
)


class CopiesMixin(PlacementMixin):
    """Copies, edited posts, and incidents adopted by the region a copy gave."""

    # ---------------------------------------------------------------- copies
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

    # ----------------------------------------------------------------- edits
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
