"""A stage's work as plain functions, run the same way by the stream and by `incidents process`.

A step is what one stage does to a batch of inputs it has decoded: put them in
event-time order, call a batch-wide function (the classifier runs once per
batch), then a function per input (a window or a desk decides one input at a
time). Failures are isolated: when the batch-wide function raises, it is called
again input by input so that only the culprit fails, and a per-input function
that raises fails its own input alone. A failure comes back with its kind and
reason, for the caller to dead-letter (the stream's step runner,
incidents/stream/runner.py) or to report (`incidents process`, incidents/stream/offline.py):
both run a stage through :meth:`Step.run`, so they decide alike.

No Kafka, Faust or settings here: the callers bring what differs (the stream
sets the partition a table write goes to, with ``around``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from incidents.domain.enrichment import InvalidInput

T = TypeVar("T")  # what the caller tells its inputs by (an event, a line number)
In = TypeVar("In")
Mid = TypeVar("Mid")
Out = TypeVar("Out")


class Refused(InvalidInput):
    """A valid input the stage refuses by its own rules (a command for an incident this
    desk does not hold): dead-lettered with its reason, but neither the producer's
    mistake nor the pipeline's, so it does not count towards the dead-letter limit."""


@dataclass(frozen=True, slots=True)
class Done(Generic[T, Out]):
    """An input the step handled, and what it made of it."""

    tag: T
    value: Out


@dataclass(frozen=True, slots=True)
class Failed(Generic[T]):
    """An input the step could not handle: why, and the id it had when it could be read."""

    tag: T
    kind: str
    reason: str
    id: str | None = None
    refused: bool = False


def _identity(items: Sequence[Any]) -> Sequence[Any]:
    return items


def _id_of(obj: Any) -> str | None:
    value = getattr(obj, "id", None)
    return value if isinstance(value, str) else None


def _reason(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class Step(Generic[In, Mid, Out]):
    """One stage's work: ``event_time`` orders a batch, ``batch`` runs once per batch
    (one output per input, in order), ``each`` once per input (in event-time order).

    Either may raise InvalidInput for an input it refuses (its kind is kept); any
    other exception is the stage's own failure (``processing_error``).
    """

    name: str
    event_time: Callable[[In], datetime] | None = None
    batch: Callable[[Sequence[In]], Sequence[Mid]] = _identity
    each: Callable[[Mid], Out] | None = None

    def run(
        self,
        items: Sequence[tuple[T, In]],
        around: Callable[[T], AbstractContextManager[Any]] | None = None,
    ) -> Iterator[Done[T, Any] | Failed[T]]:
        """Every input once, as Done or Failed, in event-time order (stable: inputs of
        the same time keep their order). Lazily: what the caller does between two
        results happens before the next input's ``each`` (`incidents process` hands a
        desk's forwarded commands over there, as the stream's desk gets them later)."""
        ordered = list(items)
        if self.event_time is not None:
            key = self.event_time
            ordered.sort(key=lambda item: key(item[1]))
        for tag, obj, mid in self._batch(ordered):
            if isinstance(mid, _Fail):
                yield Failed(tag, mid.kind, mid.reason, _id_of(obj))
            elif self.each is None:
                yield Done(tag, mid)
            else:
                yield self._each(tag, obj, mid, around)

    def _batch(self, ordered: list[tuple[T, In]]) -> list[tuple[T, In, Any]]:
        """(tag, input, its batch output or _Fail); one by one when the batch fails."""
        try:
            mids = self.batch([obj for _, obj in ordered])
            return [(tag, obj, mid) for (tag, obj), mid in zip(ordered, mids, strict=True)]
        except Exception:  # redone one by one below: only the culprit fails
            pass
        out: list[tuple[T, In, Any]] = []
        for tag, obj in ordered:
            mid: Any
            try:
                (mid,) = self.batch([obj])
            except InvalidInput as err:
                mid = _Fail(err.kind, err.reason)
            except Exception as exc:  # a bug in domain code must not stop the stream
                mid = _Fail("processing_error", _reason(exc))
            out.append((tag, obj, mid))
        return out

    def _each(
        self,
        tag: T,
        obj: In,
        mid: Mid,
        around: Callable[[T], AbstractContextManager[Any]] | None,
    ) -> Done[T, Any] | Failed[T]:
        assert self.each is not None
        try:
            if around is None:
                return Done(tag, self.each(mid))
            with around(tag):
                return Done(tag, self.each(mid))
        except InvalidInput as err:
            return Failed(tag, err.kind, err.reason, _id_of(obj), isinstance(err, Refused))
        except Exception as exc:  # a bug in domain code must not stop the stream
            return Failed(tag, "processing_error", _reason(exc), _id_of(obj))


@dataclass(frozen=True, slots=True)
class _Fail:
    kind: str
    reason: str
