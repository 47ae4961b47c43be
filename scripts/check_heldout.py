"""Check the project-written held-out sets in scripts/data/heldout/ and print their counts.

    python scripts/check_heldout.py

Validates every line (JSON, required fields, allowed codes, no duplicate texts
within or across the files, none copied from the older sets in scripts/data/)
and exits 1 with one line per problem. `load(name)` is the loader evaluations use.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent / "data" / "heldout"
CATEGORIES = {
    "roads", "public_transport", "housing", "utilities", "landscaping", "waste", "healthcare",
    "education", "social_support", "environment", "stray_animals", "safety", "other",
}  # fmt: skip
CUES = {
    "gas_smell", "fire", "danger_to_life", "live_wires", "collapse", "boiling_water",
    "no_heating", "heating_in_frost", "flooding", "no_water", "no_power", "open_manhole",
    "falling_ice", "falling_tree", "animal_attack", "sewage_spill", "accident", "injury_risk",
}  # fmt: skip
STYLES = {"portal", "vk", "ok", "telegram"}
URGENCY = {"critical", "high", "normal"}
NEG_KINDS = {"negated", "hypothetical", "past", "idiom", "name", "real_hazard", "other_meaning"}
CHAT_KINDS = {
    "joke", "news", "stream", "horoscope", "aphorism", "ad", "smm", "politics", "thanks",
    "announcement", "question", "other",
}  # fmt: skip
REGION = re.compile(r"^RU-[A-Z]{2,3}$")
MINIMUM = {
    "appeals_regions.jsonl": 600,
    "negation_modality.jsonl": 260,
    "chatter_regions.jsonl": 250,
}


def load(name: str) -> list[dict[str, Any]]:
    """All objects of one held-out file, in order."""
    with open(HERE / name, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _norm(text: str) -> str:
    return " ".join(text.lower().replace("ё", "е").split())


def _check(name: str, row: dict[str, Any], errors: list[str]) -> None:
    where = f"{name} {row.get('id')}"
    need = {
        "appeals_regions.jsonl": (
            "id", "region", "city", "style", "text", "category", "acceptable", "problem", "urgency",
        ),
        "negation_modality.jsonl": ("id", "text", "expect_cues", "forbid_cues", "kind"),
        "chatter_regions.jsonl": ("id", "region", "style", "kind", "text"),
    }[name]  # fmt: skip
    missing = [k for k in need if not row.get(k) and row.get(k) != []]
    if missing or set(row) - set(need):
        errors.append(f"{where}: missing {missing}, extra {sorted(set(row) - set(need))}")
        return
    if "region" in row and not REGION.match(row["region"]):
        errors.append(f"{where}: region {row['region']!r}")
    if "style" in row and row["style"] not in STYLES:
        errors.append(f"{where}: style {row['style']!r}")
    if name == "appeals_regions.jsonl":
        acc = row["acceptable"]
        if row["category"] not in CATEGORIES or not set(acc) <= CATEGORIES:
            errors.append(f"{where}: unknown category in {row['category']} / {acc}")
        if row["category"] not in acc or len(set(acc)) != len(acc):
            errors.append(f"{where}: acceptable {acc} must hold category once")
        if row["urgency"] not in URGENCY:
            errors.append(f"{where}: urgency {row['urgency']!r}")
    elif name == "negation_modality.jsonl":
        exp, forb = set(row["expect_cues"]), set(row["forbid_cues"])
        if not (exp | forb) <= CUES or exp & forb or not (exp | forb):
            errors.append(f"{where}: cues expect {sorted(exp)} forbid {sorted(forb)}")
        if row["kind"] not in NEG_KINDS:
            errors.append(f"{where}: kind {row['kind']!r}")
        if row["kind"] == "real_hazard" and not exp:
            errors.append(f"{where}: a real_hazard must expect a cue")
    elif row["kind"] not in CHAT_KINDS:
        errors.append(f"{where}: kind {row['kind']!r}")


def main() -> int:
    errors: list[str] = []
    seen: dict[str, str] = {}
    older = set()
    for path in (HERE.parent).glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("{"):
                older.add(_norm(json.loads(line)["text"]))
    for name, minimum in MINIMUM.items():
        rows = load(name)
        ids = Counter(r.get("id") for r in rows)
        errors += [f"{name}: id {i} used {n} times" for i, n in ids.items() if n > 1]
        for row in rows:
            _check(name, row, errors)
            key = _norm(str(row.get("text", "")))
            if key in seen:
                errors.append(f"{name} {row.get('id')}: same text as {seen[key]}")
            if key in older:
                errors.append(f"{name} {row.get('id')}: text copied from scripts/data/*.jsonl")
            seen[key] = f"{name} {row.get('id')}"
        if len(rows) < minimum:
            errors.append(f"{name}: {len(rows)} lines, want at least {minimum}")
        print(f"{name}: {len(rows)} lines")
        if name == "appeals_regions.jsonl":
            cats = Counter(r["category"] for r in rows)
            print("  category:", dict(cats.most_common()))
            print("  urgency: ", dict(Counter(r["urgency"] for r in rows).most_common()))
            print("  style:   ", dict(Counter(r["style"] for r in rows).most_common()))
            multi = sum(len(r["acceptable"]) > 1 for r in rows)
            regions, cities = len({r["region"] for r in rows}), len({r["city"] for r in rows})
            print(f"  regions: {regions}, cities: {cities}, more than one acceptable code: {multi}")
            errors += [f"{name}: {c} only {cats[c]} times" for c in CATEGORIES if cats[c] < 25]
        elif name == "negation_modality.jsonl":
            kinds = Counter(r["kind"] for r in rows)
            firing = kinds["real_hazard"]
            print("  kind:", dict(kinds.most_common()))
            rest = len(rows) - firing
            print(f"  real hazards {firing} ({firing / len(rows):.0%}), non-firing {rest}")
            print("  expected cues:", dict(Counter(c for r in rows for c in r["expect_cues"])))
            print("  forbidden cues:", dict(Counter(c for r in rows for c in r["forbid_cues"])))
        else:
            print("  kind: ", dict(Counter(r["kind"] for r in rows).most_common()))
            print("  style:", dict(Counter(r["style"] for r in rows).most_common()))
    for e in errors:
        print("ERROR", e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
