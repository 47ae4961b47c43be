"""Rebuild incidents/domain/data/place-forms.txt, the gazetteer's precomputed name forms.

The gazetteer inflects every city and region name with pymorphy3 and judges
each form against the general dictionary; that takes ~1.5 s, too slow for every
worker start, so the result is bundled. Run this after editing regions.csv,
ru-cities.csv or the name tables in incidents/domain/places/forms.py and cities.py (a
unit test fails while the bundled file is stale; a stale file is never used, only slower).

    .venv/bin/python scripts/build_geo_forms.py

The output is derived from ru-cities.csv and so is under CC BY-SA 4.0 like it
(see incidents/domain/data/ru-cities.LICENSE.md).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from incidents.domain.places.gazetteer import PLACE_FORMS_FILE, write_place_forms


def main() -> None:
    started = time.perf_counter()
    path = write_place_forms(PLACE_FORMS_FILE)
    lines = path.read_text(encoding="utf-8").count("\n")
    print(f"wrote {path} ({lines} lines) in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
