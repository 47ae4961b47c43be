"""`make bench`: throughput figures, printed as a table.

- process: the offline path (validate, enrich, dedup, group) in mentions/s on one core;
- dedup: normalization + MinHash signatures + LSH lookup + exact verification + window
  bookkeeping (the desk without grouping), mentions/s on one core, and memory per
  mention held in the window;
- enrich: the whole enrich stage (decode, classify, priority, locate, route) on one core;
- e2e: mentions/s through the embedded broker for the full pipeline (enrich → group →
  ClickHouse sink) next to a do-nothing passthrough Faust agent on the same broker in
  the same run, and their ratio.

Texts are ~250 characters: St Petersburg portal appeals from ../shared/data glued to
that length when the file is there (development machines), else the bundled sample.
"""

from __future__ import annotations

import gc
import gzip
import json
import os
import random
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from streams.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SPB = ROOT.parent / "shared" / "data" / "spb-appeals.dev.jsonl.gz"
SAMPLE = ROOT / "streams" / "demo" / "sample" / "mentions.jsonl"
REGIONS = ["RU-TVE", "RU-IVA", "RU-NVS", "RU-MOW", "RU-SPE", "RU-NIZ", "RU-SVE", "RU-KDA"]


_ALL_CPUS: set[int] = set()


def one_core() -> str:
    """Pin this process to one CPU so figures mean 'per core' (children get all CPUs back)."""
    try:
        _ALL_CPUS.update(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {min(_ALL_CPUS)})
        return "pinned to 1 core"
    except (AttributeError, OSError):
        return "not pinned"


def source_texts(limit: int = 60_000) -> tuple[list[str], str]:
    if SPB.is_file():
        out = []
        with gzip.open(SPB, "rt", encoding="utf-8") as f:
            for line in f:
                out.append(json.loads(line)["text"])
                if len(out) >= limit:
                    break
        return out, "SPb portal appeals (../shared/data)"
    texts = []
    for line in SAMPLE.read_bytes().splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("text"), str):
            texts.append(obj["text"])
    return texts, "bundled demo sample"


def texts_of_length(n: int, target: int = 250, seed: int = 7) -> tuple[list[str], str]:
    base, origin = source_texts()
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts: list[str] = []
        while sum(len(p) + 1 for p in parts) < target:
            parts.append(rng.choice(base))
        out.append(" ".join(parts)[:target])
    return out, origin


def raw_lines(texts: list[str], seed: int = 11, dup_share: float = 0.05) -> list[bytes]:
    """RawMention lines; a share of them repost earlier texts under new ids."""
    rng = random.Random(seed)
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    lines = []
    for i, text in enumerate(texts):
        if i > 10 and rng.random() < dup_share:
            text = "Подписчики пишут: " + texts[rng.randrange(i)]
        obj = {
            "id": f"vk:bench-{i}",
            "platform": "vk",
            "source": {"id": f"club{i % 97}"},
            "text": text,
            "created_at": (t0 + timedelta(seconds=7 * i)).isoformat(),
            "region_hint": REGIONS[i % len(REGIONS)],
        }
        lines.append(json.dumps(obj, ensure_ascii=False).encode())
    return lines


def timed(fn: Callable[[], Any]) -> float:
    gc.collect()
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


# ------------------------------------------------------------------ benches
def bench_process(settings: Settings, n: int) -> dict[str, Any]:
    from streams.domain.pipeline import OfflinePipeline

    texts, origin = texts_of_length(n)
    lines = raw_lines(texts)
    pipeline = OfflinePipeline(settings)
    list(pipeline.run(lines[:500]))  # warm caches and models
    pipeline = OfflinePipeline(settings, enricher=pipeline.enricher)
    secs = timed(lambda: list(pipeline.run(lines)))
    return {"figure": n / secs, "unit": "mentions/s", "n": n, "data": origin}


def bench_enrich(settings: Settings, n: int) -> dict[str, Any]:
    from streams.domain.enrichment import Enricher

    texts, origin = texts_of_length(n)
    lines = raw_lines(texts, dup_share=0)
    en = Enricher.from_settings(settings.enrich)
    en.enrich([en.decode(x) for x in lines[:500]])

    def run() -> None:
        for i in range(0, n, 500):
            en.enrich([en.decode(x) for x in lines[i : i + 500]])

    secs = timed(run)
    return {"figure": n / secs, "unit": "mentions/s", "n": n, "data": origin}


def bench_dedup(settings: Settings, n: int) -> dict[str, Any]:
    """The desk's dedup path alone: mentions that are not appeals open no incidents."""
    from schemas.models import Mention, Place, Source
    from streams.domain.incidents import Desk

    texts, origin = texts_of_length(n)
    rng = random.Random(3)
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    mentions = []
    for i, text in enumerate(texts):
        if i > 10 and rng.random() < 0.05:
            text = "Репост: " + texts[rng.randrange(i)]
        mentions.append(
            Mention(
                id=f"vk:d{i}",
                platform="vk",
                source=Source(id="s"),
                text=text,
                created_at=t0 + timedelta(seconds=7 * i),
                fingerprint="-",
                is_appeal=False,
                appeal_score=0.0,
                category=None,
                category_confidence=0.0,
                priority="normal",
                place=Place(region=REGIONS[i % len(REGIONS)]),
                agency=None,
            )
        )
    store: dict[str, bytes] = {}
    desk = Desk(store, settings.dedup, settings.grouping, settings.sla, lambda r, m: UTC)
    dups = 0

    def run() -> None:
        nonlocal dups
        for i in range(0, n, 500):
            for p in desk.prepare(mentions[i : i + 500]):
                out = desk.resolve(p)
                dups += out.mentions[0].status == "duplicate"

    secs = timed(run)
    # Memory per mention held in the window: store values + derived indexes.
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    store2: dict[str, bytes] = {}
    desk2 = Desk(store2, settings.dedup, settings.grouping, settings.sla, lambda r, m: UTC)
    m = min(n, 20_000)
    for i in range(0, m, 500):
        for p in desk2.prepare(mentions[i : i + 500]):
            desk2.resolve(p)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    stored = sum(len(v) for v in store2.values()) / max(1, len(store2))
    return {
        "figure": n / secs,
        "unit": "mentions/s",
        "n": n,
        "data": origin,
        "extra": f"{grown / m:,.0f} B/mention in memory (store value {stored:,.0f} B); "
        f"{dups} duplicates",
    }


def bench_e2e(settings: Settings, n: int) -> dict[str, Any]:
    """Full pipeline vs passthrough over the same broker, in the same run."""
    import tempfile

    from connectors.producer import MentionProducer
    from streams import probe
    from streams.broker import EmbeddedBroker, free_port
    from streams.settings import KafkaSettings

    texts, origin = texts_of_length(n)
    lines = raw_lines(texts)
    results: dict[str, float] = {}

    def all_cpus(pid: int) -> None:
        if _ALL_CPUS:
            os.sched_setaffinity(pid, _ALL_CPUS)

    with EmbeddedBroker().start() as broker, tempfile.TemporaryDirectory() as tmp:
        assert broker.proc is not None
        all_cpus(broker.proc.pid)
        for mode in ("passthrough", "pipeline"):
            prefix = f"bench{mode[:4]}."
            port = free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("INCIDENTS_")}
            env.update(
                INCIDENTS_KAFKA_BOOTSTRAP=broker.bootstrap,
                INCIDENTS_TOPICS_PREFIX=prefix,
                INCIDENTS_WORKER_APP_ID=f"bench-{mode}",
                INCIDENTS_WORKER_WEB_PORT=str(port),
                INCIDENTS_WORKER_DATA_DIR=f"{tmp}/{mode}",
                INCIDENTS_CLICKHOUSE_URL=f"chdb://{tmp}/{mode}-ch",
                INCIDENTS_LOGLEVEL="warning",
            )
            producer = MentionProducer(KafkaSettings(bootstrap=broker.bootstrap), client_id="bench")
            from streams.topics import ensure_topics

            s = settings.model_copy(
                update={
                    "kafka": settings.kafka.model_copy(update={"bootstrap": broker.bootstrap}),
                    "topics": settings.topics.model_copy(update={"prefix": prefix}),
                }
            )
            ensure_topics(s)
            for line in lines:  # a backlog, so the figure is the consumer's speed
                producer.publish(f"{prefix}mentions.raw", line, key=json.loads(line)["id"].encode())
            producer.flush()
            cmd = (
                [sys.executable, "-m", "streams.cli", "worker"]
                if mode == "pipeline"
                else [sys.executable, "-m", "streams.passthrough"]
            )
            log = open(f"{tmp}/{mode}.log", "wb")  # noqa: SIM115
            proc = subprocess.Popen(
                cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            all_cpus(proc.pid)
            url = f"http://127.0.0.1:{port}"
            try:
                probe.wait_ready([url], alive=lambda p=proc: p.poll() is None, timeout=120)
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
                roles = {"enrich", "group", "sink"} if mode == "pipeline" else {"passthrough"}
                probe.wait_drained([url], {"mentions.raw": n}, roles, timeout=600, settle_s=0.5)
                end = time.perf_counter()
                assert first is not None
                results[mode] = (n - first[1]) / max(end - first[0], 1e-9)
            finally:
                proc.terminate()
                proc.wait(60)
    return {
        "figure": results["pipeline"],
        "unit": "mentions/s",
        "n": n,
        "data": origin,
        "extra": f"passthrough {results['passthrough']:,.0f}/s; ratio pipeline/passthrough "
        f"{results['pipeline'] / results['passthrough']:.2f}",
    }


BENCHES: dict[str, tuple[Callable[[Settings, int], dict[str, Any]], int, int]] = {
    # name: (function, n, quick n)
    "process": (bench_process, 20_000, 2_000),
    "enrich": (bench_enrich, 20_000, 2_000),
    "dedup": (bench_dedup, 50_000, 5_000),
    "e2e": (bench_e2e, 20_000, 2_000),
}


def run_bench(settings: Settings, quick: bool = False, only: list[str] | None = None) -> int:
    console = Console()
    pinned = one_core()
    table = Table(title=f"incidents bench ({pinned}; {os.cpu_count()} CPUs on this machine)")
    for col in ("benchmark", "figure", "n", "data", "notes"):
        table.add_column(col)
    unknown = set(only or []) - set(BENCHES)
    if unknown:
        console.print(
            f"unknown benchmark(s): {', '.join(sorted(unknown))}; known: {', '.join(BENCHES)}"
        )
        return 2
    for name, (fn, n, qn) in BENCHES.items():
        if only and name not in only:
            continue
        with console.status(f"running {name}…"):
            r = fn(settings, qn if quick else n)
        console.print(f"{name}: {r['figure']:,.0f} {r['unit']} {r.get('extra', '')}")
        table.add_row(
            name, f"{r['figure']:,.0f} {r['unit']}", f"{r['n']:,}", r["data"], r.get("extra", "")
        )
    console.print(table)
    return 0
