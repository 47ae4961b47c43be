"""Incident grouping on St Petersburg portal appeals, scored against a weak truth.

Every appeal of the chosen split goes, in time order, through the very enrich +
desk code the stream runs (OfflinePipeline), as the portal connector would
publish it: platform `pos`, region hint RU-SPE, the resident's pin as `geo`,
the portal's address line after the text (a portal whose text fields list
the address; `--no-address` leaves it out) and the reason the resident chose
as `source_topic` (`--no-source-topic` leaves it out: text alone must then
tell the problems apart, as for a social-media post). The incident id each appeal gets is
scored against the weak truth (incidents/evaluation/grouping.py): same reason,
same building or pins within 30 m, written within 7 days of each other.

    .venv/bin/python scripts/eval_grouping.py [--split dev|heldout] [--limit N]
        [--radius-m M] [--window-hours H] [--max-span-hours H] [--min-similarity S]
        [--category-model PATH] [--no-source-topic] [--no-address] [--no-geo]
        [--rubric-from-truth] [--show-errors N]

`dev` is the first half of the file (by time), `heldout` the second half (the
split of scripts/eval_dedup.py): tune on dev, report both. The data is read
from ../shared/data at run time and never written anywhere.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.progress import (  # noqa: E402
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table  # noqa: E402

from incidents.config.settings import Settings  # noqa: E402
from incidents.domain.understanding.classify import AppealClassifier, Classification  # noqa: E402
from incidents.evaluation.grouping import (  # noqa: E402
    Appeal,
    components,
    incident_ids,
    rubric_bound,
    score_weak,
    weak_truth_pairs,
)
from incidents.stream.offline import OfflinePipeline  # noqa: E402

SPB = ROOT.parent / "shared" / "data" / "spb-appeals.dev.jsonl.gz"
MSK = "+03:00"  # the portal's times are Moscow local time without an offset


def load(split: str, limit: int | None, path: Path = SPB) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    half = len(rows) // 2
    rows = rows[:half] if split == "dev" else rows[half:]
    return rows[:limit] if limit else rows


def mention_id(row: dict[str, Any]) -> str:
    return f"pos:spb/{row['id']}"


def created_at(row: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(row["created_at"] + MSK).replace(microsecond=0)


def to_raw(
    row: dict[str, Any], with_address: bool = True, with_geo: bool = True, with_topic: bool = True
) -> dict[str, Any]:
    """A portal appeal as the portal connector publishes it (RawMention v1), with the
    reason the resident chose as the portal's own topic (``source_topic``)."""
    text = row["text"].strip() or "(без текста)"
    if with_address and row.get("address"):
        text = f"{text}\n\n{row['address']}"
    raw: dict[str, Any] = {
        "id": mention_id(row),
        "platform": "pos",
        "source": {"id": "pos-spb", "name": "Наш Санкт-Петербург", "kind": "portal"},
        "text": text,
        "created_at": created_at(row).isoformat(),
        "region_hint": "RU-SPE",
    }
    if with_geo and row.get("lat") is not None and row.get("lon") is not None:
        raw["geo"] = {"lat": row["lat"], "lon": row["lon"]}
    if with_topic and row.get("reason"):
        raw["source_topic"] = row["reason"]
    return raw


def appeal(row: dict[str, Any]) -> Appeal:
    return Appeal(
        at=created_at(row).timestamp(),
        reason=" ".join((row.get("reason") or "").split()),
        building=row.get("building"),
        lat=row.get("lat"),
        lon=row.get("lon"),
    )


def settings_from(args: argparse.Namespace) -> Settings:
    s = Settings()
    changes = {
        k: v
        for k, v in (
            ("radius_m", args.radius_m),
            ("window_hours", args.window_hours),
            ("min_similarity", args.min_similarity),
            ("min_terms", args.min_terms),
            ("max_span_hours", args.max_span_hours),
            ("unknown_problem", args.unknown),
            ("unknown_similarity", args.unknown_similarity),
            ("problems", False if args.no_problems else None),
        )
        if v is not None
    }
    if changes:
        s = s.model_copy(update={"grouping": s.grouping.model_copy(update=changes)})
    if args.category_model:
        enrich = s.enrich.model_copy(update={"category_model": Path(args.category_model)})
        s = s.model_copy(update={"enrich": enrich})
    return s


class TruthRubric:
    """The ceiling of the desk's rules: the classifier's verdicts with the appeal's
    own portal reason as its category (whether it is an appeal is decided as for
    any post: every portal post is one). Grouping then fails only where place,
    time and the rules fail."""

    def __init__(self, inner: AppealClassifier, reason_of: dict[str, str]) -> None:
        self.inner = inner
        self.reason_of = reason_of

    def classify(self, texts: Sequence[str]) -> list[Classification]:
        return [
            dataclasses.replace(v, category=self.reason_of.get(t, v.category), confidence=1.0)
            for t, v in zip(texts, self.inner.classify(texts), strict=True)
        ]


def why_wrong(a: Appeal, b: Appeal) -> str:
    """Why a predicted pair is not a weak-truth pair (the first reason that applies)."""
    from incidents.evaluation.grouping import _metres

    if a.reason != b.reason:
        return "different reason"
    same_building = a.building is not None and a.building == b.building
    if not same_building and (a.lat is None or b.lat is None or _metres(a, b) > 30):
        return "different building, > 30 m"
    return "more than 7 days apart"


def _why_table(title: str, counts: Counter[str]) -> Table:
    """Pair counts by cause, most frequent first."""
    table = Table(title=title, title_justify="left")
    table.add_column("why")
    table.add_column("pairs", justify="right")
    for why, n in counts.most_common():
        table.add_row(why, f"{n:,}")
    return table


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", choices=["dev", "heldout"], default="dev")
    ap.add_argument("--limit", type=int, default=None, help="the first N appeals of the split")
    ap.add_argument("--radius-m", type=float, default=None, help="override grouping.radius_m")
    ap.add_argument("--window-hours", type=float, default=None)
    ap.add_argument("--min-similarity", type=float, default=None)
    ap.add_argument("--min-terms", type=int, default=None)
    ap.add_argument("--max-span-hours", type=float, default=None)
    ap.add_argument(
        "--no-problems",
        action="store_true",
        help="group without the problem model (category and place alone, as before it)",
    )
    ap.add_argument(
        "--unknown",
        choices=["join", "words", "never"],
        default=None,
        help="a post or incident of no recognised problem: join on place, on words, never",
    )
    ap.add_argument("--unknown-similarity", type=float, default=None)
    ap.add_argument(
        "--dump", help="write each appeal's incident, problems and category (JSONL, /tmp only)"
    )
    ap.add_argument(
        "--category-model", help="an own-rubric model from `incidents train` (default: bundled)"
    )
    ap.add_argument(
        "--rubric-from-truth",
        action="store_true",
        help="ceiling: each appeal's own portal reason as its category",
    )
    ap.add_argument("--no-address", action="store_true", help="text only, no address line")
    ap.add_argument(
        "--no-geo", action="store_true", help="no pins: place from the text (and address) only"
    )
    ap.add_argument(
        "--no-source-topic",
        action="store_true",
        help="text only: leave out the reason the resident chose (the portal's topic)",
    )
    ap.add_argument("--show-errors", type=int, default=0, help="print N wrong merges and splits")
    args = ap.parse_args()
    out = Console(width=150)
    err = Console(stderr=True)
    if not SPB.is_file():
        err.print(f"{SPB} not found: this evaluation needs the St Petersburg data")
        return 2
    with err.status("reading the appeals…"):
        rows = load(args.split, args.limit)
        raws = [
            to_raw(r, not args.no_address, not args.no_geo, not args.no_source_topic) for r in rows
        ]
        lines = [json.dumps(raw, ensure_ascii=False).encode() for raw in raws]
        items = [appeal(r) for r in rows]
        truth = weak_truth_pairs(items)
    settings = settings_from(args)
    with err.status("loading models and gazetteer…"):
        pipeline = OfflinePipeline(settings)
    if args.rubric_from_truth:
        reasons = {raw["text"]: a.reason for raw, a in zip(raws, items, strict=True)}
        pipeline.enricher.classifier = TruthRubric(  # type: ignore[assignment]
            pipeline.enricher.classifier, reasons
        )
    results = []
    t0 = time.perf_counter()
    with Progress(
        TextColumn("enrich + desk"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
    ) as bar:
        task = bar.add_task("appeals", total=len(lines))
        for r in pipeline.run(lines):
            results.append(r)
            bar.advance(task)
    secs = time.perf_counter() - t0
    decided = incident_ids(results)
    predicted = [decided.get(mention_id(r)) for r in rows]
    if args.dump:
        by_id = {r.id: r for r in results}
        with open(args.dump, "w", encoding="utf-8") as f:
            for row, inc in zip(rows, predicted, strict=True):
                r = by_id.get(mention_id(row))
                f.write(json.dumps({
                    "incident": inc, "problems": r.problems if r else None,
                    "category": r.category if r else None,
                }, ensure_ascii=False) + "\n")  # fmt: skip
    s = score_weak(predicted, truth)
    g = settings.grouping
    title = (
        f"grouping on SPb {args.split}: {len(rows):,} appeals "
        f"({rows[0]['created_at'][:10]} … {rows[-1]['created_at'][:10]}), {secs:.1f} s; "
        f"radius {g.radius_m:g} m, window {g.window_hours:g} h, "
        f"min_similarity {g.min_similarity:g}, min_terms {g.min_terms}"
        + (f", span {g.max_span_hours:g} h" if g.max_span_hours else "")
        + (", no address" if args.no_address else "")
        + (", no pins" if args.no_geo else "")
        + (", no portal topic" if args.no_source_topic else ", portal topics")
        + (", rubric = the portal's reasons (ceiling)" if args.rubric_from_truth else "")
    )
    table = Table(title=title, title_justify="left")
    for col, just in (("measure", "left"), ("precision", "right"), ("recall", "right"),
                      ("F1", "right"), ("counts", "left")):  # fmt: skip
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for row in s.rows():
        table.add_row(*row)
    # The same categories judged pair by pair, with no desk rule in between.
    bound = rubric_bound(items, [results_category(results, rows, i) for i in range(len(rows))])
    b = bound.scores
    table.add_row(
        "rubric alone (bound)",
        f"{b.precision:.4f}",
        f"{b.recall:.4f}",
        f"{b.f1:.4f}",
        f"{bound.both:,} of {bound.predicted:,} same-category pairs at one place and week",
    )
    out.print(table)
    statuses = Counter(r.status for r in results)
    out.print(
        f"appeals {s.items:,}: in an incident {s.in_incident:,} "
        f"(not taken for an appeal or rejected: {s.items - s.in_incident:,}), "
        f"incidents {s.incidents:,}; weak-truth groups of 2+ {s.true_groups:,}; "
        f"statuses {dict(statuses)}"
    )

    # Where the errors come from.
    pred_of = predicted
    members: dict[str, list[int]] = {}
    for i, p in enumerate(pred_of):
        if p is not None:
            members.setdefault(p, []).append(i)
    wrong: Counter[str] = Counter()
    wrong_by_incident: Counter[str] = Counter()
    wrong_examples: list[tuple[int, int, str]] = []
    for ids in members.values():
        for x in range(len(ids)):
            for y in range(x + 1, len(ids)):
                i, j = ids[x], ids[y]
                if (i, j) not in truth:
                    why = why_wrong(items[i], items[j])
                    wrong[why] += 1
                    wrong_by_incident[pred_of[i]] += 1
                    if len(wrong_examples) < args.show_errors:
                        wrong_examples.append((i, j, why))
    missed: Counter[str] = Counter()
    missed_examples: list[tuple[int, int, str]] = []
    for i, j in sorted(truth):
        if pred_of[i] is None or pred_of[j] is None:
            why = "one is in no incident"
        elif results_category(results, rows, i) != results_category(results, rows, j):
            why = "different predicted category"
        else:
            why = "split by the desk"
        if pred_of[i] == pred_of[j] and pred_of[i] is not None:
            continue
        missed[why] += 1
        if len(missed_examples) < args.show_errors:
            missed_examples.append((i, j, why))
    out.print(_why_table("wrong merges (predicted pairs outside the relation)", wrong))
    if wrong:
        top = wrong_by_incident.most_common(3)
        out.print(
            f"wrong pairs in the three incidents with most of them: {sum(n for _, n in top):,} "
            f"of {sum(wrong.values()):,} ("
            + ", ".join(f"{len(members[k])} posts: {n:,}" for k, n in top)
            + "): pairs grow with the square of an incident's size"
        )
    out.print(_why_table("missed pairs (relation pairs in different incidents)", missed))
    comp = components(len(rows), truth)
    sizes = Counter(Counter(comp).values())
    out.print(
        "weak-truth component sizes: "
        + ", ".join(f"{k}: {v:,}" for k, v in sorted(sizes.items())[:12])
        + (" …" if len(sizes) > 12 else "")
    )
    if args.show_errors:
        by_id = {r.id: r for r in results}
        for title, examples in (("wrong merges", wrong_examples), ("missed", missed_examples)):
            out.print(f"\n{title}:")
            for i, j, why in examples:
                for k in (i, j):
                    r = by_id.get(mention_id(rows[k]))
                    out.print(
                        f"  [{k}] {rows[k]['created_at'][:16]} b={rows[k]['building']} "
                        f"cat={r.category if r else None} {rows[k]['reason'][:50]!r} "
                        f"{rows[k]['text'][:70]!r}",
                        markup=False,
                    )
                out.print(f"    → {why}", markup=False)
    return 0


_cat_cache: dict[int, dict[str, str | None]] = {}


def results_category(results: list[Any], rows: list[dict[str, Any]], i: int) -> str | None:
    cats = _cat_cache.get(id(results))
    if cats is None:
        cats = _cat_cache[id(results)] = {r.id: r.category for r in results}
    return cats.get(mention_id(rows[i]))


if __name__ == "__main__":
    sys.exit(main())
