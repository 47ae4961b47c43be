"""The JSON Schema of a topic and the stage that reads it accept the same messages.

A downstream team (an operator console, an agency's ticket system) checks its
messages with ``incidents/contracts/json``; the stage decodes with ``incidents/stream/decoders.py``.
Each topic's examples must pass both, each counter-example (``counter_examples`` in
``incidents/contracts/topics/<topic>.yaml``) must fail both with the declared error kind, and
the only messages a stage may refuse that the schema accepts are the counter-examples
of a declared ``stage_rules`` entry (a rule that needs the stage's clock or state).
Then every example is broken field by field (removed, null, empty, another type) and
the two must still agree: a rule that lives only in code, or only in the schema,
fails here with the field that shows it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from incidents.contracts import models
from incidents.contracts.topology import CONSUMERS
from incidents.domain.enrichment import InvalidInput
from incidents.stream.decoders import STAGE_DECODERS
from tests.contracts.test_topic_contracts import (
    FAUST_TOPICS,
    _topics,
    contract,
    load_example,
    schema_errors,
)

TOPICS = sorted(set(_topics()) - FAUST_TOPICS)


def stage_error(topic: str, raw: bytes) -> InvalidInput | None:
    """What the consuming stage says of these bytes: None (accepted) or its refusal."""
    try:
        STAGE_DECODERS[topic].decode(raw)
    except InvalidInput as err:
        return err
    return None


def _counter_examples() -> list[tuple[str, dict[str, Any]]]:
    return [(t, c) for t in TOPICS for c in contract(t).get("counter_examples") or []]


def _stage_rules() -> list[tuple[str, dict[str, Any]]]:
    return [(t, r) for t in TOPICS for r in contract(t).get("stage_rules") or []]


# ---------------------------------------------------------------- the set
def test_every_topic_has_a_stage_decoder() -> None:
    assert set(STAGE_DECODERS) == set(TOPICS)
    for topic, stage in CONSUMERS.items():
        assert STAGE_DECODERS[topic].stage == stage, topic


@pytest.mark.parametrize("topic", TOPICS)
def test_every_topic_has_counter_examples(topic: str) -> None:
    assert contract(topic).get("counter_examples"), f"{topic}.yaml: no counter_examples"


# ------------------------------------------------------ examples, counter-examples
@pytest.mark.parametrize("topic", TOPICS)
def test_examples_pass_the_schema_and_the_stage(topic: str) -> None:
    for example in contract(topic)["examples"]:
        raw = load_example(example)
        assert schema_errors(topic, json.loads(raw)) == [], example
        assert stage_error(topic, raw) is None, example


@pytest.mark.parametrize(
    ("topic", "counter"),
    _counter_examples(),
    ids=[c["file"] for _, c in _counter_examples()],
)
def test_counter_examples_fail_the_schema_and_the_stage(topic: str, counter: dict) -> None:
    assert counter["file"].startswith(f"{topic}/invalid/")
    assert counter.get("breaks"), "say which rule the counter-example breaks"
    raw = load_example(counter["file"])
    assert schema_errors(topic, json.loads(raw)), "the JSON Schema accepted it"
    err = stage_error(topic, raw)
    assert err is not None, f"{STAGE_DECODERS[topic].stage} accepted it"
    assert err.kind == counter["error_kind"], err.reason


@pytest.mark.parametrize(
    ("topic", "rule"), _stage_rules(), ids=[f"{t}: {r['rule'][:40]}" for t, r in _stage_rules()]
)
def test_stage_rules_say_why_and_hold(topic: str, rule: dict) -> None:
    """A rule the schema cannot carry is declared, with the reason and who checks it."""
    assert {"rule", "error_kind", "checked_by", "why_not_in_schema"} <= set(rule)
    assert "state" in rule["why_not_in_schema"] or "read" in rule["why_not_in_schema"]
    assert rule["error_kind"] in models.ErrorKind.__args__  # type: ignore[attr-defined]
    if "counter_example" not in rule:
        return
    raw = load_example(rule["counter_example"])
    assert schema_errors(topic, json.loads(raw)) == [], "the schema can say it: move it there"
    err = stage_error(topic, raw)
    assert err is not None and err.kind == rule["error_kind"], err


# ------------------------------------------------------------- mutations
BROKEN_VALUES: tuple[Any, ...] = (None, "", "x", 0, -1, 0.5, True, [], {}, "RU-XXX", "  ")


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every field of a message, nested objects included (a list's first item stands
    for the list)."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield (*prefix, k)
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list) and doc:
        yield (*prefix, 0)
        yield from _paths(doc[0], (*prefix, 0))


def _mutated(doc: Any, path: tuple[Any, ...]) -> Iterator[tuple[str, Any]]:
    *head, last = path
    for how in ("removed", *BROKEN_VALUES):
        out = copy.deepcopy(doc)
        parent = out
        for part in head:
            parent = parent[part]
        if how == "removed":
            if isinstance(parent, list):
                parent.pop(last)
            else:
                del parent[last]
        else:
            parent[last] = how
        yield f"{'.'.join(map(str, path))} = {how!r}", out


def _examples() -> list[tuple[str, str]]:
    return [(t, e) for t in TOPICS for e in contract(t)["examples"]]


@pytest.mark.parametrize(("topic", "example"), _examples(), ids=[e for _, e in _examples()])
def test_schema_and_stage_agree_on_every_broken_field(topic: str, example: str) -> None:
    doc = json.loads(load_example(example))
    disagree = []
    for path in _paths(doc):
        for what, broken in _mutated(doc, path):
            raw = json.dumps(broken, ensure_ascii=False).encode()
            schema_ok = not schema_errors(topic, broken)
            stage_ok = stage_error(topic, raw) is None
            if schema_ok != stage_ok:
                side = "only the stage refuses" if schema_ok else "only the schema refuses"
                disagree.append(f"{what}: {side}")
    assert disagree == [], f"{topic}: {len(disagree)} disagreements, e.g. {disagree[:5]}"
