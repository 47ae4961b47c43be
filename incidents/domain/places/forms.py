"""Every inflected form of every place name, and how much evidence each form needs.

The enrich stage looks places up at thousands of posts a second, so the expensive
linguistics happen once: pymorphy3 inflects every city and region name into its
case forms ("Тверь" → "твери", "тверью" ...) and judges each surface form against
the general dictionary (is "орле" also a bird? is "кирова" also a surname?). The
result, `PlaceForms`, is cached in the bundled place-forms.txt under a fingerprint
of its inputs (scripts/build_geo_forms.py rewrites it); the name tables below are
those inputs besides the CSVs, and docs/geo.md says how to tune them.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import product
from pathlib import Path

from incidents.domain.places.cities import _TOWNS_IN_FEDERAL_CITIES, CityKey
from incidents.domain.places.folding import _fold
from incidents.domain.text import morph

_FORMS_VERSION = "3"  # bump when the way forms or kinds are derived changes

Reading = tuple[str, str, str | None]  # (case, number, gender) of one grammatical reading

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
