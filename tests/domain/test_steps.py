"""A stage's step: event-time order, a batch-wide function whose failure costs only its
culprit, a per-input function whose failure is its input's alone; the same for the stream's
step runner and for `incidents process`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from incidents.config.settings import FaultSettings, Settings
from incidents.domain.enrichment import InvalidInput
from incidents.domain.steps import Done, Failed, Refused, Step
from incidents.stream.offline import OfflinePipeline

T0 = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)


@dataclass
class Post:
    id: str
    at: datetime


def _posts(*minutes: int) -> list[tuple[int, Post]]:
    return [(i, Post(f"p{i}", T0 + timedelta(minutes=m))) for i, m in enumerate(minutes)]


def test_inputs_are_handled_in_event_time_order_ties_in_arrival_order() -> None:
    seen: list[str] = []
    step: Step[Post, Post, str] = Step(
        "t", event_time=lambda p: p.at, each=lambda p: seen.append(p.id) or p.id
    )
    results = list(step.run(_posts(30, 0, 10, 0)))
    assert seen == ["p1", "p3", "p2", "p0"]
    assert [r.tag for r in results] == [1, 3, 2, 0]


def test_a_failing_batch_costs_only_its_culprit() -> None:
    calls: list[int] = []

    def batch(posts: Sequence[Post]) -> list[str]:
        calls.append(len(posts))
        if any(p.id == "p2" for p in posts):
            raise ValueError("cannot classify p2")
        return [p.id.upper() for p in posts]

    results = list(Step("t", event_time=lambda p: p.at, batch=batch).run(_posts(0, 1, 2, 3)))
    assert calls[0] == 4 and calls[1:] == [1, 1, 1, 1]  # once for the batch, then one by one
    assert [r.value for r in results if isinstance(r, Done)] == ["P0", "P1", "P3"]
    (failed,) = [r for r in results if isinstance(r, Failed)]
    assert (failed.tag, failed.id, failed.kind) == (2, "p2", "processing_error")
    assert failed.reason == "ValueError: cannot classify p2" and not failed.refused


def test_a_failing_input_fails_alone_and_keeps_its_kind() -> None:
    def each(p: Post) -> str:
        if p.id == "p0":
            raise KeyError("bug")
        if p.id == "p1":
            raise InvalidInput("schema", "not for this stage")
        if p.id == "p2":
            raise Refused("unknown_incident", "no such incident here")
        return p.id

    results = {r.tag: r for r in Step("t", each=each).run(_posts(0, 1, 2, 3))}
    assert isinstance(results[3], Done) and results[3].value == "p3"
    kinds = {t: (r.kind, r.refused) for t, r in results.items() if isinstance(r, Failed)}
    assert kinds == {
        0: ("processing_error", False),
        1: ("schema", False),
        2: ("unknown_incident", True),
    }


def _line(mid: str, text: str) -> bytes:
    post = {"id": mid, "platform": "vk", "source": {"id": "club1"}, "text": text,
            "created_at": "2026-11-12T10:00:00+03:00", "region_hint": "RU-TVE"}  # fmt: skip
    return json.dumps(post, ensure_ascii=False).encode()


def test_process_reports_a_post_its_stage_fails_on_and_decides_the_rest() -> None:
    """`incidents process` runs the enrich step as the stream does: one post the step
    fails on (a bug, injected) is a rejected line; before, the whole file stopped."""
    settings = Settings().model_copy(update={"faults": FaultSettings(fail_marker="BUG-HERE")})
    lines = [
        _line("vk:ok-1", "В Твери на улице Советской не вывозят мусор, контейнеры переполнены"),
        _line("vk:bad", "Во дворе дома 5 на улице Горького в Твери не горят фонари BUG-HERE"),
        _line("vk:ok-2", "На остановке в Твери сломан павильон, стекла разбиты"),
    ]
    results = {r.id: r for r in OfflinePipeline(settings).run(lines)}
    assert results["vk:bad"].status == "rejected"
    assert results["vk:bad"].error_kind == "processing_error"
    assert "fail marker" in (results["vk:bad"].error or "")
    assert results["vk:ok-1"].status == "accepted" and results["vk:ok-2"].status == "accepted"
