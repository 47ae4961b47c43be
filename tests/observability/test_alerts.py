"""The worker's /metrics and the alert rules, on a real worker.

One module runs a worker three times over the real broker and chDB, and scrapes
its /metrics at each step:
- ``fresh``: the first worker, ready, before any message;
- ``idle``: the same worker after the demo sample, drained and quiet;
- ``after_crash``: the next worker, after the first one's enrich agent crashed
  on a marked message (INCIDENTS_FAULTS_CRASH_MARKER) and exited 1;
- ``after_bad_input``: the same worker after a producer's run of invalid lines on
  mentions.raw: over the DLQ limit, flagged, and still running;
- ``after_dlq_limit``: the third worker, after the second one stopped on the DLQ
  limit (a run of invalid messages on mentions.enriched, a topic the pipeline
  itself writes) and exited 1.

The tests check the exposition itself, then run every alert of
infra/prometheus/rules.yaml through `promtool test rules` on timelines built
from these scrapes (tests/support/promtool.py): a metric renamed or relabelled breaks
them. The last test runs a real Prometheus against the live worker and stops it.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from incidents.contracts import topology
from incidents.contracts.topology import CONSUMERS, STAGES
from incidents.kafka.embedded import free_port
from tests.support.paths import SAMPLE
from tests.support.promtool import (
    RULES,
    TARGET,
    Capture,
    firing_at,
    no_alert_at,
    promtool,
    run,
    timeline,
)
from tests.support.stack import Stack, Worker, jsonl

pytestmark = pytest.mark.integration

MARK = "ALERTS-TEST-CRASH-MARK"
CONSUMED = set(CONSUMERS)
#: Every topic a worker's metrics may name (base names).
TOPICS = set(topology.TOPIC)
needs_promtool = pytest.mark.skipif(promtool() is None, reason="promtool not on PATH")


@dataclass
class Captures:
    fresh: Capture
    idle: Capture
    after_crash: Capture
    after_bad_input: Capture
    after_dlq_limit: Capture
    stack: Stack
    worker: Worker  # the third worker, still running


def scrape(w: Worker) -> Capture:
    with urllib.request.urlopen(w.url + "/metrics", timeout=10) as r:
        return Capture.parse(r.read().decode())


def scrape_when_quiet(w: Worker, timeout: float = 60.0) -> Capture:
    """A scrape once the lag timer (every 15 s) has seen the drained state: a lag
    series for every consumed topic, all 0. The last scrape if that never comes."""
    deadline = time.monotonic() + timeout
    while True:
        cap = scrape(w)
        lag = cap.find("incidents_consumer_lag_messages")
        consumed = {
            dict(lab)["topic"]: v for lab, v in lag.items() if dict(lab)["topic"] in CONSUMED
        }
        topics = {dict(lab)["topic"] for lab in lag}
        if (topics >= CONSUMED and not any(consumed.values())) or time.monotonic() > deadline:
            return cap
        time.sleep(1.0)


def _exited(w: Worker, what: str) -> None:
    try:
        w.proc.wait(120)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the worker did not exit after {what}:\n{w.tail()}") from None
    assert w.proc.returncode == 1, f"{what}: exit code {w.proc.returncode}\n{w.tail()}"


@pytest.fixture(scope="module")
def captures(module_stack: Stack) -> Iterator[Captures]:
    stack = module_stack
    mentions = jsonl(SAMPLE / "mentions.jsonl")
    first = stack.start_worker(
        INCIDENTS_FAULTS_CRASH_MARKER=MARK, INCIDENTS_DLQ_MAX_CONSECUTIVE="25"
    )
    fresh = scrape(first)
    stack.publish("mentions.raw", mentions)
    stack.wait_drained()
    stack.publish("responses", jsonl(SAMPLE / "responses.jsonl"))
    stack.wait_drained()
    idle = scrape_when_quiet(first)

    # A crash: the enrich agent raises on the marked mention; the worker exits 1.
    marked = json.loads(next(m for m in mentions if m.startswith(b'{"id"')))
    marked.update(id="vk:alerts-crash", text=f"{MARK} {marked['text']}")
    stack.external.clear()
    stack.publish("mentions.raw", [json.dumps(marked, ensure_ascii=False).encode()])
    _exited(first, "the crash marker")
    second = stack.start_worker(INCIDENTS_DLQ_MAX_CONSECUTIVE="25")
    stack.wait_drained()
    after_crash = scrape_when_quiet(second)

    # A producer's mistake: 30 invalid lines in a row on mentions.raw pass the limit; the
    # topic is flagged and every line dead-lettered, the worker keeps running.
    stack.external.clear()
    stack.publish("mentions.raw", [b"not json %d {" % i for i in range(30)])
    stack.wait_drained()
    assert second.alive(), second.tail()
    after_bad_input = scrape_when_quiet(second)

    # The DLQ limit on the pipeline's own failures: 30 invalid messages in a row on a
    # topic our stages write stop the worker (exit 1, nothing committed). Keyed as the
    # enrich stage keys the topic (one key): the limit counts per partition.
    stack.external.clear()
    stack.publish(
        "mentions.enriched", [b"not a mention %d {" % i for i in range(30)], [b"all"] * 30
    )
    _exited(second, "the DLQ limit")
    third = stack.start_worker()  # default limits: the messages become dead letters
    stack.external.clear()
    stack.external["mentions.enriched"] = 1  # at least the batch that tripped is read again
    stack.wait_drained()
    after_dlq_limit = scrape_when_quiet(third)
    yield Captures(fresh, idle, after_crash, after_bad_input, after_dlq_limit, stack, third)


def _all(c: Captures) -> dict[str, Capture]:
    return {
        "fresh": c.fresh,
        "idle": c.idle,
        "after_crash": c.after_crash,
        "after_bad_input": c.after_bad_input,
        "after_dlq_limit": c.after_dlq_limit,
    }


# ------------------------------------------------------------ the exposition
def test_no_created_series_and_the_standard_process_and_python_series(
    captures: Captures,
) -> None:
    for when, cap in _all(captures).items():
        created = sorted(n for n in cap.names() if n.endswith("_created"))
        assert not created, f"{when}: {created[:5]}"
        assert {
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_open_fds",
            "process_start_time_seconds",
            "python_info",
            "python_gc_objects_collected_total",
        } <= cap.names(), when


def test_consumer_lag_covers_exactly_the_consumed_topics(captures: Captures) -> None:
    """Not the desk's changelog (written, never consumed) nor Faust's assignor topic."""
    for when in ("idle", "after_crash", "after_dlq_limit"):
        lag = _all(captures)[when].find("incidents_consumer_lag_messages")
        assert {dict(lab)["topic"] for lab in lag} == CONSUMED, when


def test_topic_labels_are_base_names(captures: Captures) -> None:
    prefix = captures.stack.prefix
    for when, cap in _all(captures).items():
        for (name, labels), _ in cap.samples.items():
            topic = dict(labels).get("topic")
            if topic is not None:
                assert not topic.startswith(prefix) and topic in TOPICS, (when, name, topic)


def _counts(cap: Capture) -> set[tuple[str, Any]]:
    """The counter and histogram series of the pipeline (not process_*/python_*)."""
    return {
        key
        for key in cap.samples
        if key[0].startswith("incidents_")
        and key[0].endswith(("_total", "_bucket", "_count", "_sum"))
    }


def test_every_counter_exists_at_zero_before_the_first_message(captures: Captures) -> None:
    """So Prometheus sees the first increment: a series born at 377 reads as no increase."""
    missing = sorted(_counts(captures.idle) - _counts(captures.fresh))
    assert not missing, f"{len(missing)} series appear only once used, e.g. {missing[:6]}"
    fresh = captures.fresh
    # (histograms aside: the sink times its migrations before it reads anything)
    counters = {k: v for k, v in fresh.samples.items() if k in _counts(fresh)}
    assert not {k: v for k, v in counters.items() if k[0].endswith("_total") and v}
    for stage in STAGES:
        assert fresh.value("incidents_dlq_limit_exceeded_total", stage=stage) == 0
        for reason in ("error", "dlq_limit", "offset_gap"):
            assert fresh.value("incidents_agent_crashes_total", stage=stage, reason=reason) == 0
    for topic in CONSUMED:
        assert fresh.value("incidents_expired_unread_total", topic=topic) == 0
        assert fresh.value("incidents_messages_in_total", stage=CONSUMERS[topic], topic=topic) == 0
    gapless = CONSUMED - {"incidents"}  # compacted: holes are normal there
    assert {dict(lab)["topic"] for lab in fresh.find("incidents_offset_gaps_total")} == gapless


def test_a_crash_is_counted_and_outlives_the_process(captures: Captures) -> None:
    cap = captures.after_crash
    assert cap.value("incidents_agent_crashes_total", stage="enrich", reason="error") == 1
    assert cap.value("incidents_agent_up", stage="enrich") == 1  # the new process runs
    crashed_at = cap.value(
        "incidents_agent_last_crash_timestamp_seconds", stage="enrich", reason="error"
    )
    assert captures.idle.at < crashed_at < cap.at
    for stage in ("dedup", "group", "respond", "sink"):
        assert cap.value("incidents_agent_crashes_total", stage=stage, reason="error") == 0


def test_a_producers_invalid_input_is_flagged_and_stops_nothing(captures: Captures) -> None:
    cap = captures.after_bad_input
    flag = {"stage": "enrich", "topic": "mentions.raw"}
    assert cap.value("incidents_invalid_input_over_limit", **flag) == 1
    assert cap.value("incidents_invalid_input_limit_exceeded_total", **flag) == 1
    assert cap.value("incidents_dlq_total", stage="enrich", error_kind="invalid_json") >= 30
    assert cap.value("incidents_dlq_limit_exceeded_total", stage="enrich") == 0
    assert cap.value("incidents_agent_up", stage="enrich") == 1
    # the other outside inputs are declared, at 0
    for stage, topic in (("respond", "responses"), ("respond", "incidents.commands")):
        assert (
            captures.fresh.value("incidents_invalid_input_over_limit", stage=stage, topic=topic)
            == 0
        )
        assert (
            captures.fresh.value(
                "incidents_invalid_input_limit_exceeded_total", stage=stage, topic=topic
            )
            == 0
        )


def test_a_tripped_dlq_limit_is_counted_and_outlives_the_process(captures: Captures) -> None:
    cap = captures.after_dlq_limit
    # mentions.enriched is the dedup stage's input
    assert cap.value("incidents_dlq_limit_exceeded_total", stage="dedup") == 1
    assert cap.value("incidents_agent_crashes_total", stage="dedup", reason="dlq_limit") == 1
    # the earlier crash is still counted: the file keeps every process's crashes
    assert cap.value("incidents_agent_crashes_total", stage="enrich", reason="error") == 1
    assert cap.value("incidents_dlq_limit_exceeded_total", stage="enrich") == 0


# ------------------------------------------------------------ promtool scenarios
def _labels(**labels: str) -> dict[str, str]:
    return {"namespace": TARGET["namespace"], **labels}


def _alert(name: str, severity: str, **labels: str) -> tuple[str, dict[str, str]]:
    return name, _labels(severity=severity, **labels)


def _job(**labels: str) -> dict[str, str]:
    return {"job": TARGET["job"], **labels}


def _check(tmp: Path, series: list[dict[str, str]], checks: list[dict[str, Any]]) -> None:
    result = run(tmp, series, checks)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def _ramp(rules: Mapping[tuple[str, str | None, str | None], float]) -> Any:
    """Increase per minute by (metric, stage or None, topic or None); the rest stays."""

    def ramp(name: str, labels: Mapping[str, str]) -> float | None:
        for (metric, stage, topic), step in rules.items():
            if (
                name == metric
                and (stage is None or labels.get("stage") == stage)
                and (topic is None or labels.get("topic") == topic)
            ):
                return step
        return None

    return ramp


def _with(cap: Capture, name: str, value: float, **labels: str) -> Capture:
    """The capture with one of its series set to `value` (the series must exist)."""
    found = cap.find(name, **labels)
    assert len(found) == 1, f"{name}{labels}: {len(found)} series in the worker's /metrics"
    samples = dict(cap.samples)
    samples[(name, next(iter(found)))] = value
    return Capture(samples, cap.at)


COVERED: set[str] = set()


def covers(*alerts: str) -> Any:
    COVERED.update(alerts)
    return lambda fn: fn


@needs_promtool
def test_a_healthy_idle_worker_raises_no_alert_for_30_minutes(
    captures: Captures, tmp_path: Path
) -> None:
    series = timeline([(captures.idle, 35)])
    _check(tmp_path, series, [no_alert_at(f"{m}m") for m in (0, 1, 2, 5, 10, 15, 20, 25, 30, 35)])


@needs_promtool
@covers("IncidentsWorkerDown", "IncidentsStageAbsent")
def test_a_stopped_worker_raises_the_down_alert_within_two_minutes(
    captures: Captures, tmp_path: Path
) -> None:
    # Scraped until 9m; from 10m on `up` is 0 and its series are stale.
    series = timeline([(captures.idle, 10), (None, 30)])
    down = _alert("IncidentsWorkerDown", "critical", job=TARGET["job"], instance=TARGET["instance"])
    absent = [_alert("IncidentsStageAbsent", "critical", stage=s) for s in STAGES]
    _check(
        tmp_path,
        series,
        [
            no_alert_at("9m"),
            firing_at("11m", [down]),
            firing_at("12m", [down, *absent]),
            firing_at("39m", [down, *absent]),  # no alert resolves while it is down
        ],
    )


@needs_promtool
def test_a_stage_never_reported_anywhere_is_absent(captures: Captures, tmp_path: Path) -> None:
    """A deployment that forgot a role: absent() names the stage."""
    no_sink = Capture(
        {k: v for k, v in captures.idle.samples.items() if ("stage", "sink") not in k[1]},
        captures.idle.at,
    )
    series = timeline([(no_sink, 10)])
    _check(
        tmp_path,
        series,
        [
            firing_at("1m", []),
            firing_at("3m", [("IncidentsStageAbsent", {"severity": "critical", "stage": "sink"})]),
        ],
    )


@needs_promtool
@covers("IncidentsAgentCrashed")
def test_a_crashed_agent_raises_an_alert_once_its_worker_is_back(
    captures: Captures, tmp_path: Path
) -> None:
    # The crashed process ended before any scrape saw it; one minute later the
    # restarted worker reports the crash it read from the data directory.
    series = timeline([(captures.idle, 10), (None, 1), (captures.after_crash, 30)])
    crashed = _alert("IncidentsAgentCrashed", "critical", stage="enrich", reason="error")
    _check(
        tmp_path,
        series,
        [
            firing_at("9m", []),
            firing_at("12m", [crashed]),
            firing_at("20m", [crashed]),
            firing_at("30m", []),  # 15 minutes after the crash
        ],
    )


@needs_promtool
@covers("IncidentsDlqLimitExceeded")
def test_a_tripped_dlq_limit_raises_its_alert(captures: Captures, tmp_path: Path) -> None:
    series = timeline([(captures.after_crash, 20), (None, 1), (captures.after_dlq_limit, 20)])
    tripped = _alert("IncidentsDlqLimitExceeded", "critical", stage="dedup")
    _check(tmp_path, series, [firing_at("19m", []), firing_at("22m", [tripped])])


@needs_promtool
def test_a_dlq_limit_tripped_before_the_first_scrape_still_alerts(
    captures: Captures, tmp_path: Path
) -> None:
    """A new instance whose counter is already 1 at its first scrape: no increase to see,
    the timestamp says it."""
    series = timeline([(None, 5), (captures.after_dlq_limit, 10)])
    tripped = _alert("IncidentsDlqLimitExceeded", "critical", stage="dedup")
    _check(tmp_path, series, [firing_at("6m", [tripped], alert="IncidentsDlqLimitExceeded")])


@needs_promtool
@covers("IncidentsInvalidInputOverLimit")
def test_a_producers_invalid_input_raises_its_alert(captures: Captures, tmp_path: Path) -> None:
    """The same worker, scraped before and after a producer's run of invalid lines."""
    series = timeline([(captures.after_crash, 10), (captures.after_bad_input, 30)])
    flagged = _alert(
        "IncidentsInvalidInputOverLimit", "critical", stage="enrich", topic="mentions.raw"
    )
    _check(
        tmp_path,
        series,
        [
            firing_at("9m", [], alert="IncidentsInvalidInputOverLimit"),
            firing_at("11m", [flagged], alert="IncidentsInvalidInputOverLimit"),
            firing_at("39m", [flagged], alert="IncidentsInvalidInputOverLimit"),  # while over
        ],
    )


@needs_promtool
@covers("IncidentsPipelineStalled", "IncidentsConsumerStalled")
def test_a_stalled_sink_raises_stalled_alerts(captures: Captures, tmp_path: Path) -> None:
    # The pipeline keeps flowing up to mentions.resolved; the sink reads nothing.
    flowing = _ramp(
        {
            ("incidents_messages_in_total", "enrich", "mentions.raw"): 10,
            ("incidents_messages_out_total", "enrich", "mentions.enriched"): 10,
            ("incidents_messages_in_total", "dedup", "mentions.enriched"): 10,
            ("incidents_messages_out_total", "dedup", "mentions.deduped"): 10,
            ("incidents_messages_in_total", "group", "mentions.deduped"): 10,
            ("incidents_messages_out_total", "group", "mentions.resolved"): 10,
            ("incidents_consumer_lag_messages", None, "mentions.resolved"): 3,
        }
    )
    series = timeline([(captures.idle, 31)], ramps={0: flowing})
    _check(
        tmp_path,
        series,
        [
            firing_at(
                "30m",
                [
                    _alert("IncidentsPipelineStalled", "critical", topic="mentions.resolved"),
                    _alert(
                        "IncidentsConsumerStalled", "critical", **_job(topic="mentions.resolved")
                    ),
                ],
            )
        ],
    )


@needs_promtool
@covers("IncidentsConsumerLagGrowing")
def test_a_growing_lag_raises_its_alert(captures: Captures, tmp_path: Path) -> None:
    # Every stage consumes and produces 50 a minute, but 100 a minute more arrive.
    busy = _ramp(
        {
            ("incidents_consumer_lag_messages", None, "mentions.raw"): 100,
            ("incidents_messages_in_total", None, None): 50,
            ("incidents_messages_out_total", None, None): 50,
        }
    )
    series = timeline([(captures.idle, 31)], ramps={0: busy})
    growing = _alert("IncidentsConsumerLagGrowing", "warning", **_job(topic="mentions.raw"))
    _check(tmp_path, series, [firing_at("5m", []), firing_at("30m", [growing])])


@needs_promtool
@covers("IncidentsRecordsExpiredUnread")
def test_records_expired_unread_raise_an_alert_on_the_first_expiry(
    captures: Captures, tmp_path: Path
) -> None:
    expired = _with(captures.idle, "incidents_expired_unread_total", 37, topic="mentions.raw")
    series = timeline([(captures.idle, 10), (expired, 20)])
    alert = _alert("IncidentsRecordsExpiredUnread", "critical", topic="mentions.raw")
    _check(
        tmp_path,
        series,
        [firing_at("9m", []), firing_at("10m", [alert]), firing_at("26m", [])],
    )


@needs_promtool
@covers("IncidentsDlqRatioHigh")
def test_a_high_dead_letter_ratio_raises_its_alert(captures: Captures, tmp_path: Path) -> None:
    # enrich reads 100 a minute and dead-letters 10 of them; the sink stores those
    steps = {
        ("incidents_messages_in_total", ("stage", "enrich"), ("topic", "mentions.raw")): 100,
        ("incidents_dlq_total", ("error_kind", "schema"), ("stage", "enrich")): 10,
        ("incidents_messages_out_total", ("stage", "enrich"), ("topic", "mentions.dlq")): 10,
        ("incidents_messages_in_total", ("stage", "sink"), ("topic", "mentions.dlq")): 10,
    }

    def ramp(name: str, labels: Mapping[str, str]) -> float | None:
        return steps.get((name, *sorted(labels.items())))  # type: ignore[arg-type]

    series = timeline([(captures.idle, 31)], ramps={0: ramp})
    ratio = _alert("IncidentsDlqRatioHigh", "warning", stage="enrich")
    _check(tmp_path, series, [firing_at("30m", [ratio])])


@needs_promtool
@covers("IncidentsSinkErrors", "IncidentsSinkFailing")
def test_failing_inserts_raise_sink_alerts(captures: Captures, tmp_path: Path) -> None:
    def failing(name: str, labels: Mapping[str, str]) -> float | None:
        return (
            2 if name == "incidents_sink_errors_total" and labels["table"] == "mentions" else None
        )

    series = timeline([(captures.idle, 31)], ramps={0: failing})
    _check(
        tmp_path,
        series,
        [
            firing_at("8m", [_alert("IncidentsSinkErrors", "warning", table="mentions")]),
            firing_at(
                "30m",
                [
                    _alert("IncidentsSinkErrors", "warning", table="mentions"),
                    _alert("IncidentsSinkFailing", "critical", table="mentions"),
                ],
            ),
        ],
    )


def _slow(metric: str, **labels: str) -> Any:
    """Every new observation lands above the largest bucket bound."""

    def ramp(name: str, lab: Mapping[str, str]) -> float | None:
        mine = all(lab.get(k) == v for k, v in labels.items())
        above = name == f"{metric}_count" or (name == f"{metric}_bucket" and lab["le"] == "+Inf")
        return 5 if mine and above else None

    return ramp


@needs_promtool
@covers("IncidentsSinkInsertSlow")
def test_slow_inserts_raise_their_alert(captures: Captures, tmp_path: Path) -> None:
    ramp = _slow("incidents_sink_insert_seconds", table="mentions")
    series = timeline([(captures.idle, 31)], ramps={0: ramp})
    slow = _alert("IncidentsSinkInsertSlow", "warning", table="mentions")
    _check(tmp_path, series, [firing_at("10m", []), firing_at("30m", [slow])])


@needs_promtool
@covers("IncidentsStageLatencyHigh")
def test_slow_processing_raises_its_alert(captures: Captures, tmp_path: Path) -> None:
    ramp = _slow("incidents_stage_latency_seconds", stage="group")
    series = timeline([(captures.idle, 31)], ramps={0: ramp})
    slow = _alert("IncidentsStageLatencyHigh", "warning", stage="group")
    _check(tmp_path, series, [firing_at("10m", []), firing_at("30m", [slow])])


@needs_promtool
@covers("IncidentsSlaBreachesRising")
def test_sla_breaches_doubling_against_yesterday_raise_an_alert(
    captures: Captures, tmp_path: Path
) -> None:
    # Two days a minute apart: only the breach counters and the liveness series.
    kept = Capture(
        {
            k: v
            for k, v in captures.idle.samples.items()
            if k[0] in ("incidents_sla_breaches_total", "incidents_agent_up")
        },
        captures.idle.at,
    )
    normal = {"sla": "first_reaction", "priority": "normal"}

    def rate(per_minute: float) -> Any:
        return lambda name, labels: per_minute if labels == normal else None

    series = timeline([(kept, 24 * 60), (kept, 12 * 60)], ramps={0: rate(0.1), 1: rate(0.4)})
    # the second day starts again at the captured value: a counter reset, as after a restart
    rising = _alert("IncidentsSlaBreachesRising", "warning", **normal)
    _check(tmp_path, series, [firing_at("23h", []), firing_at("34h", [rising])])


def test_every_alert_has_a_scenario_here() -> None:
    alerts = {
        r["alert"]
        for g in yaml.safe_load(RULES.read_text())["groups"]
        for r in g["rules"]
        if "alert" in r
    }
    assert alerts == COVERED, f"no scenario: {sorted(alerts - COVERED)}"


# ------------------------------------------------------------ a real Prometheus
def _prom_get(base: str, path: str, **params: str) -> Any:
    url = f"{base}{path}?{urllib.parse.urlencode(params)}" if params else base + path
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())["data"]


def _wait(what: str, check: Any, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            got = check()
        except OSError:
            got = None
        if got:
            return got
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{what}; prometheus log:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)


def _fast_rules(tmp: Path) -> Path:
    """The rule file with every `for:` at 3 s and groups evaluated every second."""
    doc = yaml.safe_load(RULES.read_text())
    for group in doc["groups"]:
        group["interval"] = "1s"
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = "3s"
    path = tmp / "rules.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_a_real_prometheus_fires_the_down_alert_when_the_worker_stops(
    captures: Captures, tmp_path: Path
) -> None:
    exe = shutil.which("prometheus")
    if exe is None:
        pytest.skip(
            "SKIPPED: no `prometheus` binary (Debian: apt install prometheus; .ci/run does)"
        )
    w = captures.worker
    assert w.alive(), w.tail()
    target = w.url.removeprefix("http://")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(_fast_rules(tmp_path))],
        "scrape_configs": [{"job_name": "incidents", "static_configs": [{"targets": [target]}]}],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "prometheus.log"
    proc = subprocess.Popen(
        [
            exe,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=open(log, "wb"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:

        def agents_up() -> bool:
            rows = _prom_get(base, "/api/v1/query", query="incidents_agent_up == 1")["result"]
            return {r["metric"]["stage"] for r in rows} == set(STAGES)

        def firing() -> set[str]:
            alerts = _prom_get(base, "/api/v1/alerts")["alerts"]
            return {a["labels"]["alertname"] for a in alerts if a["state"] == "firing"}

        _wait("the worker's agents never showed up in Prometheus", agents_up, proc, log, 90)
        # Rules evaluated before the first scrape saw no agent; the next ones must clear it.
        _wait(
            "a down alert stayed on while the worker ran",
            lambda: not firing() & {"IncidentsWorkerDown", "IncidentsStageAbsent"},
            proc,
            log,
            30,
        )
        assert w.stop() == 0
        got = _wait(
            "IncidentsWorkerDown never fired after the worker stopped",
            lambda: {"IncidentsWorkerDown", "IncidentsStageAbsent"} <= firing() and firing(),
            proc,
            log,
            90,
        )
        print(f"\nfiring after the stop: {sorted(got)}")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
