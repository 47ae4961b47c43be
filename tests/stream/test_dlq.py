"""Dead letters keep the bytes and the reason; the guard stops a flood of invalid input."""

from __future__ import annotations

import base64

import pytest

from incidents.config.settings import DlqSettings
from incidents.kafka.dlq import DlqGuard, DlqLimitExceeded, dead_letter, dlq_headers
from incidents.observability import metrics


def test_dead_letter_keeps_original_bytes_and_is_content_addressed() -> None:
    raw = b'{"id": "vk:1", broken \xff'
    a = dead_letter(
        stage="enrich",
        topic="mentions.raw",
        partition=1,
        offset=7,
        value=raw,
        key=b"k",
        error_kind="invalid_json",
        reason="bad\njson",
    )
    b = dead_letter(
        stage="enrich",
        topic="mentions.raw",
        partition=3,
        offset=99,
        value=raw,
        key=b"k",
        error_kind="invalid_json",
        reason="bad json",
    )
    assert base64.b64decode(a.original_b64) == raw and a.original_size == len(raw)
    assert a.dlq_id == b.dlq_id  # same bytes, same stage: stored once
    assert a.reason == "bad json"
    h = dlq_headers(a)
    assert h["dlq.original.offset"] == b"7" and h["dlq.error.kind"] == b"invalid_json"


def test_guard_tolerates_normal_bad_input() -> None:
    g = DlqGuard(
        "enrich",
        DlqSettings(window=100, min_messages=50, max_invalid_ratio=0.5, max_consecutive=20),
    )
    for i in range(1000):
        g.record(i % 10 == 0)  # 10 % invalid, spread out


def test_guard_stops_on_a_high_invalid_ratio() -> None:
    g = DlqGuard(
        "enrich",
        DlqSettings(window=100, min_messages=50, max_invalid_ratio=0.5, max_consecutive=1000),
    )
    with pytest.raises(DlqLimitExceeded, match="INCIDENTS_DLQ_MAX_INVALID_RATIO"):
        for i in range(200):
            g.record(i % 3 != 0)  # two thirds invalid


def test_guard_stops_on_consecutive_invalid() -> None:
    g = DlqGuard("group", DlqSettings(window=1000, min_messages=1000, max_consecutive=25))
    for _ in range(24):
        g.record(True)
    with pytest.raises(DlqLimitExceeded, match="25 consecutive"):
        g.record(True)


def _limit_count(stage: str) -> float:
    labels = {"stage": stage}
    return metrics.REGISTRY.get_sample_value("incidents_dlq_limit_exceeded_total", labels) or 0.0


@pytest.mark.parametrize(
    "settings",
    [
        DlqSettings(window=1000, min_messages=1000, max_consecutive=5),
        DlqSettings(window=20, min_messages=10, max_invalid_ratio=0.5, max_consecutive=1000),
    ],
    ids=["consecutive", "ratio"],
)
def test_a_tripped_guard_is_counted_where_it_trips(settings: DlqSettings) -> None:
    """incidents_dlq_limit_exceeded_total feeds IncidentsDlqLimitExceeded."""
    g = DlqGuard("respond", settings)
    before = _limit_count("respond")
    with pytest.raises(DlqLimitExceeded):
        for _ in range(100):
            g.record(True)
    assert _limit_count("respond") - before == 1


RESPONSES = "t.responses"  # a full topic name, as the worker sees it (prefix t.)
LIMIT = DlqSettings(window=40, min_messages=20, max_invalid_ratio=0.5, max_consecutive=30)


def _guard(stage: str = "respond") -> DlqGuard:
    return DlqGuard(
        stage,
        LIMIT,
        outside=frozenset({RESPONSES, "t.mentions.raw"}),
        label=lambda topic: topic.removeprefix("t."),
    )


def _flag(stage: str, topic: str) -> float | None:
    return metrics.REGISTRY.get_sample_value(
        "incidents_invalid_input_over_limit", {"stage": stage, "topic": topic}
    )


def test_a_producers_invalid_input_is_flagged_and_never_stops_the_stage() -> None:
    """200 answers without a region in a row (the published contract refuses them): the
    stage keeps going, the topic is flagged while it is over the limit, and cleared after."""
    g = _guard()
    before = metrics.REGISTRY.get_sample_value(
        "incidents_invalid_input_limit_exceeded_total",
        {"stage": "respond", "topic": "responses"},
    )
    for _ in range(200):
        g.record(True, RESPONSES, "schema")
    assert g.flagged() == {RESPONSES}
    assert _flag("respond", "responses") == 1
    after = metrics.REGISTRY.get_sample_value(
        "incidents_invalid_input_limit_exceeded_total",
        {"stage": "respond", "topic": "responses"},
    )
    assert after == (before or 0) + 1  # once per episode, not per message
    for _ in range(40):
        g.record(False, RESPONSES)
    assert g.flagged() == set() and _flag("respond", "responses") == 0


def test_only_the_topic_with_the_bad_input_is_flagged() -> None:
    g = _guard("enrich")
    for i in range(300):
        g.record(True, "t.mentions.raw", "invalid_json")
        if i % 2:
            g.record(False, RESPONSES)
    assert g.flagged() == {"t.mentions.raw"}


def test_the_pipelines_own_failures_still_stop_the_stage() -> None:
    """A stage failing on input its contract accepts, or invalid messages on a topic the
    pipeline writes: a bad deploy, so stop without committing (arroyo's DLQ limit)."""
    g = _guard("enrich")
    with pytest.raises(DlqLimitExceeded, match="20 of the last 20"):
        for _ in range(20):
            g.record(True, "t.mentions.raw", "processing_error")
    g = _guard("group")
    with pytest.raises(DlqLimitExceeded, match="INCIDENTS_DLQ_MAX_INVALID_RATIO"):
        for i in range(40):
            g.record(i % 4 != 0, "t.mentions.enriched", "schema")


def test_the_limit_counts_each_partition_on_its_own() -> None:
    """A partition whose every message fails stops the stage even while the other
    partitions' messages are valid (arroyo counts per partition): counted per stage, the
    valid ones in between kept the run of failures and the ratio under the limit."""
    consecutive = DlqGuard("dedup", DlqSettings(window=1000, min_messages=1000, max_consecutive=5))
    with pytest.raises(DlqLimitExceeded, match=r"mentions.enriched\[2\]: 5 consecutive"):
        for _ in range(5):
            consecutive.record(True, "mentions.enriched", "schema", partition=2)
            consecutive.record(False, "mentions.enriched", partition=0)
    ratio = DlqGuard(
        "dedup",
        DlqSettings(window=40, min_messages=20, max_invalid_ratio=0.5, max_consecutive=1000),
    )
    with pytest.raises(DlqLimitExceeded, match=r"\[1\]: 20 of the last 20"):
        for _ in range(20):
            ratio.record(True, "mentions.enriched", "schema", partition=1)
            ratio.record(False, "mentions.enriched", partition=3)


def test_an_assignment_starts_each_partitions_count_again() -> None:
    """After a rebalance the new owner of a partition decides on what it reads itself:
    failures counted before the assignment do not add to those after it."""
    g = DlqGuard("dedup", DlqSettings(window=1000, min_messages=1000, max_consecutive=5))
    for _ in range(4):
        g.record(True, "mentions.enriched", "schema", partition=0)
    g.reset()  # partitions assigned
    for _ in range(4):
        g.record(True, "mentions.enriched", "schema", partition=0)
    with pytest.raises(DlqLimitExceeded, match="5 consecutive"):
        g.record(True, "mentions.enriched", "schema", partition=0)
