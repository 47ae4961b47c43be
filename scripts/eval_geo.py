"""Evaluate place finding (incidents/domain/places/) on a file of located appeals.

Reads JSON lines with `text`, `lat`, `lon`, `address` and `municipality` (the
format of the St Petersburg portal dump in /work/shared/data) whose region is
known, and prints precision and coverage of region and municipality from the
coordinates alone, from the text alone and from both, plus the speed of
locate(). Prints only figures (and, on request, a few misses to stdout);
writes nothing.

    .venv/bin/python scripts/eval_geo.py
    .venv/bin/python scripts/eval_geo.py --region RU-SPE --show-errors 10 DATA.jsonl.gz

Truth for the municipality: "город X" in the record's municipality or address
field when X is a gazetteer city of the region; else, for a federal city, the
federal city itself (its unlisted settlements belong to it); else unknown and
left out of the municipality figures.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from incidents.domain.places.gazetteer import Gazetteer, Location

DEFAULT_DATA = Path("/work/shared/data/spb-appeals.dev.jsonl.gz")
_TOWN = re.compile(r"(?:город|г\.)\s*([А-ЯЁ][а-яё]+(?:[- ][А-ЯЁ][а-яё]+)?)")


@dataclass
class Record:
    text: str
    lat: float | None
    lon: float | None
    municipality: str | None  # truth, None when unknown


@dataclass
class Score:
    """Precision = right / given; coverage = given / all that have a truth."""

    total: int = 0
    given: int = 0
    right: int = 0

    def add(self, predicted: str | None, truth: str | None) -> None:
        if truth is None:
            return
        self.total += 1
        if predicted is not None:
            self.given += 1
            self.right += predicted == truth

    def line(self, name: str) -> str:
        precision = self.right / self.given if self.given else float("nan")
        coverage = self.given / self.total if self.total else float("nan")
        return (
            f"  {name:<44} precision {precision:6.3f}  coverage {coverage:6.3f}"
            f"  ({self.right}/{self.given} right, {self.given}/{self.total} given)"
        )


def read_records(path: Path, gazetteer: Gazetteer, region: str, limit: int | None) -> list[Record]:
    opener = gzip.open if path.suffix == ".gz" else open
    federal = gazetteer.region_name(region) if region in ("RU-MOW", "RU-SPE", "RU-SEV") else None
    records = []
    with opener(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            records.append(
                Record(row.get("text") or "", row.get("lat"), row.get("lon"), _truth(row))
            )
            if limit and len(records) >= limit:
                break
    for record in records:
        town = record.municipality
        if town is not None and gazetteer.city(region, town) is None:
            town = None
        record.municipality = town or federal
    return records


def _truth(row: dict[str, object]) -> str | None:
    for key in ("municipality", "address"):
        value = row.get(key)
        if isinstance(value, str):
            match = _TOWN.search(value)
            if match:
                return match.group(1).replace("ё", "е").replace("Орел", "Орёл")
    return None


def evaluate(gazetteer: Gazetteer, records: list[Record], region: str, show_errors: int) -> None:
    runs: dict[str, Callable[[Record], Location]] = {
        "coordinates only": lambda r: gazetteer.locate("", lat=r.lat, lon=r.lon),
        "text only (no hint, no coordinates)": lambda r: gazetteer.locate(r.text),
        "text + coordinates (no hint)": lambda r: gazetteer.locate(r.text, lat=r.lat, lon=r.lon),
    }
    print(f"{len(records)} records, expected region {region}")
    for name, run in runs.items():
        region_score, municipality_score = Score(), Score()
        wrong_regions: Counter[str] = Counter()
        wrong_municipalities: Counter[tuple[str | None, str | None]] = Counter()
        errors_shown = 0
        for record in records:
            found = run(record)
            region_score.add(found.region, region)
            municipality_score.add(found.municipality, record.municipality)
            bad_region = found.region is not None and found.region != region
            if bad_region:
                wrong_regions[str(found.region)] += 1
            bad_municipality = (
                found.municipality is not None
                and record.municipality is not None
                and found.municipality != record.municipality
            )
            if bad_municipality:
                wrong_municipalities[(record.municipality, found.municipality)] += 1
            if (bad_region or bad_municipality) and errors_shown < show_errors:
                errors_shown += 1
                print(f"    miss: {found} truth={record.municipality} text={record.text[:120]!r}")
        print(name)
        print(region_score.line("region"))
        print(municipality_score.line("municipality"))
        if wrong_regions:
            print(f"    wrong regions: {dict(wrong_regions.most_common(8))}")
        if wrong_municipalities:
            print(f"    wrong municipalities (truth, found): {wrong_municipalities.most_common(8)}")


def posts_of_about(records: list[Record], chars: int) -> Iterator[str]:
    """Join consecutive texts into ~chars-long posts, to time a typical post length."""
    buffer: list[str] = []
    size = 0
    for record in records:
        buffer.append(record.text)
        size += len(record.text) + 1
        if size >= chars:
            yield " ".join(buffer)[:chars]
            buffer, size = [], 0


def measure_speed(gazetteer: Gazetteer, records: list[Record]) -> None:
    posts = list(posts_of_about(records, 250))[:5000]
    points = [(r.lat, r.lon) for r in records[: len(posts)]]
    for post in posts[:200]:  # warm-up: caches, branch paths
        gazetteer.locate(post)
    print(f"speed over {len(posts)} posts of {statistics.mean(map(len, posts)):.0f} characters")
    for name, call in (
        ("locate(text)", lambda i: gazetteer.locate(posts[i])),
        ("locate(text, hint)", lambda i: gazetteer.locate(posts[i], "RU-SPE")),
        ("locate(text, lat, lon)", lambda i: gazetteer.locate(posts[i], None, *points[i])),
    ):
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            for i in range(len(posts)):
                call(i)
            best = min(best, (time.perf_counter() - started) / len(posts))
        print(f"  {name:<24} {best * 1e6:7.1f} µs per post  ({1 / best:,.0f} posts/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--region", default="RU-SPE", help="ISO code every record lies in")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--show-errors", type=int, default=0, help="print N misses per run")
    args = parser.parse_args()

    started = time.perf_counter()
    gazetteer = Gazetteer.default()
    print(f"Gazetteer.default() loaded in {time.perf_counter() - started:.2f} s")
    records = read_records(args.data, gazetteer, args.region, args.limit)
    truths = Counter(r.municipality for r in records)
    print(f"municipality truth: {dict(truths.most_common(12))}")
    evaluate(gazetteer, records, args.region, args.show_errors)
    measure_speed(gazetteer, records)


if __name__ == "__main__":
    main()
