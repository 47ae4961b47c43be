"""Near-duplicate detection on St Petersburg appeals and their rewritten copies.

Originals are real portal appeals from ../shared/data (never shipped); copies
are made by incidents.evaluation.dedup.rewrite (repost wrappers, hashtags,
emojis, cut-off tails, case, typos, links, look-alike letters) and published
minutes to days later from other platforms, mostly without coordinates. The
negatives are the other appeals: many are short and textually identical
("снег на дороге" is written by hundreds of people about hundreds of places).
Two appeals with the same normalized text about the same building count as
twins (the same complaint posted twice), which may be linked.

    .venv/bin/python scripts/eval_dedup.py [--originals 20000] [--copy-share 0.3]
                                           [--split dev|heldout] [--style other]
                                           [--copy-region registry|own|none|other]
    .venv/bin/python scripts/eval_dedup.py --independent 30 [--split heldout] [--regions 8]

Where a copy says it is (`--copy-region`): `registry` (the default) as city publics
and chats in a source registry do: 95 % carry the original's region hint, 30 % the
original's coordinates; `own`: every copy carries the original's region hint (30 %
its coordinates); `none`: no hint and no coordinates (a chat nobody registered);
`other`: another region's hint and no coordinates (a neighbouring or federal public
registered elsewhere). A found copy counts as *placed* when it carries its
original's region.

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
import zlib
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from incidents.config.settings import Settings  # noqa: E402
from incidents.domain.text.normalize import normalize_text  # noqa: E402
from incidents.evaluation.dedup import (  # noqa: E402
    decisions,
    regions,
    rewrite,
    rewrite_other,
    score,
)
from incidents.stream.offline import OfflinePipeline  # noqa: E402

SPB = ROOT.parent / "shared" / "data" / "spb-appeals.dev.jsonl.gz"
# Hints of other regions for `--copy-region other` (Leningrad oblast is St Petersburg's
# neighbour; the others are far away) and for `--independent --regions`.
OTHER_REGIONS = ["RU-LEN", "RU-MOW", "RU-TVE", "RU-NVS", "RU-KDA", "RU-IVA", "RU-SVE"]
COPY_REGIONS = ("registry", "own", "none", "other")


def build(
    originals: int,
    copy_share: float,
    split: str,
    seed: int = 3,
    style: str = "default",
    copy_region: str = "registry",
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
                # The same draws in every mode, so the modes differ in the region only.
                registered, pinned = rng.random() < 0.95, rng.random() < 0.3
                if copy_region == "own":
                    registered = True
                elif copy_region in ("none", "other"):
                    registered = pinned = False
                if registered:
                    copy["region_hint"] = "RU-SPE"
                if copy_region == "other":
                    copy["region_hint"] = OTHER_REGIONS[hash_index(copy["id"])]
                if pinned:
                    copy["geo"] = {"lat": r["lat"], "lon": r["lon"]}
                events.append((when, copy, {"id": copy["id"], "copy_of": mid, "kinds": kinds}))
    events.sort(key=lambda e: e[0])
    lines = [json.dumps(raw, ensure_ascii=False).encode() for _, raw, _ in events]
    labels = [lab for _, _, lab in events]
    return lines, labels


def hash_index(key: str, n: int = len(OTHER_REGIONS)) -> int:
    """A stable pick (Python's hash() of a str changes from run to run)."""
    return zlib.crc32(key.encode()) % n


def independent(split: str, days: float, seed: int = 5, spread: int = 1) -> int:
    """Short appeals (1-10 words) as if posted by different people across networks.

    Every text goes out once, on a random network and source, with no place,
    spread evenly over `days`: no post copies another, so every link the desk
    makes between two different texts is false. Identical texts carried to
    another network within 72 h are linked by design (counted apart) when both
    are in one region; with `spread` > 1 the posts' region hints are spread over
    that many regions, and a link between two regions is false whatever the texts.
    """
    with gzip.open(SPB, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    half = len(rows) // 2
    rows = rows[:half] if split == "dev" else rows[half:]
    short = [r for r in rows if 1 <= len(normalize_text(r["text"]).split()) <= 10]
    rng = random.Random(seed)
    t0 = datetime(2026, 1, 1)
    lines, norm, region = [], {}, {}
    hints = ["RU-SPE", *OTHER_REGIONS][: max(1, spread)]
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
            "region_hint": hints[hash_index(mid, len(hints))],
        }
        region[mid] = post["region_hint"]
        lines.append(json.dumps(post, ensure_ascii=False).encode())
    decided = decisions(OfflinePipeline(Settings()).run(lines))
    links = [(m, o) for m, o in decided.items() if o]
    apart = [(m, o) for m, o in links if region[m] != region.get(o)]
    other = sum(1 for m, o in links if norm[m] != norm.get(o) and region[m] == region.get(o))
    same = len(links) - other - len(apart)
    print(
        f"split {split}: {len(short):,} short posts by different people over {days:g} days, "
        f"no places, across vk/telegram/ok/pos, in {len(hints)} region(s)\n"
        f"links between different texts (all false): {other:,} ({other / len(short):.1%})\n"
        f"links between identical texts (carried over within 72 h, by design): {same:,}"
    )
    if len(hints) > 1:
        identical = sum(norm[m] == norm.get(o) for m, o in apart)
        print(
            f"links between two regions (all false): {len(apart):,} "
            f"({len(apart) / len(short):.1%}; of identical texts {identical:,})"
        )
    return 0


def own_regions(pipeline: OfflinePipeline, lines: list[bytes], labels: list[dict]) -> dict:
    """The region each copy's own evidence gives (the enrich stage alone, no dedup)."""
    copies = [line for line, lab in zip(lines, labels, strict=True) if lab["copy_of"]]
    en = pipeline.enricher
    out: dict[str, str | None] = {}
    for i in range(0, len(copies), 500):
        for m in en.enrich([en.decode(x) for x in copies[i : i + 500]]):
            out[m.id] = m.place.region
    return out


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
        "--copy-region",
        choices=COPY_REGIONS,
        default="registry",
        help="where a copy says it is: as a source registry knows it (default), the "
        "original's region, none, or another region's (module docstring)",
    )
    ap.add_argument(
        "--regions",
        type=int,
        default=1,
        help="with --independent: spread the posts' region hints over this many regions",
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
        return independent(args.split, args.independent, spread=args.regions)
    lines, labels = build(
        args.originals, args.copy_share, args.split, style=args.style, copy_region=args.copy_region
    )
    pipeline = OfflinePipeline(Settings())
    t0 = time.perf_counter()
    results = list(pipeline.run(lines))
    secs = time.perf_counter() - t0
    decided = decisions(results)
    placed = regions(results)
    s = score(labels, decided, placed)
    print(
        f"split {args.split}, {args.style} rewrites, copies' region {args.copy_region}: "
        f"{len(lines)} mentions ({args.originals} originals), {secs:.1f} s"
    )
    print(s.render())
    # By what the copy's own evidence (hint, coordinates, text) says of its region.
    own = own_regions(pipeline, lines, labels)
    print(f"\n{'copy says':<22} {'copies':>7} {'recall':>7} {'placed':>7}")
    for name, keep in (
        ("no region", lambda r: r is None),
        ("the original's region", lambda r: r == "RU-SPE"),
        ("another region", lambda r: r is not None and r != "RU-SPE"),
    ):
        sub = [lab for lab in labels if not lab["copy_of"] or keep(own.get(lab["id"]))]
        ss = score(sub, decided, placed)
        if ss.copies:
            print(f"{name:<22} {ss.copies:>7} {ss.recall:>7.3f} {ss.placed_recall:>7.3f}")
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
