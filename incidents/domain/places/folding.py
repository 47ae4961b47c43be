"""How place names and a post's text are keyed: lower case, ё as е, one token pattern.

The forms are built with `_fold` and looked up with tokens of `_folded` text, so
both sides must fold alike; the address finder scans the same folded text. One
definition each, here, keeps them from drifting apart.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"[а-яa-z0-9]+(?:-[а-яa-z0-9]+)*")


def _fold(text: str) -> str:
    """Lower case with ё as е: how names are keyed (people rarely type ё)."""
    return text.lower().replace("ё", "е")


def _folded(text: str) -> str:
    """Lower case with ё as е, of the same length as the text (offsets stay valid)."""
    lowered = text.lower()
    if len(lowered) != len(text):  # "İ" and a few others grow when lower-cased
        lowered = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    return lowered.replace("ё", "е")
