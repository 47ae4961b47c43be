"""Category, urgency and negation on the held-out sets written for other regions.

Reads scripts/data/heldout/ (project-written, never trained or tuned on; see its
README) and prints totals only — never individual lines, so that reading the output
cannot turn the sets into a development set:

- `appeals_regions.jsonl` (755 appeals, 66 regions): the category's strict accuracy,
  strict macro-F1 over the 13 default codes, and how often the code is one the
  problem admits (`acceptable`); with the problem model and with the text classifier
  alone; urgency against the operator's label;
- `negation_modality.jsonl` (319 posts): the share of posts whose expected urgency
  cues all fire and whose forbidden ones all stay silent, per kind;
- `chatter_regions.jsonl` (255 non-appeals): the share flagged as appeals.

    .venv/bin/python scripts/eval_regions.py
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from incidents.config.settings import EnrichSettings  # noqa: E402
from incidents.contracts.models import RawMention, Source  # noqa: E402
from incidents.domain.enrichment import Enricher  # noqa: E402
from incidents.domain.understanding.priority import assess_priority  # noqa: E402
from incidents.domain.understanding.problems import CATEGORIES, urgencies  # noqa: E402

HELDOUT = ROOT / "scripts" / "data" / "heldout"
WHEN = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def read(name: str) -> list[dict[str, Any]]:
    with open(HELDOUT / name, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def raw(i: int, text: str, style: str) -> RawMention:
    platform = {"vk": "vk", "ok": "ok", "telegram": "telegram", "portal": "pos"}.get(style, "vk")
    return RawMention(
        id=f"{platform}:heldout-{i}",
        platform=platform,  # type: ignore[arg-type]
        source=Source(id="heldout", kind="portal" if platform == "pos" else "city_public"),
        text=text,
        created_at=WHEN,
    )


def macro_f1(truth: list[str], pred: list[str | None]) -> float:
    f1s = []
    for code in CATEGORIES:
        tp = sum(1 for t, p in zip(truth, pred, strict=True) if t == code and p == code)
        fp = sum(1 for t, p in zip(truth, pred, strict=True) if t != code and p == code)
        fn = sum(1 for t, p in zip(truth, pred, strict=True) if t == code and p != code)
        if tp + fp + fn == 0:
            continue
        f1s.append(2 * tp / (2 * tp + fp + fn))
    return sum(f1s) / len(f1s)


def categories(enricher: Enricher, rows: list[dict[str, Any]]) -> dict[str, float]:
    mentions = enricher.enrich([raw(i, r["text"], r["style"]) for i, r in enumerate(rows)])
    pred = [m.category for m in mentions]
    truth = [r["category"] for r in rows]
    n = len(rows)
    taken = [(m, r) for m, r in zip(mentions, rows, strict=True) if m.is_appeal]
    rank = {"normal": 0, "high": 1, "critical": 2}
    urg = Counter()
    for r, m in zip(rows, mentions, strict=True):
        d = rank[m.priority] - rank[r["urgency"]]
        urg["exact" if d == 0 else "lower" if d < 0 else "higher"] += 1
    return {
        "strict": sum(p == t for p, t in zip(pred, truth, strict=True)) / n,
        "acceptable": sum(p in r["acceptable"] for p, r in zip(pred, rows, strict=True)) / n,
        "macro_f1": macro_f1(truth, pred),
        "appeal": sum(m.is_appeal for m in mentions) / n,
        # the category alone: of the appeals the relevance model took for appeals
        "taken_acceptable": sum(m.category in r["acceptable"] for m, r in taken) / len(taken),
        "taken_macro_f1": macro_f1(
            [r["category"] for _, r in taken], [m.category for m, _ in taken]
        ),
        "problem": sum(bool(m.problems) for m in mentions) / n,
        "urgency_exact": urg["exact"] / n,
        "urgency_lower": urg["lower"] / n,
        "urgency_higher": urg["higher"] / n,
    }


def negation(rows: list[dict[str, Any]], enricher: Enricher) -> dict[str, tuple[int, int]]:
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    tax = enricher.problems
    for r in rows:
        types = urgencies(tax, tax.recognise(r["text"])) if tax is not None else []
        cues = set(assess_priority(r["text"], None, None, problems=types).cues)
        if "heating_in_frost" in cues:
            cues.add("no_heating")
        ok = set(r["expect_cues"]) <= cues and not (set(r["forbid_cues"]) & cues)
        by_kind[r["kind"]][0] += ok
        by_kind[r["kind"]][1] += 1
    return {k: (v[0], v[1]) for k, v in sorted(by_kind.items())}


def main() -> int:
    appeals = read("appeals_regions.jsonl")
    chatter = read("chatter_regions.jsonl")
    neg = read("negation_modality.jsonl")
    base = Enricher.from_settings(EnrichSettings())
    without = replace(base, problem_categories=False, problems=None)
    print(f"appeals_regions: {len(appeals)} appeals")
    for name, enr in (("text classifier alone", without), ("problem model", base)):
        s = categories(enr, appeals)
        print(
            f"  {name:22s} strict {s['strict']:.3f}  macro-F1 {s['macro_f1']:.3f}  "
            f"acceptable {s['acceptable']:.3f}  appeal {s['appeal']:.3f}  "
            f"(of those taken for appeals: acceptable {s['taken_acceptable']:.3f}, "
            f"macro-F1 {s['taken_macro_f1']:.3f})  "
            f"problem recognised {s['problem']:.3f}  urgency exact {s['urgency_exact']:.3f} "
            f"(lower {s['urgency_lower']:.3f}, higher {s['urgency_higher']:.3f})"
        )
    flagged = base.enrich([raw(i, r["text"], r["style"]) for i, r in enumerate(chatter)])
    print(
        f"chatter_regions: {sum(m.is_appeal for m in flagged)}/{len(chatter)} non-appeals "
        "flagged as appeals"
    )
    res = negation(neg, base)
    total_ok = sum(v[0] for v in res.values())
    print(f"negation_modality: {total_ok}/{len(neg)} posts right")
    for kind, (ok, n) in res.items():
        print(f"  {kind:15s} {ok}/{n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
