"""The consumer examples of docs/contracts.md run as written, on the embedded broker.

A worker processes the demo sample; then the Python consumer and each kcat
command are taken out of the page itself, pointed at this module's broker and
topic prefix (the page says to change BOOTSTRAP, TOPIC, GROUP and the host),
and run. Their output is checked against what the topics hold.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from tests.support.paths import ROOT, SAMPLE
from tests.support.stack import Stack, jsonl

pytestmark = pytest.mark.integration

DOC = ROOT / "docs" / "contracts.md"
TVER = b"RU-TVE/"


@pytest.fixture(scope="module")
def demo(module_stack: Stack) -> Stack:
    module_stack.start_worker()
    module_stack.publish("mentions.raw", jsonl(SAMPLE / "mentions.jsonl"))
    module_stack.wait_drained()
    module_stack.publish("responses", jsonl(SAMPLE / "responses.jsonl"))
    module_stack.wait_drained()
    return module_stack


def _read_all(stack: Stack, base: str) -> list[tuple[bytes, Any]]:
    """(key, decoded value) of every record, read to the end of each partition (the
    end the broker reports with fetched records, which is right on the embedded broker)."""
    topic = stack.topic(base)
    c = Consumer(
        {
            "bootstrap.servers": stack.broker.bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    parts = c.list_topics(topic, timeout=10).topics[topic].partitions
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    out: list[tuple[bytes, Any]] = []
    at_end: set[int] = set()
    deadline = time.monotonic() + 60
    while len(at_end) < len(parts):
        assert time.monotonic() < deadline, f"{topic}: no end after 60 s"
        msg = c.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            if msg.error().code() == KafkaError._PARTITION_EOF:
                at_end.add(msg.partition())
            continue
        out.append((msg.key() or b"", json.loads(msg.value())))
    c.close()
    return out


def _block(after_heading: str, lang: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index(after_heading) :]
    match = re.search(rf"```{lang}\n(.*?)```", section, flags=re.S)
    assert match, f"no {lang} block after {after_heading!r}"
    return match.group(1)


class Lines:
    """A subprocess's stdout lines as they come (a reader thread; no blocking reads)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.q: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.q.put(line.rstrip(b"\n"))

    def take(self, n: int, timeout: float, poke: Any = None) -> list[bytes]:
        """n lines, or fail after timeout; `poke` runs every few seconds meanwhile."""
        got: list[bytes] = []
        deadline = time.monotonic() + timeout
        next_poke = time.monotonic()
        while len(got) < n:
            if poke is not None and time.monotonic() >= next_poke:
                poke()
                next_poke = time.monotonic() + 3
            try:
                got.append(self.q.get(timeout=0.5))
            except queue.Empty:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    err = (
                        self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                    )
                    raise AssertionError(
                        f"{len(got)} of {n} lines; exit {self.proc.poll()}\n{err[-3000:]}"
                    ) from None
        return got

    def until(self, found: Any, timeout: float, poke: Any = None) -> list[bytes]:
        """Lines up to the first one `found` accepts."""
        got: list[bytes] = []
        deadline = time.monotonic() + timeout
        while not got or not found(got[-1]):
            got += self.take(1, max(1.0, deadline - time.monotonic()), poke)
        return got

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


# ------------------------------------------------------------------ Python
def _python_consumer(stack: Stack, group: str) -> str:
    code = _block("## A consumer in Python", "python")
    for name, value in (
        ("BOOTSTRAP", stack.broker.bootstrap),
        ("TOPIC", stack.topic("incidents.events")),
        ("GROUP", group),
    ):
        code, n = re.subn(rf"^{name} = .*$", f"{name} = {value!r}", code, count=1, flags=re.M)
        assert n == 1, f"the example no longer sets {name} on a line of its own"
    return code


def _start_python(stack: Stack, tmp: Path, group: str) -> Lines:
    (tmp / "consumer.py").write_text(_python_consumer(stack, group), encoding="utf-8")
    if not (tmp / "incidents").exists():
        (tmp / "incidents").symlink_to(ROOT / "incidents")  # SCHEMA is relative, as in a checkout
    proc = subprocess.Popen(
        [sys.executable, "-u", "consumer.py"],
        cwd=tmp,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    return Lines(proc)


def _printed(event: dict[str, Any]) -> bytes:
    """What the example's handle() prints for an event."""
    return f"{event['at']} {event['incident_id']} {event['type']} {event.get('status')}".encode()


def test_the_python_consumer_handles_each_tver_event_once_and_commits(
    demo: Stack, tmp_path: Path
) -> None:
    events = _read_all(demo, "incidents.events")
    tver: dict[str, dict[str, Any]] = {}
    for k, e in events:
        if k.startswith(TVER):
            # a redelivery may write the same instant with another offset: the first
            # copy (same key, same partition: first for the consumer too) is handled
            tver.setdefault(e["event_id"], e)
    assert tver and len(tver) < len(events), "the sample has Tver and other regions' events"
    group = f"contracts-{uuid.uuid4().hex[:6]}"

    first = _start_python(demo, tmp_path, group)
    try:
        lines = first.take(len(tver), timeout=120)
    finally:
        first.stop()
    assert sorted(lines) == sorted(_printed(e) for e in tver.values())

    # Again, same group: a redelivered event (same event_id) and a new one. Only the
    # new one is handled: the old offsets were committed, the redelivery is deduplicated.
    key, old = next((k, e) for k, e in events if k.startswith(TVER))
    new = {**old, "event_id": old["event_id"] + "-later", "at": "2026-12-01T10:00:00+03:00"}
    demo.publish(
        "incidents.events",
        [json.dumps(old).encode(), json.dumps(new).encode()],
        [key, key],  # one key, one partition: the redelivery comes first
    )
    second = _start_python(demo, tmp_path, group)
    try:
        again = second.until(lambda line: line == _printed(new), timeout=120)
    finally:
        second.stop()
    assert again == [_printed(new)], "handled again after a restart of the same group"
    assert second.q.empty()


# -------------------------------------------------------------------- kcat
def _kcat_env(stack: Stack, tmp: Path) -> dict[str, str]:
    """kcat and jq, with a librdkafka that can talk to the embedded broker.

    The docs' recipe: if the system's librdkafka fails (Debian 12's 2.0.2), point
    LD_LIBRARY_PATH at the one bundled in the confluent-kafka wheel.
    """
    missing = [tool for tool in ("kcat", "jq") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"SKIPPED: {' and '.join(missing)} not installed (Debian: apt install kcat jq)")
    env = {**os.environ, "HOST": stack.broker.bootstrap}

    def works(e: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["kcat", "-b", stack.broker.bootstrap, "-L", "-m", "10"],
            env=e,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    probe = works(env)
    if probe.returncode != 0:
        assert "Read underflow" in probe.stderr, probe.stderr[-2000:]
        import confluent_kafka

        libs = Path(confluent_kafka.__file__).parent.parent / "confluent_kafka.libs"
        wheel_lib = next(libs.glob("librdkafka-*.so.1"))
        (tmp / "rdkafka").mkdir(exist_ok=True)
        (tmp / "rdkafka" / "librdkafka.so.1").symlink_to(wheel_lib)
        env["LD_LIBRARY_PATH"] = str(tmp / "rdkafka")
        probe = works(env)
        assert probe.returncode == 0, probe.stderr[-2000:]
    return env


def _kcat_examples(stack: Stack) -> dict[str, str]:
    """The page's kcat commands by their comment's first line, topics prefixed."""
    examples = {}
    for para in _block("## kcat", "bash").strip().split("\n\n"):
        comment = [ln for ln in para.splitlines() if ln.startswith("#")]
        command = "\n".join(ln for ln in para.splitlines() if not ln.startswith("#"))
        if not comment:
            assert command.startswith("HOST="), command
            continue
        command = re.sub(r"-t (\S+)", lambda m: f"-t {stack.topic(m.group(1))}", command)
        examples[comment[0].lstrip("# ")] = command
    return examples


def _sh(command: str, env: dict[str, str]) -> bytes:
    run = subprocess.run(
        ["bash", "-c", command], env=env, capture_output=True, timeout=120, check=False
    )
    assert run.returncode == 0, run.stderr.decode(errors="replace")[-2000:]
    return run.stdout


def test_the_kcat_examples_print_what_the_topics_hold(demo: Stack, tmp_path: Path) -> None:
    env = _kcat_env(demo, tmp_path)
    ex = _kcat_examples(demo)
    assert len(ex) == 6, sorted(ex)
    incidents = _read_all(demo, "incidents")
    events = _read_all(demo, "incidents.events")
    dead = [d for _, d in _read_all(demo, "mentions.dlq")]

    state = [
        json.loads(line)
        for line in _sh(
            ex["The current state of every Tver incident: read the compacted topic to the end,"],
            env,
        ).splitlines()
    ]
    latest = {
        e["id"]: e
        for k, e in sorted(incidents, key=lambda ke: ke[1]["version"])
        if k.startswith(TVER)
    }
    assert {s["id"]: s["status"] for s in state} == {i: e["status"] for i, e in latest.items()}

    unknown = _sh(ex["Same idea with -K: key, tab, value; only incidents without a region."], env)
    assert len(unknown.splitlines()) == sum(k.startswith(b"unknown/") for k, _ in incidents) > 0

    history = _sh(
        ex["The history of one incident (its events are on one partition, in order): here the"], env
    )
    steps = [json.loads(line)["type"] for line in history.splitlines()]
    answered = {
        e["incident_id"] for k, e in events if e["type"] == "responded" and k.startswith(TVER)
    }
    histories = [[e["type"] for _, e in events if e["incident_id"] == i] for i in answered]
    assert steps in histories, steps
    assert steps[0] == "created" and "responded" in steps

    headers = _sh(
        ex["Dead letters with their headers (stage, original topic/partition/offset, error)."], env
    )
    assert headers.count(b"dlq.error.kind=") == len(dead) > 0

    original = _sh(ex["The original bytes of the first dead letter that was not JSON."], env)
    assert original in jsonl(SAMPLE / "mentions.jsonl")
    assert any(d["error_kind"] == "invalid_json" for d in dead)


def test_the_kcat_follow_example_shows_new_events_as_they_come(demo: Stack, tmp_path: Path) -> None:
    env = _kcat_env(demo, tmp_path)
    command = _kcat_examples(demo)[
        "Follow new events for one region (Ctrl-C to stop). -u and --unbuffered hand each"
    ]
    key, event = next((k, e) for k, e in _read_all(demo, "incidents.events") if k.startswith(TVER))
    proc = subprocess.Popen(
        ["bash", "-c", command],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    follow = Lines(proc)
    sent: list[str] = []

    def publish_one() -> None:
        # -o end: what was written before kcat got its partitions is not shown; keep
        # writing until one is
        at = f"2026-12-02T10:00:{len(sent):02d}+03:00"
        sent.append(at)
        new = {**event, "event_id": f"{event['event_id']}-follow-{len(sent)}", "at": at}
        other = {**new, "incident_id": "RU-MOW/0000000000000000", "event_id": new["event_id"] + "m"}
        demo.publish(
            "incidents.events",
            [json.dumps(other).encode(), json.dumps(new).encode()],
            [b"RU-MOW/0000000000000000", key],
        )

    try:
        lines = follow.until(lambda line: json.loads(line)["at"] in sent, 90, publish_one)
    finally:
        follow.stop()
    shown = [json.loads(line) for line in lines]
    # Only Tver events; on the embedded broker `-o end` can start a batch early
    # (it under-reports the end, docs/operations.md), so older ones may come first.
    assert all(e["incident_id"].startswith("RU-TVE/") for e in shown)
    assert shown[-1]["incident_id"] == event["incident_id"]
