"""Check the hand-written development sets in tests/data/ and print their counts.

Run: python tests/data/check_devsets.py   (exit status 1 and one line per problem if invalid)
Why: the sets become unit tests, so a typo in a cue name or category code must fail loudly here.
"""

from __future__ import annotations

import collections
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

CUES = {
    "gas_smell", "fire", "danger_to_life", "live_wires", "collapse", "boiling_water",
    "no_heating", "heating_in_frost", "flooding", "no_water", "no_power", "open_manhole",
    "falling_ice", "falling_tree", "animal_attack", "sewage_spill", "accident", "injury_risk",
}  # fmt: skip
KINDS = {"negated", "hypothetical", "past", "idiom", "name", "real_hazard", "other_meaning"}
CATEGORIES = {
    "roads", "public_transport", "housing", "utilities", "landscaping", "waste", "healthcare",
    "education", "social_support", "environment", "stray_animals", "safety", "other",
}  # fmt: skip
STYLES = {"portal", "vk", "ok", "telegram"}
URGENCY = {"critical", "high", "normal"}
# ISO 3166-2:RU subjects (St Petersburg, RU-SPE, deliberately left out: these sets are elsewhere).
REGIONS = set(
    "AD AL BA BU CE CU DA IN KB KL KC KR KK KO ME MO SA SE TA TY UD ALT KAM KHA KDA KYA PER PRI "
    "STA ZAB AMU ARK AST BEL BRY CHE IRK IVA KGD KLU KEM KIR KOS KGN KRS LEN LIP MAG MOS MUR NIZ "
    "NGR NVS OMS ORE ORL PNZ PSK ROS RYA SAM SAR SAK SVE SMO TAM TVE TOM TUL TYU ULY VLA VGG VLG "
    "VOR YAR MOW YEV CHU KHM NEN YAN".split()
)
REGIONS = {"RU-" + r for r in REGIONS}


def norm(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower().replace("ё", "е")).strip()


def load(name: str, errors: list[str]) -> list[dict]:
    rows = []
    for n, line in enumerate((HERE / name).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"{name}:{n}: not JSON ({e.msg})")
            continue
        if not isinstance(row, dict):
            errors.append(f"{name}:{n}: not an object")
            continue
        row["_line"] = n
        rows.append(row)
    return rows


def common(name: str, rows: list[dict], fields: set[str], errors: list[str]) -> None:
    ids, texts = {}, {}
    for r in rows:
        where = f"{name}:{r['_line']}"
        missing = fields - r.keys()
        extra = r.keys() - fields - {"_line"}
        if missing:
            errors.append(f"{where}: missing {sorted(missing)}")
        if extra:
            errors.append(f"{where}: unknown fields {sorted(extra)}")
        if not isinstance(r.get("text"), str) or not r.get("text", "").strip():
            errors.append(f"{where}: empty text")
            continue
        if r.get("id") in ids:
            errors.append(f"{where}: id {r.get('id')} repeats line {ids[r.get('id')]}")
        ids[r.get("id")] = r["_line"]
        key = norm(r["text"])
        if key in texts:
            errors.append(f"{where}: text repeats line {texts[key]}")
        texts[key] = r["_line"]


def check_negation(errors: list[str]) -> None:
    name = "negation_dev.jsonl"
    rows = load(name, errors)
    common(name, rows, {"id", "text", "expect_cues", "forbid_cues", "kind"}, errors)
    for r in rows:
        where = f"{name}:{r['_line']}"
        exp, forb = r.get("expect_cues"), r.get("forbid_cues")
        if not isinstance(exp, list) or not isinstance(forb, list):
            errors.append(f"{where}: expect_cues/forbid_cues must be lists")
            continue
        for c in exp + forb:
            if c not in CUES:
                errors.append(f"{where}: unknown cue {c!r}")
        if set(exp) & set(forb):
            errors.append(f"{where}: cue both expected and forbidden")
        if not exp and not forb:
            errors.append(f"{where}: neither expects nor forbids anything")
        if r.get("kind") not in KINDS:
            errors.append(f"{where}: unknown kind {r.get('kind')!r}")
        if r.get("kind") == "real_hazard" and not exp:
            errors.append(f"{where}: real_hazard must expect a cue")
    firing = sum(1 for r in rows if r.get("expect_cues"))
    print(f"{name}: {len(rows)} posts, {firing} must fire, {len(rows) - firing} fire nothing")
    if len(rows) < 240:
        errors.append(f"{name}: {len(rows)} posts, want at least 240")
    if rows and not 0.50 <= (len(rows) - firing) / len(rows) <= 0.65:
        errors.append(f"{name}: non-firing share {(len(rows) - firing) / len(rows):.0%}")
    kinds = collections.Counter(r.get("kind") for r in rows)
    print("  kinds: " + ", ".join(f"{k} {n}" for k, n in kinds.most_common()))
    cues = collections.Counter(c for r in rows for c in r.get("expect_cues") or [])
    print("  expected: " + ", ".join(f"{k} {n}" for k, n in cues.most_common()))
    cues = collections.Counter(c for r in rows for c in r.get("forbid_cues") or [])
    print("  forbidden: " + ", ".join(f"{k} {n}" for k, n in cues.most_common()))


def check_problems(errors: list[str]) -> None:
    name = "problems_dev.jsonl"
    rows = load(name, errors)
    fields = {"id", "text", "region", "style", "category", "acceptable", "object", "defect"}
    common(name, rows, fields | {"urgency"}, errors)
    for r in rows:
        where = f"{name}:{r['_line']}"
        if r.get("region") not in REGIONS:
            errors.append(f"{where}: region {r.get('region')!r} not an ISO 3166-2:RU code here")
        if r.get("style") not in STYLES:
            errors.append(f"{where}: style {r.get('style')!r}")
        if r.get("category") not in CATEGORIES:
            errors.append(f"{where}: category {r.get('category')!r}")
        acc = r.get("acceptable")
        if not isinstance(acc, list) or not acc or acc[0] != r.get("category"):
            errors.append(f"{where}: acceptable must be a list starting with the category")
        elif set(acc) - CATEGORIES or len(set(acc)) != len(acc):
            errors.append(f"{where}: acceptable has unknown or repeated codes")
        for f in ("object", "defect"):
            v = r.get(f)
            if not isinstance(v, str) or not v.strip() or len(v.split()) > 4:
                errors.append(f"{where}: {f} must be 1-3 words")
        if r.get("urgency") not in URGENCY:
            errors.append(f"{where}: urgency {r.get('urgency')!r}")
    print(f"{name}: {len(rows)} posts")
    if len(rows) < 400:
        errors.append(f"{name}: {len(rows)} posts, want at least 400")
    cats = collections.Counter(r.get("category") for r in rows)
    print("  categories: " + ", ".join(f"{k} {n}" for k, n in cats.most_common()))
    for c in CATEGORIES:
        if cats[c] < 20:
            errors.append(f"{name}: category {c} has {cats[c]} posts, want at least 20")
    for f in ("urgency", "style"):
        cnt = collections.Counter(r.get(f) for r in rows)
        print(f"  {f}: " + ", ".join(f"{k} {n}" for k, n in cnt.most_common()))
    print(f"  regions: {len({r.get('region') for r in rows})}")


def main() -> int:
    errors: list[str] = []
    for check, name in (
        (check_negation, "negation_dev.jsonl"),
        (check_problems, "problems_dev.jsonl"),
    ):
        if (HERE / name).exists():
            check(errors)
        else:
            errors.append(f"{name}: missing")
    for e in errors:
        print("ERROR " + e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
