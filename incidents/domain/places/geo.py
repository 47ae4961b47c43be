"""Gazetteer and place finding: which region and municipality a post is about.

The enrich stage runs this on every post at thousands of posts a second, so
the expensive linguistics happen once, at load: pymorphy3 inflects every city
and region name into its case forms ("Тверь" → "твери", "тверью" ...), and
judges each surface form against the general dictionary (is "орле" also a
bird? is "кирова" also a surname?). The hot path is then a tokeniser, one dict
lookup per token and a handful of context checks on the rare hits. A wrong
place routes an appeal to the wrong administration, so every rule errs towards
leaving a field empty; docs/geo.md explains the rules and how to tune them.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.metadata
import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta, timezone, tzinfo
from functools import cache, lru_cache
from itertools import pairwise, product
from pathlib import Path
from typing import Literal

from incidents.domain import DATA
from incidents.domain.text import morph

DATA_DIR = DATA
REGIONS_CSV = DATA_DIR / "regions.csv"
CITIES_CSV = DATA_DIR / "ru-cities.csv"
PLACE_FORMS_FILE = DATA_DIR / "place-forms.txt"  # tab-separated; .txt is in the package data
_FORMS_VERSION = "3"  # bump when the way forms or kinds are derived changes

# Coordinates (docs/geo.md): a city's radius is capped so the two capitals do not
# swallow their suburbs; outside every radius the region needs its nearest city
# within this distance and agreement of all cities up to twice as far.
_MAX_RADIUS_KM = 20.0
_REGION_NEAREST_KM = 30.0
_RUNNER_UP_MARGIN = 0.75  # inside two radii: the best distance/radius must be this much smaller

RegionSource = Literal["hint", "geo", "text"]
MunicipalitySource = Literal["text", "geo"]
CityKey = tuple[str, str]  # (region code, canonical city name)
Reading = tuple[str, str, str | None]  # (case, number, gender) of one grammatical reading

MSK = timezone(timedelta(hours=3), "UTC+3")

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

# Colloquial names people write for a city; they are inflected like the name.
_CITY_ALIASES: dict[tuple[str, str], tuple[str, ...]] = {
    ("RU-SPE", "Санкт-Петербург"): ("Петербург", "Питер", "СПб", "Санкт Петербург"),
    ("RU-ROS", "Ростов-на-Дону"): ("Ростов на Дону", "Ростов"),
    ("RU-NIZ", "Нижний Новгород"): ("Н. Новгород",),
    ("RU-SVE", "Екатеринбург"): ("Екб",),
    ("RU-NVS", "Новосибирск"): ("Новосиб",),
    ("RU-KHA", "Комсомольск-на-Амуре"): ("Комсомольск на Амуре",),
    ("RU-KAM", "Петропавловск-Камчатский"): ("Петропавловск Камчатский",),
    ("RU-TA", "Набережные Челны"): ("Челны", "Набчелны"),
    ("RU-NGR", "Великий Новгород"): ("Новгород",),
    ("RU-STA", "Минеральные Воды"): ("Минводы",),
}

# Forms whose other readings are rare in posts although the dictionary lists
# them (a sturgeon, a verb form, a plant's name): treat them as clear names.
_CLEAR_NAMES = frozenset(
    {"Калуга", "Сочи", "Электросталь", "Муром", "Елец", "Азов", "Феодосия", "Питер", "Петербург"}
)
# Towns named after the river or lake they stand on: "на Оби", "в Онеге" are as
# often the water; treat them like common words (capitals and more evidence).
_ALSO_WATER_NAMES = frozenset(
    {"Обь", "Онега", "Терек", "Шилка", "Зея", "Ишим", "Неман", "Кемь", "Истра", "Руза"}
    | {"Сунжа", "Тавда", "Чулым", "Алдан", "Печора", "Мезень", "Белая Калитва"}
)
# Names that need a "г."/"город" marker however they are written: they are far
# more often a district, street or adjective than the town.
_MARKER_ONLY_NAMES = frozenset({"Московский", "Советский", "Октябрьский"})

_NAME_LINKS = frozenset({"на", "в", "над"})  # "Ростов-на-Дону": these never decline
_CASES = ("nomn", "gent", "datv", "accs", "ablt", "loct")
_CASE_ALIASES = {"loc2": "loct", "gen2": "gent", "acc2": "accs", "gen1": "gent", "loc1": "loct"}

# How much evidence a surface form needs (see docs/geo.md, "ambiguous names").
_CLEAR, _WORD, _PERSON, _MARKER_ONLY = 0, 1, 2, 3

_CITY_MARKERS = frozenset({"г", "город", "города", "городе", "городу", "городом", "го"})
# preposition → cases of a place after it that mean "in/at/near/from that place"
_PLACE_PREPOSITIONS: dict[str, frozenset[str]] = {
    "в": frozenset({"loct", "accs"}),
    "во": frozenset({"loct", "accs"}),
    "под": frozenset({"ablt", "accs"}),
    "около": frozenset({"gent"}),
    "возле": frozenset({"gent"}),
    "близ": frozenset({"gent"}),
    "вблизи": frozenset({"gent"}),
    "из": frozenset({"gent"}),
    "изо": frozenset({"gent"}),
}
_LOCATIVE_PREPOSITIONS = frozenset({"в", "во", "под", "около", "возле", "близ", "вблизи"})
# A place name right after these is part of a street, an organisation or a
# different settlement ("ул. Кирова", "ЖК «Москва»", "с. Орёл").
_NOT_A_CITY_BEFORE = frozenset(
    """ул улица улице улицы улицу улицей пр пр-т пр-кт просп проспект проспекта проспекте
    проспекту проспектом пер переулок переулка переулке пл площадь площади площадью б-р
    бульвар бульвара бульваре наб набережная набережной набережную ш шоссе проезд проезда
    проезде тупик аллея аллеи аллее мкр мкрн микрорайон микрорайона микрорайоне им имени
    памятник памятника памятнику памятнике станция станции ст метро м жк тц трц трк кп снт
    днт тсн тсж ооо оао зао пао ао нко фк хк пфк кафе ресторан ресторана ресторане гостиница
    гостиницы гостинице отель отеля отеле кинотеатр кинотеатра кинотеатре стадион стадиона
    стадионе магазин магазина магазине клуб клуба клубе газета газеты газете телеканал
    телеканала радио теплоход поезд поезда поездом рейс рейса село села селе селу дер деревня
    деревни деревне деревню пос поселок поселка поселке пгт рп ст-ца станица станицы станице
    хутор хутора хуторе аул аула ауле сп уезд парк парка парке парку сквер сквера сквере сад
    сада саду лес леса лесу роща рощи роще пруд пруда пруду озеро озера озере река реки реке
    речка речки канал канала канале залив залива заливе остров острова острове порт порта порту
    тк ук гуп муп рэп жэк жск гск тд ип банк банка компания компании фирма фирмы завод завода
    заводе фабрика фабрики вокзал вокзала вокзале платформа платформы платформе аэропорт
    аэропорта аэропорту рынок рынка рынке мост моста мосту команда команды сборная сборной театр
    театра театре музей музея музее академия академии университет университета институт
    института колледж колледжа лицей лицея школа школы гимназия гимназии""".split()
)
_SETTLEMENT_ABBREVIATIONS = frozenset({"с", "д", "п", "х"})  # only with a dot: "с. Орёл"
_OPENING_QUOTES = frozenset("«\"“„'")

_REGION_TYPE_WORDS: dict[str, frozenset[str]] = {
    "oblast": frozenset(
        "область области областью областей областям областями областях обл".split()
    ),
    "krai": frozenset("край края краю краем крае краев краям краями краях кр".split()),
    "republic": frozenset(
        """республика республики республике республику республикой республикою республик
        республикам республиками республиках респ рес""".split()
    ),
    "autonomous_okrug": frozenset(
        "округ округа округу округом округе округов округам округами округах ао".split()
    ),
    "autonomous_oblast": frozenset(
        "область области областью областей областям областями областях обл ао".split()
    ),
}

_TOKEN = re.compile(r"[а-яa-z0-9]+(?:-[а-яa-z0-9]+)*")


@dataclass(frozen=True, slots=True)
class Location:
    """Where a post is about, and which evidence said so."""

    region: str | None = None
    region_source: RegionSource | None = None
    municipality: str | None = None
    municipality_source: MunicipalitySource | None = None
    oktmo: str | None = None
    address: str | None = None


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


@dataclass(frozen=True, slots=True)
class _CityForm:
    """One surface form (lower-cased, ё folded) and the cities it can name."""

    cities: tuple[City, ...]
    cases: frozenset[str]
    kind: int
    # (case, number, gender) readings as an adjective: "октябрьском" in
    # "в Октябрьском районе" must not be the town when an agreeing noun follows
    adjective_readings: frozenset[Reading]
    ntokens: int


@dataclass(slots=True)
class _Mention:
    form: _CityForm
    token: int
    locative: bool  # the post says the thing is in/near that place
    weak: bool  # accepted only if a region elsewhere supports one of its cities
    city: City | None = None


@dataclass(slots=True)
class _Evidence:
    regions_named: list[str] = field(default_factory=list)
    mentions: list[_Mention] = field(default_factory=list)


def radius_km(population: int) -> float:
    """How far from its centre a point still counts as inside a city.

    A city's built-up area grows roughly like population^0.8, so its radius like
    population^0.4: ~2 km for a town of 10k, 5 km at 100k, 12.6 km at 1M. The
    cap keeps Moscow and St Petersburg from swallowing the towns around them.
    """
    return min(_MAX_RADIUS_KM, max(2.0, 0.05 * population**0.4))


def _fold(text: str) -> str:
    """Lower case with ё as е: how names are keyed (people rarely type ё)."""
    return text.lower().replace("ё", "е")


# ---------------------------------------------------------------- inflection


def _case_of(tag: object) -> str | None:
    case = getattr(tag, "case", None)
    return _CASE_ALIASES.get(case, case) if case else None


def _word_case_forms(word: str) -> dict[str, set[str]] | None:
    """Case → forms of one word of a place name; None if it does not decline."""
    analyzer = morph.analyzer()
    parses = analyzer.parse(word)
    candidates = [p for p in parses if "Geox" in p.tag and _fold(p.normal_form) == word]
    candidates = candidates or [p for p in parses if "Geox" in p.tag and p.tag.case == "nomn"]
    candidates = candidates or [
        p for p in parses if p.tag.POS in ("NOUN", "ADJF") and p.tag.case == "nomn" and p.is_known
    ]
    if not candidates:
        return None
    best = candidates[0]
    forms: dict[str, set[str]] = defaultdict(set)
    if best.tag.POS == "ADJF":
        for case in _CASES:
            inflected = best.inflect({case})
            if inflected is not None:
                forms[case].add(_fold(inflected.word))
    else:
        number = best.tag.number
        for lexeme_form in best.lexeme:
            form_case = _case_of(lexeme_form.tag)
            if form_case in _CASES and (number is None or lexeme_form.tag.number == number):
                forms[form_case].add(_fold(lexeme_form.word))
    forms["nomn"].add(word)
    return forms


def _token_case_forms(token: str) -> dict[str, set[str]]:
    """Case forms of one token; hyphenated names decline part by part."""
    whole = _word_case_forms(token)
    if whole is not None and ("-" not in token or len(whole) > 1):
        return whole
    if "-" not in token:
        return {case: {token} for case in _CASES}
    parts = token.split("-")
    per_part: list[dict[str, set[str]]] = []
    frozen = False
    for part in parts:
        if part in _NAME_LINKS:
            frozen = True  # "Ростов-на-Дону": only the head before "на" declines
        declined = None if frozen else _word_case_forms(part)
        per_part.append(declined or {case: {part} for case in _CASES})
    result: dict[str, set[str]] = {}
    for case in _CASES:
        options = [
            sorted(forms.get(case, set()) | {part})
            for forms, part in zip(per_part, parts, strict=True)
        ]
        result[case] = {"-".join(combo) for combo in product(*options)}
    return result


def phrase_forms(name: str) -> dict[str, set[str]]:
    """Surface form → cases, for every way people decline a place name.

    Words agree in case ("в Великих Луках"); besides, only the first word may
    decline ("в Республике Татарстан") or none ("в Орехово-Зуево").
    """
    tokens = morph.tokens(name)
    per_token = [_token_case_forms(token) for token in tokens]
    result: dict[str, set[str]] = defaultdict(set)
    for case in _CASES:
        all_declined = [
            sorted(forms.get(case, {token})) for forms, token in zip(per_token, tokens, strict=True)
        ]
        for combo in product(*all_declined):
            result[" ".join(combo)].add(case)
        if len(tokens) > 1:
            for head in all_declined[0]:
                result[" ".join([head, *tokens[1:]])].add(case)
    result[" ".join(tokens)].update({"nomn", "accs"})
    return result


def _surface_kind(form: str) -> tuple[int, frozenset[Reading]]:
    """How risky a single-token form is, and its readings as an adjective."""
    analyzer = morph.analyzer()
    if not analyzer.word_is_known(form):
        return _CLEAR, frozenset()
    kind = _CLEAR
    adjective: set[Reading] = set()
    for tag in analyzer.tag(form):
        if "Geox" in tag:
            continue
        if tag.POS in ("ADJF", "PRTF"):
            case = _case_of(tag)
            if case:
                adjective.add(
                    (case, tag.number or "", tag.gender if tag.number == "sing" else None)
                )
        elif {"Surn", "Name", "Patr"} & tag.grammemes:
            kind = max(kind, _PERSON)
        else:
            kind = max(kind, _WORD)
    return kind, frozenset(adjective)


@lru_cache(maxsize=50_000)
def _noun_readings(word: str) -> frozenset[Reading]:
    """(case, number, gender) readings of a word as a common noun.

    Indeclinable and very short "nouns" (the letter "и", abbreviations) are left
    out: they would agree with anything.
    """
    readings: set[Reading] = set()
    if len(word) < 3:
        return frozenset()
    for tag in morph.analyzer().tag(word):
        if tag.POS == "NOUN" and "Geox" not in tag and "Fixd" not in tag:
            case = _case_of(tag)
            if case:
                readings.add((case, tag.number or "", tag.gender if tag.number == "sing" else None))
    return frozenset(readings)


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
        self._index_forms(forms)

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
        evidence = self._scan(text, folded, keys)
        named = set(evidence.regions_named)
        text_city = self._resolve_mentions(evidence, geo_region, named, region_hint)

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
        text_region = self._region_of_mentions(evidence, region_hint)
        if text_region is not None:
            return Location(text_region, "text", address=address)
        if region_hint is not None:
            return Location(region_hint, "hint", address=address)
        if len(named) == 1:
            return Location(named.pop(), "text", address=address)
        return Location(address=address)

    # ------------------------------------------------------- text evidence

    def _scan(self, text: str, folded: str, keys: list[str]) -> _Evidence:
        """Region names and city mentions in the text, with their context checked."""
        evidence = _Evidence()
        hits = self._first_keys.intersection(keys)
        if not hits:
            return evidence  # most posts name no place: one C-level set operation
        matches = list(_TOKEN.finditer(folded))
        city_forms = self._city_forms
        region_names = self._region_names
        multi = self._multi_first
        count = len(keys)
        skip_to = 0
        for i, key in enumerate(keys):
            if i < skip_to or key not in hits:
                continue
            consumed = 0
            for n in range(min(multi.get(key, 0), count - i), 1, -1):
                phrase = " ".join(keys[i : i + n])
                form = city_forms.get(phrase)
                if form is not None:
                    mention = self._mention(text, matches, keys, i, form)
                    if mention is not None:
                        evidence.mentions.append(mention)
                        consumed = n
                        break
                code = region_names.get(phrase)
                if code is not None:
                    evidence.regions_named.append(code)
                    consumed = n
                    break
            if consumed:
                skip_to = i + consumed
                continue
            if key in self._region_adjectives:
                # "в Ханты-Мансийском автономном округе": the region, not the town
                codes = self._regions_by_adjective(keys, i)
                if codes:
                    evidence.regions_named.extend(codes)
                    continue
            form = city_forms.get(key)
            if form is not None:
                mention = self._mention(text, matches, keys, i, form)
                if mention is not None:
                    evidence.mentions.append(mention)
            code = region_names.get(key)
            if code is not None:
                evidence.regions_named.append(code)
            elif key in self._region_acronyms:
                raw = text[matches[i].start() : matches[i].end()]
                if raw.isupper():  # "ХМАО", not "хмао" typed in passing
                    evidence.regions_named.append(self._region_acronyms[key])
        _share_prepositions(evidence.mentions, keys)
        return evidence

    def _regions_by_adjective(self, keys: list[str], i: int) -> list[str]:
        """Adjectives need their noun: "Тверская обл.", "Тверской и Московской областях"."""
        found = [self._region_adjectives[keys[i]]]
        j = i + 1
        while j < len(keys) and (keys[j] == "и" or keys[j] in self._region_adjectives):
            if keys[j] != "и":
                found.append(self._region_adjectives[keys[j]])
            j += 1
        if j < len(keys) and keys[j].startswith("автономн"):
            j += 1
        if j >= len(keys):
            return []
        noun = keys[j]
        return [code for code, kind in found if noun in _REGION_TYPE_WORDS[kind]]

    def _mention(
        self,
        text: str,
        matches: list[re.Match[str]],
        keys: list[str],
        i: int,
        form: _CityForm,
    ) -> _Mention | None:
        """A city mention if its context allows one, with how strong it is."""
        start = matches[i].start()
        if start > 0 and text[start - 1] in _OPENING_QUOTES:
            return None  # «Москва»: a hotel, a shop, a team
        prev = keys[i - 1] if i > 0 else ""
        if prev in _NOT_A_CITY_BEFORE:
            return None  # "ул. Кирова", "кафе Ялта", "стадион Тверь"
        dotted = i > 0 and text[matches[i - 1].end() : start].startswith(".")
        if prev in _SETTLEMENT_ABBREVIATIONS and dotted:
            return None  # "с. Орёл" is a village
        marker = (
            prev in _CITY_MARKERS
            or (prev == "гор" and dotted)
            or (prev == "о" and i > 1 and keys[i - 2] == "г")  # "г.о. Королёв"
        )
        cases = _PLACE_PREPOSITIONS.get(prev)
        by_preposition = cases is not None and not cases.isdisjoint(form.cases)
        locative = marker or (by_preposition and prev in _LOCATIVE_PREPOSITIONS)
        dateline = i == 0 and self._followed_by_comma(text, matches, i, form)
        locative = locative or dateline  # "Тверь, ул. Советская, 5: ..."
        last = i + form.ntokens - 1
        if last + 1 < len(keys) and not marker:
            following = keys[last + 1]
            adjacent = not text[matches[last].end() : matches[last + 1].start()].strip()
            if adjacent and following[0].isdigit() and not by_preposition:
                return None  # "Куйбышева 7", "на Гагарина 3": a street and its house
            if (
                adjacent
                and form.adjective_readings
                and not form.adjective_readings.isdisjoint(_noun_readings(following))
            ):
                return None  # "в Октябрьском районе", "Белый дом"
        if form.kind == _CLEAR or marker:
            return _Mention(form, i, locative, weak=False)
        if form.kind == _MARKER_ONLY:
            return None
        capitalised = all(
            text[matches[j].start()].isupper() and not _shouted(text, matches[j])
            for j in range(i, last + 1)
            if keys[j] not in _NAME_LINKS
        )
        if form.kind == _PERSON:
            in_place = "loct" in form.cases and prev in ("в", "во")
            if by_preposition and (capitalised or in_place):
                return _Mention(form, i, locative, weak=False)
            if dateline and capitalised:  # "Киров, ул. Ленина": if the region agrees
                return _Mention(form, i, locative, weak=True)
            return None  # "Пушкин писал", "я пушкин читал"
        if not capitalised:
            return None  # "орёл парил над полем", "в шахтах"
        # "в Шахтах" is the town; a bare "Шахты" or "Курган" only when a region
        # named elsewhere (or the source's hint) has a town of that name
        return _Mention(form, i, locative, weak=not by_preposition)

    @staticmethod
    def _followed_by_comma(
        text: str, matches: list[re.Match[str]], i: int, form: _CityForm
    ) -> bool:
        end = (
            matches[i + form.ntokens - 1].end()
            if i + form.ntokens - 1 < len(matches)
            else len(text)
        )
        rest = text[end : end + 3].lstrip(" ")
        return rest.startswith((",", ":", "—", "-")) and "nomn" in form.cases

    def _resolve_mentions(
        self,
        evidence: _Evidence,
        geo_region: str | None,
        named: set[str],
        hint: str | None,
    ) -> City | None:
        """Pick each mention's city, then the one city the post is about, if any."""
        mentions = evidence.mentions
        if not mentions:
            return None
        sure_regions = {
            m.form.cities[0].region for m in mentions if len(m.form.cities) == 1 and not m.weak
        }
        support = [
            {geo_region} if geo_region else set(),
            named,
            sure_regions,
            {hint} if hint else set(),
        ]
        for mention in mentions:
            cities = mention.form.cities
            if len(cities) == 1 and not mention.weak:
                mention.city = cities[0]
                continue
            for regions in support:
                fitting = [c for c in cities if c.region in regions]
                if len(fitting) == 1:
                    mention.city = fitting[0]
                    break
                if len(fitting) > 1:
                    break  # the evidence cannot tell them apart: leave it

        resolved = [m for m in mentions if m.city is not None]
        if not resolved:
            return None
        distinct = {(m.city.region, m.city.name): m for m in resolved if m.city}
        if len(distinct) > 1:
            # "Санкт-Петербург, Колпино, ...": the town inside a federal city is the more exact
            towns = {
                key: m
                for key, m in distinct.items()
                if not (
                    self._regions[key[0]].kind == "federal_city"
                    and key[1] == self._regions[key[0]].capital
                )
            }
            federal = {key[0] for key in distinct if self._regions[key[0]].kind == "federal_city"}
            if towns and all(key[0] in federal for key in towns):
                distinct = towns
        if len(distinct) > 1:
            preferred = [geo_region, hint]
            for region in preferred:
                if region is None:
                    continue
                in_region = {k: m for k, m in distinct.items() if k[0] == region}
                if in_region:
                    distinct = in_region
                    break
        if len(distinct) > 1:
            locative = {k: m for k, m in distinct.items() if m.locative}
            if locative:
                distinct = locative
        if len(distinct) != 1:
            return None
        (chosen,) = distinct.values()
        assert chosen.city is not None
        # The source lives in another region: believe the text only when it says
        # the thing is there ("в Твери", "г. Тверь"), not "из Твери".
        elsewhere = hint is not None and chosen.city.region != hint and geo_region is None
        if elsewhere and (not chosen.locative or chosen.weak):
            return None
        return chosen.city

    def _region_of_mentions(self, evidence: _Evidence, hint: str | None) -> str | None:
        """Region when several cities are named but all lie in one region."""
        regions = {m.city.region for m in evidence.mentions if m.city is not None}
        if len(regions) != 1:
            return None
        (region,) = regions
        if hint is not None and region != hint:
            located = [
                m for m in evidence.mentions if m.city is not None and m.locative and not m.weak
            ]
            if not located:
                return None
        return region

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

    def _index_forms(self, forms: PlaceForms) -> None:
        self._city_forms: dict[str, _CityForm] = {}
        self._multi_first: dict[str, int] = {}
        for surface, (keys, cases, kind, adjective) in forms.cities.items():
            cities = tuple(self._cities[key] for key in keys)
            ntokens = surface.count(" ") + 1
            self._city_forms[surface] = _CityForm(cities, cases, kind, adjective, ntokens)
        self._region_names = forms.region_names
        self._region_adjectives = forms.region_adjectives
        for surface in (*self._city_forms, *self._region_names):
            if " " in surface:
                first = surface.split(" ", 1)[0]
                ntokens = surface.count(" ") + 1
                self._multi_first[first] = max(self._multi_first.get(first, 0), ntokens)
        # every token that can start a place name: a post without one skips the scan
        self._first_keys = frozenset(
            (
                *(s for s in self._city_forms if " " not in s),
                *(s for s in self._region_names if " " not in s),
                *self._multi_first,
                *self._region_adjectives,
                *self._region_acronyms,
            )
        )


def _shouted(text: str, match: re.Match[str]) -> bool:
    """Capitals of a shouted word ("УЖЕ ЗИМА, ГДЕ ТЕПЛО?") say nothing about a name."""
    word = text[match.start() : match.end()]
    return len(word) > 2 and word.isupper()


def _share_prepositions(mentions: list[_Mention], keys: list[str]) -> None:
    """A listed place shares the preposition: "в Москве и Твери", "в Москве, Твери"."""
    for before, after in pairwise(mentions):
        end = before.token + before.form.ntokens - 1
        listed = after.token == end + 1 or (
            after.token == end + 2 and keys[end + 1] in ("и", "или")
        )
        if listed and before.locative:
            after.locative = True


@cache
def _default_gazetteer() -> Gazetteer:
    gazetteer = Gazetteer.from_files()
    # the rare adjective checks need the analyzer: load it now, not mid-stream
    morph.analyzer()
    return gazetteer


# ------------------------------------------------------------- place forms


@dataclass(slots=True)
class PlaceForms:
    """Every surface form of every place name: what the hot path looks up.

    Building it needs pymorphy3 for ~1.5 s; the bundled place-forms.txt holds
    the result with a fingerprint of its inputs, and a stale or missing file
    just means building it again at load (scripts/build_geo_forms.py rewrites it).
    """

    cities: dict[str, tuple[tuple[CityKey, ...], frozenset[str], int, frozenset[Reading]]]
    region_names: dict[str, str]
    region_adjectives: dict[str, tuple[str, str]]

    @classmethod
    def build(
        cls, city_keys: Iterable[CityKey], region_rows: Iterable[dict[str, str]]
    ) -> PlaceForms:
        names: dict[str, set[CityKey]] = defaultdict(set)  # written name → cities
        known = set(city_keys)
        for key in known:
            names[key[1]].add(key)
        for key, aliases in _CITY_ALIASES.items():
            if key in known:
                for alias in aliases:
                    names[alias].add(key)

        targets: dict[str, set[CityKey]] = defaultdict(set)
        form_cases: dict[str, set[str]] = defaultdict(set)
        least_kind: dict[str, int] = defaultdict(int)
        clear: set[str] = set()
        for name in sorted(names):
            name_kind = _name_kind(name)
            for surface, cases in phrase_forms(name).items():
                if len(surface) < 3:
                    continue
                targets[surface] |= names[name]
                form_cases[surface] |= cases
                least_kind[surface] = max(least_kind[surface], name_kind)
                if name in _CLEAR_NAMES:
                    clear.add(surface)
        cities = {}
        for surface in sorted(targets):
            if surface in clear:
                kind, adjective = _CLEAR, frozenset[Reading]()
            elif " " in surface:
                kind, adjective = _phrase_kind(surface), frozenset()
            else:
                kind, adjective = _surface_kind(surface)
            cities[surface] = (
                tuple(sorted(targets[surface])),
                frozenset(form_cases[surface]),
                max(kind, least_kind[surface]),
                adjective,
            )

        region_names: dict[str, str] = {}
        region_adjectives: dict[str, tuple[str, str]] = {}
        for row in region_rows:
            for name in filter(None, row["names"].split("|")):
                for surface in sorted(phrase_forms(name)):
                    region_names.setdefault(surface, row["code"])
            if row["adjective"]:
                for surface in sorted(_adjective_forms(_fold(row["adjective"]))):
                    region_adjectives.setdefault(surface, (row["code"], row["kind"]))
        return cls(cities, region_names, region_adjectives)

    def dump(self, path: Path, fingerprint: str) -> None:
        lines = [f"# place-forms {fingerprint}"]
        for surface, (keys, cases, kind, adjective) in sorted(self.cities.items()):
            lines.append(
                "\t".join(
                    (
                        "C",
                        surface,
                        "|".join(f"{region}/{name}" for region, name in keys),
                        ",".join(sorted(cases)),
                        str(kind),
                        ";".join(
                            ".".join((c, n, g or "")) for c, n, g in sorted(adjective, key=str)
                        ),
                    )
                )
            )
        for surface, code in sorted(self.region_names.items()):
            lines.append(f"R\t{surface}\t{code}")
        for surface, (code, region_kind) in sorted(self.region_adjectives.items()):
            lines.append(f"A\t{surface}\t{code}\t{region_kind}")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path, fingerprint: str) -> PlaceForms | None:
        """The bundled forms, or None when missing or built from other inputs."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        lines = text.splitlines()
        if not lines or lines[0] != f"# place-forms {fingerprint}":
            return None
        forms = cls({}, {}, {})
        for line in lines[1:]:
            fields = line.split("\t")
            if fields[0] == "C":
                keys = tuple(
                    (key.split("/", 1)[0], key.split("/", 1)[1]) for key in fields[2].split("|")
                )
                readings = frozenset(
                    (c, n, g or None)
                    for c, n, g in (item.split(".") for item in fields[5].split(";") if item)
                )
                forms.cities[fields[1]] = (
                    keys,
                    frozenset(fields[3].split(",")),
                    int(fields[4]),
                    readings,
                )
            elif fields[0] == "R":
                forms.region_names[fields[1]] = fields[2]
            elif fields[0] == "A":
                forms.region_adjectives[fields[1]] = (fields[2], fields[3])
        return forms


def forms_fingerprint(region_rows: list[dict[str, str]], city_rows: list[dict[str, str]]) -> str:
    """Hash of everything the forms are built from, so a stale cache is never used."""
    digest = hashlib.sha256()
    for part in (
        _FORMS_VERSION,
        json.dumps(region_rows, ensure_ascii=False, sort_keys=True),
        json.dumps(city_rows, ensure_ascii=False, sort_keys=True),
        repr(_TOWNS_IN_FEDERAL_CITIES),
        repr(sorted(_CITY_ALIASES.items())),
        repr(sorted(_CLEAR_NAMES)),
        repr(sorted(_MARKER_ONLY_NAMES)),
        repr(sorted(_ALSO_WATER_NAMES)),
        importlib.metadata.version("pymorphy3"),
        importlib.metadata.version("pymorphy3-dicts-ru"),
    ):
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()[:32]


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


def _name_kind(name: str) -> int:
    """Kind forced on every form of a name: adjective-named towns are risky in any case."""
    if name in _MARKER_ONLY_NAMES:
        return _MARKER_ONLY
    if name in _ALSO_WATER_NAMES:
        return _WORD
    folded = _fold(name)
    if " " in folded:
        return _CLEAR
    analyzer = morph.analyzer()
    if not analyzer.word_is_known(folded):
        return _CLEAR
    for tag in analyzer.tag(folded):
        if tag.POS != "ADJF" or "Geox" in tag:
            continue
        if "Poss" not in tag or _possessive_of_common_noun(folded):
            return _WORD  # Мирный, Белый, Бабушкин: "я свободный", "в белом", "бабушкин"
    return _CLEAR


def _possessive_of_common_noun(word: str) -> bool:
    """Whether a possessive is an everyday word: "бабушкин" (of бабушка), not "иваново"."""
    analyzer = morph.analyzer()
    for suffix in ("ин", "ын", "ов", "ев", "ино", "ово", "ево"):
        if word.endswith(suffix):
            stem = word[: -len(suffix)]
            for noun in (stem, stem + "а", stem + "я"):
                if analyzer.word_is_known(noun) and any(
                    t.POS == "NOUN"
                    and t.case == "nomn"
                    and not {"Name", "Surn", "Geox"} & t.grammemes
                    for t in analyzer.tag(noun)
                ):
                    return True
    return False


def _phrase_kind(surface: str) -> int:
    """A phrase of only common words ("минеральные воды") needs capitals."""
    analyzer = morph.analyzer()
    for token in surface.split(" "):
        if token in _NAME_LINKS:
            continue
        if not analyzer.word_is_known(token) or all("Geox" in t for t in analyzer.tag(token)):
            return _CLEAR
    return _WORD


def _adjective_forms(adjective: str) -> set[str]:
    forms = {adjective}
    for case_forms in (_word_case_forms(adjective) or {}).values():
        forms |= case_forms
    return forms


# ------------------------------------------------------------------ address

_CAP = r"[А-ЯЁ][а-яё]+(?:-[А-ЯЁа-яё][а-яё]+)?"
_ORD = r"\d{1,3}(?:-?(?:я|й|го|ая|ой|ий|ое|ья|ье|ю))?"
_LINK = (
    r"(?:им\.|имени|реки|р\.|канала|кан\.|героя|героев|маршала|генерала|адмирала|академика|"
    r"космонавта|летчика|лётчика|братьев|св\.|[А-ЯЁ]\.)"
)
# the street's own name: "Ленина", "Маршала Жукова", "реки Мойки", "8 Марта", "1-я Советская"
_STREET_NAME = rf"(?:{_LINK}\s*)?(?:{_ORD}\s+)?{_CAP}(?:\s+(?:{_LINK}\s*)?{_CAP})?"
# after an abbreviation a lower-case name is fine when a house number follows: "ул ленина 5"
_STREET_NAME_LOWER = r"[а-яё]{3,}(?=\s*,?\s*(?:д\.?\s*)?\d)"
_TYPE_ABBR = r"(?:ул|пр-кт|пр-т|просп|пр|пер|пл|наб|ш|б-р|бул|пр-д|мкр|мкрн|туп)"
_TYPE_FULL = (
    r"(?:улиц(?:а|е|ы|у|ей|ах)|проспект(?:а|е|у|ом)?|переул(?:ок|ка|ке|ку|ком)|"
    r"площад(?:ь|и|ью)|бульвар(?:а|е|у|ом)?|набережн(?:ая|ой|ую)|шоссе|проезд(?:а|е|у|ом)?|"
    r"тупик(?:а|е|у|ом)?|алле(?:я|и|е|ю|ей)|микрорайон(?:а|е|у|ом)?|тракт(?:а|е|у|ом)?)"
)
_NUMBER = r"\d{1,4}+(?![:.,]?\d)(?:\s?[а-жА-Ж](?![а-яёА-ЯЁ]))?(?:\s*/\s*\d{1,4}[а-я]?)?"
_BUILDING_PARTS = (
    r"(?:\s*,?\s*(?:к|корп|корпус|стр|строение|лит|литера|литер)\.?\s*\d{0,3}[А-Яа-я]?(?![а-яё]))*"
)
_HOUSE = rf"(?:\s*,?\s*(?:(?:д|дом|дома|доме)\s*\.?\s*)?№?\s*{_NUMBER}{_BUILDING_PARTS})?"
_ADJ_WORD = r"[А-ЯЁ][а-яё]*+(?:(?<=ий|ый|ой|ая|яя|ое|ее|ом|ем|ую|юю|ей)|(?<=ого|его|ому|ему))"
_ADJ_NAME = rf"(?:{_ORD}\s+)?(?:{_ADJ_WORD}\s+)?{_ADJ_WORD}"  # "Большая Садовая", "1-я Советская"
_TYPE_FIRST = (
    rf"(?i:{_TYPE_ABBR})(?:\.\s*|\s+)(?:{_STREET_NAME}|{_STREET_NAME_LOWER})"
    rf"|(?i:{_TYPE_FULL})\s+{_STREET_NAME}"
)
_NAME_FIRST = rf"{_ADJ_NAME}\s+(?i:{_TYPE_FULL}|{_TYPE_ABBR}\.)|{_ORD}\s+(?i:лини[яиюей])"
# Anchored at a trigger word: scanning every position costs ~10x more.
_STREET_AT_TYPE = re.compile(rf"(?:{_TYPE_FIRST}){_HOUSE}")
_STREET_AT_NAME = re.compile(rf"(?:{_NAME_FIRST}){_HOUSE}")
_HOUSE_AT = re.compile(
    rf"(?i:д\.|дом[ауе]?)\s*№?\s*{_NUMBER}{_BUILDING_PARTS}"
    rf"(?:\s+(?:по|на)\s+(?:{_TYPE_FIRST}|{_NAME_FIRST}))?"
)
_LANDMARK_AT = re.compile(
    r"(?:(?i:ст\.\s*м\.|станци[яиюей]\s+метро|метро)\s+[«\"]?[А-ЯЁ][а-яё]+(?:\s+[А-ЯЁ][а-яё]+)?"
    r"|(?i:ТЦ|ТРЦ|ТРК|ЖК|БЦ)\s*(?:«[^»]{1,40}»|\"[^\"]{1,40}\"|[А-ЯЁ][а-яё]+)"
    r"|(?i:парк|сквер|сад)[аеуом]{0,2}\s+(?:им\.\s*|имени\s+)?[«\"]?[А-ЯЁ][а-яё]+"
    r"|(?i:школ[аеыу]|гимнази[яиюей]|лице[йяею]|детск(?:ий|ого|ом)\s+сад[ау]?|детсад[ау]?|"
    r"поликлиник[аеиу]|больниц[аеуы])\s*№\s*\d{1,4}"
    r"|(?i:остановк[аеиу])\s+[«\"]?[А-ЯЁ][а-яё]+(?:\s+[А-ЯЁ][а-яё]+)?[»\"]?)"
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STREET_TYPE_WORDS = _words(
    """ул пр-кт пр-т просп пр пер пл наб ш б-р бул пр-д мкр мкрн туп улица улице улицы улицу
    улицей улицах проспект проспекта проспекте проспекту проспектом переулок переулка переулке
    переулку переулком площадь площади площадью бульвар бульвара бульваре бульвару бульваром
    набережная набережной набережную шоссе проезд проезда проезде проезду проездом тупик тупика
    тупике тупику тупиком аллея аллеи аллее аллею аллеей микрорайон микрорайона микрорайоне
    микрорайону микрорайоном тракт тракта тракте тракту трактом линия линии линию линией"""
)
_HOUSE_WORDS = _words("д дом дома доме")
_LANDMARK_WORDS = _words(
    """ст станция станции станцию станцией метро тц трц трк жк бц парк парка парке парку сквер
    сквера сквере скверу сад сада саду школа школы школе школу гимназия гимназии гимназию лицей
    лицея лицее детский детского детском детсад детсада детсаду поликлиника поликлиники
    поликлинике поликлинику больница больницы больнице больницу остановка остановки остановке
    остановку"""
)
_ADDRESS_TRIGGERS = _STREET_TYPE_WORDS | _HOUSE_WORDS | _LANDMARK_WORDS
_SPACES = re.compile(r"\s+")
_RANK_STREET_AND_HOUSE, _RANK_STREET, _RANK_HOUSE, _RANK_LANDMARK = 3, 2, 1, 0


def find_address(text: str) -> str | None:
    """Street, building or landmark text of a post, lightly normalised.

    A street with a house number beats a bare street, which beats a bare house
    number, which beats a landmark; the earliest wins a tie. Regular expressions
    anchored at trigger words, not natasha's address grammar: this runs on every
    post and must cost microseconds.
    """
    folded = _folded(text)
    return _find_address(text, folded, _TOKEN.findall(folded))


def _find_address(text: str, folded: str, keys: list[str]) -> str | None:
    triggers = _ADDRESS_TRIGGERS.intersection(keys)
    if not triggers:
        return None
    if _shouting(text):
        text = _unshout(folded)
    best: tuple[int, int] | None = None
    best_span = ""
    for word in triggers:
        for start in _word_starts(folded, word):
            for rank, at, span in _address_candidates(text, word, start):
                if best is None or (rank, -at) > best:
                    best, best_span = (rank, -at), span
    return _tidy(best_span) if best is not None else None


_UPPER_CYR = re.compile(r"[А-ЯЁ]")
_LOWER_CYR = re.compile(r"[а-яё]")
_FOLDED_TOKEN = re.compile(r"[а-яе]+(?:-[а-яе]+)?")
_SHOUT_NAME_LINKS = _words("им имени реки канала героя героев маршала генерала адмирала академика")


def _shouting(text: str) -> bool:
    """A post written in capitals ("ВО ДВОРЕ ДОМА 14 ПО УЛИЦЕ СОВЕТСКОЙ")."""
    upper = len(_UPPER_CYR.findall(text))
    return upper >= 8 and len(_LOWER_CYR.findall(text)) <= upper // 10


def _unshout(folded: str) -> str:
    """Capitals back to ordinary case, of the same length: the folded text with the
    words next to an address word capitalised (the one after "улице", "д.", "метро",
    "маршала", the one before "улица"), so the name patterns find "улице Советской"
    again and do not run on into the next word."""
    tokens = list(_FOLDED_TOKEN.finditer(folded))
    out = list(folded)
    for i, m in enumerate(tokens):
        w = m.group()
        if len(w) < 3 or w in _ADDRESS_TRIGGERS:
            continue
        prev = tokens[i - 1].group() if i else ""
        nxt = tokens[i + 1].group() if i + 1 < len(tokens) else ""
        if prev in _ADDRESS_TRIGGERS or prev in _SHOUT_NAME_LINKS or nxt in _STREET_TYPE_WORDS:
            out[m.start()] = w[0].upper()
    return "".join(out)


def _address_candidates(text: str, word: str, start: int) -> list[tuple[int, int, str]]:
    found = []
    if word in _STREET_TYPE_WORDS:
        match = _STREET_AT_TYPE.match(text, start)
        if match:
            found.append((_street_rank(match.group()), start, match.group()))
        # "Невский проспект, 28", "1-я Советская улица", "5-я линия": the name comes first
        for name_start in _previous_word_starts(text, start):
            match = _STREET_AT_NAME.match(text, name_start)
            if match and match.end() > start:
                found.append((_street_rank(match.group()), name_start, match.group()))
                break
    elif word in _HOUSE_WORDS:
        match = _HOUSE_AT.match(text, start)
        if match:
            with_street = " по " in match.group() or " на " in match.group()
            rank = _RANK_STREET_AND_HOUSE if with_street else _RANK_HOUSE
            found.append((rank, start, match.group()))
    else:
        match = _LANDMARK_AT.match(text, start)
        if match:
            found.append((_RANK_LANDMARK, start, match.group()))
    return found


def _street_rank(span: str) -> int:
    tail = span[-8:]
    return _RANK_STREET_AND_HOUSE if any(c.isdigit() for c in tail) else _RANK_STREET


def _word_starts(folded: str, word: str) -> list[int]:
    """Offsets where `word` stands as a whole token in the folded text."""
    starts = []
    size = len(word)
    i = folded.find(word)
    while i >= 0:
        end = i + size
        before = folded[i - 1] if i else " "
        after = folded[end] if end < len(folded) else " "
        if not (before.isalnum() or before == "-") and not (after.isalnum() or after == "-"):
            starts.append(i)
        i = folded.find(word, end)
    return starts


def _previous_word_starts(text: str, start: int) -> list[int]:
    """Start of the word before `start`, and of the one before it (for "1-я Советская")."""
    starts = []
    j = start
    for _ in range(2):
        j -= 1
        while j >= 0 and text[j] in " \t":
            j -= 1
        if j < 0 or not (text[j].isalnum() or text[j] == "-"):
            break
        while j > 0 and (text[j - 1].isalnum() or text[j - 1] == "-"):
            j -= 1
        starts.append(j)
    return starts[::-1]


def _tidy(span: str) -> str:
    return _SPACES.sub(" ", span).strip(" ,.;:-—")


def _folded(text: str) -> str:
    """Lower case with ё as е, of the same length as the text (offsets stay valid)."""
    lowered = text.lower()
    if len(lowered) != len(text):  # "İ" and a few others grow when lower-cased
        lowered = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    return lowered.replace("ё", "е")
