"""Is a phrase asserted, or negated, hypothetical or long past? Clauses and negation scope.

A hazard word is not a hazard report: «не горит фонарь» says a lamp is out, «запаха
газа нет» that there is no gas, «если загорится, кто ответит?» that nothing has
burnt yet, «в прошлом году был пожар» that it is over. Urgency cues (priority) and
problem recognition (problems) both ask the same questions of a span of text, so the
answers live here, written once, over the normalised text (lower case, ё → е):

- **clauses**: split at ``. ! ? ; : ,``, brackets and line breaks, and before a
  contrast («… а теперь…», «… но…»), so «в прошлом году был пожар, а теперь снова
  горит» has a past clause and a present one, and «горит мусорка, огонь может
  перекинуться на дом» reports a fire whatever the second clause fears;
- **negation**: a negating word («не», «ни», «нет», «без», «отсутствует», «никакого»)
  within the two words before a span, or a postposed absence right after it
  («газа нет», «запаха не чувствуется»);
- **mood**: a clause that speaks of what might happen or will («если», «вдруг», «не
  дай бог», «в случае», «может», «боимся», «будет»), and a clause set in the past («в
  прошлом году», «год назад», «в марте», «ещё в 2018») or that says the hazard is over
  («потушили», «заварили», «свет дали»);
- **names**: a short quoted name («кафе «Пламя»», «остановка «Пожарное депо»») is no
  report of what it names.

Rules over words, not a model: an operator reads why a cue did not fire, and the
lists are short because negation in Russian is carried by a handful of words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_CLAUSE_BREAK = re.compile(r"[.!?;:,()\n]+|\s+[—–-]\s+|[—–]|\s+(?=(?:а|но|однако|зато|хотя|или)\s)")
_WORD = re.compile(r"[а-яa-z0-9]+(?:-[а-яa-z0-9]+)*")

# Words that negate what follows them within two words («не горит», «нет запаха газа»,
# «без света», «никакого дыма»).
NEGATORS = frozenset(
    """не ни нет нету без отсутствует отсутствуют отсутствие отсутствия никакого никакой
    никаких никакие ничего""".split()
)
# Postposed absence: «газа нет», «дыма не было», «запаха не чувствуется».
_POSTPOSED = re.compile(
    r"^(?:\s+[а-яa-z0-9]+){0,3}?\s*(?:уже\s+|вроде\s+|больше\s+|тоже\s+|совсем\s+)?"
    r"(?:нет\b|нету\b|не\s+(?:было|будет|чувству\w*|слышно|обнаруж\w*|выявлен\w*|видно|"
    r"наблюда\w*|ощуща\w*))"
)
# A clause about what would happen if, will happen, or what one fears: nothing has
# happened yet, not even a risk to report («если загорится», «зимой будут сосульки»).
_CONDITIONAL = re.compile(
    r"\b(?:если|вдруг|не дай бог|в случае|на случай|случись|чтобы не|чтоб не|как бы не|"
    r"боим\w*|боюсь|бои\w*ся|опаса\w*|страшно представить|представьте|что будет|"
    r"не приведи|при пожаре|при возгорании|учени\w*|тренировк\w*|инструктаж\w*|"
    r"правила?\s+(?:пожарной|безопасности)|будет|будут|станет|как начн\w*|когда начн\w*|"
    r"угроза пожара|пожароопасн\w*|не выходите|берегите)\b"
)
# A clause about what may happen: no event yet, but a risk cue («дерево может упасть»)
# is itself the report.
_MODAL = re.compile(r"\b(?:может|могут|мог|могла|могло|могли|возможн\w*)\b")
# A clause set in the past, far enough back not to be today's emergency.
_PAST = re.compile(
    r"\b(?:в прошлом|в позапрошлом|прошл\w+ (?:зимой|весной|летом|осенью|году|годом|"
    r"недел\w*|пятниц\w*|суббот\w*|воскресень\w*|понедельник|вторник|сред\w*|четверг)|"
    r"прошлогодн\w*|позапрошлогодн\w*|(?:год|года|лет|месяц\w*) назад|когда-то|"
    r"давным-давно|раньше|в \d{4}(?: году)?|(?:19|20)\d\d год\w*|ещ[её] в|после того|"
    r"в (?:январе|феврале|марте|апреле|мае|июне|июле|августе|сентябре|октябре|ноябре|"
    r"декабре)|за (?:\d+|два|две|три|четыре|пять|несколько) (?:дня|дней|суток|недели|недель)|"
    r"в детстве|в советское время|при ссср)\b"
)
# A clause that says the hazard is over: it was put out, fixed, closed, given back.
_RESOLVED = re.compile(
    r"(?<!не )(?<!ни )\b(?:устранил\w*|устранен\w*|потушил\w*|потушен\w*|заварил\w*|"
    r"заварен\w*|починил\w*|отремонтировал\w*|ликвидировал\w*|ликвидирован\w*|"
    r"наладил\w*|восстановил\w*|эвакуировал\w*|"
    r"(?:люк|колодец|крышку) (?:закрыли|закрыт)|закрыли (?:люк|колодец)|наконец \w+ли|"
    r"(?:сосульк\w*|наледь|лед|снег с крыши)\b[^,.;:!?\n]{0,60}\b(?:сбили|убрали|сбросили)|"
    r"(?:сбили|убрали|сбросили) (?:сосульк\w*|наледь|лед)|"
    r"(?:свет|воду|газ|тепло|отопление|электричество) (?:дали|включили|подали)|"
    r"(?:дали|включили|подали) (?:свет|воду|газ|тепло|отопление|электричество))\b"
)


# Any word of any mood: one search tells whether a text needs its clauses' moods at all.
ANY_MOOD = re.compile("|".join(f"(?:{rx.pattern})" for rx in (_CONDITIONAL, _PAST, _RESOLVED)))
# Words at least one of which every mood pattern contains, so that a text whose words
# include none of them has no mood and the patterns need not run (a set lookup per word
# instead of a regex over the text). A test holds every pattern to this list.
MOOD_WORDS = frozenset(
    """если вдруг дай случае случай случись чтобы чтоб бы боимся боюсь боимся боится боятся
    бояться опасаемся опасаюсь опасается опасаются страшно представьте будет приведи при
    учения учений учениях тренировка тренировки инструктаж правила правило будут станет как
    когда угроза пожароопасно пожароопасный пожароопасная пожароопасные выходите берегите
    прошлом позапрошлом прошлой прошлым прошлую прошлогодний прошлогодняя прошлогоднего
    прошлогоднем прошлогодней позапрошлогодний назад когда-то давным-давно раньше году
    года годов ещё еще после январе феврале марте апреле мае июне июле августе сентябре
    октябре ноябре декабре за детстве советское ссср устранили устранил устранила устранено
    устранена устранены потушили потушил потушен потушена заварили заварил заварена заварено
    починили починил отремонтировали отремонтировал ликвидировали ликвидирован ликвидирована
    наладили наладил восстановили восстановил эвакуировали эвакуировал закрыли закрыт
    наконец сбили убрали сбросили дали включили подали люк колодец крышку сосульки сосульку
    сосулька сосулек наледь лед снег""".split()
)


@dataclass(frozen=True, slots=True)
class Clause:
    start: int
    end: int
    hypothetical: bool  # conditional, future or feared: nothing reported as the case
    past: bool  # long past, or over («потушили», «свет дали»)
    modal: bool = False  # «может упасть»: no event, but a risk


def normalise(text: str) -> str:
    """Lower case with ё folded to е (and short quoted names blanked): the form every
    cue and lexicon is written in."""
    return mask_names(text).lower().replace("ё", "е")


@lru_cache(maxsize=20_000)
def clauses(norm: str) -> tuple[Clause, ...]:
    """The clauses of a normalised text with their mood, in order, covering all of it.

    Each mood's words are looked for once over the whole text (most posts have none),
    and a match marks the clause it lies in.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _CLAUSE_BREAK.finditer(norm):
        if m.start() > start:
            spans.append((start, m.start()))
        start = m.end()
    if start < len(norm):
        spans.append((start, len(norm)))
    flags = [[False, False, False] for _ in spans]  # conditional, past, modal
    for rx, slot in ((_CONDITIONAL, 0), (_PAST, 1), (_RESOLVED, 1), (_MODAL, 2)):
        for m in rx.finditer(norm):
            for n, (s, e) in enumerate(spans):
                if s <= m.start() and m.end() <= e:
                    flags[n][slot] = True
                    break
    return tuple(Clause(s, e, f[0], f[1], f[2]) for (s, e), f in zip(spans, flags, strict=True))


_QUOTED_NAME = re.compile(r"[«\"„“]([A-ZА-ЯЁ0-9][^«»\"„“\n]{0,40})[»\"“”]")


def mask_names(text: str) -> str:
    """Short quoted names blanked out: «кафе «Пламя»», «остановка «Пожарное депо»» name a
    place, not a fire. A quote of more than a few words (a repost) is kept."""

    def blank(m: re.Match[str]) -> str:
        inner = m.group(1)
        if len(inner.split()) > 3:
            return m.group(0)
        return " " * len(m.group(0))

    return _QUOTED_NAME.sub(blank, text)


def clause_at(norm: str, pos: int) -> Clause:
    for c in clauses(norm):
        if c.start <= pos < c.end:
            return c
    return Clause(pos, pos, False, False, False)


def negated(norm: str, start: int, end: int) -> bool:
    """True when the span [start, end) is negated inside its clause.

    A negator among the two words before the span («не горит», «нет запаха газа»,
    «не очень сильно пахнет» is not caught: intensifiers in between are rare in
    complaints), or a postposed absence right after it («газа нет»).
    """
    clause = clause_at(norm, start)
    while start > clause.start and norm[start - 1].isalnum():
        start -= 1  # a pattern may start or end inside a word («запах\w* газ»)
    while end < clause.end and norm[end].isalnum():
        end += 1
    before = _WORD.findall(norm[clause.start : start])[-2:]
    if any(w in NEGATORS for w in before):
        return True
    return bool(_POSTPOSED.match(norm[end : clause.end]))


def asserted(norm: str, start: int, end: int, *, modal_ok: bool = False) -> bool:
    """True when the span reports something that is the case now.

    Not negated, not in a clause about a possible or feared event (unless the cue is
    itself a statement of risk, ``modal_ok``: «дерево может упасть» is the report),
    not in a clause set in the past.
    """
    if negated(norm, start, end):
        return False
    clause = clause_at(norm, start)
    if clause.past or clause.hypothetical:
        return False
    return modal_ok or not clause.modal
