"""Place names in a post's text: which cities and regions it mentions, and which one it means.

The hot path of place finding: one set intersection tells most posts apart (they
name no place), then a dict lookup of 1- to 3-token n-grams over the forms of
`incidents.domain.places.forms` and a handful of context checks on the rare hits
(a street before the name, quotes, a preposition in the right case, capitals). A
wrong place routes an appeal to the wrong administration, so every rule errs
towards no city at all; docs/geo.md explains the rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise

from incidents.domain.places.cities import City, CityKey, Region
from incidents.domain.places.folding import _TOKEN
from incidents.domain.places.forms import (
    _CLEAR,
    _MARKER_ONLY,
    _NAME_LINKS,
    _PERSON,
    PlaceForms,
    Reading,
    _case_of,
)
from incidents.domain.text import morph

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


class MentionFinder:
    """The place names a post's text mentions, judged in context, and the city it means."""

    def __init__(
        self,
        forms: PlaceForms,
        city_table: dict[CityKey, City],
        regions: dict[str, Region],
        region_acronyms: dict[str, str],
    ) -> None:
        """Index the forms for the hot path over the gazetteer's own tables (shared, not copied)."""
        self._cities = city_table
        self._regions = regions
        self._region_acronyms = region_acronyms
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

    def scan(self, text: str, folded: str, keys: list[str]) -> _Evidence:
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

    def resolve(
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

    def region_of_mentions(self, evidence: _Evidence, hint: str | None) -> str | None:
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
