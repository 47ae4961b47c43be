"""The street, house or landmark a post's text names: "ул. Советская, д. 5", "ТЦ «Радуга»".

Regular expressions anchored at trigger words (a street type, "дом", "метро"),
not natasha's address grammar: this runs on every post and must cost
microseconds. Posts written in capitals are brought back to ordinary case first,
so the name patterns still see where a street's name begins and ends.
"""

from __future__ import annotations

import re

from incidents.domain.places.folding import _TOKEN, _folded

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
