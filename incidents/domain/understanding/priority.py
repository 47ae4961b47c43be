"""How urgent an appeal is: critical, high or normal, and the cues that say so.

Rules, not a model: an operator must be able to read why a post jumped the
queue, and a deployment must be able to add a cue without retraining. The cue
table lives in ``data/priority.yaml`` (regular expressions over lower-cased
text with ё folded to е); ``docs/understanding.md`` lists every cue.
"""

from __future__ import annotations

import re
import re._constants as _constants
import re._parser as _parser
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import ahocorasick
import yaml

from incidents.domain import DATA
from incidents.domain.text.assertion import asserted, clause_at, normalise

Level = Literal["critical", "high", "normal"]
_RANK: dict[str, int] = {"normal": 0, "high": 1, "critical": 2}
_LEVELS: tuple[Level, Level, Level] = ("normal", "high", "critical")
DEFAULT_RULES_PATH = DATA / "priority.yaml"
ENGAGEMENT_KEYS = ("likes", "reposts", "comments", "views")


@dataclass(frozen=True, slots=True)
class PriorityAssessment:
    level: Literal["critical", "high", "normal"]
    cues: tuple[str, ...]


def required_literals(pattern: str) -> frozenset[str]:
    """Strings one of which every match of ``pattern`` must contain (empty if unsure).

    Read from the parsed pattern: a run of literal characters, or one literal
    per branch of an alternation, whichever gives the longest shortest string.
    Used as a prefilter: a pattern whose literals are all absent cannot match,
    so its regex does not run. Patterns with their own flags (``(?i)``) get no
    prefilter.
    """
    parsed = _parser.parse(pattern)
    if parsed.state.flags & (re.IGNORECASE | re.VERBOSE):
        return frozenset()
    return _literals(list(parsed)) or frozenset()


def _better(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    if not b:
        return a
    if not a:
        return b
    ka, kb = (min(map(len, a)), -len(a)), (min(map(len, b)), -len(b))
    return b if kb > ka else a


def _literals(items: list[Any]) -> frozenset[str] | None:
    best: frozenset[str] | None = None
    run: list[str] = []
    for op, av in [*items, (None, None)]:
        if op is _constants.LITERAL:
            run.append(chr(av))
            continue
        if run:
            best = _better(best, frozenset(("".join(run),)))
            run = []
        if op is _constants.SUBPATTERN and not (av[1] or av[2]):  # no inline flags
            best = _better(best, _literals(list(av[3])))
        elif op is _constants.BRANCH:
            alts = [_literals(list(b)) for b in av[1]]
            if all(alts):
                best = _better(best, frozenset().union(*alts))  # type: ignore[arg-type]
        elif op in (_constants.MAX_REPEAT, _constants.MIN_REPEAT) and av[0] >= 1:
            best = _better(best, _literals(list(av[2])))
    return best


def _compile(spec: Any) -> tuple[re.Pattern[str], tuple[re.Pattern[str], ...]]:
    """A pattern is a regex string, or ``{match: regex, unless: [regex, ...]}`` whose
    ``unless`` words, found in the same clause, give that pattern's match another
    meaning («горит» next to «фонарь» is a lamp, not a fire)."""
    if isinstance(spec, str):
        return re.compile(spec), ()
    return re.compile(spec["match"]), tuple(re.compile(u) for u in spec.get("unless") or ())


@dataclass(frozen=True, slots=True)
class _Cue:
    name: str
    patterns: tuple[re.Pattern[str], ...]
    level: int  # rank of the level it gives alone; -1 for modifiers
    modifier: str | None
    # A statement of risk («дерево может упасть»): fires in a clause about what may
    # happen. Event cues (fire, gas, collapse) do not: «если загорится» is no fire.
    risk: bool = False
    # Words that, in the same clause, give the match another meaning («горит фонарь»,
    # «сроки горят»): regexes over the clause.
    unless: tuple[re.Pattern[str], ...] = ()
    # Per pattern (parallel to ``patterns``): its own ``unless`` words.
    pattern_unless: tuple[tuple[re.Pattern[str], ...], ...] = ()

    def asserted_in(self, norm: str, pi: int) -> bool:
        """Some match of pattern ``pi`` is asserted: not negated, hypothetical, past
        or another meaning of the word."""
        own = self.pattern_unless[pi] if pi < len(self.pattern_unless) else ()
        unless = self.unless + own
        for m in self.patterns[pi].finditer(norm):
            if not asserted(norm, m.start(), m.end(), modal_ok=self.risk):
                continue
            if unless:
                clause = clause_at(norm, m.start())
                body = norm[clause.start : clause.end]
                if any(u.search(body) for u in unless):
                    continue
            return True
        return False


class _CueMatcher:
    """Which cues match a text: one Aho-Corasick pass over every pattern's literals,
    then only the regexes whose literal was seen.

    Searching ~120 regexes (or testing their ~120 literals with ``in``) costs
    ~60 µs a post; the automaton finds every literal in one pass of a few µs,
    and most posts carry none of them.
    """

    def __init__(self, cues: tuple[_Cue, ...]) -> None:
        self._cues = cues
        self._regex: list[tuple[int, int]] = []  # (cue, pattern of the cue)
        self._always: list[int] = []
        by_literal: dict[str, list[int]] = {}
        for ci, cue in enumerate(cues):
            for pi, rx in enumerate(cue.patterns):
                pid = len(self._regex)
                self._regex.append((ci, pi))
                lits = required_literals(rx.pattern)
                if not lits:
                    self._always.append(pid)
                for lit in lits:
                    by_literal.setdefault(lit, []).append(pid)
        self._automaton = ahocorasick.Automaton()
        for lit, pids in by_literal.items():
            self._automaton.add_word(lit, tuple(pids))
        if by_literal:
            self._automaton.make_automaton()
        self._empty = not by_literal

    def matching(self, norm: str) -> set[int]:
        """Indexes of the cues with a pattern found in ``norm``."""
        pids = set(self._always)
        if not self._empty:
            for _end, found in self._automaton.iter(norm):
                pids.update(found)
        fired: set[int] = set()
        for pid in sorted(pids):
            ci, pi = self._regex[pid]
            if ci not in fired and self._cues[ci].asserted_in(norm, pi):
                fired.add(ci)
        return fired


@dataclass(frozen=True, slots=True)
class PriorityRules:
    """The cue table of one deployment (``data/priority.yaml`` by default)."""

    cues: tuple[_Cue, ...]
    resonance: Mapping[str, int] = field(default_factory=dict)
    viral: Mapping[str, int] = field(default_factory=dict)
    matcher: _CueMatcher = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "matcher", _CueMatcher(self.cues))

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> PriorityRules:
        cues = []
        for name, spec in doc.get("cues", {}).items():
            modifier = spec.get("modifier")
            if modifier not in (None, "cold", "vulnerable"):
                raise ValueError(f"priority cue {name}: unknown modifier {modifier!r}")
            level = spec.get("level", "normal")
            if modifier is None and level not in _RANK:
                raise ValueError(f"priority cue {name}: unknown level {level!r}")
            pats = spec.get("patterns") or []
            if not pats:
                raise ValueError(f"priority cue {name}: no patterns")
            try:
                compiled = [_compile(p) for p in pats]
                unless = tuple(re.compile(p) for p in spec.get("unless") or ())
            except (re.error, TypeError, KeyError) as e:
                raise ValueError(f"priority cue {name}: bad pattern: {e}") from None
            cues.append(
                _Cue(
                    name,
                    tuple(rx for rx, _ in compiled),
                    -1 if modifier else _RANK[level],
                    modifier,
                    risk=bool(spec.get("risk", modifier is not None)),
                    unless=unless,
                    pattern_unless=tuple(u for _, u in compiled),
                )
            )
        return cls(tuple(cues), dict(doc.get("resonance", {})), dict(doc.get("viral", {})))

    @classmethod
    def load(cls, path: Path | None = None) -> PriorityRules:
        if path is None:
            return _default_rules()
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(yaml.safe_load(f))


@lru_cache(maxsize=1)
def _default_rules() -> PriorityRules:
    with open(DEFAULT_RULES_PATH, encoding="utf-8") as f:
        return PriorityRules.from_dict(yaml.safe_load(f))


def _reaches(engagement: Mapping[str, int | None], limits: Mapping[str, int]) -> bool:
    for key, limit in limits.items():
        value = engagement.get(key)
        if value is not None and value >= limit:
            return True
    return False


def assess_priority(
    text: str,
    category: str | None,
    engagement: Mapping[str, int | None] | None = None,
    *,
    rules: PriorityRules | None = None,
    problems: Sequence[tuple[str, str] | tuple[str, str, str | None]] = (),
) -> PriorityAssessment:
    """Priority of one appeal from urgency cues in its text and its resonance.

    ``category`` only matters for heating: a utilities appeal that mentions
    frost or cold indoors is read as a heating complaint even without the
    exact words. ``problems`` are the recognised problem types with their base
    urgency and, for a hazard, the cue it is (``(code, level, cue)``,
    docs/problems.md): the level starts there; a hazard type fires its cue
    («упал тополь» is ``falling_tree``), another type that raises the level is
    named among the cues («dog_attack»).
    """
    rules = rules or _default_rules()
    norm = normalise(text)
    rank = 0
    fired: list[str] = []
    cold = False
    vulnerable: list[str] = []
    matched = rules.matcher.matching(norm)
    for ci, cue in enumerate(rules.cues):
        if ci not in matched:
            continue
        if cue.modifier == "cold":
            cold = True
        elif cue.modifier == "vulnerable":
            vulnerable.append(cue.name)
        else:
            fired.append(cue.name)
            rank = max(rank, cue.level)
    for problem in problems:
        code, level = problem[0], problem[1]
        problem_cue = problem[2] if len(problem) > 2 else None
        if problem_cue:
            if problem_cue not in fired:
                fired.append(problem_cue)
            rank = max(rank, _RANK.get(level, 0))
        elif _RANK.get(level, 0) > rank:
            rank = _RANK[level]
            fired.append(code)
    if cold and ("no_heating" in fired or (category == "utilities" and not fired)):
        fired = [c for c in fired if c != "no_heating"]
        fired.insert(0, "heating_in_frost")
        rank = 2
    hazard = rank
    if vulnerable and hazard >= 1:
        fired.extend(vulnerable)
        rank = min(2, hazard + 1)
    if engagement:
        if _reaches(engagement, rules.resonance):
            fired.append("resonance")
            rank = max(rank, 1)
        if hazard >= 1 and _reaches(engagement, rules.viral):
            rank = 2
    return PriorityAssessment(_LEVELS[rank], tuple(fired))
