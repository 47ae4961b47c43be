"""Dead letters, and the limit that tells a producer's mistake from the pipeline's own.

Bad input is a normal case: it goes to ``mentions.dlq`` with its original
bytes, the stage, the source topic/partition/offset and the reason, and is
counted. When much of a stage's input fails, what to do depends on whose fault
it is (docs/operations.md#the-dead-letter-limit):

- input that breaks its topic's published contract, on a topic written from
  outside the pipeline (connectors, replays, operator consoles): the producer's
  mistake. The stage dead-letters every such message and keeps serving the valid
  ones; over the limit it flags the topic (``incidents_invalid_input_over_limit``,
  an error log line, the IncidentsInvalidInputOverLimit alert). One console
  sending answers without a region must not stop the answers of every other one;
  the dead letters keep the bytes, so nothing is lost.
- a stage failing on input its contract accepts (``processing_error``), or
  anything invalid on a topic the pipeline's own stages write: the pipeline's
  mistake (a bad deploy, two versions of a stage). Over the limit the stage stops
  the worker without committing, so the stream waits for a fix instead of being
  processed into the dead-letter topic (getsentry/arroyo's DLQ limit, counted as
  arroyo counts it: per partition, from each assignment).
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from incidents.config.settings import DlqSettings
from incidents.contracts.models import DeadLetter
from incidents.domain.desk.records import short_hash
from incidents.observability import metrics
from incidents.observability.logs import get as get_logger

log = get_logger("incidents.kafka.dlq")

MAX_REASON = 2000


class DlqLimitExceeded(RuntimeError):
    """Too many of the pipeline's own failures: stop and let an operator decide."""


def dead_letter_id(stage: str, topic: str, original: bytes) -> str:
    digest = hashlib.blake2b(original, digest_size=10, person=stage.encode()[:16]).hexdigest()
    return f"{short_hash(stage, topic, size=4)}{digest}"


def dead_letter(
    *,
    stage: str,
    topic: str,
    partition: int,
    offset: int,
    value: bytes | None,
    key: bytes | None,
    error_kind: str,
    reason: str,
    mention_id: str | None = None,
    failed_at: datetime | None = None,
    replayed: int = 0,
) -> DeadLetter:
    """A DeadLetter whose id depends only on the stage and the bytes.

    The same bad bytes dead-lettered again (a redelivery after a crash, or the
    same file replayed twice) get the same id, so the sink stores them once.
    """
    original = value or b""
    return DeadLetter(
        dlq_id=dead_letter_id(stage, topic, original),
        stage=stage,
        topic=topic,
        partition=partition,
        offset=offset,
        error_kind=error_kind,  # type: ignore[arg-type]
        reason=" ".join(reason.split())[:MAX_REASON],
        failed_at=failed_at or datetime.now(UTC),
        original_b64=base64.b64encode(original).decode("ascii"),
        original_size=len(original),
        key_b64=base64.b64encode(key).decode("ascii") if key else None,
        mention_id=mention_id,
        replayed=replayed,
    )


def dlq_headers(d: DeadLetter) -> dict[str, bytes]:
    """Kafka headers naming the original position and error, for tools that skip the body."""
    return {
        "dlq.stage": d.stage.encode(),
        "dlq.original.topic": d.topic.encode(),
        "dlq.original.partition": str(d.partition).encode(),
        "dlq.original.offset": str(d.offset).encode(),
        "dlq.error.kind": d.error_kind.encode(),
        "dlq.error.reason": d.reason[:500].encode("utf-8", "replace"),
    }


@dataclass
class _Window:
    """The last `size` messages of one input: how many were invalid, and the current run."""

    size: int
    flags: deque[bool] = field(default_factory=deque)
    invalid: int = 0
    consecutive: int = 0

    def add(self, invalid: bool) -> None:
        self.flags.append(invalid)
        self.invalid += invalid
        if len(self.flags) > self.size:
            self.invalid -= self.flags.popleft()
        self.consecutive = self.consecutive + 1 if invalid else 0

    def over(self, s: DlqSettings) -> str | None:
        """Why this input is over the limit, or None."""
        if self.consecutive >= s.max_consecutive:
            return (
                f"{self.consecutive} consecutive invalid messages "
                f"(INCIDENTS_DLQ_MAX_CONSECUTIVE={s.max_consecutive})"
            )
        seen = len(self.flags)
        if seen >= s.min_messages and self.invalid / seen > s.max_invalid_ratio:
            return (
                f"{self.invalid} of the last {seen} messages were invalid "
                f"(> INCIDENTS_DLQ_MAX_INVALID_RATIO={s.max_invalid_ratio})"
            )
        return None


@dataclass
class DlqGuard:
    """The dead-letter limit of one stage: sliding-window invalid ratio and a cap on
    consecutive invalid messages (INCIDENTS_DLQ_*), counted separately for the
    pipeline's own failures (stop) and for each input topic written from outside
    (flag, alert, keep serving); see the module docstring.

    The pipeline's own failures are counted per partition, as arroyo's DLQ limit
    does: one partition of bad input is not diluted by the good ones of the others,
    and a partition's count starts again when partitions are assigned (``reset``):
    the new owner decides on what it reads itself.
    """

    stage: str
    settings: DlqSettings
    #: Full names of the input topics written from outside the pipeline.
    outside: frozenset[str] = frozenset()
    #: A topic's name as metric labels carry it (without the deployment prefix).
    label: Callable[[str], str] = str
    _own: dict[tuple[str, int], _Window] = field(default_factory=dict)
    _inputs: dict[str, _Window] = field(default_factory=dict)
    _kinds: dict[str, Counter[str]] = field(default_factory=dict)
    _flagged: set[str] = field(default_factory=set)

    def record(self, invalid: bool, topic: str = "", kind: str = "", partition: int = 0) -> None:
        """One message of `topic` handled: valid, or dead-lettered with error `kind`.

        Raises DlqLimitExceeded when the pipeline's own failures on the message's
        partition pass the limit.
        """
        from_outside = topic in self.outside
        producers = invalid and from_outside and kind != "processing_error"
        if from_outside:
            self._input(topic, producers, kind)
        own = self._own.get((topic, partition))
        if own is None:
            own = self._own[(topic, partition)] = _Window(self.settings.window)
        own.add(invalid and not producers)
        reason = own.over(self.settings)
        if reason:
            metrics.DLQ_LIMIT.labels(self.stage).inc()
            where = f"{self.label(topic)}[{partition}]: " if topic else ""
            raise DlqLimitExceeded(f"{self.stage}: {where}{reason}; stopping without committing")

    def reset(self) -> None:
        """Partitions were assigned: every partition's count of own failures starts again
        (the flags of outside topics stay: they speak of a producer, not a partition)."""
        self._own.clear()

    def flagged(self) -> set[str]:
        """The outside topics whose invalid input is over the limit now."""
        return set(self._flagged)

    def _input(self, topic: str, invalid: bool, kind: str) -> None:
        w = self._inputs.get(topic)
        if w is None:
            w = self._inputs[topic] = _Window(self.settings.window)
            self._kinds[topic] = Counter()
            metrics.INVALID_INPUT_OVER_LIMIT.labels(self.stage, self.label(topic)).set(0)
        w.add(invalid)
        if invalid:
            self._kinds[topic][kind] += 1
        reason = w.over(self.settings)
        if reason and topic not in self._flagged:
            self._flagged.add(topic)
            metrics.INVALID_INPUT_OVER_LIMIT.labels(self.stage, self.label(topic)).set(1)
            metrics.INVALID_INPUT_LIMIT_EXCEEDED.labels(self.stage, self.label(topic)).inc()
            log.error(
                "invalid_input_over_limit",
                stage=self.stage,
                topic=self.label(topic),
                reason=reason,
                error_kinds=dict(self._kinds[topic].most_common(3)),
                action="every invalid message is dead-lettered and the valid ones served; "
                "find the producer: incidents dlq show --kind <error kind>",
            )
        elif not reason and topic in self._flagged:
            self._flagged.discard(topic)
            metrics.INVALID_INPUT_OVER_LIMIT.labels(self.stage, self.label(topic)).set(0)
            log.info(
                "invalid_input_back_under_limit",
                stage=self.stage,
                topic=self.label(topic),
                invalid=w.invalid,
                seen=len(w.flags),
            )
