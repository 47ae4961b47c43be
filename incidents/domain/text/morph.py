"""Russian tokens and lemmas shared by the rubric, the gazetteer and the signatures.

pymorphy3 is the well-kept morphology for Russian; its analyser is expensive to
build (~0.3 s) and its parses are pure functions of the word, so one analyser
per process and a bounded cache of normal forms keep lemmatisation cheap on the
hot path (social media repeats a small vocabulary).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import pymorphy3

_WORD = re.compile(r"[а-яёa-z0-9]+(?:-[а-яёa-z0-9]+)*", re.IGNORECASE)


@lru_cache(maxsize=1)
def analyzer() -> pymorphy3.MorphAnalyzer:
    return pymorphy3.MorphAnalyzer(lang="ru")


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens, ё folded to е; hyphenated words stay whole."""
    return [t.replace("ё", "е") for t in _WORD.findall(text.lower())]


@lru_cache(maxsize=8192)
def parses(word: str) -> tuple[Any, ...]:
    """pymorphy3's parses of one lower-cased word, most probable first.

    The rubric, the gazetteer and the problem model each ask for a word's lemma,
    grammemes or readings one after the other; this cache makes that one
    dictionary walk instead of several (a walk is most of the cost of a word the
    process has not seen yet).
    """
    return tuple(analyzer().parse(word))


def first_parse(word: str) -> Any:
    """pymorphy3's most probable parse of one lower-cased word, or None."""
    found = parses(word)
    return found[0] if found else None


@lru_cache(maxsize=100_000)
def grammemes(word: str) -> tuple[frozenset[str], bool]:
    """The most probable parse's grammemes ("Surn", "ADJF", …) and whether the word
    is in the dictionary; cached, as grouping asks this for every name-like word."""
    parse = first_parse(word)
    if parse is None:
        return frozenset(), False
    return frozenset(str(parse.tag).replace(" ", ",").split(",")), bool(parse.is_known)


@lru_cache(maxsize=100_000)
def known_word(word: str) -> bool:
    """The word is in pymorphy3's dictionary as it stands (not guessed from its ending)."""
    return bool(analyzer().word_is_known(word))


@lru_cache(maxsize=200_000)
def lemma(word: str) -> str:
    """The most probable normal form of one lower-cased word."""
    if not word or not ("а" <= word[0] <= "я" or word[0] == "ё"):
        return word
    parse = first_parse(word)
    if parse is None:
        return word
    return str(parse.normal_form).replace("ё", "е")


@lru_cache(maxsize=200_000)
def lemmas_of(word: str) -> frozenset[str]:
    """Every normal form pymorphy3 offers, for matching ambiguous place names."""
    if not word or not ("а" <= word[0] <= "я" or word[0] == "ё"):
        return frozenset((word,))
    return frozenset(p.normal_form.replace("ё", "е") for p in parses(word))


def lemmatize(text: str) -> list[str]:
    return [lemma(t) for t in tokens(text)]
