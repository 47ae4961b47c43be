"""The spine, end to end: replay → broker → worker → ClickHouse and incident topics.

One worker (all roles) per module, fed the bundled sample once; the tests then
check what a user relies on: rows in ClickHouse, valid messages on every
topic, dead letters with their reasons, idempotent replays.
"""

from __future__ import annotations

import base64
import json
from collections import Counter

import jsonschema
import pytest

from incidents.contracts.registry import load_schema
from tests.support.paths import SAMPLE
from tests.support.stack import Stack, jsonl

# The spine: also on Apache Kafka in the default run on both brokers (tests/support/brokers.py).
pytestmark = [pytest.mark.integration, pytest.mark.kafka]

SCHEMA_OF_TOPIC = {
    "mentions.enriched": "mention-batch",
    "mentions.deduped": "mention-batch",
    "mentions.resolved": "mention",
    "incidents": "incident",
    "incidents.events": "incident-event",
    "replies.outbound": "reply",
    "mentions.dlq": "dead-letter",
    "desk.commands": "incident-command",
}

MENTIONS = jsonl(SAMPLE / "mentions.jsonl")
RESPONSES = jsonl(SAMPLE / "responses.jsonl")
LABELS = [json.loads(line) for line in jsonl(SAMPLE / "labels.jsonl")]


def _validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        load_schema(name), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


@pytest.fixture(scope="module")
def pipeline(module_stack: Stack) -> Stack:
    """A worker that has processed the whole sample: mentions, then responses."""
    module_stack.start_worker()
    keys = [json.loads(v)["id"].encode() if _is_json_obj(v) else None for v in MENTIONS]
    module_stack.publish("mentions.raw", MENTIONS, keys)
    module_stack.wait_drained()
    module_stack.publish("responses", RESPONSES)
    module_stack.wait_drained()
    return module_stack


def _is_json_obj(v: bytes) -> bool:
    try:
        return isinstance(json.loads(v), dict) and isinstance(json.loads(v).get("id"), str)
    except (ValueError, UnicodeDecodeError):
        return False


def _counts(w: object) -> dict[str, int]:
    worker = pipeline_worker(w)
    db = "incidents"
    return {
        "mentions": worker.scalar(f"SELECT count() FROM {db}.mentions"),
        "distinct_mentions": worker.scalar(f"SELECT uniqExact(id) FROM {db}.mentions"),
        "events": worker.scalar(f"SELECT count() FROM {db}.incident_events"),
        "replies": worker.scalar(f"SELECT count() FROM {db}.replies"),
        "dead_letters": worker.scalar(f"SELECT count() FROM {db}.dead_letters"),
        "hourly_mentions": worker.scalar(f"SELECT sum(mentions) FROM {db}.mentions_hourly"),
        "hourly_appeals": worker.scalar(f"SELECT sum(appeals) FROM {db}.mentions_hourly"),
        "incidents": worker.scalar(f"SELECT uniqExact(id) FROM {db}.incidents"),
    }


def pipeline_worker(stack: object):  # type: ignore[no-untyped-def]
    assert isinstance(stack, Stack)
    return stack.workers[0]


def test_replayed_file_ends_up_in_clickhouse(pipeline: Stack) -> None:
    valid_ids = {lab["id"] for lab in LABELS if lab["kind"] != "invalid"}
    invalid = [lab for lab in LABELS if lab["kind"] == "invalid"]
    c = _counts(pipeline)
    # Every valid mention exactly once, redeliveries included only once.
    assert c["mentions"] == c["distinct_mentions"] == len(valid_ids)
    stored = {r[0] for r in pipeline_worker(pipeline).query("SELECT id FROM incidents.mentions")}
    assert stored == valid_ids
    # Every invalid line is a dead letter, none silently dropped.
    assert c["dead_letters"] == len(invalid)
    # The materialized view counted each stored mention once.
    assert c["hourly_mentions"] == c["mentions"]
    appeals = pipeline_worker(pipeline).scalar(
        "SELECT countIf(status = 'accepted' AND is_appeal) FROM incidents.mentions"
    )
    assert c["hourly_appeals"] == appeals
    assert c["incidents"] > 0 and c["events"] > c["incidents"]


def test_copies_are_linked_to_their_original(pipeline: Stack) -> None:
    rows = pipeline_worker(pipeline).query(
        "SELECT id, status, duplicate_of FROM incidents.mentions WHERE status = 'duplicate'"
    )
    stored = {r[0] for r in pipeline_worker(pipeline).query("SELECT id FROM incidents.mentions")}
    assert rows, "the sample has reposts; some must be recognised"
    for mention_id, _status, original in rows:
        assert original and original != mention_id and original in stored


def test_responses_reach_every_mention_of_the_incident(pipeline: Stack) -> None:
    w = pipeline_worker(pipeline)
    replies = w.query("SELECT response_id, incident_id, mention_id FROM incidents.replies")
    assert replies, "the sample's responses must produce replies"
    # One reply per (response, mention), never two.
    assert len(replies) == len({(r[0], r[2]) for r in replies})
    for response_id, incident_id, _ in replies:
        members = {
            r[0]
            for r in w.query(
                f"SELECT id FROM incidents.mentions WHERE incident_id = '{incident_id}'"
                # media reports linked as context (accepted non-appeals) get no reply
                " AND (is_appeal OR status = 'duplicate')"
            )
        }
        signals = w.query(
            "SELECT id FROM incidents.mentions WHERE incident_id = "
            f"'{incident_id}' AND status = 'accepted' AND NOT is_appeal"
        )
        assert not {r[0] for r in signals} & {r[2] for r in replies if r[0] == response_id}
        replied = {r[2] for r in replies if r[0] == response_id}
        assert members <= replied, f"{response_id}: {members - replied} got no reply"


def test_every_message_on_every_topic_matches_its_json_schema(pipeline: Stack) -> None:
    seen = Counter()
    for base, name in SCHEMA_OF_TOPIC.items():
        validator = _validator(name)
        for _key, value, _headers in pipeline.read_topic(base):
            errors = list(validator.iter_errors(json.loads(value)))
            assert not errors, f"{base}: {errors[0].message}"
            seen[base] += 1
    for base in (
        "mentions.enriched",
        "mentions.deduped",
        "mentions.resolved",
        "incidents",
        "incidents.events",
        "replies.outbound",
        "mentions.dlq",
    ):
        assert seen[base] > 0, f"nothing seen on {base}"


def test_incident_topic_is_readable_by_a_plain_consumer_and_keys_carry_the_region(
    pipeline: Stack,
) -> None:
    messages = pipeline.read_topic("incidents")
    assert messages
    latest: dict[str, dict] = {}
    for key, value, _ in messages:
        inc = json.loads(value)
        assert key is not None and key.decode() == inc["id"]
        region_in_key = key.decode().split("/", 1)[0]
        assert region_in_key == (inc["region"] or "unknown")
        if inc["id"] not in latest or inc["version"] > latest[inc["id"]]["version"]:
            latest[inc["id"]] = inc
    stored = {
        r[0]: r[1]
        for r in pipeline_worker(pipeline).query(
            "SELECT id, max(version) FROM incidents.incidents GROUP BY id"
        )
    }
    assert {k: v["version"] for k, v in latest.items()} == stored


def test_invalid_lines_are_dead_letters_with_original_bytes_and_reason(pipeline: Stack) -> None:
    dlq = [json.loads(v) for _, v, _ in pipeline.read_topic("mentions.dlq")]
    originals = {base64.b64decode(d["original_b64"]) for d in dlq}
    invalid_lines = [MENTIONS[i] for i, lab in enumerate(LABELS) if lab["kind"] == "invalid"]
    for line in invalid_lines:
        assert line in originals, f"not dead-lettered: {line[:80]!r}"
    kinds = Counter(d["error_kind"] for d in dlq)
    assert (
        kinds["invalid_encoding"] >= 1
        and kinds["invalid_json"] >= 1
        and kinds["unknown_region"] >= 1
    )
    assert all(d["reason"] and d["stage"] == "enrich" for d in dlq)
    _, _, headers = pipeline.read_topic("mentions.dlq")[0]
    assert headers["dlq.original.topic"].decode() == pipeline.topic("mentions.raw")


def test_poison_message_goes_to_dlq_and_the_worker_keeps_going(pipeline: Stack) -> None:
    w = pipeline_worker(pipeline)
    poison = b'\x00\x01{"id": "vk:poison", not json'
    good = json.loads(MENTIONS[0])
    good["id"] = "vk:after-poison-1"
    pipeline.publish(
        "mentions.raw", [poison, json.dumps(good).encode()], [b"vk:poison", b"vk:after-poison-1"]
    )
    pipeline.wait_drained()
    assert w.alive()
    assert w.scalar("SELECT count() FROM incidents.mentions WHERE id = 'vk:after-poison-1'") == 1
    dlq = [json.loads(v) for k, v, _ in pipeline.read_topic("mentions.dlq") if k == b"vk:poison"]
    assert dlq and base64.b64decode(dlq[0]["original_b64"]) == poison
    assert dlq[0]["error_kind"] in ("invalid_json", "invalid_encoding")


def test_replaying_the_same_file_twice_changes_nothing(pipeline: Stack) -> None:
    before = _counts(pipeline)
    keys = [json.loads(v)["id"].encode() if _is_json_obj(v) else None for v in MENTIONS]
    pipeline.publish("mentions.raw", MENTIONS, keys)
    pipeline.publish("responses", RESPONSES)
    pipeline.wait_drained()
    after = _counts(pipeline)
    assert after == before


def test_the_stream_and_incidents_process_decide_alike(pipeline: Stack) -> None:
    """One code path: what the worker published for each post (its problem types,
    category, priority, agency, appeal or not) is what `incidents process` decides
    for the same lines, so an operator can re-run a day offline and see the same."""
    from incidents.config.settings import Settings
    from incidents.stream.offline import OfflinePipeline

    streamed = {}
    # What the worker decided for each post: a copy carries its original's classification
    # (the dedup stage), so the posts as resolved, not as enriched.
    for _key, value, _headers in pipeline.read_topic("mentions.resolved"):
        m = json.loads(value)
        streamed.setdefault(m["id"], m)
    offline = {r.id: r for r in OfflinePipeline(Settings()).run(MENTIONS) if r.error_kind is None}
    common = set(streamed) & set(offline)
    assert len(common) >= 0.9 * len(offline), "the worker enriched the sample's posts"
    assert any(streamed[i].get("problems") for i in common), "the sample names problems"
    differ = []
    for i in sorted(common):
        s, o = streamed[i], offline[i]
        mine = (s.get("problems") or [], s["category"], s["priority"], s["agency"], s["is_appeal"])
        theirs = (o.problems or [], o.category, o.priority, o.agency, o.is_appeal)
        if mine != theirs:
            differ.append((i, mine, theirs))
    assert not differ, differ[:5]


def _post(mid: str, text: str, at: str) -> bytes:
    platform = mid.split(":", 1)[0]
    post = {"id": mid, "platform": platform, "source": {"id": f"src-{mid}"}, "text": text,
            "created_at": at, "region_hint": "RU-TVE"}  # fmt: skip
    return json.dumps(post, ensure_ascii=False).encode()


POTHOLE = (
    "На улице Склизкова возле дома 12 огромная яма на дороге, машины ломают колёса, отремонтируйте"
)
FAIL_MARKER = "fault-injected-bug"


def test_the_stream_and_incidents_process_decide_alike_out_of_order_and_around_a_failure(
    stack: Stack,
) -> None:
    """One batch that is not in event-time order and holds a post the enrich step fails on
    (INCIDENTS_FAULTS_FAIL_MARKER, as a bug in domain code would) and a line that is not
    JSON. In file order a post eight days later comes before a copy of the first post:
    handled in that order, the first post would have left the seven-day dedup window and
    the copy would open an incident of its own. The worker and `incidents process` run
    the same steps, so both put the batch in event-time order (the copy is the first
    post's), dead-letter the failing post alone, and decide every line alike."""
    from incidents.config.settings import Settings
    from incidents.stream.offline import OfflinePipeline

    first = _post("vk:order-first", POTHOLE, "2026-11-02T10:00:00+03:00")
    later = _post(
        "vk:order-later",
        "В Твери на улице Советской третий день не вывозят мусор с контейнерной площадки",
        "2026-11-10T12:00:00+03:00",
    )
    failing = _post(
        "vk:order-failing",
        f"Во дворе дома 5 на улице Горького в Твери не горят фонари {FAIL_MARKER}",
        "2026-11-02T12:00:00+03:00",
    )
    copy = _post("telegram:order-copy", POTHOLE, "2026-11-02T11:00:00+03:00")
    lines = [first, later, failing, b"{not json", copy]
    stack.start_worker(
        INCIDENTS_FAULTS_FAIL_MARKER=FAIL_MARKER,
        # One processing batch for the five lines (they share a partition and a fetch).
        INCIDENTS_WORKER_BATCH_WITHIN_S="2",
    )
    stack.publish("mentions.raw", lines, [b"one-partition"] * len(lines))
    stack.wait_drained()

    s = Settings()
    s = s.model_copy(update={"faults": s.faults.model_copy(update={"fail_marker": FAIL_MARKER})})
    offline = list(OfflinePipeline(s).run(lines))
    streamed = {}
    for _key, value, _headers in stack.read_topic("mentions.resolved"):
        m = json.loads(value)
        streamed.setdefault(m["id"], (m["status"], m.get("duplicate_of"), m.get("incident_id")))
    dead = {
        base64.b64decode(d["original_b64"]): (d["stage"], d["error_kind"])
        for d in (json.loads(v) for _k, v, _h in stack.read_topic("mentions.dlq"))
    }

    decided = {r.id: (r.status, r.duplicate_of, r.incident_id) for r in offline if r.id}
    assert decided["telegram:order-copy"][:2] == ("duplicate", "vk:order-first")
    assert {i: d for i, d in decided.items() if d[0] != "rejected"} == streamed
    rejected = [(r.id, r.error_kind) for r in offline if r.status == "rejected"]
    assert rejected == [("vk:order-failing", "processing_error"), (None, "invalid_json")]
    assert dead == {
        failing: ("enrich", "processing_error"),
        b"{not json": ("enrich", "invalid_json"),
    }
