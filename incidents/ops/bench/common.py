"""What every benchmark shares: the input texts, the raw lines made of them, the
pinning to one core and the timer.

Texts are ~250 characters: St Petersburg portal appeals from ../shared/data glued to
that length when the file is there (development machines), else the bundled sample.
"""

from __future__ import annotations

import gc
import gzip
import json
import os
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
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
