"""The bundled demo sample: reproducible, valid where meant to be, broken where meant to be."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from incidents.contracts.models import OfficialResponse, RawMention
from incidents.ops.demo import build_sample

SAMPLE = Path(build_sample.__file__).resolve().parent / "sample"
KNOWN_REGIONS = set(build_sample.REGION_OFFSETS)
DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError)

Label = dict[str, Any]


def _lines(data: bytes) -> list[bytes]:
    assert data.endswith(b"\n")
    return data[:-1].split(b"\n")


@pytest.fixture(scope="module")
def built() -> dict[str, bytes]:
    return build_sample.build()


@pytest.fixture(scope="module")
def lines() -> list[bytes]:
    return _lines((SAMPLE / "mentions.jsonl").read_bytes())


@pytest.fixture(scope="module")
def labels() -> list[Label]:
    return [json.loads(line) for line in _lines((SAMPLE / "labels.jsonl").read_bytes())]


@pytest.fixture(scope="module")
def mentions(lines: list[bytes], labels: list[Label]) -> dict[str, RawMention]:
    """Every valid mention by id (a redelivery decodes to the same mention)."""
    return {
        label["id"]: msgspec.json.decode(line, type=RawMention)
        for line, label in zip(lines, labels, strict=True)
        if label["kind"] != "invalid"
    }


@pytest.fixture(scope="module")
def responses() -> list[OfficialResponse]:
    data = (SAMPLE / "responses.jsonl").read_bytes()
    return [msgspec.json.decode(line, type=OfficialResponse) for line in _lines(data)]


def test_generator_reproduces_the_committed_files(built: dict[str, bytes]) -> None:
    assert set(built) == {"mentions.jsonl", "labels.jsonl", "responses.jsonl"}
    for name, data in built.items():
        assert (SAMPLE / name).read_bytes() == data, (
            f"sample/{name} is stale: run python -m incidents.ops.demo.build_sample"
        )


def test_generator_is_deterministic(built: dict[str, bytes]) -> None:
    assert build_sample.build() == built


def test_labels_cover_every_line(lines: list[bytes], labels: list[Label]) -> None:
    assert len(labels) == len(lines)
    assert [label["line"] for label in labels] == list(range(1, len(lines) + 1))
    assert not any(b"\r" in line for line in lines)


def test_valid_lines_decode_as_raw_mentions(lines: list[bytes], labels: list[Label]) -> None:
    for line, label in zip(lines, labels, strict=True):
        if label["kind"] == "invalid":
            continue
        mention = msgspec.json.decode(line, type=RawMention)
        assert mention.id == label["id"]
        assert mention.region_hint is None or mention.region_hint in KNOWN_REGIONS
        assert 40 <= len(mention.text) <= 600, mention.id
        assert datetime(2026, 11, 16, tzinfo=UTC) <= mention.created_at.astimezone(UTC)
        assert mention.created_at.astimezone(UTC) < datetime(2026, 11, 21, tzinfo=UTC)


def test_invalid_lines_fail_as_intended(lines: list[bytes], labels: list[Label]) -> None:
    invalid = [
        (line, label)
        for line, label in zip(lines, labels, strict=True)
        if label["kind"] == "invalid"
    ]
    assert 8 <= len(invalid) <= 10
    for line, _ in invalid:
        # every broken line breaks the contract itself (region_hint: one of the known regions)
        with pytest.raises(DECODE_ERRORS):
            msgspec.json.decode(line, type=RawMention)
    errors = Counter(label["error"] for _, label in invalid)
    assert errors["invalid_json"] >= 1
    assert errors["invalid_encoding"] == 1
    assert errors["unknown_region"] == 1


def test_broken_utf8_only_where_intended(lines: list[bytes], labels: list[Label]) -> None:
    for line, label in zip(lines, labels, strict=True):
        if label["error"] == "invalid_encoding":
            assert b"\xff\xfe" in line
            with pytest.raises(UnicodeDecodeError):
                line.decode("utf-8")
        else:
            line.decode("utf-8")


def test_ids_are_unique_except_redeliveries(lines: list[bytes], labels: list[Label]) -> None:
    ids = [label["id"] for label in labels if label["kind"] != "redelivery" and label["id"]]
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    first_line = {label["id"]: n for n, label in reversed(list(enumerate(labels)))}
    for n, label in enumerate(labels):
        if label["kind"] == "redelivery":
            earlier = first_line[label["id"]]
            assert earlier < n
            assert lines[earlier] == lines[n], "a redelivery repeats the line byte for byte"
            assert label["copy_of"] == label["id"]


def test_counts_per_kind(labels: list[Label]) -> None:
    kinds = Counter(label["kind"] for label in labels)
    assert 350 <= len(labels) <= 450
    assert kinds["redelivery"] == 5
    assert 8 <= kinds["invalid"] <= 10
    assert kinds["copy"] >= 25
    share = kinds["appeal"] / (kinds["appeal"] + kinds["non_appeal"])
    assert 0.5 <= share <= 0.62, f"appeals are {share:.0%} of the originals"
    topics = Counter(label["topic"] for label in labels if label["kind"] == "non_appeal")
    assert set(topics) == set(build_sample.TOPICS)


def test_incident_groups(labels: list[Label], mentions: dict[str, RawMention]) -> None:
    groups: dict[str, list[RawMention]] = defaultdict(list)
    for label in labels:
        if label["kind"] == "appeal" and label["problem"]:
            groups[label["problem"]].append(mentions[label["id"]])
    assert len(groups) >= 15
    for problem, reports in groups.items():
        authors = {m.author.id for m in reports if m.author is not None}
        assert 2 <= len(reports) <= 6, problem
        assert len(authors) >= 2, problem
        assert len({m.platform for m in reports}) >= 2 or len({m.source.id for m in reports}) >= 2


def test_copies_follow_their_originals(
    labels: list[Label], mentions: dict[str, RawMention]
) -> None:
    by_id = {label["id"]: label for label in labels if label["kind"] != "redelivery"}
    for label in labels:
        if label["kind"] != "copy":
            continue
        copy, original = mentions[label["id"]], mentions[label["copy_of"]]
        assert copy.created_at > original.created_at
        assert copy.text != original.text
        assert copy.source.id != original.source.id
        assert by_id[label["copy_of"]]["line"] < label["line"]
        for field in ("problem", "category", "region", "municipality"):
            assert label[field] == by_id[label["copy_of"]][field]


def test_coverage(labels: list[Label], mentions: dict[str, RawMention]) -> None:
    regions = {label["region"] for label in labels if label["region"]}
    assert {"RU-TVE", "RU-IVA", "RU-NVS", "RU-MOW", "RU-SPE"} <= regions
    assert regions & {"RU-NIZ", "RU-SVE"}
    appeals = Counter(label["category"] for label in labels if label["kind"] == "appeal")
    assert set(appeals) == set(build_sample.CATEGORIES)
    assert {m.platform for m in mentions.values()} == {"vk", "ok", "telegram", "pos", "rss", "web"}
    kinds = {m.source.kind for m in mentions.values()}
    assert kinds == {"official", "city_public", "media", "chat", "portal"}
    assert any(m.region_hint is None for m in mentions.values())
    assert any(m.geo is not None for m in mentions.values())
    assert any(m.reply_to is not None for m in mentions.values())
    assert sum(label["urgent"] for label in labels if label["kind"] == "appeal") >= 10


def test_sorted_by_time_apart_from_redeliveries(
    labels: list[Label], mentions: dict[str, RawMention]
) -> None:
    times = [
        mentions[label["id"]].created_at
        for label in labels
        if label["kind"] not in ("invalid", "redelivery")
    ]
    assert times == sorted(times)


def test_responses(
    responses: list[OfficialResponse], labels: list[Label], mentions: dict[str, RawMention]
) -> None:
    assert 10 <= len(responses) <= 15
    assert len({r.response_id for r in responses}) == len(responses)
    by_id = {label["id"]: label for label in labels if label["kind"] in ("appeal", "copy")}
    kinds_by_problem: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for r in responses:
        assert r.mention_id is not None
        assert r.mention_id in by_id, f"{r.response_id} answers no appeal in the sample"
        label = by_id[r.mention_id]
        assert r.region == label["region"]
        assert r.responded_at > mentions[r.mention_id].created_at
        if label["problem"]:
            kinds_by_problem[label["problem"]].append((r.responded_at, r.kind))
    assert any(by_id[str(r.mention_id)]["kind"] == "copy" for r in responses)
    pairs = [
        p
        for p, answers in kinds_by_problem.items()
        if [k for _, k in sorted(answers)][:2] == ["interim", "final"]
    ]
    assert len(pairs) >= 3
