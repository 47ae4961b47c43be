"""The stages on one core, without a broker: the offline path (`process`), the
enrich stage (`enrich`) and the dedup stage on ~250-character texts (`dedup`), with
500,000 posts in its window (`dedup-500k`) and on short posts (`dedup-short`).
"""

from __future__ import annotations

import gc
import os
import random
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from incidents.config.gc import tune_gc
from incidents.config.settings import Settings
from incidents.contracts.models import Mention, Place, Platform, Source
from incidents.domain.text import morph
from incidents.domain.text.normalize import normalize_text
from incidents.domain.understanding import problems
from incidents.ops.bench.common import REGIONS, raw_lines, source_texts, texts_of_length, timed


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
    from incidents.domain.understanding import features  # lazy: numpy, scipy

    for fn in (morph.lemma, morph.parses, morph.lemmas_of, features._grammar_names,
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
