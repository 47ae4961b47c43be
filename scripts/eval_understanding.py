"""Measure the appeal understanding: rubric, relevance, own rubric, routing, speed.

    python scripts/eval_understanding.py                  # everything
    python scripts/eval_understanding.py --only default relevance speed

Reads the St Petersburg dev data from ../shared/data (or --spb PATH) when it is
there; writes nothing into the repository (trained models go to /tmp).
The numbers are quoted in docs/understanding.md.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from incidents.domain.understanding.classify import AppealClassifier  # noqa: E402
from incidents.domain.understanding.features import _tokens  # noqa: E402
from incidents.domain.understanding.priority import assess_priority  # noqa: E402
from incidents.domain.understanding.routing import RoutingTable  # noqa: E402
from incidents.evaluation.labelled import evaluate  # noqa: E402
from incidents.evaluation.learner import train_category_model  # noqa: E402

SCRIPTS = Path(__file__).resolve().parent
DEFAULT_SPB = ROOT.parent / "shared" / "data" / "spb-appeals.dev.jsonl.gz"
SECTIONS = ("default", "relevance", "own", "routing", "speed")


def load_spb(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def spb_mapping() -> tuple[dict[str, str], dict[str, str]]:
    doc = yaml.safe_load((SCRIPTS / "spb_default_mapping.yaml").read_text(encoding="utf-8"))
    norm = lambda s: " ".join(s.split())  # noqa: E731
    return (
        {norm(k): v for k, v in doc["by_category"].items()},
        {norm(k): v for k, v in doc["by_reason"].items()},
    )


def map_default(row: dict[str, Any], by_cat: dict[str, str], by_reason: dict[str, str]) -> str:
    reason = " ".join((row.get("reason") or "").split())
    if reason in by_reason:
        return by_reason[reason]
    return by_cat[" ".join(row["category"].split())]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip() and not line.startswith("//")]


def section(title: str) -> None:
    print()
    print("=" * 78)
    print(title)
    print("=" * 78)


def eval_default(rows: list[dict[str, Any]]) -> None:
    section("1. default rubric on SPb appeals (never trained on SPb)")
    by_cat, by_reason = spb_mapping()
    clf = AppealClassifier.default()
    texts = [r["text"] for r in rows]
    truth = [map_default(r, by_cat, by_reason) for r in rows]
    t0 = time.perf_counter()
    pred = []
    for i in range(0, len(texts), 500):
        pred.extend(c.category or "none" for c in clf.classify(texts[i : i + 500]))
    dt = time.perf_counter() - t0
    rep = evaluate(truth, pred)
    print(f"{len(texts)} appeals, classified in {dt:.1f} s")
    print(rep.render())
    present = sorted(set(truth))
    f1s = [rep.per_class[c][2] for c in present]
    print(f"macro-F1 over the {len(present)} codes present in the truth: {sum(f1s) / len(f1s):.4f}")
    own = SCRIPTS / "data" / "appeals_heldout.jsonl"
    if own.exists():
        hand = read_jsonl(own)
        got = [c.category or "none" for c in clf.classify([h["text"] for h in hand])]
        rep2 = evaluate([h["category"] for h in hand], got)
        print()
        print(f"hand-written held-out appeals, all 13 codes ({own.relative_to(ROOT)}):")
        print(rep2.render())


def eval_relevance(rows: list[dict[str, Any]], n_pos: int, seed: int) -> None:
    section("2. relevance: SPb appeals (positives) vs held-out self-written non-appeals")
    clf = AppealClassifier.default()
    rng = random.Random(seed)
    pos = [r["text"] for r in rng.sample(rows, min(n_pos, len(rows)))]
    neg_rows = read_jsonl(SCRIPTS / "data" / "non_appeals_heldout.jsonl")
    neg = [r["text"] for r in neg_rows]
    own_pos_path = SCRIPTS / "data" / "appeals_heldout.jsonl"
    own_pos = [r["text"] for r in read_jsonl(own_pos_path)] if own_pos_path.exists() else []

    def run(pos_texts: list[str], label: str) -> None:
        cp = clf.classify(pos_texts)
        cn = clf.classify(neg)
        tp = sum(c.is_appeal for c in cp)
        fn = len(cp) - tp
        fp = sum(c.is_appeal for c in cn)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / len(cp)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        print(
            f"{label}: positives={len(cp)} negatives={len(cn)}  recall={recall:.4f} "
            f"precision={precision:.4f} F1={f1:.4f}  false-positive rate={fp / len(cn):.4f} "
            f"(fp={fp}, fn={fn})"
        )
        # balanced view: F1 if positives and negatives were equally many
        w = len(cn) / len(cp)
        bp = tp * w / (tp * w + fp) if tp + fp else 0.0
        bf1 = 2 * bp * recall / (bp + recall) if bp + recall else 0.0
        print(f"   same, positives reweighted to the number of negatives: F1={bf1:.4f}")
        return None

    run(pos, "SPb sample")
    if own_pos:
        run(own_pos, "hand-written held-out appeals")
    fps = [(c.appeal_score, t) for c, t in zip(clf.classify(neg), neg, strict=True) if c.is_appeal]
    for score, text in sorted(fps, reverse=True)[:15]:
        print(f"   FP {score:.2f}  {text[:100]}")
    fns = [
        (c.appeal_score, t) for c, t in zip(clf.classify(pos), pos, strict=True) if not c.is_appeal
    ]
    for score, text in sorted(fns)[:15]:
        print(f"   FN {score:.2f}  {text[:100]}")
    kinds = Counter(r.get("kind", "?") for r in neg_rows)
    flagged = Counter(
        r.get("kind", "?") for r, c in zip(neg_rows, clf.classify(neg), strict=True) if c.is_appeal
    )
    print("   flagged by kind:", {k: f"{flagged.get(k, 0)}/{n}" for k, n in sorted(kinds.items())})


def time_split(rows: list[dict[str, Any]], share: float) -> tuple[list[int], list[int]]:
    """Earlier part to train, the latest ``share`` held out minus texts seen in training."""
    order = sorted(range(len(rows)), key=lambda i: rows[i]["created_at"])
    cut = int(len(order) * (1 - share))
    train, held = order[:cut], order[cut:]
    seen = {" ".join(_tokens(rows[i]["text"])) for i in train}
    held = [i for i in held if " ".join(_tokens(rows[i]["text"])) not in seen]
    return train, held


def eval_own(rows: list[dict[str, Any]], share: float) -> None:
    section("3. own rubric: train on earlier SPb cases (15 categories), test on the latest")
    train, held = time_split(rows, share)
    texts = [rows[i]["text"] for i in train]
    labels = [rows[i]["category"] for i in train]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "spb.npz"
        t0 = time.perf_counter()
        report = train_category_model(texts, labels, out)
        print(
            f"trained on {report.n_train} in {time.perf_counter() - t0:.1f} s, "
            f"{report.n_features} features"
        )
        clf = AppealClassifier.load(out)
        held_texts = [rows[i]["text"] for i in held]
        t0 = time.perf_counter()
        pred = [c.category for c in clf.classify(held_texts)]
        dt = time.perf_counter() - t0
    rep = evaluate([rows[i]["category"] for i in held], [p or "none" for p in pred])
    print(
        f"held out {len(held)} (latest {share:.0%} by time, exact repeats of training texts "
        f"removed), classified in {dt:.1f} s"
    )
    print(rep.render())


def eval_routing(rows: list[dict[str, Any]], share: float) -> None:
    section("4. routing learned from SPb history (category, district → executor)")
    rows = [r for r in rows if r.get("executor")]
    order = sorted(range(len(rows)), key=lambda i: rows[i]["created_at"])
    cut = int(len(order) * (1 - share))
    train, held = order[:cut], order[cut:]
    for key in ("category", "reason"):
        for min_support in (1, 5, 20):
            table = RoutingTable.learn(
                ((rows[i][key], "RU-SPE", rows[i]["district"], rows[i]["executor"]) for i in train),
                min_support=min_support,
            )
            ok = sum(
                table.route(rows[i][key], "RU-SPE", rows[i]["district"]) == rows[i]["executor"]
                for i in held
            )
            n_entries = len(table.municipalities) + len(table.regions) + 1
            print(
                f"key={key:<8} min_support={min_support:<3} held-out {len(held)}: "
                f"correct executor {ok / len(held):.4f}  ({n_entries} place nodes)"
            )
    # predicted category instead of the resident's own choice
    clf = AppealClassifier.default()
    by_cat, by_reason = spb_mapping()
    table = RoutingTable.learn(
        (
            (
                map_default(rows[i], by_cat, by_reason),
                "RU-SPE",
                rows[i]["district"],
                rows[i]["executor"],
            )
            for i in train
        ),
        min_support=5,
    )
    held_texts = [rows[i]["text"] for i in held]
    cats = [c.category for c in clf.classify(held_texts)]
    ok = sum(
        table.route(c, "RU-SPE", rows[i]["district"]) == rows[i]["executor"]
        for c, i in zip(cats, held, strict=True)
    )
    print(
        f"default codes predicted by AppealClassifier.default(), table learned on mapped "
        f"codes: correct executor {ok / len(held):.4f}"
    )
    base = Counter(rows[i]["executor"] for i in train).most_common(1)[0]
    print(
        f"baseline (always the most common executor {base[0]!r}): "
        f"{sum(rows[i]['executor'] == base[0] for i in held) / len(held):.4f}"
    )


def synthetic_texts(n: int, seed: int) -> list[str]:
    """~250-character appeals assembled from the held-out appeal texts."""
    rng = random.Random(seed)
    pool = [r["text"] for r in read_jsonl(SCRIPTS / "data" / "appeals_heldout.jsonl")]
    out = []
    for _ in range(n):
        t = ""
        while len(t) < 230:
            t = (t + " " + rng.choice(pool)).strip()
        out.append(t[:260])
    return out


def eval_speed(rows: list[dict[str, Any]] | None) -> None:
    section("5. speed (one core)")
    clf = AppealClassifier.default()
    texts = synthetic_texts(5000, 1)
    if rows:
        rng = random.Random(2)
        spb = [r["text"] for r in rows if len(r["text"]) >= 200]
        texts = [t[:260] for t in rng.sample(spb, min(5000, len(spb)))] + texts
    print(f"{len(texts)} texts, mean length {statistics.mean(map(len, texts)):.0f} chars")
    for label, warm in (("cold caches", False), ("warm caches", True)):
        if warm:
            clf.classify(texts)
        for batch in (100, 250, 500):
            t0 = time.perf_counter()
            for i in range(0, len(texts), batch):
                clf.classify(texts[i : i + batch])
            dt = time.perf_counter() - t0
            print(f"classify, {label}, batches of {batch}: {len(texts) / dt:,.0f} texts/s")
            if not warm:
                break
    t0 = time.perf_counter()
    for t in texts:
        assess_priority(t, "utilities", {"likes": 3, "reposts": 0})
    dt = time.perf_counter() - t0
    print(f"assess_priority: {len(texts) / dt:,.0f} texts/s")
    table = RoutingTable.load()
    t0 = time.perf_counter()
    for _ in range(10):
        for _t in texts:
            table.route("roads", "RU-TVE", "Тверь")
    dt = time.perf_counter() - t0
    print(f"RoutingTable.route: {10 * len(texts) / dt:,.0f} lookups/s")
    t0 = time.perf_counter()
    for i in range(0, len(texts), 250):
        batch = texts[i : i + 250]
        for t, c in zip(batch, clf.classify(batch), strict=True):
            assess_priority(t, c.category)
            table.route(c.category, "RU-TVE", "Тверь")
    dt = time.perf_counter() - t0
    print(f"classify + priority + route together (batches of 250): {len(texts) / dt:,.0f} texts/s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--spb", type=Path, default=DEFAULT_SPB)
    ap.add_argument("--only", nargs="*", choices=SECTIONS, default=list(SECTIONS))
    ap.add_argument("--positives", type=int, default=5000, help="SPb sample size for relevance")
    ap.add_argument("--held-share", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rows = load_spb(args.spb) if args.spb.exists() else None
    if rows is None:
        print(f"{args.spb} not found: SPb sections skipped")
    t0 = time.perf_counter()
    if "default" in args.only and rows:
        eval_default(rows)
    if "relevance" in args.only and rows:
        eval_relevance(rows, args.positives, args.seed)
    if "own" in args.only and rows:
        eval_own(rows, args.held_share)
    if "routing" in args.only and rows:
        eval_routing(rows, args.held_share)
    if "speed" in args.only:
        eval_speed(rows)
    print(f"\n(total {time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
