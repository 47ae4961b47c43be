"""Problem recognition on St Petersburg portal appeals, against the portal's 125 reasons.

Every appeal's text (without the portal's address line, as a social-media post would
be) goes through the problem recogniser (incidents/domain/understanding/problems.py). Its reason is
mapped onto the acceptable problem types by scripts/spb_problem_mapping.yaml (written
from the reasons' names; evaluation only). Printed:

- coverage: appeals with at least one recognised problem;
- type accuracy: the first recognised type is one the reason admits (of recognised
  appeals, and of all scored appeals: unknown counts as wrong);
- category: the first type's default code against scripts/spb_default_mapping.yaml
  (strict), and whether it is one the type admits;
- the confusions and the unrecognised reasons that cost most;
- the pair bound for grouping: every pair of appeals at one building (or within 30 m)
  within 7 days is judged "same problem" when both have compatible types; precision
  and recall against "same reason".

    .venv/bin/python scripts/eval_problems.py [--split dev|heldout] [--limit N] [--show N]

Tune on dev only; heldout is the second half by time, read once for the report. The
data is read from ../shared/data at run time and nothing derived from it is written.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import sys
import time
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from incidents.domain.understanding.problems import default_taxonomy  # noqa: E402

SPB = ROOT.parent / "shared" / "data" / "spb-appeals.dev.jsonl.gz"
MAPPING = ROOT / "scripts" / "spb_problem_mapping.yaml"
CATEGORY_MAPPING = ROOT / "scripts" / "spb_default_mapping.yaml"


def norm(s: str) -> str:
    return " ".join(s.split())


def load(split: str, limit: int | None) -> list[dict[str, Any]]:
    with gzip.open(SPB, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    half = len(rows) // 2
    rows = rows[:half] if split == "dev" else rows[half:]
    return rows[:limit] if limit else rows


def category_of(row: dict[str, Any], cmap: dict[str, Any]) -> str | None:
    by_reason = {norm(k): v for k, v in (cmap.get("by_reason") or {}).items()}
    return by_reason.get(norm(row["reason"])) or cmap["by_category"].get(row["category"])


def haversine_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    la1, la2 = math.radians(a[0]), math.radians(b[0])
    dla, dlo = la2 - la1, math.radians(b[1] - a[1])
    h = math.sin(dla / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin(dlo / 2) ** 2
    return 2 * 6_371_000 * math.asin(min(1.0, math.sqrt(h)))


def pair_bound(rows: list[dict[str, Any]], codes: list[list[str]], tax: Any) -> dict[str, float]:
    """Pairs the weak truth's place and time allow, judged by problem types alone."""
    at = [datetime.fromisoformat(r["created_at"]).timestamp() for r in rows]
    cell: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        if r.get("lat") is not None:
            cell[(int(r["lat"] / 0.0003), int(r["lon"] / 0.0006))].append(i)
    seen: set[tuple[int, int]] = set()
    tp = fp = fn = 0
    unknown_pairs = 0
    for (cy, cx), members in cell.items():
        near = [
            j for dy in (-1, 0, 1) for dx in (-1, 0, 1) for j in cell.get((cy + dy, cx + dx), ())
        ]
        for i in members:
            for j in near:
                if j <= i or (i, j) in seen:
                    continue
                seen.add((i, j))
                a, b = rows[i], rows[j]
                if abs(at[i] - at[j]) > 7 * 86400:
                    continue
                same_place = (a.get("building") and a.get("building") == b.get("building")) or (
                    haversine_m((a["lat"], a["lon"]), (b["lat"], b["lon"])) <= 30
                )
                if not same_place:
                    continue
                truth = norm(a["reason"]) == norm(b["reason"])
                if not codes[i] or not codes[j]:
                    unknown_pairs += 1
                    if truth:
                        fn += 1
                    continue
                same = tax.any_compatible(codes[i], codes[j])
                tp += same and truth
                fp += same and not truth
                fn += truth and not same
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {
        "pairs_same_place_week": len(seen),
        "precision": p,
        "recall": r,
        "f1": 2 * p * r / (p + r) if p + r else 0.0,
        "pairs_with_unknown": unknown_pairs,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", choices=["dev", "heldout"], default="dev")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--show", type=int, default=15, help="confusions and misses to print")
    ap.add_argument("--no-pairs", action="store_true", help="skip the pair bound")
    args = ap.parse_args()
    if not SPB.is_file():
        print(f"eval_problems: {SPB} not found (the St Petersburg data is not in this clone)")
        return 1
    mapping = {norm(k): v for k, v in yaml.safe_load(MAPPING.read_text())["lines"].items()}
    cmap = yaml.safe_load(CATEGORY_MAPPING.read_text())
    tax = default_taxonomy()
    unknown_codes = {c for v in mapping.values() for c in v if c not in tax.types}
    if unknown_codes:
        print(f"mapping names unknown types: {sorted(unknown_codes)}")
        return 1
    rows = load(args.split, args.limit)
    t0 = time.perf_counter()
    codes = [[h.code for h in tax.recognise(r["text"])] for r in rows]
    elapsed = time.perf_counter() - t0

    covered = sum(1 for c in codes if c)
    scored = right = right_any = scored_recognised = 0
    cat_strict = cat_acceptable = cat_n = 0
    confusions: Counter[tuple[str, str]] = Counter()
    missed: Counter[str] = Counter()
    per_reason: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for r, c in zip(rows, codes, strict=True):
        want = mapping.get(norm(r["reason"]))
        truth_cat = category_of(r, cmap)
        if c and truth_cat:
            t = tax.types[c[0]]
            cat_n += 1
            cat_strict += t.category == truth_cat
            cat_acceptable += truth_cat in t.acceptable
        if not want:
            continue
        scored += 1
        stats = per_reason[norm(r["reason"])]
        stats[0] += 1
        if not c:
            missed[norm(r["reason"])] += 1
            continue
        scored_recognised += 1
        stats[1] += 1
        ok = any(tax.compatible(c[0], w) for w in want)
        right += ok
        right_any += any(tax.compatible(x, w) for x in c for w in want)
        stats[2] += ok
        if not ok:
            confusions[(norm(r["reason"])[:70], c[0])] += 1

    n = len(rows)
    print(f"split={args.split} appeals={n} recognise: {n / elapsed:,.0f} posts/s")
    print(f"coverage: {covered}/{n} = {covered / n:.3f} have a recognised problem")
    print(
        f"type accuracy (first type admitted by the reason): {right}/{scored_recognised} = "
        f"{right / max(1, scored_recognised):.3f} of recognised; "
        f"{right / max(1, scored):.3f} of all {scored} scored"
    )
    print(f"any recognised type admitted: {right_any / max(1, scored_recognised):.3f}")
    print(
        f"category from the problem type (recognised, n={cat_n}): strict "
        f"{cat_strict / max(1, cat_n):.3f}, acceptable {cat_acceptable / max(1, cat_n):.3f}"
    )
    print(f"\nmost common confusions (reason → first type), top {args.show}:")
    for (reason, code), k in confusions.most_common(args.show):
        print(f"  {k:5d}  {reason} → {code}")
    print(f"\nreasons most often unrecognised, top {args.show}:")
    for reason, k in missed.most_common(args.show):
        total = per_reason[reason][0]
        print(f"  {k:5d}/{total:<5d} {reason[:90]}")
    if not args.no_pairs:
        bound = pair_bound(rows, codes, tax)
        print(
            "\npair bound (same building or ≤30 m, ≤7 days; same problem = compatible types):"
            f" pairs={bound['pairs_same_place_week']:,} P={bound['precision']:.3f} "
            f"R={bound['recall']:.3f} F1={bound['f1']:.3f} "
            f"(pairs with an unknown side: {bound['pairs_with_unknown']:,})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
