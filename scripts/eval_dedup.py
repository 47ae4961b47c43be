"""Near-duplicate detection on St Petersburg appeals and their rewritten copies.

Originals are real portal appeals from ../shared/data (never shipped); copies
are made by streams.domain.dedup_eval.rewrite (repost wrappers, hashtags,
emojis, cut-off tails, case, typos, links, look-alike letters) and published
minutes to days later from other platforms, mostly without coordinates. The
negatives are the other appeals: many are short and textually identical
("снег на дороге" is written by hundreds of people about hundreds of places).
Two appeals with the same normalized text about the same building count as
twins (the same complaint posted twice), which may be linked.

    .venv/bin/python scripts/eval_dedup.py [--originals 20000] [--copy-share 0.3]
                                           [--split dev|heldout] [--style other]
    .venv/bin/python scripts/eval_dedup.py --independent 30 [--split heldout]

`dev` uses the first half of the file (by time), `heldout` the second half;
tune on dev, report both.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streams.domain.dedup_eval import decisions, rewrite, rewrite_other, score  # noqa: E402
from streams.domain.normalize import normalize_text  # noqa: E402
from streams.domain.pipeline import OfflinePipeline  # noqa: E402
from streams.settings import Settings  # noqa: E402

SPB = ROOT.parent / "shared" / "data" / "spb-appeals.dev.jsonl.gz"


def build(
    originals: int, copy_share: float, split: str, seed: int = 3, style: str = "default"
) -> tuple[list[bytes], list[dict]]:
    rewrite_fn = rewrite_other if style == "other" else rewrite
    with gzip.open(SPB, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    half = len(rows) // 2
    rows = rows[:half] if split == "dev" else rows[half:]
    rows = rows[:originals]
    rng = random.Random(seed)
    events: list[tuple[datetime, dict, dict]] = []
    twins: dict[tuple[str, object], str] = {}
    for r in rows:
        at = datetime.fromisoformat(r["created_at"]).replace(microsecond=0)
        mid = f"pos:{r['id']}"
        key = (normalize_text(r["text"]), r.get("building"))
        twin = twins.setdefault(key, mid)
        raw = {
            "id": mid,
            "platform": "pos",
            "source": {"id": "pos-spb", "kind": "portal"},
            "text": r["text"],
            "created_at": at.isoformat() + "+03:00",
            "region_hint": "RU-SPE",
            "geo": {"lat": r["lat"], "lon": r["lon"]},
        }
        events.append((at, raw, {"id": mid, "copy_of": None, "twin_of": twin, "text_key": key[0]}))
        if rng.random() < copy_share:
            for n in range(rng.choice([1, 1, 2])):
                text, kinds = rewrite_fn(r["text"], rng)
                platform = rng.choice(["vk", "telegram", "ok"])
                when = at + timedelta(minutes=rng.randint(5, 3 * 24 * 60))
                copy = {
                    "id": f"{platform}:copy-{r['id']}-{n}",
                    "platform": platform,
                    "source": {
                        "id": f"{platform}-public-{rng.randint(1, 40)}",
                        "kind": "city_public",
                    },
                    "text": text,
                    "created_at": when.isoformat() + "+03:00",
                }
                if rng.random() < 0.95:  # city publics and chats are in the source registry
                    copy["region_hint"] = "RU-SPE"
                if rng.random() < 0.3:
                    copy["geo"] = {"lat": r["lat"], "lon": r["lon"]}
                events.append((when, copy, {"id": copy["id"], "copy_of": mid, "kinds": kinds}))
    events.sort(key=lambda e: e[0])
    lines = [json.dumps(raw, ensure_ascii=False).encode() for _, raw, _ in events]
    labels = [lab for _, _, lab in events]
    return lines, labels


def independent(split: str, days: float, seed: int = 5) -> int:
    """Short appeals (1-10 words) as if posted by different people across networks.

    Every text goes out once, on a random network and source, with no place,
    spread evenly over `days`: no post copies another, so every link the desk
    makes between two different texts is false. Identical texts carried to
    another network within 72 h are linked by design (counted apart).
    """
    with gzip.open(SPB, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    half = len(rows) // 2
    rows = rows[:half] if split == "dev" else rows[half:]
    short = [r for r in rows if 1 <= len(normalize_text(r["text"]).split()) <= 10]
    rng = random.Random(seed)
    t0 = datetime(2026, 1, 1)
    lines, norm = [], {}
    for i, r in enumerate(short):
        platform = rng.choice(["vk", "telegram", "ok", "pos"])
        mid = f"{platform}:{r['id']}"
        norm[mid] = normalize_text(r["text"])
        post = {
            "id": mid,
            "platform": platform,
            "source": {"id": f"{platform}-{rng.randint(1, 40)}"},
            "text": r["text"],
            "created_at": (t0 + timedelta(days=days * i / len(short))).isoformat() + "+03:00",
            "region_hint": "RU-SPE",
        }
        lines.append(json.dumps(post, ensure_ascii=False).encode())
    decided = decisions(OfflinePipeline(Settings()).run(lines))
    links = [(m, o) for m, o in decided.items() if o]
    other = sum(1 for m, o in links if norm[m] != norm.get(o))
    print(
        f"split {split}: {len(short):,} short posts by different people over {days:g} days, "
        f"no places, across vk/telegram/ok/pos\n"
        f"links between different texts (all false): {other:,} ({other / len(short):.1%})\n"
        f"links between identical texts (carried over within 72 h, by design): "
        f"{len(links) - other:,}"
    )
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--originals", type=int, default=20_000)
    ap.add_argument("--copy-share", type=float, default=0.3)
    ap.add_argument("--split", choices=["dev", "heldout"], default="dev")
    ap.add_argument("--show-errors", type=int, default=0)
    ap.add_argument(
        "--style",
        choices=["default", "other"],
        default="default",
        help="other: rewrites written apart from the normalizer's lists (generalisation)",
    )
    ap.add_argument(
        "--independent",
        type=float,
        metavar="DAYS",
        help="instead: short appeals as independent posts across networks over DAYS; "
        "counts the false links",
    )
    args = ap.parse_args()
    if not SPB.is_file():
        print(f"{SPB} not found: this evaluation needs the St Petersburg data", file=sys.stderr)
        return 2
    if args.independent:
        return independent(args.split, args.independent)
    lines, labels = build(args.originals, args.copy_share, args.split, style=args.style)
    pipeline = OfflinePipeline(Settings())
    t0 = time.perf_counter()
    results = list(pipeline.run(lines))
    secs = time.perf_counter() - t0
    decided = decisions(results)
    s = score(labels, decided)
    print(
        f"split {args.split}, {args.style} rewrites: {len(lines)} mentions "
        f"({args.originals} originals), {secs:.1f} s"
    )
    print(s.render())
    # By length of the original: short portal texts are the hard part.
    words = {
        json.loads(line)["id"]: len(normalize_text(json.loads(line)["text"]).split())
        for line in lines
    }
    buckets = [(0, 4), (5, 9), (10, 19), (20, 10**6)]
    print(f"\n{'original words':<15} {'copies':>7} {'recall':>7} {'predicted':>9} {'precision':>9}")
    for lo, hi in buckets:

        def fam(lab: dict) -> str:
            return lab["copy_of"] or lab["id"]

        sub = [lab for lab in labels if lo <= words[fam(lab)] <= hi]
        ss = score(sub, decided)
        name = f"{lo}-{hi}" if hi < 10**6 else f"{lo}+"
        print(f"{name:<15} {ss.copies:>7} {ss.recall:>7.3f} {ss.predicted:>9} {ss.precision:>9.3f}")
    if args.show_errors:
        text = {json.loads(line)["id"]: json.loads(line)["text"] for line in lines}
        print("\nfalse links:")
        for a, b in s.false_links[: args.show_errors]:
            print(f"  {text.get(a, a)[:80]!r}\n    -> {text.get(b, b)[:80]!r}")
        print("\nmissed copies:")
        orig = {lab["id"]: lab["copy_of"] for lab in labels}
        for m in s.missed[: args.show_errors]:
            print(f"  {text[m][:100]!r}\n    of {text[orig[m]][:100]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
