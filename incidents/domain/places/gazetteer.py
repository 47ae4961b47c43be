"""The Gazetteer: which region and municipality a post is about, and the lookups around it.

It loads the federal subjects and cities from the bundled CSVs (incidents/domain/data)
with their precomputed name forms, answers lookups (names, time zones, populations,
points) and places a point among the cities; `locate()` is the one entry point the
enrich stage and the offline `process` call on every post, weighing coordinates, the
places the text names (`mentions`), the source's hint and the address (`addresses`)
by the precedence docs/geo.md gives. A wrong place routes an appeal to the wrong
administration, so every rule errs towards leaving a field empty.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta, timezone, tzinfo
from functools import cache
from pathlib import Path
from typing import Literal

from incidents.domain import DATA
from incidents.domain.places.addresses import _find_address
from incidents.domain.places.cities import _TOWNS_IN_FEDERAL_CITIES, City, CityKey, Region
from incidents.domain.places.folding import _TOKEN, _fold, _folded
from incidents.domain.places.forms import PlaceForms, forms_fingerprint
from incidents.domain.places.mentions import MentionFinder
from incidents.domain.text import morph

DATA_DIR = DATA
REGIONS_CSV = DATA_DIR / "regions.csv"
CITIES_CSV = DATA_DIR / "ru-cities.csv"
PLACE_FORMS_FILE = DATA_DIR / "place-forms.txt"  # tab-separated; .txt is in the package data

# Coordinates (docs/geo.md): a city's radius is capped so the two capitals do not
# swallow their suburbs; outside every radius the region needs its nearest city
# within this distance and agreement of all cities up to twice as far.
_MAX_RADIUS_KM = 20.0
_REGION_NEAREST_KM = 30.0
_RUNNER_UP_MARGIN = 0.75  # inside two radii: the best distance/radius must be this much smaller

RegionSource = Literal["hint", "geo", "text"]
MunicipalitySource = Literal["text", "geo"]

MSK = timezone(timedelta(hours=3), "UTC+3")


@dataclass(frozen=True, slots=True)
class Location:
    """Where a post is about, and which evidence said so."""

    region: str | None = None
    region_source: RegionSource | None = None
    municipality: str | None = None
    municipality_source: MunicipalitySource | None = None
    oktmo: str | None = None
    address: str | None = None


def radius_km(population: int) -> float:
    """How far from its centre a point still counts as inside a city.

    A city's built-up area grows roughly like population^0.8, so its radius like
    population^0.4: ~2 km for a town of 10k, 5 km at 100k, 12.6 km at 1M. The
    cap keeps Moscow and St Petersburg from swallowing the towns around them.
    """
    return min(_MAX_RADIUS_KM, max(2.0, 0.05 * population**0.4))


# ----------------------------------------------------------------- gazetteer


class Gazetteer:
    """Russian federal subjects and cities, and the place finder over them."""

    def __init__(
        self,
        regions: Iterable[dict[str, str]],
        cities: Iterable[dict[str, str]],
        forms: PlaceForms | None = None,
    ) -> None:
        """Regions and cities as the bundled CSVs spell them; forms built if not given."""
        self._regions: dict[str, Region] = {}
        self._region_by_hflabs: dict[str, str] = {}
        self._region_acronyms: dict[str, str] = {}
        region_rows = list(regions)
        for row in region_rows:
            code = row["code"]
            self._regions[code] = Region(code, row["name"], row["kind"], row["capital"])
            self._region_by_hflabs[row["hflabs_region"]] = code
            for acronym in filter(None, row["acronyms"].split("|")):
                self._region_acronyms[_fold(acronym)] = code

        self._cities: dict[CityKey, City] = {}
        for row in cities:
            self._add_city(
                row["city"],
                self._region_by_hflabs[row["hflabs_region"]],
                row["oktmo"] or None,
                int(row["timezone"].removeprefix("UTC")),
                float(row["lat"]),
                float(row["lon"]),
                int(row["population"] or 0),
            )
        for name, region, lat, lon, population in _TOWNS_IN_FEDERAL_CITIES:
            self._add_city(name, region, None, 3, lat, lon, population)

        self._tz_cache: dict[int, timezone] = {}
        self._build_grid()
        if forms is None:
            forms = PlaceForms.build(self._cities, region_rows)
        self.place_forms = forms
        self._finder = MentionFinder(forms, self._cities, self._regions, self._region_acronyms)

    @classmethod
    def default(cls) -> Gazetteer:
        """The bundled gazetteer, loaded once per process."""
        return _default_gazetteer()

    @classmethod
    def from_files(
        cls,
        regions_csv: Path = REGIONS_CSV,
        cities_csv: Path = CITIES_CSV,
        forms_file: Path = PLACE_FORMS_FILE,
    ) -> Gazetteer:
        region_rows, city_rows = _read_rows(regions_csv, cities_csv)
        forms = PlaceForms.load(forms_file, forms_fingerprint(region_rows, city_rows))
        return cls(region_rows, city_rows, forms)

    # -------------------------------------------------------------- lookups

    def is_region(self, code: str) -> bool:
        return code in self._regions

    def region_name(self, code: str) -> str:
        return self._regions[code].name

    def region_codes(self) -> list[str]:
        return sorted(self._regions)

    def region_of_hflabs(self, hflabs_region: str) -> str | None:
        """ISO code for a region as ru-cities.csv spells it (kept for the data tests)."""
        return self._region_by_hflabs.get(hflabs_region)

    def city(self, region: str, municipality: str) -> City | None:
        return self._cities.get((region, municipality))

    def cities(self) -> list[City]:
        return list(self._cities.values())

    def timezone(self, region: str | None, municipality: str | None = None) -> tzinfo:
        """Fixed UTC offset (Russia keeps no DST): the city's, else the region capital's."""
        city = self._cities.get((region, municipality)) if region and municipality else None
        if city is None and region in self._regions:
            city = self._cities.get((region, self._regions[region].capital))
        if city is None:
            return MSK
        hours = city.utc_offset_hours
        tz = self._tz_cache.get(hours)
        if tz is None:
            tz = self._tz_cache[hours] = timezone(timedelta(hours=hours), f"UTC{hours:+d}")
        return tz

    def population(self, region: str | None, municipality: str | None) -> int | None:
        """Inhabitants of a municipality the gazetteer knows, else None."""
        city = self._cities.get((region, municipality)) if region and municipality else None
        return city.population if city else None

    def municipality_point(self, region: str, municipality: str) -> tuple[float, float] | None:
        city = self._cities.get((region, municipality))
        return (city.lat, city.lon) if city else None

    # --------------------------------------------------------------- locate

    def locate(
        self,
        text: str,
        region_hint: str | None = None,
        lat: float | None = None,
        lon: float | None = None,
    ) -> Location:
        """Region, municipality and address of a post (precedence in docs/geo.md).

        Explicit coordinates beat a municipality named in the text, which beats
        the source's region hint, which beats a region named in the text.
        Nothing is ever defaulted: no evidence, no value.
        """
        if region_hint is not None and region_hint not in self._regions:
            region_hint = None
        geo_city: City | None = None
        geo_region: str | None = None
        if lat is not None and lon is not None:
            geo_city, geo_region = self.place_of_point(lat, lon)

        folded = _folded(text)
        keys = _TOKEN.findall(folded)
        evidence = self._finder.scan(text, folded, keys)
        named = set(evidence.regions_named)
        text_city = self._finder.resolve(evidence, geo_region, named, region_hint)

        address = _find_address(text, folded, keys)
        if geo_region is not None:
            if geo_city is not None:
                return Location(geo_region, "geo", geo_city.name, "geo", geo_city.oktmo, address)
            if text_city is not None and text_city.region == geo_region:
                return Location(geo_region, "geo", text_city.name, "text", text_city.oktmo, address)
            return Location(geo_region, "geo", address=address)

        if text_city is not None:
            return Location(
                text_city.region, "text", text_city.name, "text", text_city.oktmo, address
            )
        text_region = self._finder.region_of_mentions(evidence, region_hint)
        if text_region is not None:
            return Location(text_region, "text", address=address)
        if region_hint is not None:
            return Location(region_hint, "hint", address=address)
        if len(named) == 1:
            return Location(named.pop(), "text", address=address)
        return Location(address=address)

    # ----------------------------------------------------------- coordinates

    def place_of_point(self, lat: float, lon: float) -> tuple[City | None, str | None]:
        """City the point lies in, and its region; conservative near borders.

        Inside a city's radius (the smallest distance/radius wins, and must be
        clearly smaller than the runner-up's) → that city and its region. Else
        the region only when the nearest city is within 30 km and every city
        within max(30 km, twice that distance) lies in the same region.
        """
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0) or math.isnan(lat + lon):
            return None, None
        near = self._cities_near(lat, lon, _MAX_RADIUS_KM)
        inside = sorted(
            ((d / c.radius_km, c) for d, c in near if d <= c.radius_km), key=lambda pair: pair[0]
        )
        if inside:
            best_ratio, best = inside[0]
            if len(inside) == 1 or best_ratio <= _RUNNER_UP_MARGIN * inside[1][0]:
                return best, best.region
            return None, None
        near = self._cities_near(lat, lon, 2 * _REGION_NEAREST_KM)
        if not near or near[0][0] > _REGION_NEAREST_KM:
            return None, None
        nearest_d = near[0][0]
        reach = max(_REGION_NEAREST_KM, 2 * nearest_d)
        regions = {c.region for d, c in near if d <= reach}
        return (None, regions.pop()) if len(regions) == 1 else (None, None)

    def _build_grid(self) -> None:
        grid: dict[tuple[int, int], list[City]] = defaultdict(list)
        for city in self._cities.values():
            grid[(math.floor(city.lat), math.floor(city.lon) % 360)].append(city)
        self._grid = dict(grid)

    def _cities_near(self, lat: float, lon: float, max_km: float) -> list[tuple[float, City]]:
        """Cities within max_km of the point, nearest first (equirectangular distance)."""
        cos_lat = max(0.05, math.cos(math.radians(lat)))
        lat_cells = math.ceil(max_km / 110.0)
        lon_cells = math.ceil(max_km / (111.3 * cos_lat))
        cell_lat, cell_lon = math.floor(lat), math.floor(lon)
        found = []
        for dlat in range(-lat_cells, lat_cells + 1):
            for dlon in range(-lon_cells, lon_cells + 1):
                for city in self._grid.get((cell_lat + dlat, (cell_lon + dlon) % 360), ()):
                    dx = ((city.lon - lon + 180.0) % 360.0 - 180.0) * 111.3 * cos_lat
                    dy = (city.lat - lat) * 110.6
                    d = math.hypot(dx, dy)
                    if d <= max_km:
                        found.append((d, city))
        found.sort(key=lambda pair: pair[0])
        return found

    # ------------------------------------------------------------ building

    def _add_city(
        self,
        name: str,
        region: str,
        oktmo: str | None,
        utc_offset: int,
        lat: float,
        lon: float,
        population: int,
    ) -> None:
        key = (region, name)
        if key in self._cities:
            raise ValueError(f"duplicate city {name} in {region}")
        self._cities[key] = City(
            name, region, oktmo, utc_offset, lat, lon, population, radius_km(population)
        )


@cache
def _default_gazetteer() -> Gazetteer:
    gazetteer = Gazetteer.from_files()
    # the rare adjective checks need the analyzer: load it now, not mid-stream
    morph.analyzer()
    return gazetteer


def write_place_forms(path: Path = PLACE_FORMS_FILE) -> Path:
    """Rebuild the bundled forms file from the bundled CSVs (scripts/build_geo_forms.py)."""
    region_rows, city_rows = _read_rows(REGIONS_CSV, CITIES_CSV)
    gazetteer = Gazetteer(region_rows, city_rows, forms=None)
    gazetteer.place_forms.dump(path, forms_fingerprint(region_rows, city_rows))
    return path


def _read_rows(
    regions_csv: Path, cities_csv: Path
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    with regions_csv.open(encoding="utf-8", newline="") as regions_file:
        regions = list(csv.DictReader(regions_file))
    with cities_csv.open(encoding="utf-8", newline="") as cities_file:
        cities = list(csv.DictReader(cities_file))
    return regions, cities
