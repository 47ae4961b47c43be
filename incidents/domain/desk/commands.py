"""Operators' commands on an incident: assign, change status, merge, split.

Each is applied once (a redelivered command id re-emits the incident and changes
nothing) to an incident of this desk's partition; a command for an unknown incident
or an impossible split is refused with a reason, to be dead-lettered.
"""

from __future__ import annotations

import msgspec

from incidents.contracts.models import (
    AnyCommand,
    AssignCommand,
    IncidentEventType,
    MergeCommand,
    SlaState,
    SplitCommand,
    StatusCommand,
)
from incidents.domain.copies.dedup import region_key
from incidents.domain.desk.records import (
    _MAX_TERMS,
    IncidentRecord,
    Outcome,
    _by,
    _dec_mention,
    _enc,
    _with_topic,
    short_hash,
)
from incidents.domain.desk.state import DeskState


class CommandsMixin(DeskState):
    """Assign, status, merge and split commands."""

    def _operate(self, cmd: AnyCommand) -> Outcome:
        """An operator's command on an incident (Desk.command has taken the others)."""
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
