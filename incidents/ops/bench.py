"""`make bench`: throughput figures, printed as a table.

- process: the offline path (validate, enrich, dedup, group) in mentions/s on one core;
- dedup: the dedup stage (normalization + MinHash signatures + LSH lookup + exact
  verification + window bookkeeping), mentions/s on one core, and memory per mention
  held in the window;
- dedup-500k: the same with 500,000 posts in the window (a federal week), and what
  the process holds per post;
- dedup-short: the same on short posts (1-14 words) across three networks, where the
  short-text rules decide;
- enrich: the whole enrich stage (decode, classify, priority, locate, route) on one core;
- e2e: mentions/s through the embedded broker for the full pipeline (enrich → group →
  ClickHouse sink) next to a do-nothing passthrough Faust agent on the same broker in
  the same run, and their ratio;
- e2e-kafka: the same over a local 1-node Apache Kafka (Java 17 and Maven needed;
  skipped, with the reason, without them).

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
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient, NewTopic
from rich.console import Console
from rich.table import Table

from incidents.config.gc import tune_gc
from incidents.config.settings import ClickHouseSettings, KafkaSettings, Settings
from incidents.contracts.models import Mention, Place, Platform, Source
from incidents.contracts.topology import CATEGORIES, STAGES, sql_list
from incidents.domain.copies import speedups
from incidents.domain.text import morph
from incidents.domain.text.normalize import normalize_text
from incidents.domain.understanding import problems
from incidents.kafka import local as lk
from incidents.kafka.embedded import EmbeddedBroker, free_port
from incidents.kafka.producer import MentionProducer
from incidents.kafka.topics import ensure_topics
from incidents.ops import probe
from incidents.ops.console_bench import run
from incidents.oversight.dashboards import federal
from incidents.oversight.macros import TimeRange, all_values, expand, render_sql
from incidents.warehouse.access import all_regions
from incidents.warehouse.tables import TABLES
from incidents.warehouse.writer import Warehouse

ROOT = Path(__file__).resolve().parents[2]
SPB = ROOT.parent / "shared" / "data" / "spb-appeals.dev.jsonl.gz"
SAMPLE = ROOT / "incidents" / "ops" / "demo" / "sample" / "mentions.jsonl"
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
    for raw in SAMPLE.read_bytes().splitlines():
        try:
            obj = json.loads(raw)
        except ValueError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("text"), str):
            texts.append(obj["text"])
    return texts, "bundled demo sample"


def texts_of_length(
    n: int, target: int = 250, seed: int = 7, part: tuple[int, int] = (0, 1), once: bool = False
) -> tuple[list[str], str]:
    """n texts of ~target characters, glued from source texts.

    Each source text is used once per pass over the sources, so the texts do not
    share sentences by construction (which would make every text a near
    duplicate of many others, unlike a real stream); the share of real copies is
    set separately by the benchmarks. part=(i, k) draws only from every k-th
    source text starting at i, so two parts never share a source text. once=True
    stops before a source text would be used a second time (fewer than n texts).
    """
    base, origin = source_texts()
    i, k = part
    base = base[i::k] or base
    rng = random.Random(seed)
    pool: list[str] = []
    out: list[str] = []
    for _ in range(n):
        parts: list[str] = []
        while sum(len(p) + 1 for p in parts) < target:
            if not pool:
                if once and out:
                    return out, origin
                pool = base[:]
                rng.shuffle(pool)
            parts.append(pool.pop())
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
    from incidents.stream.offline import OfflinePipeline  # lazy: the models and the gazetteer

    texts, origin = texts_of_length(n)
    lines = raw_lines(texts)
    pipeline = OfflinePipeline(settings)
    list(pipeline.run(lines[:500]))  # warm caches and models
    pipeline = OfflinePipeline(settings, enricher=pipeline.enricher)
    tune_gc()  # as `incidents process` does once its models are loaded
    secs = timed(lambda: list(pipeline.run(lines)))
    return {"figure": n / secs, "unit": "mentions/s", "n": n, "data": origin}


def bench_enrich(settings: Settings, n: int) -> dict[str, Any]:
    from incidents.domain.enrichment import Enricher  # lazy: the models

    # A worker runs for days: its word caches hold the vocabulary of what it has
    # seen. The figure is that steady state, on posts it has not seen (no source
    # sentence repeats, or later slices would find every word cached); the first
    # posts after a start, with every cache empty, are reported beside it.
    warm_texts, origin = texts_of_length(20_000, part=(0, 2), seed=8)
    texts, _ = texts_of_length(n, part=(1, 2), seed=9, once=True)
    en = Enricher.from_settings(settings.enrich)

    def run(lines: list[bytes]) -> None:
        for i in range(0, len(lines), 500):
            en.enrich([en.decode(x) for x in lines[i : i + 500]])

    warm = raw_lines(warm_texts, dup_share=0)
    clear_word_caches(en)
    n_cold = min(5_000, len(warm))
    cold_secs = timed(lambda: run(warm[:n_cold]))
    run(warm[n_cold:])
    lines = raw_lines(texts, dup_share=0)
    # Timed in slices; the median slice rate is the figure, so a noisy neighbour on
    # a shared machine moves the spread (printed) rather than the figure.
    step = max(500, len(lines) // 8)
    rates = sorted(
        len(part) / timed(lambda part=part: run(part))  # type: ignore[misc]
        for part in (lines[i : i + step] for i in range(0, len(lines), step))
    )
    return {
        "figure": rates[len(rates) // 2],
        "unit": "mentions/s",
        "n": len(lines),
        "data": origin,
        "extra": f"median of {len(rates)} slices ({rates[0]:,.0f}-{rates[-1]:,.0f}), after "
        f"20,000 other posts; the first {n_cold:,} after a start: {n_cold / cold_secs:,.0f}/s",
    }


def clear_word_caches(en: Any) -> None:
    """Empty every per-word cache, as in a freshly started worker (models stay loaded)."""
    from incidents.domain.understanding import classify  # lazy: numpy, scipy

    for fn in (morph.lemma, morph.parses, morph.lemmas_of, classify._grammar_names,
               problems.word_lemmas):  # fmt: skip
        fn.cache_clear()
    for featurizer in en.classifier.featurizers():
        featurizer._token_cache.clear()


def _dedup_mentions(
    texts: list[str], every_s: float = 7, networks: int = 1, regions: list[str] = REGIONS
) -> list[Any]:
    """Mentions of the given texts, 5 % of them reposts of an earlier one, in turn
    in the given regions.

    With networks > 1, each post is on one of that many networks and 30 publics,
    so the short-text rule for posts carried over between networks is in play.
    """
    rng = random.Random(3)
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    everywhere: list[Platform] = ["vk", "telegram", "ok"]
    platforms = everywhere[:networks]
    mentions = []
    for i, text in enumerate(texts):
        if i > 10 and rng.random() < 0.05:
            text = "Репост: " + texts[rng.randrange(i)]
        platform = rng.choice(platforms) if networks > 1 else platforms[0]
        mentions.append(
            Mention(
                id=f"{platform}:d{i}",
                platform=platform,
                source=Source(id=f"s{rng.randrange(30) if networks > 1 else ''}"),
                text=text,
                created_at=t0 + timedelta(seconds=every_s * i),
                fingerprint="-",
                is_appeal=False,
                appeal_score=0.0,
                category=None,
                category_confidence=0.0,
                priority="normal",
                place=Place(region=regions[i % len(regions)]),
                agency=None,
            )
        )
    return mentions


def _dedup_rate(settings: Settings, mentions: list[Any]) -> tuple[float, int]:
    """Mentions/s through a fresh dedup stage, and the duplicates it found."""
    from incidents.domain.copies.dedup import Deduplicator  # lazy: datasketch, numpy

    window = Deduplicator({}, settings.dedup)
    dups = 0
    tune_gc()  # as the worker does after startup; the inputs are frozen with the rest

    def run() -> None:
        nonlocal dups
        for i in range(0, len(mentions), 500):
            for p in window.prepare(mentions[i : i + 500]):
                verdict = window.resolve(p)
                dups += verdict.mention.status == "duplicate"

    return len(mentions) / timed(run), dups


def bench_dedup(settings: Settings, n: int) -> dict[str, Any]:
    """The desk's dedup path alone: mentions that are not appeals open no incidents.

    The figure is for n texts in the window. SPb texts are short, so n glued texts
    of 250 characters reuse each source sentence about n / 17,000 times: many posts
    share a sentence with others, and each such pair is verified exactly (the hard
    case). The notes add the rate on texts that share no sentence except the 5 %
    reposts (as many as the data allows).
    """
    from incidents.domain.copies.dedup import Deduplicator  # lazy: datasketch, numpy

    texts, origin = texts_of_length(n)
    mentions = _dedup_mentions(texts)
    rate, dups = _dedup_rate(settings, mentions)
    unique = _dedup_mentions(texts_of_length(n, once=True)[0])
    unique_rate, _ = _dedup_rate(settings, unique)
    # Memory per mention held in the window: store values + derived indexes.
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    store2: dict[str, bytes] = {}
    window2 = Deduplicator(store2, settings.dedup)
    m = min(n, 20_000)
    for i in range(0, m, 500):
        for p in window2.prepare(mentions[i : i + 500]):
            window2.resolve(p)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    stored = sum(len(v) for v in store2.values()) / max(1, len(store2))
    return {
        "figure": rate,
        "unit": "mentions/s",
        "n": n,
        "data": origin,
        "extra": f"{grown / m:,.0f} B/mention in memory (store value {stored:,.0f} B); "
        f"{dups} duplicates; {len(unique):,} texts sharing no sentence: {unique_rate:,.0f}/s",
    }


def resident_bytes() -> int:
    """This process's resident memory (Linux), 0 where it cannot be read."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def filler_texts(n: int, target: int = 250, seed: int = 13) -> list[str]:
    """n texts of ~target characters, each of words drawn at random from the source
    texts (so word frequencies are real ones): posts of a big window that copy nothing
    and share only what chance and common words make them share."""
    base, _ = source_texts()
    words = " ".join(base).split()
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts: list[str] = []
        size = 0
        while size < target:
            w = words[rng.randrange(len(words))]
            parts.append(w)
            size += len(w) + 1
        out.append(" ".join(parts)[:target])
    return out


def bench_dedup_window(settings: Settings, n: int, timed_n: int = 50_000) -> dict[str, Any]:
    """The dedup stage with n posts in the window: n - timed_n posts that copy nothing
    fill it first (a federal week: ~1 M mentions a day, 7 days, is 7 M), then the
    `dedup` line's texts (250 characters, 5 % reposts, shared sentences) are timed
    through it. Memory is the process's resident growth while the window filled,
    over the posts held (allocator and all), next to the table values alone.
    """
    from incidents.domain.copies.dedup import Deduplicator  # lazy: datasketch, numpy

    timed_n = min(timed_n, n)
    texts, origin = texts_of_length(timed_n)
    # One second apart: n posts within the 7-day window (n <= 604,800).
    every_s = min(1.0, 7 * 86400 / max(n, 1))
    fill = _dedup_mentions(filler_texts(n - timed_n), every_s=every_s)
    timed_posts = _dedup_mentions(texts, every_s=every_s)
    shift = timedelta(seconds=every_s * len(fill))
    for m in timed_posts:  # after the filler, ids apart
        m.created_at += shift
        m.id = m.id.replace(":d", ":t")
    store: dict[str, bytes] = {}
    window = Deduplicator(store, settings.dedup)
    tune_gc()
    gc.collect()
    before = resident_bytes()
    t0 = time.perf_counter()
    for i in range(0, len(fill), 500):
        for p in window.prepare(fill[i : i + 500]):
            window.resolve(p)
    fill_s = time.perf_counter() - t0
    gc.collect()
    grown = resident_bytes() - before
    held = window.window_size()
    dups = 0

    def run() -> None:
        nonlocal dups
        for i in range(0, len(timed_posts), 500):
            for p in window.prepare(timed_posts[i : i + 500]):
                dups += window.resolve(p).mention.status == "duplicate"

    rate = len(timed_posts) / timed(run)
    stored = sum(len(v) for v in store.values()) / max(1, len(store))
    return {
        "figure": rate,
        "unit": "mentions/s",
        "n": n,
        "data": origin,
        "extra": f"{len(timed_posts):,} posts timed after {len(fill):,} that copy nothing "
        f"({len(fill) / max(fill_s, 1e-9):,.0f}/s to fill); window {window.window_size():,} posts; "
        f"resident memory {grown / max(1, held):,.0f} B/post held "
        f"({grown / 2**20:,.0f} MiB for {held:,}; table value {stored:,.0f} B); "
        f"{dups} duplicates",
    }


def bench_dedup_short(settings: Settings, n: int) -> dict[str, Any]:
    """The dedup path on short posts (1-14 words, as most social-media posts are).

    A short text meets many candidates (every «Мусор» of the window) and is
    judged by the short-text rules, unlike the ~250-character texts above.
    Posts are a minute apart on three networks and 30 publics, all in one region
    (a regional centre's stream): ~10,000 of them in the 7-day window.
    """
    base, origin = source_texts()
    short = [t for t in base if 1 <= len(normalize_text(t).split()) <= 14]
    texts = [short[i % len(short)] for i in range(n)] if short else []
    mentions = _dedup_mentions(texts, every_s=60, networks=3, regions=["RU-SPE"])
    rate, dups = _dedup_rate(settings, mentions)
    return {
        "figure": rate,
        "unit": "mentions/s",
        "n": n,
        "data": origin,
        "extra": f"texts of 1-14 words ({len(short):,} distinct), a minute apart on 3 "
        f"networks in one region; {dups:,} duplicates",
    }


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


def _all_cpus_in_child() -> None:
    os.sched_setaffinity(0, _ALL_CPUS)


def bench_dashboard(settings: Settings, n: int) -> dict[str, Any]:
    """Federal dashboard queries over `n` generated mentions; sink insert vs plain insert.

    Runs in a child process with every CPU (chDB is one engine per process, and
    ClickHouse queries are multi-threaded: a dashboard query is not a per-core figure).
    """
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("INCIDENTS_")}
        run = subprocess.run(
            [sys.executable, "-m", "incidents.ops.bench", "dashboard-child", tmp, str(n)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
            preexec_fn=_all_cpus_in_child if _ALL_CPUS else None,
        )
    if run.returncode != 0:
        raise RuntimeError(f"dashboard bench failed: {run.stderr.strip()[-800:]}")
    r = json.loads(run.stdout.strip().splitlines()[-1])
    slowest = max(r["queries"], key=lambda q: r["queries"][q])
    return {
        "figure": r["queries"][slowest] * 1000,
        "unit": "ms (slowest federal panel)",
        "n": n,
        "data": f"generated: {n:,} mentions, {r['incidents']:,} incidents",
        "extra": f"slowest: {slowest}; every panel: "
        + ", ".join(f"{k} {v * 1000:,.0f} ms" for k, v in r["queries"].items())
        + f"; generated in {r['generate_s']:.0f} s "
        f"({r['generate_rps']:,.0f} mentions/s, views included)"
        + f"; sink path (Warehouse.insert) {r['sink_rps']:,.0f} rows/s vs plain "
        f"clickhouse-connect insert {r['plain_rps']:,.0f} rows/s over {r['insert_rows']:,} "
        f"mention rows, ratio {r['sink_rps'] / r['plain_rps']:.2f}",
    }


REGION_CODES_SQL = "['RU-TVE','RU-IVA','RU-NVS','RU-MOW','RU-SPE','RU-NIZ','RU-SVE','RU-KDA']"


def _dashboard_child(tmp: str, n: int) -> None:
    """The body of bench_dashboard (its own process): prints one JSON line."""
    wh = Warehouse(ClickHouseSettings(url=f"chdb://{tmp}/ch"))
    wh.migrate()
    t0 = datetime(2025, 11, 1, tzinfo=UTC)
    started = time.perf_counter()
    k = generate_oversight_data(wh.client, wh.db, n, t0)
    generate_s = time.perf_counter() - started
    timings = time_federal_panels(wh.client, wh.db, t0)
    sink_rps, plain_rps, m = insert_rates(tmp, min(n, 200_000))
    print(
        json.dumps(
            {
                "queries": timings,
                "incidents": k,
                "generate_s": generate_s,
                "generate_rps": n / generate_s,
                "insert_rows": m,
                "sink_rps": sink_rps,
                "plain_rps": plain_rps,
            }
        )
    )


def generate_oversight_data(c: Any, db: str, n: int, t0: datetime) -> int:
    """`n` mentions and n/10 incidents with their events, through the real views."""
    regions = "[" + ",".join(f"'{r}'" for r in all_regions()) + "]"
    fast = {"max_insert_threads": os.cpu_count() or 1, "parallel_view_processing": 1}
    cats = "[" + sql_list(CATEGORIES)[1:-1] + "]"
    year_s = 365 * 86400
    # Mentions straight into the fact table: the real materialized views build
    # mentions_hourly, appeals_daily, sources_weekly and the insert audit from them. 20,000 sources,
    # each in one region and on one platform; 85 regions; a year of event time.
    c.command(
        f"""INSERT INTO {db}.mentions (id, platform, source_id, source_name, source_kind,
            author_pseudonym, created_at, text, fingerprint, is_appeal, appeal_score, category,
            category_confidence, priority, region, municipality, status, duplicate_of,
            incident_id, _partition, _offset)
        SELECT concat('vk:gen-', toString(number)),
            ['vk','ok','telegram','pos','rss','web','other'][1 + src % 7],
            concat('src-', toString(src)), concat('Источник ', toString(src)), 'city_public',
            concat('ps:', toString(cityHash64(number, 1) % 1000000)),
            toDateTime64({int(t0.timestamp())}, 3, 'UTC')
                + toIntervalMillisecond(intDiv(number * {year_s * 1000}, {n})),
            'Сгенерированный текст обращения', toString(cityHash64(number)),
            number % 2 = 0, 0.8, {cats}[1 + number % 13], 0.9,
            if(number % 50 = 0, 'critical', 'normal'),
            {regions}[1 + src % length({regions})],
            concat('Город ', toString(number % 11)),
            if(number % 20 = 0, 'duplicate', 'accepted'),
            if(number % 20 = 0, concat('vk:gen-', toString(number - 1)), ''),
            '', 0, number
        FROM (SELECT number, cityHash64(number) % 20000 AS src FROM numbers({n}))""",
        settings=fast,
    )
    # One incident per ten mentions: events through the real views (opened, responses,
    # daily flows, answer-time quantile states), latest states into the incidents table.
    k = max(n // 10, 1)
    inc = f"concat({regions}[1 + cityHash64(number, 2) % length({regions})], '/', hex(number))"
    opened = (
        f"toDateTime64({int(t0.timestamp())}, 3, 'UTC') "
        f"+ toIntervalMillisecond(intDiv(number * {year_s * 1000}, {k}))"
    )
    agency = "concat('Ведомство ', toString(number % 40))"
    ev_cols = "event_id, incident_id, type, at, region, incident_version, category, agency, "
    ev_cols += "priority, status, mention_id, response_id, detail"
    common = (
        f"{{region}} AS region, 1, {cats}[1 + number % 13], {{agency}}, 'normal', 'assigned', "
        "'', {response}, {detail} FROM numbers({k})"
    )
    region_expr = f"{regions}[1 + cityHash64(number, 2) % length({regions})]"
    for kind, at, where, agency_expr, response, detail in (
        ("created", opened, "", "''", "''", "map()"),
        ("assigned", opened, "", agency, "''", "map('by', 'routing')"),
        (
            "responded",
            f"{opened} + toIntervalSecond(1800 + cityHash64(number, 3) % 172800)",
            "WHERE number % 2 = 0",
            agency,
            "concat('r-', toString(number))",
            "map('kind', if(number % 4 = 0, 'final', 'interim'))",
        ),
        (
            "sla_breached",
            f"{opened} + toIntervalHour(9)",
            "WHERE number % 3 = 0",
            agency,
            "''",
            "map('sla', 'first_reaction')",
        ),
        ("closed", f"{opened} + toIntervalDay(3)", "WHERE number % 5 = 0", agency, "''", "map()"),
    ):
        body = common.format(
            region=region_expr, agency=agency_expr, response=response, detail=detail, k=k
        )
        c.command(
            f"INSERT INTO {db}.incident_events ({ev_cols}) SELECT "
            f"concat('{kind}-', toString(number)), {inc}, '{kind}', {at}, {body} {where}",
            settings=fast,
        )
    c.command(
        f"""INSERT INTO {db}.incidents (id, region, municipality, category, agency, status,
            priority, opened_at, updated_at, version, title, mentions_count, first_reaction_due,
            first_reaction_at, first_reaction_breached, final_answer_breached)
        SELECT {inc}, {region_expr}, concat('Город ', toString(number % 11)),
            {cats}[1 + number % 13], {agency},
            multiIf(number % 5 = 0, 'closed', number % 4 = 0, 'answered_final', 'assigned'),
            'normal', {opened}, {opened}, 3, 'Инцидент', 1 + number % 7,
            {opened} + toIntervalHour(9),
            if(number % 2 = 0, {opened} + toIntervalSecond(1800 + cityHash64(number, 3) % 172800),
               NULL),
            number % 3 = 0, false
        FROM numbers({k})""",
        settings=fast,
    )
    for table in (
        "mentions_hourly",
        "appeals_daily",
        "incidents_daily",
        "response_times_daily",
        "sources_weekly",
    ):
        c.command(f"OPTIMIZE TABLE {db}.{table} FINAL")
    return k


def time_federal_panels(c: Any, db: str, t0: datetime) -> dict[str, float]:
    """The federal dashboard as Grafana sends it: a year, every variable on "All"."""
    dash = federal()
    values = all_values(dash, min_volume="30")
    tr = TimeRange.covering(t0, t0 + timedelta(days=365))
    timings: dict[str, float] = {}
    for panel in dash.panels():
        sql = expand(render_sql(panel.queries[0].text, db), tr, values)
        c.query(sql)  # warm: first reads of the parts
        runs = []
        for _ in range(3):
            t = time.perf_counter()
            c.query(sql)
            runs.append(time.perf_counter() - t)
        timings[panel.title] = sorted(runs)[1]
    return timings


def insert_rates(tmp: str, m: int) -> tuple[float, float, int]:
    """Rows/s of the sink path (Warehouse.insert) and of a plain insert of the same rows."""
    import clickhouse_connect  # lazy: clickhouse-connect, chDB

    cols = list(TABLES["mentions"].columns)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    rows: list[tuple[Any, ...]] = [
        (
            f"vk:ins-{i}", "vk", f"club{i % 97}", "Тверь онлайн", "city_public", f"ps:{i % 5000}",
            base + timedelta(seconds=7 * i), "Текст обращения про двор и освещение",
            f"https://vk.com/wall-1_{i}", f"fp{i}", i % 2 == 0, 0.8, "landscaping", 0.9,
            "normal", [], REGIONS[i % len(REGIONS)], "Тверь", "", "", None, None, "",
            "accepted", "", "", 0, 0, 0, 0, 0, i,
        )
        for i in range(m)
    ]  # fmt: skip
    assert len(rows[0]) == len(cols)
    sink = Warehouse(ClickHouseSettings(url=f"chdb://{tmp}/ch", database="sink_bench"))
    sink.migrate()
    plain = Warehouse(ClickHouseSettings(url=f"chdb://{tmp}/ch", database="plain_bench"))
    plain.migrate()
    client = clickhouse_connect.get_client(dsn=f"chdb://{tmp}/ch")
    batch = 10_000
    t = time.perf_counter()
    for i in range(0, m, batch):
        sink.insert("mentions", rows[i : i + batch])
    sink_s = time.perf_counter() - t
    t = time.perf_counter()
    for i in range(0, m, batch):
        client.insert("plain_bench.mentions", rows[i : i + batch], column_names=cols)
    plain_s = time.perf_counter() - t
    assert sink.scalar("SELECT count() FROM sink_bench.mentions") == m
    return m / sink_s, m / plain_s, m


def bench_console(settings: Settings, n: int) -> dict[str, Any]:
    """The operator console's pages over N open incidents (incidents/ops/console_bench.py)."""
    return run(settings, n, clickhouse=n >= 5_000, cpus=_ALL_CPUS)


BENCHES: dict[str, tuple[Callable[[Settings, int], dict[str, Any]], int, int]] = {
    # name: (function, n, quick n)
    "process": (bench_process, 20_000, 2_000),
    "enrich": (bench_enrich, 20_000, 2_000),
    "dedup": (bench_dedup, 50_000, 5_000),
    "dedup-500k": (bench_dedup_window, 500_000, 20_000),
    "dedup-short": (bench_dedup_short, 20_000, 2_000),
    "e2e": (bench_e2e, 20_000, 2_000),
    "e2e-kafka": (bench_e2e_kafka, 20_000, 2_000),
    "dashboard": (bench_dashboard, 10_000_000, 200_000),
    "console": (bench_console, 10_000, 500),
}


def run_bench(
    settings: Settings, quick: bool = False, only: list[str] | None = None, pure: bool = False
) -> int:
    only = [name for names in only or [] for name in names.split(",") if name]
    unknown = set(only) - set(BENCHES)
    if unknown:
        print(
            f"incidents: error: unknown benchmark(s): {', '.join(sorted(unknown))}; "
            f"known: {', '.join(BENCHES)}",
            file=sys.stderr,
        )
        return 2
    compiled = speedups.use(not pure)
    console = Console()
    pinned = one_core()
    twins = "compiled twins on" if compiled else "pure Python"
    if not compiled and not pure:
        twins += " (the C extension was not built)"
    table = Table(
        title=f"incidents bench ({pinned}; {os.cpu_count()} CPUs on this machine; {twins})"
    )
    for col in ("benchmark", "figure", "n", "data", "notes"):
        table.add_column(col)
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


if __name__ == "__main__" and sys.argv[1:2] == ["dashboard-child"]:
    _dashboard_child(sys.argv[2], int(sys.argv[3]))
