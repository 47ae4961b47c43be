"""The full pipeline through a broker next to a do-nothing passthrough Faust agent
on the same broker in the same run (`e2e` on the embedded broker, `e2e-kafka` on a
local 1-node Apache Kafka): what the stream machinery costs beside the stages.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient, NewTopic

from incidents.config.settings import KafkaSettings, Settings
from incidents.contracts.topology import STAGES
from incidents.kafka import local as lk
from incidents.kafka.embedded import EmbeddedBroker, free_port
from incidents.kafka.producer import MentionProducer
from incidents.kafka.topics import ensure_topics
from incidents.ops import probe
from incidents.ops.bench.common import _ALL_CPUS, raw_lines, texts_of_length


def bench_e2e(settings: Settings, n: int) -> dict[str, Any]:
    """Full pipeline vs passthrough over the embedded broker, in the same run."""
    texts, origin = texts_of_length(n)
    lines = raw_lines(texts)
    with EmbeddedBroker().start() as broker, tempfile.TemporaryDirectory() as tmp:
        assert broker.proc is not None
        _all_cpus(broker.proc.pid)
        results = _e2e_over(broker.bootstrap, settings, lines, tmp)
    return _e2e_figures(results, n, origin)


def bench_e2e_kafka(settings: Settings, n: int) -> dict[str, Any]:
    """The same over a local 1-node Apache Kafka (incidents/kafka/local.py), when Java 17
    and Maven are here: a single broker next to the single embedded one."""
    reason = lk.unavailable_reason()
    if reason:
        return {
            "figure": 0,
            "unit": "mentions/s",
            "n": 0,
            "data": "-",
            "extra": f"skipped: {reason}",
        }
    texts, origin = texts_of_length(n)
    lines = raw_lines(texts)
    with tempfile.TemporaryDirectory() as tmp:
        kafka = lk.LocalKafka(root=Path(tmp) / "kafka", brokers=1, heap="512m")
        try:
            kafka.start()
        except lk.KafkaUnavailable as exc:
            return {
                "figure": 0,
                "unit": "mentions/s",
                "n": 0,
                "data": "-",
                "extra": f"skipped: {exc}",
            }
        try:
            for node in kafka.nodes:
                if node.proc is not None:
                    _all_cpus(node.proc.pid)
            results = _e2e_over(kafka.bootstrap, settings, lines, tmp)
        finally:
            kafka.stop()
    r = _e2e_figures(results, n, origin)
    r["extra"] = f"Apache Kafka {lk.kafka_version()}, 1 node; " + r["extra"]
    return r


def _skipped(reason: str) -> dict[str, Any]:
    return {"figure": 0, "unit": "mentions/s", "n": 0, "data": "-", "extra": f"skipped: {reason}"}


def _all_cpus(pid: int) -> None:
    if _ALL_CPUS:
        os.sched_setaffinity(pid, _ALL_CPUS)


def _e2e_figures(results: dict[str, float], n: int, origin: str) -> dict[str, Any]:
    return {
        "figure": results["pipeline"],
        "unit": "mentions/s",
        "n": n,
        "data": origin,
        "extra": f"passthrough {results['passthrough']:,.0f}/s; ratio pipeline/passthrough "
        f"{results['pipeline'] / results['passthrough']:.2f}",
    }


def _e2e_over(bootstrap: str, settings: Settings, lines: list[bytes], tmp: str) -> dict[str, float]:
    """mentions/s of the passthrough and of the pipeline over one broker."""
    n = len(lines)
    results: dict[str, float] = {}
    for mode in ("passthrough", "pipeline"):
        prefix = f"bench{mode[:4]}."
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("INCIDENTS_")}
        env.update(
            INCIDENTS_KAFKA_BOOTSTRAP=bootstrap,
            INCIDENTS_TOPICS_PREFIX=prefix,
            INCIDENTS_WORKER_APP_ID=f"bench-{mode}",
            INCIDENTS_WORKER_WEB_PORT=str(port),
            INCIDENTS_WORKER_DATA_DIR=f"{tmp}/{mode}",
            INCIDENTS_CLICKHOUSE_URL=f"chdb://{tmp}/{mode}-ch",
            INCIDENTS_LOGLEVEL="warning",
        )
        producer = MentionProducer(KafkaSettings(bootstrap=bootstrap), client_id="bench")
        s = settings.model_copy(
            update={
                "kafka": settings.kafka.model_copy(update={"bootstrap": bootstrap}),
                "topics": settings.topics.model_copy(update={"prefix": prefix}),
            }
        )
        ensure_topics(s)
        # The passthrough's output: brokers that do not create topics on first use need it.
        admin = AdminClient({"bootstrap.servers": bootstrap})
        out = NewTopic(f"{prefix}passthrough.out", s.topics.partitions, 1)
        for fut in admin.create_topics([out]).values():
            try:
                fut.result(30)
            except Exception as exc:
                if "already exists" not in str(exc).lower():
                    raise
        for line in lines:  # a backlog, so the figure is the consumer's speed
            producer.publish(f"{prefix}mentions.raw", line, key=json.loads(line)["id"].encode())
        producer.flush()
        cmd = (
            [sys.executable, "-m", "incidents.cli.main", "worker"]
            if mode == "pipeline"
            else [sys.executable, "-m", "incidents.ops.passthrough"]
        )
        log = open(f"{tmp}/{mode}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        _all_cpus(proc.pid)
        url = f"http://127.0.0.1:{port}"

        def alive(p: subprocess.Popen[bytes] = proc) -> bool:
            return p.poll() is None

        try:
            probe.wait_ready([url], alive=alive, timeout=120)
            first = None
            while True:
                st = probe.status(url) or {}
                consumed = sum(
                    v
                    for k, v in (st.get("messages_in") or {}).items()
                    if k.endswith("mentions.raw")
                )
                if consumed and first is None:
                    first = (time.perf_counter(), consumed)
                if consumed >= n:
                    break
                if proc.poll() is not None:
                    raise RuntimeError(f"{mode} worker exited: see {tmp}/{mode}.log")
                time.sleep(0.05)
            pipeline_roles = {str(s) for s in STAGES} - {"respond"}  # no answers in the bench input
            roles = pipeline_roles if mode == "pipeline" else {"passthrough"}
            probe.wait_drained([url], {"mentions.raw": n}, roles, timeout=600, settle_s=0.5)
            end = time.perf_counter()
            assert first is not None
            results[mode] = (n - first[1]) / max(end - first[0], 1e-9)
        finally:
            proc.terminate()
            proc.wait(60)
    return results
