"""Which open incident is a new appeal about? Rules and the index that makes them cheap.

An appeal joins an incident of the same region and category, inside the
grouping window, when
1. both have coordinates and they are within ``radius_m`` (the pins decide:
   nothing else is looked at); or
2. both have an address and the addresses are the same (street + house); or
3. the texts name the same place: a street both name (with no two different
   house numbers), or the same house number tied to a house word, and neither
   names a street or house the other contradicts (``place_marks``); or
4. otherwise (neither text names a place the other shares), the words agree
   strongly (Jaccard of content stems ≥ ``text_threshold``) and the texts are
   not too short to say so (``min_terms`` content stems each: "мешки на газоне"
   is written about hundreds of lawns),
and never when both name different municipalities, or (rules 2-4) name
different streets or houses, or when one source classed them differently (a
portal's own category or reason, ``source_topic``: a resident who filed
"lighting in the entrance" and one who filed "broken entrance door" at one
building wrote about two problems, routed to two executors). Among several
matches the best score wins (place evidence first, then words, then distance).
With a ``span_s``, an incident that opened longer ago than that takes no more
posts: a match with it opens a new incident that follows it.

Scanning every open incident of a busy region and category for each appeal is
quadratic, so candidates come from four indexes whose union provably contains
every incident the rules can accept: a grid of ``radius_m`` cells (rule 1),
address keys (rule 2), place marks (rule 3), and an inverted index of stems,
keeping only incidents that share enough stems to possibly reach the threshold
(rule 4).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from incidents.contracts.models import GeoPoint
from incidents.domain.text import morph
from incidents.domain.understanding.problems import Taxonomy

EARTH_M = 6_371_000.0


def haversine_m(a: GeoPoint, b: GeoPoint) -> float:
    rlat1, rlat2 = math.radians(a.lat), math.radians(b.lat)
    dlat, dlon = rlat2 - rlat1, math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(rlat1) * math.cos(rlat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_M * math.asin(min(1.0, math.sqrt(h)))


# ----------------------------------------------------------- places in text
_STREET_TYPES = frozenset(
    """ул улица улице улицы улицу улицей пр пр-т пр-кт просп проспект проспекта проспекте
    проспекту пер переулок переулка переулке пл площадь площади наб набережная набережной
    набережную ш шоссе б-р бул бульвар бульвара бульваре бульвару проезд проезда проезде
    тупик тупика тупике аллея аллеи аллее мкр мкрн микрорайон микрорайона микрорайоне тракт
    тракта тракте линия линии линию""".split()
)
_HOUSE_WORDS = frozenset("д дом дома доме домом".split())
_WING_WORDS = frozenset("к корп корпус корпуса корпусе".split())
# Parts of a building or an address that are followed by numbers but name no street.
_NOT_NAMES = frozenset(
    """дом дома доме домом корпус корп к литера литер лит строение стр секция парадная
    парадной парадную подъезд подъезда подъезде этаж этаже этажа квартира квартиры квартире
    кв офис помещение адрес адресу маршрут маршрута автобус автобуса школа школы поликлиника
    город посёлок поселок деревня село район округ спб года году лет минут часов дней раз
    номер участок участка""".split()
)
_BEFORE_NAME = frozenset("на по у возле около напротив вдоль".split())
_NAME_TAGS = frozenset({"Surn", "Geox", "Name"})
_MAX_MARKS = 60


def _house_number(token: str) -> str | None:
    """'120' → '120', '48-го' → '48', '21-б' → '21б'; None when not a house number."""
    head, _, tail = token.partition("-")
    if not head.isdigit() or len(head) > 4 or head.startswith("0"):
        return None
    if len(tail) == 1 and tail.isalpha():
        return head + tail
    return head


def _may_be_name(token: str) -> bool:
    return (
        len(token) >= 3
        and token.isalpha()
        and token not in _STREET_TYPES
        and token not in _NOT_NAMES
    )


def place_marks(text: str) -> frozenset[str]:
    """Streets (``n:``), house numbers (``h:``) and wings (``k:``) a text names, for rule 3.

    A street name is a word after a street type ("улица Шмидта") or an adjective
    before one ("Шереметевский проспект"), a surname, place name or adjective
    followed by a house number ("Петухова, 120", "Люблинская, 153"), or a surname
    or place name after "на", "по", "у" ("на Склизкова"). A house number follows a street
    name or a house word ("дом 20", "д. 45") or precedes one ("у 48-го дома").
    Common nouns before a number ("этаж 17", "маршрут 36") are not streets.
    """
    tokens = morph.tokens(text)
    marks: set[str] = set()
    n = len(tokens)

    for i, tok in enumerate(tokens):
        num = _house_number(tok)
        if num is not None:
            prev = tokens[i - 1] if i else ""
            prev2 = tokens[i - 2] if i > 1 else ""
            nxt = tokens[i + 1] if i + 1 < n else ""
            # "дом 113, корпус 2": the building, not only the house number.
            nxt2 = tokens[i + 2] if i + 2 < n else ""
            wing = _house_number(nxt2) if nxt in _WING_WORDS else None
            if wing is not None:
                marks.add(f"k:{num}/{wing}")
            if prev in _HOUSE_WORDS or nxt in _HOUSE_WORDS:
                marks.add("h:" + num)
            # "Петухова, 120", "Ленина д. 37": a name before the number (or the house word).
            name = prev if _may_be_name(prev) else prev2 if prev in _HOUSE_WORDS else ""
            if _may_be_name(name):
                grams, known = morph.grammemes(name)
                if grams & _NAME_TAGS or "ADJF" in grams or not known:
                    marks.add("n:" + morph.lemma(name))
                    marks.add("h:" + num)
            continue
        if not _may_be_name(tok):
            continue
        prev = tokens[i - 1] if i else ""
        nxt = tokens[i + 1] if i + 1 < n else ""
        if prev in _STREET_TYPES:  # "улица Шмидта", "пр. Ленина"
            marks.add("n:" + morph.lemma(tok))
        elif nxt in _STREET_TYPES:  # "Мебельная улица", not "г. Бердск, ул. …"
            grams, known = morph.grammemes(tok)
            if "ADJF" in grams or not known:
                marks.add("n:" + morph.lemma(tok))
        elif prev in _BEFORE_NAME and morph.grammemes(tok)[0] & {"Surn", "Geox"}:  # "на Склизкова"
            marks.add("n:" + morph.lemma(tok))
        if len(marks) >= _MAX_MARKS:
            break
    return frozenset(marks)


def place_agreement(a: Iterable[str], b: Iterable[str]) -> int:
    """+1 when two sets of place marks name the same place, -1 when they contradict, else 0."""
    names_a = {m for m in a if m.startswith("n:")}
    names_b = {m for m in b if m.startswith("n:")}
    nums_a = {m for m in a if m.startswith("h:")}
    nums_b = {m for m in b if m.startswith("h:")}
    if names_a and names_b and not names_a & names_b:
        return -1  # different streets
    if nums_a and nums_b and not nums_a & nums_b:
        return -1  # different houses
    wings_a = {m for m in a if m.startswith("k:")}
    wings_b = {m for m in b if m.startswith("k:")}
    if wings_a and wings_b and not wings_a & wings_b:
        houses = {m.split("/")[0][2:] for m in wings_a} & {m.split("/")[0][2:] for m in wings_b}
        if houses:
            return -1  # the same house number, different wings ("корпус 1", "корпус 2")
    if names_a & names_b or nums_a & nums_b:
        return 1
    return 0


# ------------------------------------------------- parts of one building
_ORDINALS = {
    w: str(i)
    for i, ws in enumerate(
        (
            (),
            ("первый", "первая", "первой", "первом", "первого", "первую"),
            ("второй", "вторая", "втором", "второго", "вторую"),
            ("третий", "третья", "третьей", "третьем", "третьего", "третью"),
            ("четвертый", "четвертая", "четвертой", "четвертом", "четвертого", "четвертую"),
            ("пятый", "пятая", "пятой", "пятом", "пятого", "пятую"),
            ("шестой", "шестая", "шестом", "шестого", "шестую"),
            ("седьмой", "седьмая", "седьмом", "седьмого", "седьмую"),
            ("восьмой", "восьмая", "восьмом", "восьмого", "восьмую"),
            ("девятый", "девятая", "девятой", "девятом", "девятого", "девятую"),
            ("десятый", "десятая", "десятой", "десятом", "десятого", "десятую"),
        )
    )
    for w in ws
}
_NUM = r"(\d{1,2}|" + "|".join(sorted(_ORDINALS, key=len, reverse=True)) + r")"
# «2-я», «8-м», «2я» — an ending joined to the number, never a separate word («61 в»)
_SUFFIX = r"(?:\s*-\s*[а-я]{1,3}\b|[а-я]{1,3}\b)?"
# A number before the word («4 этаж», «третий подъезд») or after it («этаж 4», «подъезд №3»).
_FLOOR_BEFORE = re.compile(rf"\b{_NUM}{_SUFFIX}\s*(?:этаж\w*|эт\b\.?)")
_FLOOR_AFTER = re.compile(r"(?:\bэтаж\w*|\bэт\.|\bэт\b)\s*(?:№\s*)?(\d{1,2})\b")
_BETWEEN_FLOORS = re.compile(r"\bмежду\s+(\d{1,2})\s*(?:-?м)?\s+и\s+(\d{1,2})")
_ENTRANCE_BEFORE = re.compile(
    rf"\b{_NUM}{_SUFFIX}\s*(?:подъезд\w*|парадн\w*|под\b\.?|пар\b\.?|секци\w*)"
)
_ENTRANCE_AFTER = re.compile(
    r"(?:\bподъезд\w*|\bпарадн\w*|\bпод\.|\bпар\.|\bсекци\w*)\s*(?:№\s*|#\s*|n\s*)?"
    r"(\d{1,2})\b"
)


_FLOOR_NEXT = re.compile(r"\s*(?:-?\s*[а-я]{1,3}\b)?\s*эт")
_HOUSE_BEFORE = re.compile(r"(?:\bдом[а-я]*|\bд\.?)\s*$")


def building_details(text: str) -> frozenset[str]:
    """The floors (``f:4``) and entrances (``e:2``) a text names.

    For a problem inside one building («не горит лампочка на 4 этаже», «в третьем
    подъезде») two posts that name different floors or entrances are about two
    problems, even under one pin.
    """
    norm = text.lower().replace("ё", "е")
    out: set[str] = set()
    for rx, kind, before in (
        (_FLOOR_BEFORE, "f", True),
        (_FLOOR_AFTER, "f", False),
        (_ENTRANCE_BEFORE, "e", True),
        (_ENTRANCE_AFTER, "e", False),
    ):
        for m in rx.finditer(norm):
            num = m.group(1)
            if before and _HOUSE_BEFORE.search(norm[max(0, m.start() - 8) : m.start()]):
                continue  # «дом 38 подъезд 3»: 38 is the house
            if not before and kind == "e" and _FLOOR_NEXT.match(norm[m.end() : m.end() + 12]):
                continue  # «парадная 8-й этаж»: 8 is the floor
            out.add(f"{kind}:{_ORDINALS.get(num, num)}")
    for m in _BETWEEN_FLOORS.finditer(norm):
        out.update((f"f:{m.group(1)}", f"f:{m.group(2)}"))
    return frozenset(out)


def details_contradict(a: Iterable[str], b: Iterable[str], *kinds: str) -> bool:
    """Both name floors (or entrances), and no floor (entrance) is named by both.

    ``kinds`` restricts the check (``"f:"`` floors, ``"e:"`` entrances); both by default.
    """
    a, b = set(a), set(b)
    for kind in kinds or ("f:", "e:"):
        ka = {x for x in a if x.startswith(kind)}
        kb = {x for x in b if x.startswith(kind)}
        if ka and kb and not ka & kb:
            return True
    return False


def _houses_contradict(a: Iterable[str], b: Iterable[str]) -> bool:
    """Both texts name house numbers and none in common («дом 14» and «дом 16» under
    one pin). Street names are not compared here: one street has many written forms
    («Макарова», «ул. Аристарха Макарова»), and the pins already agree on the place."""
    ha = {m for m in a if m.startswith("h:")}
    hb = {m for m in b if m.startswith("h:")}
    return bool(ha and hb and not ha & hb)


Topic = tuple[str, str]  # (source id, the source's own topic, normalised)


def topic_of(source_id: str, topic: str | None) -> Topic | None:
    """A source's own topic of a post, compared without case and spacing."""
    if not topic:
        return None
    words = " ".join(topic.split()).casefold()
    return (source_id, words) if words else None


def topics_contradict(topics: Iterable[Topic], topic: Topic | None) -> bool:
    """True when the incident holds posts of the probe's source, none of them of its topic."""
    if topic is None:
        return False
    same_source = [t for t in topics if t[0] == topic[0]]
    return bool(same_source) and topic not in same_source


@dataclass(slots=True)
class Profile:
    """What grouping needs of a joinable incident, kept in memory."""

    id: str
    municipality: str | None
    address_key: str | None
    geo: GeoPoint | None
    terms: frozenset[str]
    last_at: float
    opened_at: float
    status: str
    places: frozenset[str] = frozenset()
    topics: frozenset[Topic] = frozenset()
    # The incident's problem type (docs/problems.md), and the floors and entrances named.
    problem: str | None = None
    details: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Probe:
    """The appeal being placed."""

    municipality: str | None
    address_key: str | None
    geo: GeoPoint | None
    terms: frozenset[str]
    at: float
    places: frozenset[str] = frozenset()
    # May words alone (no place in common) join it? In a town one contractor serves
    # every yard; in a city the same words are written about hundreds of places.
    words_alone: bool = True
    topic: Topic | None = None
    problems: tuple[str, ...] = ()
    details: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Rules:
    radius_m: float
    text_threshold: float
    window_s: float
    min_terms: int = 0
    # An incident takes posts only this long after it opened (0: no limit); a later
    # post about the same problem opens an incident that follows it.
    span_s: float = 0.0
    # Never join posts that one source classed differently (its own topics).
    source_topics: bool = True
    # The problem model: posts join only when their problem types are compatible.
    taxonomy: Taxonomy | None = field(default=None, compare=False)
    # When one side has no recognised problem: "join" (place and words decide, as
    # without a problem model), "words" (the words must agree, ``unknown_similarity``)
    # or "never".
    unknown: str = "words"
    unknown_similarity: float = 0.3

    def problem_agreement(self, prof: Profile, p: Probe) -> int:
        """+1 same problem type, -1 different problems, 0 unknown on a side."""
        tax = self.taxonomy
        if tax is None or prof.problem is None or not p.problems:
            return 0
        if prof.problem not in tax.types or not all(c in tax.types for c in p.problems):
            return 0  # a type of another taxonomy (an older deployment's): say nothing
        # The post's main problem decides: a second one recognised in passing («…и
        # грязно») must not carry a post into another problem's incident.
        if not tax.compatible(prof.problem, p.problems[0]):
            return -1
        # Inside one building: another entrance is another problem («лифт в 4 подъезде»,
        # «лифт в 5 подъезде»); another floor is another problem when the types differ
        # («надписи на 4 этаже», «стены облезли на 8 этаже»), while one resident's list of
        # one job on several floors («лампочки на 3, 5 и 7 этажах») stays one.
        if tax.types[prof.problem].scope == "building":
            if details_contradict(prof.details, p.details, "e:"):
                return -1
            other_type = prof.problem != p.problems[0]
            if other_type and details_contradict(prof.details, p.details, "f:"):
                return -1
        return 1

    def score(self, prof: Profile, p: Probe) -> float | None:
        """None when not the same problem; otherwise higher is a better match."""
        if prof.municipality and p.municipality and prof.municipality != p.municipality:
            return None
        if self.source_topics and topics_contradict(prof.topics, p.topic):
            return None
        if self.source_topics and p.topic is not None and p.topic in prof.topics:
            # The source classed both posts the same (a portal's reason chosen by the
            # residents): its own rubric says what the problem is, better than any
            # reading of the text.
            agree = 1
        else:
            agree = self.problem_agreement(prof, p)
        if agree < 0:
            return None
        if agree == 0 and self.taxonomy is not None and self.unknown != "join":
            if self.unknown == "never":
                return None
            # What is broken is unknown on a side: the words must say it is the same,
            # and say enough to tell («очистите» is written about any problem).
            if min(len(prof.terms), len(p.terms)) < self.min_terms:
                return None
            if _jaccard(prof.terms, p.terms) < self.unknown_similarity:
                return None
        if prof.geo is not None and p.geo is not None:
            d = haversine_m(prof.geo, p.geo)
            if d > self.radius_m:
                return None
            if self.taxonomy is not None and _houses_contradict(prof.places, p.places):
                return None  # pins are necessary, not sufficient: another house named
            return 2.0 + agree + _jaccard(prof.terms, p.terms) + (1 - d / self.radius_m)
        text = _jaccard(prof.terms, p.terms) + agree
        if p.address_key and prof.address_key and p.address_key == prof.address_key:
            return 2.0 + text
        agreement = place_agreement(prof.places, p.places)
        if agreement < 0:
            return None
        if agreement > 0:
            return 1.5 + text
        if not p.words_alone or min(len(prof.terms), len(p.terms)) < self.min_terms:
            return None
        return 1.0 + text if text >= self.text_threshold else None


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


class _Bucket:
    """Joinable incidents of one (region, category)."""

    def __init__(self, cell_deg: float) -> None:
        self.cell_deg = cell_deg
        self.profiles: dict[str, Profile] = {}
        self.by_cell: dict[tuple[int, int], set[str]] = defaultdict(set)
        self.by_address: dict[str, set[str]] = defaultdict(set)
        self.by_place: dict[str, set[str]] = defaultdict(set)
        self.by_term: dict[str, set[str]] = defaultdict(set)

    def _cell(self, g: GeoPoint) -> tuple[int, int]:
        # Longitude cells shrink towards the poles; widen them so a cell stays >= radius.
        lon_deg = self.cell_deg / max(0.05, math.cos(math.radians(g.lat)))
        return (math.floor(g.lat / self.cell_deg), math.floor(g.lon / lon_deg))

    def put(self, prof: Profile) -> None:
        self.remove(prof.id)
        self.profiles[prof.id] = prof
        if prof.geo is not None:
            self.by_cell[self._cell(prof.geo)].add(prof.id)
        if prof.address_key:
            self.by_address[prof.address_key].add(prof.id)
        for mark in prof.places:
            self.by_place[mark].add(prof.id)
        for t in prof.terms:
            self.by_term[t].add(prof.id)

    def remove(self, inc_id: str) -> None:
        prof = self.profiles.pop(inc_id, None)
        if prof is None:
            return
        if prof.geo is not None:
            _discard(self.by_cell, self._cell(prof.geo), inc_id)
        if prof.address_key:
            _discard(self.by_address, prof.address_key, inc_id)
        for mark in prof.places:
            _discard(self.by_place, mark, inc_id)
        for t in prof.terms:
            _discard(self.by_term, t, inc_id)

    def candidates(self, p: Probe, text_threshold: float, min_terms: int = 0) -> set[str]:
        found: set[str] = set()
        if p.geo is not None:
            cy, cx = self._cell(p.geo)
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    found |= self.by_cell.get((cy + dy, cx + dx), set())
        if p.address_key:
            found |= self.by_address.get(p.address_key, set())
        for mark in p.places:
            found |= self.by_place.get(mark, set())
        if p.terms and p.words_alone and len(p.terms) >= min_terms:  # rule 4 may apply
            need = max(1, math.ceil(text_threshold * len(p.terms)))
            shared: dict[str, int] = defaultdict(int)
            for t in p.terms:
                for inc_id in self.by_term.get(t, ()):
                    shared[inc_id] += 1
            found |= {i for i, n in shared.items() if n >= need}
        return found


def _discard(index: dict, key: object, value: str) -> None:
    bucket = index.get(key)
    if bucket is not None:
        bucket.discard(value)
        if not bucket:
            del index[key]


class GroupIndex:
    """Joinable incidents per (region key, category), with candidate indexes."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        # 1 degree of latitude ~ 111 km: a cell as large as the radius.
        self._cell_deg = max(rules.radius_m / 111_000.0, 1e-5)
        self._buckets: dict[tuple[str, str | None], _Bucket] = {}

    def clear(self) -> None:
        self._buckets.clear()

    def put(self, group: tuple[str, str | None], prof: Profile) -> None:
        bucket = self._buckets.get(group)
        if bucket is None:
            bucket = self._buckets[group] = _Bucket(self._cell_deg)
        bucket.put(prof)

    def remove(self, group: tuple[str, str | None], inc_id: str) -> None:
        bucket = self._buckets.get(group)
        if bucket is not None:
            bucket.remove(inc_id)

    def best(self, group: tuple[str, str | None], p: Probe) -> tuple[str | None, str | None]:
        """The incident the appeal joins, and, when it joins none, the incident it
        follows: one about the same problem that has run longer than ``span_s``."""
        bucket = self._buckets.get(group)
        if bucket is None:
            return None, None
        best: tuple[float, str] | None = None
        past: tuple[float, str] | None = None
        span = self.rules.span_s
        expired: list[str] = []
        for inc_id in bucket.candidates(p, self.rules.text_threshold, self.rules.min_terms):
            prof = bucket.profiles[inc_id]
            if p.at - prof.last_at > self.rules.window_s:
                expired.append(inc_id)  # out of the window: no longer joinable
                continue
            if prof.opened_at - p.at > self.rules.window_s:
                continue
            score = self.rules.score(prof, p)
            if score is None:
                continue
            if span and p.at - prof.opened_at > span:
                if past is None or (score, inc_id) > past:
                    past = (score, inc_id)
            elif best is None or (score, inc_id) > best:
                best = (score, inc_id)
        for inc_id in expired:
            bucket.remove(inc_id)
        if best is not None:
            return best[1], None
        return None, past[1] if past else None

    def best_in_region(self, region_key: str, p: Probe) -> str | None:
        """The open incident of any category that a post about the same problem would
        join: where a media report (which carries no category) is linked as context."""
        found: tuple[float, str] | None = None
        rules = self.rules
        for (rk, _), bucket in self._buckets.items():
            if rk != region_key:
                continue
            for inc_id in bucket.candidates(p, rules.text_threshold, rules.min_terms):
                prof = bucket.profiles[inc_id]
                if prof.status == "closed" or p.at - prof.last_at > rules.window_s:
                    continue
                if prof.opened_at - p.at > rules.window_s:
                    continue
                score = rules.score(prof, p)
                if score is not None and (found is None or (score, inc_id) > found):
                    found = (score, inc_id)
        return found[1] if found else None

    def prune(self, region_key: str, now: float) -> int:
        """Drop incidents of a region whose window has passed (they stay in the store)."""
        dropped = 0
        for (rk, _), bucket in self._buckets.items():
            if rk != region_key:
                continue
            for inc_id in [
                i for i, p in bucket.profiles.items() if now - p.last_at > self.rules.window_s
            ]:
                bucket.remove(inc_id)
                dropped += 1
        return dropped

    def sizes(self) -> Iterable[int]:
        return (len(b.profiles) for b in self._buckets.values())
