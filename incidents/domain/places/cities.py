"""The gazetteer's records: a federal subject, a city, and the towns the city list lacks.

Kept apart from the Gazetteer that loads them because the place-name forms (which
fingerprint the towns) and the mention finder (which resolves forms to cities) need
these records too, and must not import the Gazetteer that is built from both.
"""

from __future__ import annotations

from dataclasses import dataclass

CityKey = tuple[str, str]  # (region code, canonical city name)

# Towns that are municipalities inside the federal cities. The HFLabs list has
# one row per federal city, but ЦУР operators and the appeal portals treat these
# towns as places of their own. Coordinates are the town centres, populations
# rounded; OKTMO is left empty rather than guessed; all are UTC+3.
# (city, region, lat, lon, population)
_TOWNS_IN_FEDERAL_CITIES: tuple[tuple[str, str, float, float, int], ...] = (
    ("Колпино", "RU-SPE", 59.7500, 30.5900, 150_000),
    ("Пушкин", "RU-SPE", 59.7142, 30.3964, 110_000),
    ("Павловск", "RU-SPE", 59.6833, 30.4333, 17_000),
    ("Петергоф", "RU-SPE", 59.8833, 29.9000, 85_000),
    ("Ломоносов", "RU-SPE", 59.9100, 29.7700, 43_000),
    ("Кронштадт", "RU-SPE", 59.9950, 29.7700, 44_000),
    ("Сестрорецк", "RU-SPE", 60.0950, 29.9600, 41_000),
    ("Зеленогорск", "RU-SPE", 60.1950, 29.7000, 15_000),
    ("Красное Село", "RU-SPE", 59.7380, 30.0850, 60_000),
    ("Зеленоград", "RU-MOW", 55.9825, 37.1814, 250_000),
    ("Троицк", "RU-MOW", 55.4847, 37.3072, 63_000),
    ("Щербинка", "RU-MOW", 55.4997, 37.5597, 50_000),
    ("Московский", "RU-MOW", 55.5992, 37.3550, 50_000),
    ("Инкерман", "RU-SEV", 44.6140, 33.6090, 10_000),
)


@dataclass(frozen=True, slots=True)
class Region:
    """A federal subject; the capital names the city whose time zone stands for it."""

    code: str
    name: str
    kind: str
    capital: str


@dataclass(frozen=True, slots=True)
class City:
    """A gazetteer city: the unit a municipality field names."""

    name: str
    region: str
    oktmo: str | None
    utc_offset_hours: int
    lat: float
    lon: float
    population: int
    radius_km: float
