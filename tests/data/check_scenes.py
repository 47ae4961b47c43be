"""Check tests/data/grouping_scenes.jsonl: contracts, labels and the shape of every scene.

    .venv/bin/python tests/data/check_scenes.py [FILE] [--process] [--score]

Every line must decode as a RawMention with the project's own decoder and
checks, carry a `scene` and a `group` label (`<scene>-<letter>`), and every
scene must be one address: 4-12 posts over at most 5 days, at least two
networks, one region, pins within 15 m of each other. With --process the file
also goes through enrich and the desk (as `incidents process` does) and no line
may be rejected. With --score it prints the grouping's pairwise and B-cubed figures
against the labels, with the problem check and without it (docs/incidents.md).
Exits 1 with one line per fault.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from datetime import datetime
from itertools import combinations
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from incidents.contracts.models import GeoPoint  # noqa: E402
from incidents.domain.desk.grouping import haversine_m  # noqa: E402

DEFAULT = Path(__file__).with_name("grouping_scenes.jsonl")
MAX_SPREAD_M = 15.0
MAX_SPAN_DAYS = 5


def main(argv: list[str]) -> int:
    path = Path(next((a for a in argv if not a.startswith("--")), DEFAULT))
    from incidents.config.settings import load_settings
    from incidents.domain.enrichment import Enricher, InvalidInput

    settings = load_settings()
    enricher = Enricher.from_settings(settings.enrich)
    faults: list[str] = []
    scenes: dict[str, list[dict]] = defaultdict(list)
    ids: set[str] = set()
    lines = path.read_bytes().splitlines()
    for n, line in enumerate(lines, 1):
        try:
            enricher.decode(line)
        except InvalidInput as err:
            faults.append(f"{path.name}:{n}: {err.kind}: {err.reason}")
            continue
        post = json.loads(line)
        scene, group = post.get("scene"), post.get("group")
        if not scene or not group or not str(group).startswith(f"{scene}-"):
            faults.append(f"{path.name}:{n}: needs `scene` and a `group` named {scene}-<label>")
            continue
        if post["id"] in ids:
            faults.append(f"{path.name}:{n}: id {post['id']} used twice")
        ids.add(post["id"])
        scenes[scene].append(post)
    for scene, posts in scenes.items():
        times = [datetime.fromisoformat(p["created_at"]) for p in posts]
        pins = [GeoPoint(**p["geo"]) for p in posts if "geo" in p]
        spread = max((haversine_m(a, b) for a, b in combinations(pins, 2)), default=0.0)
        regions = {p["region_hint"] for p in posts if "region_hint" in p}
        for bad, what in (
            (not 4 <= len(posts) <= 12, f"{len(posts)} posts, not 4-12"),
            ((max(times) - min(times)).days >= MAX_SPAN_DAYS, "spans more than 5 days"),
            (times != sorted(times), "posts not in time order"),
            (len({p["platform"] for p in posts}) < 2, "one network only"),
            (len(regions) > 1, f"several regions {sorted(regions)}"),
            (spread > MAX_SPREAD_M, f"pins {spread:.0f} m apart"),
        ):
            if bad:
                faults.append(f"scene {scene}: {what}")
    if "--process" in argv and not faults:
        from incidents.stream.offline import OfflinePipeline

        results = list(OfflinePipeline(settings).run(lines))
        for r in results:
            if r.status == "rejected":
                faults.append(f"{r.id}: rejected by the pipeline: {r.error}")
        appeals = sum(1 for r in results if r.is_appeal)
        dups = sum(1 for r in results if r.status == "duplicate")
        print(f"pipeline: {len(results)} lines, {dups} duplicates, {appeals} taken for appeals")
    if "--score" in argv and not faults:
        from incidents.evaluation.grouping import incident_ids, score_labelled
        from incidents.stream.offline import OfflinePipeline

        labels = {p["id"]: p["group"] for ps in scenes.values() for p in ps}
        for name, problems in (("with problem types", True), ("without", False)):
            s = settings.model_copy(deep=True)
            s.grouping = s.grouping.model_copy(update={"problems": problems})
            decided = incident_ids(OfflinePipeline(s).run(lines))
            score = score_labelled([decided.get(i) for i in labels], list(labels.values()))
            pw, b3 = score.pairwise.scores, score.bcubed
            print(
                f"{name}: pairwise P {pw.precision:.3f} R {pw.recall:.3f} F1 {pw.f1:.3f}; "
                f"B-cubed F1 {b3.f1:.3f}"
            )
    groups = {p["group"] for ps in scenes.values() for p in ps}
    sizes = sorted(len(ps) for ps in scenes.values())
    print(
        f"{len(scenes)} scenes, {sum(sizes)} posts, {len(groups)} groups; "
        f"posts per scene {sizes[0] if sizes else 0}-{sizes[-1] if sizes else 0}; "
        f"without geo {sum('geo' not in p for ps in scenes.values() for p in ps)}, "
        f"without region_hint {sum('region_hint' not in p for ps in scenes.values() for p in ps)}"
    )
    for fault in faults:
        print(fault, file=sys.stderr)
    return 1 if faults else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
