"""How urgent an appeal is: critical, high or normal, and the cues that say so.

Rules, not a model: an operator must be able to read why a post jumped the
queue, and a deployment must be able to add a cue without retraining. The cue
table lives in ``data/priority.yaml`` (regular expressions over lower-cased
text with ё folded to е); ``docs/understanding.md`` lists every cue.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml

Level = Literal["critical", "high", "normal"]
_RANK: dict[str, int] = {"normal": 0, "high": 1, "critical": 2}
_LEVELS: tuple[Level, Level, Level] = ("normal", "high", "critical")
DEFAULT_RULES_PATH = Path(__file__).with_name("data") / "priority.yaml"
ENGAGEMENT_KEYS = ("likes", "reposts", "comments", "views")


@dataclass(frozen=True, slots=True)
class PriorityAssessment:
    level: Literal["critical", "high", "normal"]
    cues: tuple[str, ...]


_META = set("\\.^$*+?{}[]|()")


def _required_literal(pattern: str) -> str:
    """The longest literal run every match of ``pattern`` must contain ('' if unsure).

    Scans only depth-0 text; a character followed by a quantifier is optional
    and so ends the run. Used as a cheap ``in`` prefilter before the regex.
    """
    if "|" in pattern.replace("(?:", "(").split("(")[0]:
        return ""
    runs, cur, depth, i = [], "", 0, 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            runs.append(cur)
            cur = ""
            i += 2
            continue
        if ch in "([":
            runs.append(cur)
            cur = ""
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch in "*?{+":
            if ch != "+":
                cur = cur[:-1]
            runs.append(cur)
            cur = ""
        elif ch == "|" and depth == 0:
            return ""
        elif depth == 0 and ch not in _META:
            cur += ch
        i += 1
    runs.append(cur)
    return max(runs, key=len).strip() if runs else ""


@dataclass(frozen=True, slots=True)
class _Cue:
    name: str
    patterns: tuple[tuple[str, re.Pattern[str]], ...]  # (required literal, regex)
    level: int  # rank of the level it gives alone; -1 for modifiers
    modifier: str | None

    def search(self, norm: str) -> bool:
        return any(literal in norm and rx.search(norm) is not None for literal, rx in self.patterns)


@dataclass(frozen=True, slots=True)
class PriorityRules:
    """The cue table of one deployment (``data/priority.yaml`` by default)."""

    cues: tuple[_Cue, ...]
    resonance: Mapping[str, int] = field(default_factory=dict)
    viral: Mapping[str, int] = field(default_factory=dict)

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
            compiled = tuple((_required_literal(p), re.compile(p)) for p in pats)
            cues.append(_Cue(name, compiled, -1 if modifier else _RANK[level], modifier))
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
) -> PriorityAssessment:
    """Priority of one appeal from urgency cues in its text and its resonance.

    ``category`` only matters for heating: a utilities appeal that mentions
    frost or cold indoors is read as a heating complaint even without the
    exact words.
    """
    rules = rules or _default_rules()
    norm = text.lower().replace("ё", "е")
    rank = 0
    fired: list[str] = []
    cold = False
    vulnerable: list[str] = []
    for cue in rules.cues:
        if not cue.search(norm):
            continue
        if cue.modifier == "cold":
            cold = True
        elif cue.modifier == "vulnerable":
            vulnerable.append(cue.name)
        else:
            fired.append(cue.name)
            rank = max(rank, cue.level)
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
