"""What exactly is wrong: a taxonomy of problems, and recognising them in a post.

A problem type is an object and a defect («фонарь» + «не горит»), with the category
code it belongs to, the kind of agency that answers it, its base urgency and its scope
(``data/problems.yaml``, written by the project; docs/problems.md is its table). The
recogniser reads a post as a resident wrote it:

- **words as lemmas** (pymorphy3): «фонари», «фонарей», «фонарём» are all «фонарь»;
  every probable normal form of an ambiguous word is kept («ямы» is «яма» or «ям»);
- **negation scope** (``assertion``): «не горит» is a defect of a lamp, «нет света» an
  absence, and a phrase of the taxonomy written with «не» matches only negated words;
- **object and defect in one sentence**, within a few words of each other; the
  ``where`` words that make a type (the entrance for its lighting) anywhere in the post;
- **the most specific type wins** over its parent, and two problems with different
  objects in one post are both kept («нет света в подъезде и сломан лифт»).

It never forces a type: a post that names no known problem is ``unknown`` (an empty
list), and the category then comes from the text classifier, as before.

The same types drive category, priority (base urgency), routing (agency kind) and
incident grouping (``compatible``): two posts at one building are about one problem
only when their types are the same or one refines the other.

Why this module is long: the taxonomy and its recogniser are one model. The
taxonomy's phrases are compiled into the very slots, lemma sets and negation marks
the scan of a post produces (``Token``, ``Scan``, ``Phrase``, ``_Slot``), and the
matching rules (object and defect in one sentence, absence, negated phrases, the
most specific type) read both; a split would make those private pieces public for
one caller.
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from incidents.contracts.topology import CATEGORIES
from incidents.domain import DATA
from incidents.domain.text import morph
from incidents.domain.text.assertion import ANY_MOOD as _ANY_MOOD
from incidents.domain.text.assertion import MOOD_WORDS, NEGATORS, clauses, normalise

DEFAULT_PROBLEMS_PATH = DATA / "problems.yaml"
URGENCIES = ("normal", "high", "critical")
SCOPES = ("building", "street", "area", "service", "person")
# Words between an object and its defect in one sentence: «фонарь у дома 5 по улице
# Ленина уже неделю не горит» is nine words apart.
DEFECT_WINDOW = 10
# Terse posts split one thought with full stops («Объявления. 4 этаж»): across a
# sentence boundary an object and a defect still go together when this close.
ACROSS_SENTENCES = 4
_ABSENT = "ABSENT"
# A catch-all type («состояние подъезда») ranks below any specific type of the post.
BROAD_PENALTY = 1.0
_RECENT_MAX = 4096
_NEG_CUE = frozenset({"не", "нет", "нету", "без", "отсутствует", "отсутствуют", "отсутствие"})
# Words an absence («нет», «без», «не было») reaches: «нет горячей воды», «без света».
_ABSENCE_REACH = 3
_ABSENCE = frozenset({"нет", "нету", "без", "отсутствует", "отсутствуют", "отсутствие", "ни"})
_AUX = frozenset({"было", "будет", "стало", "был", "была", "были", "бывает"})
_POST_ABSENCE = frozenset({"нет", "нету"})
_DENY = frozenset({"не"})  # «ни холодной, ни горячей» is an absence, not a denial
# Words that may follow a postposed «нет» («воды нет уже неделю», «света нет с утра»).
_AFTER = frozenset(
    """уже совсем давно с со третий второй который которую неделю неделя месяц день дня
    дней сутки суток года опять снова вообще до и а но в во на""".split()
)
_TOKEN = re.compile(r"[а-яa-z0-9]+(?:-[а-яa-z0-9]+)*|[.!?;\n]+|[,:()—–]|\s-\s")
_SENTENCE_END = ".!?;\n"
_CLAUSE_END = ",:()—– -"
_PREDICATIVE = frozenset({"VERB", "INFN", "PRTF", "PRTS", "GRND", "PRED", "ADVB", "ADJS"})
_MIN_SHARE = 0.05
_PREPOSITIONS = frozenset(
    "в во на над под у при из с со к ко по о об от до за перед между возле около".split()
)  # a lemma is kept when its parses carry at least this share of the score


@lru_cache(maxsize=200_000)
def word_lemmas(word: str) -> frozenset[str]:
    """Every probable normal form of a lower-cased word (ё folded), itself included."""
    if not word or not ("а" <= word[0] <= "я"):
        return frozenset((word,))
    share: dict[str, float] = defaultdict(float)
    total = 0.0
    for p in morph.parses(word):
        share[p.normal_form.replace("ё", "е")] += p.score
        total += p.score
    keep = {lem for lem, s in share.items() if total <= 0 or s / total >= _MIN_SHARE}
    keep.add(word)
    return frozenset(keep)


_VERBAL = frozenset({"VERB", "INFN", "GRND", "PRTF", "PRTS"})


@lru_cache(maxsize=20_000)
def cue_lemmas(word: str) -> frozenset[str]:
    """The lemmas a word of the taxonomy stands for: its probable readings, but not a
    verb's when the word is first of all a noun or adjective («залив», a gulf, is no
    form of «залить»; «проезжая» is both «проезжая» and «проезжий»)."""
    if not word or not ("а" <= word[0] <= "я"):
        return frozenset((word,))
    parses = morph.analyzer().parse(word)
    if not parses:
        return frozenset((word,))
    top_verbal = parses[0].tag.POS in _VERBAL
    total = sum(p.score for p in parses) or 1.0
    share: dict[str, float] = defaultdict(float)
    for p in parses:
        if not top_verbal and p.tag.POS in _VERBAL:
            continue
        share[p.normal_form.replace("ё", "е")] += p.score
    keep = {lem for lem, s in share.items() if s / total >= _MIN_SHARE}
    keep.update((word, morph.lemma(word)))
    return frozenset(keep)


class Token:
    """One word of a post: its lemmas, whether it is negated, where it stands.

    A plain slotted class, not a frozen dataclass: a post makes dozens of them and
    a frozen dataclass's ``__init__`` is several times slower.
    """

    __slots__ = ("clause", "denied", "lemmas", "negated", "sentence", "unreal")

    def __init__(
        self,
        lemmas: frozenset[str],
        negated: bool,
        sentence: int,
        unreal: bool = False,
        denied: bool = False,
        clause: int = 0,
    ) -> None:
        self.lemmas = lemmas
        self.negated = negated
        self.sentence = sentence
        # In a clause about what would or will happen, or what is past or over («если
        # загорится», «в прошлом году был пожар»): recognised, but no urgency from it.
        self.unreal = unreal
        # Right after «не» («не газом»): denied, so no object of a problem (unlike an
        # absence, «нет света», which is the problem).
        self.denied = denied
        self.clause = clause

    def __repr__(self) -> str:
        return f"Token({sorted(self.lemmas)}, negated={self.negated})"


class Scan:
    """A post as parallel arrays, one entry per word (punctuation dropped): what the
    recogniser reads. ``analyse`` gives the same as Token objects."""

    __slots__ = ("clause", "denied", "lemmas", "negated", "sentence", "unreal")

    def __init__(
        self,
        lemmas: list[frozenset[str]],
        negated: list[bool],
        sentence: list[int],
        unreal: list[bool],
        denied: list[bool],
        clause: list[int],
    ) -> None:
        self.lemmas = lemmas
        self.negated = negated
        self.sentence = sentence
        self.unreal = unreal
        self.denied = denied
        self.clause = clause

    def __len__(self) -> int:
        return len(self.lemmas)


def analyse(text: str) -> list[Token]:
    """Word tokens with their lemmas, negation and sentence number (punctuation dropped).

    Negation reaches within a clause (commas, dashes and brackets end one): «не»
    negates the next word; «нет», «без», «не было» the next three («нет горячей
    воды»); a postposed «нет» the three words before it («света нет уже неделю»).
    """
    s = scan(text)
    return [
        Token(lem, ng, se, u, dn, c)
        for lem, ng, se, u, dn, c in zip(
            s.lemmas, s.negated, s.sentence, s.unreal, s.denied, s.clause, strict=True
        )
    ]


def scan(text: str) -> Scan:
    """The arrays ``analyse`` describes, without a Token object per word."""
    norm = normalise(text)
    # Most posts have no conditional or past clause: then no token needs its clause
    # looked up, and one regex pass tells.
    raw_words = _TOKEN.findall(norm)
    moods = (
        tuple(c for c in clauses(norm) if c.hypothetical or c.past)
        if not MOOD_WORDS.isdisjoint(raw_words) and _ANY_MOOD.search(norm)
        else ()
    )
    words: list[str] = []
    sentences: list[int] = []
    clause_ids: list[int] = []
    unreal: list[bool] = []
    sent = clause = 0
    if not moods:
        for t in raw_words:
            c0 = t[0]
            if c0 in _SENTENCE_END:
                sent += 1
                clause += 1
            elif c0 in _CLAUSE_END:
                clause += 1
            else:
                words.append(t)
                sentences.append(sent)
                clause_ids.append(clause)
        unreal = [False] * len(words)
    else:
        ci = 0
        for m in _TOKEN.finditer(norm):
            t = m.group()
            if t[0] in _SENTENCE_END:
                sent += 1
                clause += 1
                continue
            if t[0] in _CLAUSE_END:
                clause += 1
                continue
            while ci + 1 < len(moods) and moods[ci].end <= m.start():
                ci += 1
            words.append(t)
            sentences.append(sent)
            clause_ids.append(clause)
            unreal.append(moods[ci].start <= m.start() < moods[ci].end)
    clauses_ = clause_ids
    neg = [False] * len(words)
    denied = [False] * len(words)
    n = len(words)
    for i, w in enumerate(words):
        if w not in NEGATORS:
            continue
        j = i + 1
        if w in _DENY and j < n and clauses_[j] == clauses_[i] and words[j] not in _AUX:
            denied[j] = True
        aux = j < n and words[j] in _AUX  # «не было воды», «не будет света»
        reach = _ABSENCE_REACH + aux if (w in _ABSENCE or aux) else 1
        for k in range(j, min(n, j + reach)):
            if clauses_[k] != clauses_[i]:
                break
            neg[k] = True
        # «света нет», «воды нету уже неделю», «ДТП не было»: the absence follows the noun.
        postposed = w in _POST_ABSENCE or (
            w == "не"
            and j < n
            and words[j] in _AUX
            and (j + 1 >= n or words[j + 1] in _AFTER or clauses_[j + 1] != clauses_[i])
        )
        if postposed and (j >= n or clauses_[j] != clauses_[i] or words[j] in _AFTER or w == "не"):
            for k in range(max(0, i - 3), i):
                if clauses_[k] == clauses_[i] and words[k] not in NEGATORS:
                    neg[k] = True
    return Scan([word_lemmas(w) for w in words], neg, sentences, unreal, denied, clauses_)


class _Word:
    """One word of a cue: the lemmas it accepts, or a prefix of them (``word*``).

    Interned by the taxonomy (one object per distinct word), so identity is equality
    and a post's occurrences are found by a plain dict lookup.
    """

    __slots__ = ("lemmas", "prefix")

    def __init__(self, lemmas: frozenset[str], prefix: str | None = None) -> None:
        self.lemmas = lemmas
        self.prefix = prefix


_INTERNED: dict[tuple[frozenset[str], str | None], _Word] = {}


def _word(lemmas: frozenset[str], prefix: str | None = None) -> _Word:
    key = (lemmas, prefix)
    w = _INTERNED.get(key)
    if w is None:
        w = _INTERNED[key] = _Word(lemmas, prefix)
    return w


@dataclass(frozen=True, slots=True)
class Phrase:
    """One cue: words that must occur together (any order, a word or two apart)."""

    text: str
    words: tuple[_Word, ...]
    negated: bool = False  # written with «не», «нет», «без»: its words must be negated
    absent: bool = False  # ABSENT: the object itself is negated
    # Says something happens or is so (a verb, participle or predicative: «горят
    # днём», «сломан»), rather than naming a thing («горячая вода»): only then does
    # negation decide whether a ``where`` or ``unless`` phrase is there.
    predicative: bool = False
    # Starts with a preposition («в лифте», «над подъездом»): its words keep their order
    # («лифт в подъезде» is no «в лифте»).
    ordered: bool = False
    # The word that must be in a post for the phrase to be there, for indexing: its first
    # word that is not a preposition («лифт» of «в лифте»).
    key_at: int = 0

    @property
    def key(self) -> _Word:
        return self.words[self.key_at]

    @classmethod
    def parse(cls, text: str) -> Phrase:
        if text == _ABSENT:
            return cls(text, (), absent=True)
        raw = [w for w in re.findall(r"[а-яёa-z0-9*+:-]+", text.lower().replace("ё", "е"))]
        negated = False
        while len(raw) > 1 and raw[0] in _NEG_CUE:  # «отсутствует» alone is a word
            negated = True
            raw = raw[1:]
        words = []
        predicative = False
        for w in raw:
            if w.endswith("*") and len(w) > 2:
                words.append(_word(frozenset(), w[:-1]))
            else:
                words.append(_word(cue_lemmas(w)))
                predicative |= bool(morph.grammemes(w)[0] & _PREDICATIVE)
        if not words:
            raise ValueError(f"problem cue {text!r}: no words")
        ordered = raw[0] in _PREPOSITIONS
        key_at = next((n for n, w in enumerate(raw) if w not in _PREPOSITIONS), 0)
        return cls(
            text,
            tuple(words),
            negated=negated,
            predicative=predicative,
            ordered=ordered,
            key_at=min(key_at, len(words) - 1),
        )

    def find(self, s: Scan, occ: _Occurrences, *, asserted: bool = True) -> list[int]:
        """Positions (of the first word) where the phrase occurs.

        A phrase written with «не» matches only negated words; any other phrase, when
        ``asserted``, only words that are not negated («не горит днём» is no «горит
        днём»). Objects are found with ``asserted=False``: «нет света» names the light.
        """
        starts = occ.get(self.words[0])
        if not starts:
            return []
        neg = s.negated
        if len(self.words) == 1:
            if self.negated:
                return [i for i in starts if neg[i]]
            if asserted:
                return [i for i in starts if not neg[i]]
            return starts
        found = []
        span = len(self.words) + 1
        plain = asserted and not self.negated  # every word must be asserted
        sent = s.sentence
        for i in starts:
            if self.negated and not neg[i]:
                continue
            if plain and neg[i]:
                continue
            used = {i}
            ok = True
            last = i
            for w in self.words[1:]:
                hit = next(
                    (
                        k
                        for k in occ.get(w, ())
                        if k not in used
                        and abs(k - i) <= span
                        and sent[k] == sent[i]
                        and not (plain and neg[k])
                        and (not self.ordered or k > last)
                    ),
                    None,
                )
                if hit is None:
                    ok = False
                    break
                used.add(hit)
                last = hit
            if ok:
                found.append(i)
        return found


# Where each taxonomy word occurs in one post: word → positions.
_Occurrences = dict[_Word, list[int]]


class _Post:
    """One post being recognised: its tokens, where each word occurs, and the phrases
    already looked up (a lexicon phrase such as «сломан» serves many types)."""

    __slots__ = ("memo", "occ", "s")

    def __init__(self, s: Scan, occ: _Occurrences) -> None:
        self.s = s
        self.occ = occ
        self.memo: dict[tuple[int, bool], list[int]] = {}

    def find(self, ph: Phrase, asserted: bool = True) -> list[int]:
        key = (id(ph), asserted)
        found = self.memo.get(key)
        if found is None:
            found = self.memo[key] = ph.find(self.s, self.occ, asserted=asserted)
        return found


@dataclass(frozen=True)
class ProblemType:
    code: str
    title: str
    category: str
    agency: str
    urgency: str
    scope: str
    object: tuple[Phrase, ...]
    defect: tuple[Phrase, ...] = ()
    # Phrases that are the problem by themselves («сосульки», «темно в подъезде»): no
    # defect needed (the ``where`` and ``unless`` words still apply).
    alone: tuple[Phrase, ...] = ()
    where: tuple[Phrase, ...] = ()
    unless: tuple[Phrase, ...] = ()
    also: tuple[str, ...] = ()
    parent: str | None = None
    # Other types that describe the same job when two posts are compared (one work
    # order: «ремонт подъезда» and «надписи в подъезде»); symmetric.
    compatible: tuple[str, ...] = ()
    # A general type whose refinements are different problems (a pothole in a yard and
    # one on the carriageway; graffiti on a fence and in an entrance): its children are
    # not compatible with one another through it. A type that is not generic is one
    # job with all its refinements (the state of an entrance: walls, windows, doors).
    generic: bool = False
    # The urgency cue (data/priority.yaml) this problem is, when reported as the case:
    # «упал тополь» is `falling_tree` whatever words the cue's patterns foresaw.
    cue: str | None = None
    # Object and defect must be in one clause (commas and «а», «но» end one): «горит
    # зелёный, а машины…» is no burning car.
    same_clause: bool = False
    # A catch-all of its kind («состояние подъезда»): it names the problem only when no
    # more specific type is recognised in the post.
    broad: bool = False
    examples: tuple[str, ...] = ()

    @property
    def acceptable(self) -> tuple[str, ...]:
        """Every category code a reasonable rubric admits for this problem."""
        return (self.category, *[c for c in self.also if c != self.category])


@dataclass(frozen=True, slots=True)
class ProblemHit:
    """A problem recognised in a post: its type, how sure, and where its object was."""

    code: str
    score: float
    object_at: int
    # The problem is reported as the case now (not «если…», not «в прошлом году…»).
    asserted: bool = True
    # Named by a model learned from a deployment's history, not by the rules.
    learned: bool = False


@dataclass
class Taxonomy:
    types: dict[str, ProblemType]
    agencies: dict[str, str] = field(default_factory=dict)
    _children: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        children: dict[str, set[str]] = defaultdict(set)
        links: set[tuple[str, str]] = set()
        for t in self.types.values():
            if t.parent:
                children[t.parent].add(t.code)
            for other in t.compatible:
                links.update(((t.code, other), (other, t.code)))
        self._children = {k: frozenset(v) for k, v in children.items()}
        self._links = frozenset(links)
        self._order = list(self.types.values())
        self._rank = {t.code: URGENCIES.index(t.urgency) for t in self._order}
        self._recent: dict[str, list[ProblemHit]] = {}
        self._build_index()

    # ------------------------------------------------------------ loading
    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Taxonomy:
        lexicons = {k: list(v) for k, v in (doc.get("lexicons") or {}).items()}
        agencies = dict(doc.get("agencies") or {})

        # One Phrase per distinct cue text: a post finds «сломан» once for every type.
        interned: dict[str, Phrase] = {}

        def phrases(code: str, slot: str, items: Iterable[Any]) -> tuple[Phrase, ...]:
            out: list[Phrase] = []
            for item in items or ():
                if isinstance(item, int) and not isinstance(item, bool):
                    item = str(item)  # «03», «122»: numbers YAML read as integers
                if not isinstance(item, str):
                    raise ValueError(f"problem {code}: {slot} entries must be strings")
                if item.startswith("@"):
                    if item[1:] not in lexicons:
                        raise ValueError(f"problem {code}: {slot} names no lexicon {item!r}")
                    out.extend(phrases(code, slot, lexicons[item[1:]]))
                else:
                    ph = interned.get(item)
                    if ph is None:
                        ph = interned[item] = Phrase.parse(item)
                    out.append(ph)
            return tuple(out)

        types: dict[str, ProblemType] = {}
        for spec in doc.get("types") or ():
            code = spec.get("code")
            if not code or code in types:
                raise ValueError(f"problem type without a code or twice: {code!r}")
            category = spec.get("category")
            if category not in CATEGORIES:
                raise ValueError(f"problem {code}: unknown category {category!r}")
            also = tuple(spec.get("also") or ())
            if bad := [c for c in also if c not in CATEGORIES]:
                raise ValueError(f"problem {code}: unknown categories in also: {bad}")
            urgency = spec.get("urgency", "normal")
            if urgency not in URGENCIES:
                raise ValueError(f"problem {code}: unknown urgency {urgency!r}")
            scope = spec.get("scope", "area")
            if scope not in SCOPES:
                raise ValueError(f"problem {code}: unknown scope {scope!r}")
            agency = spec.get("agency", "municipal_administration")
            if agencies and agency not in agencies:
                raise ValueError(f"problem {code}: unknown agency kind {agency!r}")
            obj = phrases(code, "object", spec.get("object") or ())
            alone = phrases(code, "alone", spec.get("alone") or ())
            if not obj and not alone:
                raise ValueError(f"problem {code}: no object phrases")
            types[code] = ProblemType(
                code=code,
                title=str(spec.get("title", code)),
                category=category,
                agency=agency,
                urgency=urgency,
                scope=scope,
                object=obj,
                defect=phrases(code, "defect", spec.get("defect") or ()),
                alone=alone,
                where=phrases(code, "where", spec.get("where") or ()),
                unless=phrases(code, "unless", spec.get("unless") or ()),
                also=also,
                parent=spec.get("parent"),
                compatible=tuple(spec.get("compatible") or ()),
                generic=bool(spec.get("generic", False)),
                broad=bool(spec.get("broad", False)),
                cue=spec.get("cue"),
                same_clause=bool(spec.get("same_clause", False)),
                examples=tuple(spec.get("examples") or ()),
            )
        for t in types.values():
            if t.parent and t.parent not in types:
                raise ValueError(f"problem {t.code}: unknown parent {t.parent!r}")
            if bad := [c for c in t.compatible if c not in types]:
                raise ValueError(f"problem {t.code}: unknown compatible types {bad}")
        return cls(types, agencies)

    @classmethod
    def load(cls, path: Path | None = None) -> Taxonomy:
        if path is None:
            return default_taxonomy()
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(yaml.safe_load(f))

    # --------------------------------------------------------- relations
    def family(self, code: str) -> str:
        """The root of a type's parent chain."""
        seen = set()
        while (parent := self.types[code].parent) and code not in seen:
            seen.add(code)
            code = parent
        return code

    def compatible(self, a: str, b: str) -> bool:
        """Two types can describe one problem: equal, one refines the other, or declared
        compatible (one job); a refinement of a compatible type is compatible too."""
        if a == b or (a, b) in self._links:
            return True
        if self._is_ancestor(a, b) or self._is_ancestor(b, a):
            return True
        ra, rb = self._lineage(a), self._lineage(b)
        # Siblings under a common ancestor that is one job («окно» and «дверь» of an
        # entrance), not under a generic one («яма во дворе», «яма на дороге»).
        common = [x for x in ra if x in rb]
        if common and not self.types[common[0]].generic:
            return True
        return any((x, y) in self._links for x in ra for y in rb)

    def _lineage(self, code: str) -> list[str]:
        out = [code]
        t = self.types.get(code)
        while t is not None and t.parent and len(out) < 8:
            out.append(t.parent)
            t = self.types.get(t.parent)
        return out

    def _is_ancestor(self, anc: str, code: str) -> bool:
        t = self.types.get(code)
        while t is not None and t.parent:
            if t.parent == anc:
                return True
            t = self.types.get(t.parent)
        return False

    def any_compatible(self, a: Iterable[str], b: Iterable[str]) -> bool:
        bs = tuple(b)
        return any(self.compatible(x, y) for x in a for y in bs)

    # -------------------------------------------------------- recognition
    def _build_index(self) -> None:
        """Every word of every phrase, by lemma, and the types each object word opens."""
        self._by_lemma: dict[str, list[_Word]] = defaultdict(list)
        self._prefixed: list[_Word] = []
        self._opens: dict[_Word, list[int]] = defaultdict(list)
        seen: set[_Word] = set()
        for ti, t in enumerate(self._order):
            for ph in (*t.object, *t.alone, *t.defect, *t.where, *t.unless):
                for w in ph.words:
                    if w in seen:
                        continue
                    seen.add(w)
                    if w.prefix is not None:
                        self._prefixed.append(w)
                    for lem in w.lemmas:
                        self._by_lemma[lem].append(w)
            for ph in (*t.object, *t.alone):
                if ti not in self._opens[ph.key]:
                    self._opens[ph.key].append(ti)
        self._words_of: dict[frozenset[str], tuple[_Word, ...]] = {}
        # Per type, each slot's phrases by their first word: a post only tries the
        # phrases whose first word it contains.
        self._slots = [
            tuple(_Slot.of(getattr(t, s)) for s in ("object", "defect", "where", "unless", "alone"))
            for t in self._order
        ]
        self._absent_defect = [any(d.absent for d in t.defect) for t in self._order]
        # A type whose object needs a defect, with no «alone» phrase and no ABSENT: a post
        # without any of its defect words cannot name it (checked before anything else).
        self._needs_defect = [
            bool(t.defect) and not self._absent_defect[ti] for ti, t in enumerate(self._order)
        ]
        # Words whose presence lets a type through the candidate filter: a defect word
        # or an «alone» phrase (for a type that needs a defect), a place word (for a type
        # with `where`); and the types that need neither.
        self._defect_opens: dict[_Word, list[int]] = defaultdict(list)
        self._place_opens: dict[_Word, list[int]] = defaultdict(list)
        for ti, slots in enumerate(self._slots):
            if self._needs_defect[ti]:
                for w in slots[1].heads | slots[4].heads:
                    self._defect_opens[w].append(ti)
            for w in slots[2].heads:
                self._place_opens[w].append(ti)
        self._needs_no_defect = frozenset(
            ti for ti in range(len(self._order)) if not self._needs_defect[ti]
        )
        self._needs_no_place = frozenset(
            ti for ti, slots in enumerate(self._slots) if not slots[2].heads
        )

    def _words_matching(self, lemmas: frozenset[str]) -> tuple[_Word, ...]:
        found = self._words_of.get(lemmas)
        if found is None:
            ws: dict[_Word, None] = {}
            for lem in lemmas:
                for w in self._by_lemma.get(lem, ()):
                    ws[w] = None
            for w in self._prefixed:
                if any(lem.startswith(w.prefix or "") for lem in lemmas):
                    ws[w] = None
            found = tuple(ws)
            if len(self._words_of) < 200_000:
                self._words_of[lemmas] = found
        return found

    def recognise(self, text: str) -> list[ProblemHit]:
        """The problems a post names, best first; empty when it names none we know.

        The last few thousand texts are remembered: the enrich stage asks once for the
        text model's features and once for the post's problems.
        """
        cache = self._recent
        hits = cache.get(text)
        if hits is None:
            hits = self.recognise_scan(scan(text))
            if len(cache) >= _RECENT_MAX:
                cache.clear()
            cache[text] = hits
        return list(hits)

    def recognise_tokens(self, toks: Sequence[Token]) -> list[ProblemHit]:
        """The problems of a post given as Token objects (``analyse``)."""
        return self.recognise_scan(
            Scan(
                [t.lemmas for t in toks],
                [t.negated for t in toks],
                [t.sentence for t in toks],
                [t.unreal for t in toks],
                [t.denied for t in toks],
                [t.clause for t in toks],
            )
        )

    def recognise_scan(self, s: Scan) -> list[ProblemHit]:
        if not len(s):
            return []
        occ: _Occurrences = defaultdict(list)
        words_matching = self._words_matching
        for i, lemmas in enumerate(s.lemmas):
            for w in words_matching(lemmas):
                occ[w].append(i)
        # Candidates, by set operations in C: a type whose object (or «alone» phrase) is
        # named, and whose defect (unless it needs none) and place (if it has one) are too.
        opened: set[int] = set()
        with_defect: set[int] = set(self._needs_no_defect)
        with_place: set[int] = set(self._needs_no_place)
        for w in occ:
            if (o := self._opens.get(w)) is not None:
                opened.update(o)
            if (d := self._defect_opens.get(w)) is not None:
                with_defect.update(d)
            if (pl := self._place_opens.get(w)) is not None:
                with_place.update(pl)
        candidates = opened & with_defect & with_place
        hits: list[ProblemHit] = []
        post = _Post(s, occ)
        for ti in sorted(candidates):
            hit = self._match(ti, post)
            if hit is not None:
                hits.append(hit)
        if not hits:
            return []
        codes = {h.code for h in hits}
        # A parent gives way to a child that matched too.
        hits = [h for h in hits if not (self._children.get(h.code, frozenset()) & codes)]
        # Best first; of two equally good readings the more urgent («стоки залили подвал»:
        # a sewage spill, not only a smell), so a tie never hides a hazard.
        hits.sort(key=lambda h: (-h.score, -self._rank[h.code], h.object_at, h.code))
        # One problem per object: a second type on the same object words is a rival
        # reading, not a second problem.
        kept: list[ProblemHit] = []
        for h in hits:
            if any(k.object_at == h.object_at for k in kept):
                continue
            kept.append(h)
        return kept

    def _match(self, ti: int, post: _Post) -> ProblemHit | None:
        t = self._order[ti]
        s, occ = post.s, post.occ
        objects, defects, wheres, unlesses, alones = self._slots[ti]
        # The words that rule a type out or make it count whether or not negated
        # («горячей воды нет» still speaks of hot water).
        vetoes = [k for p in unlesses.present(occ) for k in post.find(p, p.predicative)]
        if vetoes and not t.same_clause:
            return None
        where_bonus = 0.0
        if t.where:
            if not any(post.find(p, p.predicative) for p in wheres.present(occ)):
                return None
            where_bonus = 0.5
        present_defects = defects.present(occ)
        best: tuple[float, int, int] | None = None  # (score, object at, defect at)
        for ap in alones.present(occ):
            for i in post.find(ap):  # asserted: «сосулек нет» is no problem
                score = 2.0 + 0.25 * (len(ap.words) - 1) + where_bonus
                score -= BROAD_PENALTY if t.broad else 0.0
                # ties go to the earliest word, so the answer never depends on set order
                if best is None or (score, -i) > (best[0], -best[1]):
                    best = (score, i, i)
        if t.defect and not present_defects and not self._absent_defect[ti]:
            objects = _NO_SLOT  # no defect in the post: only an «alone» phrase can name it
        for op in objects.present(occ):
            # A type that is its object alone («пожар», «граффити») needs it asserted.
            for i in post.find(op, not t.defect):
                if vetoes and any(s.clause[k] == s.clause[i] for k in vetoes):
                    continue  # same_clause: a veto counts in the object's clause only
                if s.denied[i]:
                    continue  # «пахнет кошками, не газом»
                if s.negated[i] and not self._absent_defect[ti]:
                    continue  # «сосулек нет»: only an absence-type problem has a negated object
                score = 1.0 + 0.25 * (len(op.words) - 1)
                at = i
                if t.defect:
                    d = _defect_near(
                        present_defects, self._absent_defect[ti], post, i, op, t.same_clause
                    )
                    if d is None:
                        continue
                    score += 1.0 + d[0]
                    at = d[1]
                else:
                    score += 0.75  # the object alone is the problem («граффити»)
                score += where_bonus - (BROAD_PENALTY if t.broad else 0.0)
                if best is None or (score, -i) > (best[0], -best[1]):
                    best = (score, i, at)
        if best is None:
            return None
        # Reported as the case now only when neither its object nor its defect is in a
        # clause about what may happen or what is past («лес — летом будет угроза пожара»).
        real = not (s.unreal[best[1]] or s.unreal[best[2]])
        return ProblemHit(t.code, best[0], best[1], asserted=real)


@dataclass(frozen=True, slots=True)
class _Slot:
    """One slot of a type (its objects, defects, …): phrases by their key word."""

    by_head: dict[_Word, tuple[Phrase, ...]]
    heads: frozenset[_Word]

    @classmethod
    def of(cls, phrases: Iterable[Phrase]) -> _Slot:
        out: dict[_Word, list[Phrase]] = defaultdict(list)
        for ph in phrases:
            if ph.words:
                out[ph.key].append(ph)
        by_head = {w: tuple(v) for w, v in out.items()}
        return cls(by_head, frozenset(by_head))

    def present(self, occ: _Occurrences) -> list[Phrase]:
        """The phrases whose key word the post contains."""
        heads = self.heads
        if not heads:
            return []
        by_head = self.by_head
        if len(heads) < len(occ):
            return [ph for w in heads if w in occ for ph in by_head[w]]
        return [ph for w in occ if w in heads for ph in by_head[w]]


_NO_SLOT = _Slot({}, frozenset())


def _defect_near(
    defects: Sequence[Phrase],
    absent_ok: bool,
    post: _Post,
    i: int,
    op: Phrase,
    same_clause: bool = False,
) -> tuple[float, int] | None:
    """The best defect phrase in the object's sentence and window: (bonus, where)."""
    s = post.s
    sentence, clause = s.sentence, s.clause
    sent = sentence[i]
    span = len(op.words)
    best: tuple[float, int] | None = None
    if absent_ok and any(s.negated[k] for k in range(i, min(len(s), i + span))):
        best = (0.25, i)  # ABSENT: the object itself is negated («нет освещения»)
    for dp in defects:
        for k in post.find(dp):  # a negated defect word is no defect («не сломан»)
            if i <= k < i + span:
                continue  # the object's own words are not its defect
            if same_clause and clause[k] != clause[i]:
                continue
            near = abs(k - i)
            if near > (DEFECT_WINDOW if sentence[k] == sent else ACROSS_SENTENCES):
                continue
            bonus = 0.25 * (len(dp.words) - 1) + (0.25 if dp.negated else 0.0)
            if best is None or (bonus, -near, -k) > (best[0], -abs(best[1] - i), -best[1]):
                best = (bonus, k)
    return best


@lru_cache(maxsize=1)
def default_taxonomy() -> Taxonomy:
    with open(DEFAULT_PROBLEMS_PATH, encoding="utf-8") as f:
        return Taxonomy.from_dict(yaml.safe_load(f))


def table_markdown(tax: Taxonomy) -> str:
    """The taxonomy as a Markdown table for docs/problems.md."""
    lines = [
        "| code | problem | category (also) | agency kind | urgency | scope | parent |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in tax.types.values():
        cats = t.category + (f" ({', '.join(t.also)})" if t.also else "")
        lines.append(
            f"| `{t.code}` | {t.title} | {cats} | {t.agency} | {t.urgency} | {t.scope} | "
            f"{t.parent or ''} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["table"]:
        sys.stdout.write(table_markdown(default_taxonomy()))
        return 0
    tax = default_taxonomy()
    for line in sys.stdin:
        hits = tax.recognise(line)
        print([f"{h.code}:{h.score:.2f}" for h in hits], "|", line.strip())
    return 0


def urgencies(taxonomy: Taxonomy, hits: Sequence[ProblemHit]) -> list[tuple[str, str, str | None]]:
    """What the recognised problems give the priority: (type, base urgency, hazard cue),
    for the problems reported as the case now (not «если…», not «в прошлом году…»)."""
    out = []
    for h in hits:
        t = taxonomy.types.get(h.code)
        if t is not None and h.asserted:
            out.append((t.code, t.urgency, t.cue))
    return out


def cues(text: str) -> list[str]:
    """The relevance model's problem features (FeatureConfig.problems hook): the types
    recognised in a text and their categories («street_light_out», «cat:landscaping»).

    A plainly worded complaint names a problem («батареи ледяные», «яма на яме») even
    when it shares no word with the training texts; chatter mostly does not."""
    tax = default_taxonomy()
    out: list[str] = []
    for h in tax.recognise(text):
        if h.asserted:
            out.extend((h.code, "cat:" + tax.types[h.code].category))
    return out


if __name__ == "__main__":
    raise SystemExit(main())
