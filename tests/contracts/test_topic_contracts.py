"""Topic contracts: one YAML per topic, and every example valid for both kinds of reader.

Downstream teams read ``incidents/contracts/topics/*.yaml`` and validate with the JSON Schema
files; our code decodes with the msgspec Structs. These tests hold the three
together: every topic of ``incidents/contracts/topology.py`` has a contract and the contract
agrees with it (key, compaction, retention, partners, who reads and writes) and with
``incidents/kafka/topics.py``, the committed JSON Schemas are fresh, and every example
passes both the JSON Schema validator and msgspec (and broken ones fail both).
"""

from __future__ import annotations

import base64
import copy
import json
import re
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import msgspec
import pytest
import yaml

from incidents.config.settings import Settings
from incidents.contracts import models, registry, topology
from incidents.contracts.topology import CONSUMERS
from incidents.kafka.dlq import dlq_headers
from incidents.kafka.topics import Topics, TopicSpec

SCHEMAS_DIR = Path(registry.__file__).resolve().parent
TOPICS_DIR = SCHEMAS_DIR / "topics"
EXAMPLES_DIR = SCHEMAS_DIR / "examples"

#: Topics the pipeline uses that incidents.kafka.topics.Topics does not list: Faust's table changelog.
FAUST_TOPICS = {t.base for t in topology.TOPICS if t.changelog}

REQUIRED_FIELDS = {
    "topic",
    "description",
    "key",
    "value",
    "headers",
    "producers",
    "consumers",
    "partitions",
    "retention",
    "compatibility",
    "delivery",
    "internal",
    "examples",
}
COMPATIBILITY_MODES = {"BACKWARD", "FORWARD", "FULL", "NONE"}
DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError)

# RFC 3339 date-time: a time zone offset is mandatory (jsonschema's own check needs
# the optional rfc3339-validator package; without it "date-time" is not checked).
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$")


def _rfc3339(value: object) -> bool:
    if not isinstance(value, str):
        return True  # "format" only constrains strings
    if not _RFC3339.match(value):
        return False
    datetime.fromisoformat(value.upper().replace("Z", "+00:00"))  # raises on 2026-13-45
    return True


def _format_checker() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker()
    if "date-time" not in checker.checkers:
        checker.checks("date-time", raises=ValueError)(_rfc3339)
    return checker


FORMAT_CHECKER = _format_checker()


# ------------------------------------------------------------------ loading
def _contract_paths() -> list[Path]:
    return sorted(TOPICS_DIR.glob("*.yaml"))


@cache
def contract(topic: str) -> dict[str, Any]:
    data = yaml.safe_load((TOPICS_DIR / f"{topic}.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{topic}.yaml is not a mapping"
    return data


def _topics() -> list[str]:
    return [p.stem for p in _contract_paths()]


def _examples() -> list[tuple[str, str]]:
    return [(t, e) for t in _topics() for e in (contract(t).get("examples") or [])]


@cache
def validator(resource: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS_DIR / resource).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=FORMAT_CHECKER)


def struct_of(topic: str) -> Any:
    return getattr(models, contract(topic)["value"]["struct"])


def latest_resource(topic: str) -> str:
    return str(contract(topic)["value"]["versions"][-1]["resource"])


def load_example(name: str) -> bytes:
    return (EXAMPLES_DIR / name).read_bytes()


def schema_errors(topic: str, doc: Any) -> list[str]:
    return [e.message for e in validator(latest_resource(topic)).iter_errors(doc)]


def msgspec_error(topic: str, raw: bytes) -> str | None:
    try:
        msgspec.json.decode(raw, type=struct_of(topic))
    except DECODE_ERRORS as exc:
        return str(exc)
    return None


def _settings() -> Settings:
    return Settings()


def _specs() -> dict[str, TopicSpec]:
    s = _settings()
    return {spec.base: spec for _, spec in Topics.from_settings(s).specs(s)}


def _dig(doc: Any, path: str) -> Any:
    for part in path.split("."):
        doc = doc.get(part) if isinstance(doc, dict) else None
    return doc


# ------------------------------------------------------- the set of topics
def test_every_topic_has_a_contract() -> None:
    assert set(_topics()) == set(_specs()) | FAUST_TOPICS
    assert set(_topics()) == set(topology.TOPIC)


@pytest.mark.parametrize("topic", sorted(topology.TOPIC))
def test_contract_agrees_with_the_topology(topic: str) -> None:
    """incidents/contracts/topology.py (what the code derives from) and the YAML (what people read)
    say the same of a topic: a change to one without the other fails here."""
    t, c = topology.TOPIC[topic], contract(topic)
    assert c["key"]["name"] == t.key
    assert (c["retention"]["cleanup_policy"] == "compact") == t.compacted
    assert c["internal"] is t.internal
    assert sorted(c["partitions"]["co_partitioned_with"]) == sorted(t.co_partitioned_with)
    setting = c["retention"].get("setting")
    assert setting == (
        f"INCIDENTS_TOPICS_{t.retention_setting.upper()}" if t.retention_setting else None
    )
    if t.retention_ms is not None:
        assert c["retention"]["retention_ms"] == t.retention_ms
    readers = " ".join(map(str, c["consumers"]))
    if t.consumer is not None:
        assert f"{t.consumer} stage" in readers, (topic, t.consumer, readers)
    writers = " ".join(map(str, c["producers"]))
    for stage in t.producers:
        assert stage in writers, (topic, stage, writers)
    # a stage the topology does not name must not be named as a writer either
    for stage in set(topology.STAGES) - set(t.producers):
        assert f"{stage} stage" not in writers and f"{stage}," not in writers, (topic, stage)
    if t.from_outside:
        assert not set(topology.STAGES) & set(t.producers)


def test_every_topic_spec_is_listed_by_topics_all() -> None:
    s = _settings()
    topics = Topics.from_settings(s)
    assert sorted(name for name, _ in topics.specs(s)) == sorted(topics.all())


# --------------------------------------------------------- one contract
@pytest.mark.parametrize("topic", _topics())
def test_contract_has_required_fields(topic: str) -> None:
    c = contract(topic)
    missing = REQUIRED_FIELDS - set(c)
    assert not missing, f"{topic}.yaml lacks {sorted(missing)}"
    assert c["topic"] == topic
    assert isinstance(c["internal"], bool)
    assert isinstance(c["description"], str) and len(c["description"]) > 80
    assert {"name", "format"} <= set(c["key"])
    assert {"encoding", "schema", "struct", "versions"} <= set(c["value"])
    assert isinstance(c["headers"], list)
    for header in c["headers"]:
        assert {"name", "description"} <= set(header)
    assert c["producers"] and isinstance(c["producers"], list)
    assert c["consumers"] and isinstance(c["consumers"], list)
    assert "INCIDENTS_TOPICS_PARTITIONS" in c["partitions"]["count"]
    assert c["compatibility"] in COMPATIBILITY_MODES
    assert c["delivery"]["guarantee"] == "at-least-once"
    assert "idempotency_key" in c["delivery"]
    assert isinstance(c["examples"], list)


@pytest.mark.parametrize("topic", _topics())
def test_co_partitioning_is_symmetric(topic: str) -> None:
    topics = set(_topics())
    for other in contract(topic)["partitions"]["co_partitioned_with"]:
        assert other in topics
        assert topic in contract(other)["partitions"]["co_partitioned_with"], (
            f"{other}.yaml does not name {topic} as co-partitioned"
        )


@pytest.mark.parametrize("topic", sorted(set(_topics()) - FAUST_TOPICS))
def test_contract_agrees_with_topic_spec(topic: str) -> None:
    """Key, compaction and default retention as incidents/kafka/topics.py creates the topic."""
    spec, c = _specs()[topic], contract(topic)
    assert c["key"]["name"] == spec.key
    assert (c["retention"]["cleanup_policy"] == "compact") == spec.compacted
    assert c["retention"]["retention_ms"] == spec.retention_ms


@pytest.mark.parametrize("topic", sorted(FAUST_TOPICS))
def test_faust_topics_are_internal_without_public_schema(topic: str) -> None:
    c = contract(topic)
    assert c["internal"] is True
    assert c["value"]["schema"] is None and c["value"]["versions"] == []
    assert c["retention"]["cleanup_policy"] == "compact"


def test_consumers_name_the_consuming_stage() -> None:
    """incidents/ops/probe.py says which stage reads each topic; the contract must agree."""
    for topic, stage in CONSUMERS.items():
        assert any(stage in str(who) for who in contract(topic)["consumers"]), (topic, stage)


@pytest.mark.parametrize("topic", _topics())
def test_value_schema_matches_registry(topic: str) -> None:
    value = contract(topic)["value"]
    if value["schema"] is None:
        return
    struct, version = models.SCHEMAS[value["schema"]]
    assert struct is struct_of(topic), f"{topic}: {value['struct']} is not {value['schema']}"
    versions = [v["version"] for v in value["versions"]]
    assert versions == list(range(1, version + 1))
    for v in value["versions"]:
        expected = f"json/{registry.file_name(value['schema'], v['version'])}"
        assert v["resource"] == expected
        assert (SCHEMAS_DIR / expected).is_file()
    assert contract(topic)["examples"], f"{topic} has a schema but no examples"


# --------------------------------------------------------- JSON Schemas
def test_committed_json_schemas_are_fresh() -> None:
    assert registry.stale_files() == [], "run `make schemas` and commit incidents/contracts/json"


def test_every_json_schema_is_used_by_a_topic() -> None:
    used = {
        (SCHEMAS_DIR / v["resource"]).resolve()
        for t in _topics()
        for v in contract(t)["value"]["versions"]
    }
    committed = {p.resolve() for p in (SCHEMAS_DIR / "json").glob("*.schema.json")}
    assert committed - used == set()


# -------------------------------------------------------------- examples
def test_every_example_file_is_listed() -> None:
    listed = {e for _, e in _examples()}
    for t in _topics():
        listed |= {c["file"] for c in contract(t).get("counter_examples") or []}
        listed |= {
            r["counter_example"]
            for r in contract(t).get("stage_rules") or []
            if "counter_example" in r
        }
    on_disk = {p.relative_to(EXAMPLES_DIR).as_posix() for p in EXAMPLES_DIR.rglob("*.json")}
    assert on_disk - listed == set(), "examples not listed in any incidents/contracts/topics/*.yaml"


@pytest.mark.parametrize(("topic", "example"), _examples())
def test_example_is_valid(topic: str, example: str) -> None:
    assert example.startswith(f"{topic}/"), (
        "examples live under incidents/contracts/examples/<topic>/"
    )
    raw = load_example(example)
    doc = json.loads(raw)
    assert schema_errors(topic, doc) == []
    obj = msgspec.json.decode(raw, type=struct_of(topic))
    # msgspec re-encodes to the same document: no field lost or renamed.
    assert msgspec.to_builtins(obj) == doc

    value = contract(topic)["value"]
    for item in doc if isinstance(doc, list) else [doc]:  # a batch: each of its messages
        for name in value.get("absent_fields", []):
            assert name not in item, f"{name} must not be set on {topic}"
        for name in value.get("present_fields", []):
            assert item.get(name) is not None, f"{name} must be set on {topic}"
        if "accepted_types" in value:
            assert item["type"] in value["accepted_types"]

        key = contract(topic)["key"]
        if "field" in key and "pattern" in key:
            derived = _dig(item, key["field"]) or key.get("default")
            assert derived is not None and re.fullmatch(key["pattern"], derived), derived


def test_a_dead_letter_carries_a_truncated_json_line() -> None:
    found = False
    for _, example in (p for p in _examples() if p[0] == "mentions.dlq"):
        d = msgspec.json.decode(load_example(example), type=models.DeadLetter)
        original = base64.b64decode(d.original_b64, validate=True)
        assert len(original) == d.original_size
        if d.error_kind == "invalid_json":
            with pytest.raises(msgspec.DecodeError):
                msgspec.json.decode(original)
            assert original.startswith(b"{")
            found = True
    assert found


def test_dlq_headers_are_documented() -> None:
    example = contract("mentions.dlq")["examples"][0]
    d = msgspec.json.decode(load_example(example), type=models.DeadLetter)
    documented = {h["name"] for h in contract("mentions.dlq")["headers"]}
    assert documented == set(dlq_headers(d))


# ------------------------------------------------- what must fail, and pass
def _without(field: str) -> Any:
    def mutate(doc: dict[str, Any]) -> None:
        del doc[field]

    return mutate


def _set(path: str, value: Any) -> Any:
    def mutate(doc: dict[str, Any]) -> None:
        *head, last = path.split(".")
        for part in head:
            doc = doc[part]
        doc[last] = value

    return mutate


BROKEN = [
    pytest.param(
        "mentions.raw", "mentions.raw/vk-pothole.json", _without("text"), id="raw-no-text"
    ),
    pytest.param(
        "mentions.raw",
        "mentions.raw/vk-pothole.json",
        _set("created_at", "2026-11-16T08:42:10"),
        id="raw-naive-time",
    ),
    pytest.param(
        "mentions.raw",
        "mentions.raw/vk-pothole.json",
        _set("region_hint", "Тверская область"),
        id="raw-bad-region",
    ),
    pytest.param(
        "incidents",
        "incidents/roads-answered-interim.json",
        _without("version"),
        id="incident-no-version",
    ),
    pytest.param(
        "incidents",
        "incidents/roads-answered-interim.json",
        _set("sla.first_reaction_due", "2026-11-16 12:42:10"),
        id="incident-naive-sla-time",
    ),
    pytest.param(
        "incidents.events", "incidents.events/created.json", _without("event_id"), id="event-no-id"
    ),
    pytest.param(
        "incidents.commands",
        "incidents.commands/assign.json",
        _set("type", "reopen"),
        id="command-unknown-type",
    ),
    pytest.param(
        "incidents.commands",
        "incidents.commands/assign.json",
        _without("agency"),
        id="assign-no-agency",
    ),
    pytest.param(
        "responses",
        "responses/interim-by-incident.json",
        _set("kind", "partial"),
        id="response-bad-kind",
    ),
    pytest.param(
        "replies.outbound",
        "replies.outbound/vk-interim.json",
        _without("reply_id"),
        id="reply-no-id",
    ),
    pytest.param(
        "mentions.dlq",
        "mentions.dlq/enrich-truncated-json.json",
        _set("failed_at", "2026-11-16T05:42:11.402"),
        id="dlq-naive-time",
    ),
]


@pytest.mark.parametrize(("topic", "example", "mutate"), BROKEN)
def test_broken_example_fails_both_validators(topic: str, example: str, mutate: Any) -> None:
    doc = json.loads(load_example(example))
    mutate(doc)
    assert schema_errors(topic, doc), "JSON Schema accepted a broken message"
    assert msgspec_error(topic, json.dumps(doc).encode()), "msgspec accepted a broken message"


@pytest.mark.parametrize(("topic", "example"), _examples())
def test_unknown_fields_are_ignored(topic: str, example: str) -> None:
    """BACKWARD: a producer may add an optional field before consumers know it."""
    doc = copy.deepcopy(json.loads(load_example(example)))
    for item in doc if isinstance(doc, list) else [doc]:  # a batch: each of its messages
        item["added_in_a_later_version"] = {"anything": [1, "два", None]}
    assert schema_errors(topic, doc) == []
    assert msgspec_error(topic, json.dumps(doc).encode()) is None


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("2026-11-16T08:42:10+03:00", True),
        ("2026-11-16T05:42:11.402Z", True),
        ("2026-11-16T08:42:10", False),
        ("2026-11-16 08:42:10+03:00", False),
        ("2026-13-16T08:42:10+03:00", False),
    ],
)
def test_date_time_format_is_checked(value: str, ok: bool) -> None:
    assert FORMAT_CHECKER.conforms(value, "date-time") is ok
