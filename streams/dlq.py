"""Dead letters and the limit that stops a worker instead of dead-lettering everything.

Bad input is a normal case: it goes to ``mentions.dlq`` with its original
bytes, the stage, the source topic/partition/offset and the reason, and is
counted. But when most input suddenly fails (a bad deploy, a producer writing a
new format), dead-lettering the whole stream would "process" it into the DLQ
and commit past it. The guard notices and stops the worker, so offsets stay
where they are until a human looks (arroyo's DLQ limit, same idea).
"""

from __future__ import annotations

import base64
import hashlib
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

from schemas.models import DeadLetter
from streams import metrics
from streams.domain.incidents import short_hash
from streams.settings import DlqSettings

MAX_REASON = 2000


class DlqLimitExceeded(RuntimeError):
    """Too much invalid input: stop and let an operator decide."""


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
class DlqGuard:
    """Sliding-window invalid ratio and a consecutive-failure cap, per stage."""

    stage: str
    settings: DlqSettings
    _window: deque[bool] = field(default_factory=deque)
    _invalid: int = 0
    _consecutive: int = 0

    def record(self, invalid: bool) -> None:
        s = self.settings
        self._window.append(invalid)
        self._invalid += invalid
        if len(self._window) > s.window:
            self._invalid -= self._window.popleft()
        self._consecutive = self._consecutive + 1 if invalid else 0
        if self._consecutive >= s.max_consecutive:
            metrics.DLQ_LIMIT.labels(self.stage).inc()
            raise DlqLimitExceeded(
                f"{self.stage}: {self._consecutive} consecutive invalid messages "
                f"(INCIDENTS_DLQ_MAX_CONSECUTIVE={s.max_consecutive}); stopping without committing"
            )
        seen = len(self._window)
        if seen >= s.min_messages and self._invalid / seen > s.max_invalid_ratio:
            metrics.DLQ_LIMIT.labels(self.stage).inc()
            raise DlqLimitExceeded(
                f"{self.stage}: {self._invalid} of the last {seen} messages were invalid "
                f"(> INCIDENTS_DLQ_MAX_INVALID_RATIO={s.max_invalid_ratio}); "
                "stopping without committing"
            )
