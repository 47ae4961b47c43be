"""The short-text rules: whether the words of two posts make one a copy of the other.

A short post shares too few character k-grams with its copy for a Jaccard to decide,
and too many with another resident's post about the same problem; what decides is
how the words line up: the word alignment (difflib's, compiled when built), a word
typed with a typo or a look-alike letter (``near``, ``misspelt``, ``retyped``), the
share of words found (``word_containment``), and what a repost may add around its
original (``Partners``, ``carries``, ``added_apart``). The dedup stage applies them
(incidents/domain/copies/dedup.py, docs/dedup.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from difflib import SequenceMatcher

from incidents.domain.copies import speedups
from incidents.domain.text.morph import known_word
from incidents.domain.text.normalize import HOMOGLYPHS

# Whether two words are one word typed with a typo (near, misspelt).
WordPair = Callable[[str, str], bool]


def matching_blocks(a: Sequence[str], b: Sequence[str]) -> list[tuple[int, int, int]]:
    """difflib's matching blocks of two word lists, (i, j, size), the (len(a), len(b), 0)
    sentinel last: SequenceMatcher(None, a, b, autojunk=False), compiled when built."""
    fast = speedups.compiled
    if fast is not None:
        blocks: list[tuple[int, int, int]] = fast.matching_blocks(list(a), list(b))
        return blocks
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    return [(m.a, m.b, m.size) for m in matcher.get_matching_blocks()]


def opcodes(a: Sequence[str], b: Sequence[str]) -> list[tuple[str, int, int, int, int]]:
    """SequenceMatcher(None, a, b, autojunk=False).get_opcodes(), from matching_blocks."""
    i = j = 0
    ops: list[tuple[str, int, int, int, int]] = []
    for ai, bj, size in matching_blocks(a, b):
        if i < ai and j < bj:
            ops.append(("replace", i, ai, j, bj))
        elif i < ai:
            ops.append(("delete", i, ai, j, bj))
        elif j < bj:
            ops.append(("insert", i, ai, j, bj))
        i, j = ai + size, bj + size
        if size:
            ops.append(("equal", ai, i, bj, j))
    return ops


def match_ratio(a: Sequence[str], b: Sequence[str]) -> float:
    """SequenceMatcher(None, a, b, autojunk=False).ratio()."""
    total = len(a) + len(b)
    return 2.0 * sum(size for _, _, size in matching_blocks(a, b)) / total if total else 1.0


def _one_edit(a: str, b: str) -> bool:
    """One letter changed, dropped or added, or two neighbours swapped."""
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    i = 0  # the first difference
    while i < la and i < lb and a[i] == b[i]:
        i += 1
    if la == lb:  # one letter changed, or it and the next swapped
        if i == la:
            return False
        if a[i + 1 :] == b[i + 1 :]:
            return True
        return a[i] == b[i + 1 : i + 2] and a[i + 1] == b[i] and a[i + 2 :] == b[i + 2 :]
    return (a[i:] == b[i + 1 :]) if la < lb else (a[i + 1 :] == b[i:])


def near(a: str, b: str) -> bool:
    """Equal, or one edit apart (a typo): a changed letter from 3 letters on, a dropped,
    doubled or swapped one from 4 (never in a word with a digit: "2м", "4шт" are numbers)."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if min(la, lb) < 3 or not a.isalpha() or not b.isalpha():
        return False
    if min(la, lb) < 4 and la != lb:
        return False
    return _one_edit(a, b)


def misspelt(a: str, b: str) -> bool:
    """Two different words, one a typo of the other: one edit apart, and at least one
    of the two not a word of the dictionary.

    A typo makes a word that does not exist ("светлфоре", "консирукцию", "нв" for
    "на"); two dictionary words one letter apart ("стене" / "стенде", "объявление"
    / "объявления", "тротуар" / "тротуара") are words somebody chose. In a text of
    a few words that difference is all there is to tell two residents apart. Words
    of one or two letters are nearly all in the dictionary ("в", "т", "га"): there
    only two letters swapped ("ан"), one dropped ("к" for "жк") or a Latin look-alike
    ("c" for "с") is a typo. Never in a word with a digit.
    """
    if a == b or not a.isalpha() or not b.isalpha():
        return False
    if max(len(a), len(b)) <= 2 and (
        sorted(a) == sorted(b)
        or a in b
        or b in a
        or a.translate(HOMOGLYPHS) == b.translate(HOMOGLYPHS)
    ):
        return True
    return _one_edit(a, b) and not (known_word(a) and known_word(b))


def retyped(a: Sequence[str], b: Sequence[str]) -> bool:
    """The same words in the same order, a few of them misspelt: a short text retyped
    or carried over with a typo. A repost does not reorder words ("Труба сломана" /
    "Сломана труба") nor change a word for another ("Реклама на стене" / "на стенде",
    "в лифте" / "на лифте"): those are two residents."""
    return len(a) == len(b) and all(x == y or misspelt(x, y) for x, y in zip(a, b, strict=True))


def word_containment(a: Sequence[str], b: Sequence[str], at_least: float = 0.0) -> float:
    """Share of the shorter text's words found in the longer one, typos forgiven.

    Two residents who use one template ("Требуется очистка <чего> от рекламы")
    differ in the words that matter; a copy differs only in noise (wrappers,
    tags, a cut tail, typos), so nearly every word of the shorter text is in
    the longer one. A caller that only asks whether the share reaches
    ``at_least`` gets an answer below it as soon as too many words are missing:
    matching a missing word against every word of the other text for typos is
    the costly part.
    """
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    if not short:
        return 0.0
    pool = set(long_)
    # "в", "на", "не": a typo there says nothing about the post.
    counted = sum(1 for w in short if len(w) > 2 or not w.isalpha())
    if not counted:
        return 1.0
    may_miss = counted * (1 - at_least) + 1e-9
    found = missed = 0
    last = len(short) - 1
    by_len: dict[int, list[str]] | None = None  # the pool by word length, for typos
    for i, w in enumerate(short):
        if len(w) <= 2 and w.isalpha():
            continue
        if w in pool:
            found += 1
        elif not w.isalpha() and i < last:
            return 0.0  # another house, entrance or flat number: another place
        elif i == last and any(x.startswith(w) for x in pool):
            found += 1  # the last word of a cut-off text may itself be cut
        else:
            if by_len is None:
                by_len = {}
                for x in pool:
                    by_len.setdefault(len(x), []).append(x)
            n = len(w)  # a typo changes a word's length by one letter at most
            if any(near(w, x) for size in (n - 1, n, n + 1) for x in by_len.get(size, ())):
                found += 1
                continue
            missed += 1
            if missed > may_miss:
                return found / counted  # below at_least whatever the rest holds
    return found / counted


# What a repost may do to its original's words (see carries): add this many at
# each edge, and keep at least this share when it cuts the tail.
EDGE_WORDS = 8
MIN_KEPT = 0.5


def _has_number(words: Sequence[str]) -> bool:
    return not all(w.isalpha() for w in words)


def _doubled(a: str, b: str) -> bool:
    """b is a with one letter doubled ("на" → "наа"), in words of any length."""
    return len(b) == len(a) + 1 and any(
        b[i] == b[i + 1] and b[:i] + b[i + 1 :] == a for i in range(len(a))
    )


def _typo_gap(a: Sequence[str], b: Sequence[str], typo: WordPair = near) -> bool:
    """One word for one with a typo, two words glued together (or split apart), or a
    space typed one letter off ("никто его" → "никт оего")."""
    if len(a) == 1 and len(b) == 1:
        x, y = a[0], b[0]
        return typo(x, y) or (x.isalpha() and (_doubled(x, y) or _doubled(y, x)))
    if len(a) == 2 and len(b) == 2:
        return a[0] + a[1] == b[0] + b[1] and not _has_number(a)
    if len(a) == 2 and len(b) == 1:
        return _glued(a, b[0])
    if len(a) == 1 and len(b) == 2:
        return _glued(b, a[0])
    return False


def _glued(pair: Sequence[str], word: str) -> bool:
    """word is the pair typed without its space. "дома 124" → "дома124" keeps the
    number; "12 3" → "123" is another number."""
    x, y = pair
    return word == x + y and not (x[-1:].isdigit() and y[:1].isdigit())


def _wrapped(a: Sequence[str], b: Sequence[str], max_added: int, typo: WordPair) -> bool:
    """b is a few added words, then a (or a with a typo gap)."""
    if not a:
        return len(b) <= max_added
    return any(len(b) - k <= max_added and _typo_gap(a, b[-k:], typo) for k in (1, 2) if len(b) > k)


def _signed(a: Sequence[str], b: Sequence[str], max_added: int, typo: WordPair) -> bool:
    """b is a (or a with a typo gap), then a few added words: a sign-off after a typo."""
    return any(len(b) - k <= max_added and _typo_gap(a, b[:k], typo) for k in (1, 2) if len(b) > k)


class Partners:
    """Which words have a partner among a copy's words that a typo gap could pair them
    with: the word itself, one edit away, a Latin look-alike, or one word a prefix or
    suffix of the other (two words glued, a space moved, a letter doubled).

    Every word of the original having one is a necessary condition for ``carries``
    to keep them all, checked before the word alignment (~80 µs). A short post
    meets dozens of candidates made of the same few words, so the answer is kept
    per word.
    """

    def __init__(self, copy: Sequence[str]) -> None:
        self._pool = frozenset(copy)
        self._seen: dict[str, bool] = {w: True for w in self._pool}
        self._folded: frozenset[str] | None = None

    def of_all(self, original: Sequence[str]) -> bool:
        seen = self._seen
        for w in original:
            found = seen.get(w)
            if found is None:
                found = seen[w] = self._find(w)
            if not found:
                return False
        return True

    def _find(self, w: str) -> bool:
        if any(x.startswith(w) or w.startswith(x) or x.endswith(w) or w.endswith(x) or
               _one_edit(w, x) for x in self._pool):  # fmt: skip
            return True
        if len(w) > 2:  # longer look-alikes are folded by normalization, or one edit
            return False
        if self._folded is None:
            self._folded = frozenset(x.translate(HOMOGLYPHS) for x in self._pool)
        return w.translate(HOMOGLYPHS) in self._folded


def carries(
    original: Sequence[str],
    copy: Sequence[str],
    max_added: int = EDGE_WORDS,
    cut: bool = False,
    min_kept: float = MIN_KEPT,
    typo: WordPair = near,
    partners: Partners | None = None,
) -> bool:
    """The copy is the original's words in order, give or take what reposting does.

    A repost adds words at the edges (a wrapper before: "Нам пишут:", a sign-off
    or a feed's "… ещё" after), may cut the original's tail, and may carry a typo
    or two glued words. What it does not do is change words in the middle: two
    residents who use one template ("Требуется очистка <чего> от рекламы") differ
    there, and so do two house numbers. So: the words are aligned; added words are
    allowed only at the edges (at most ``max_added`` on each side), missing words
    only at the end (``min_kept`` of the original kept), and in between only typo
    gaps; a gap with a number on both sides is another place. Different words at
    the end (the original's tail, the copy's own) are a feed's cut with its marker
    ("… ещё") only when the copy shows the cut (``cut``: an ellipsis near its end);
    otherwise two texts that end differently are two posts, and an unmarked cut
    with words added before is one text quoted inside another. ``typo`` says which
    two words are one with a typo (``misspelt`` for short texts); ``partners``, the
    copy's Partners when a caller compares it with many originals.
    """
    if not original or not copy:
        return False
    if min_kept >= 1.0 and not (partners or Partners(copy)).of_all(original):
        return False
    ops = opcodes(original, copy)
    kept = 0
    wrapped = False
    for tag, i1, i2, j1, j2 in ops:
        a, b = original[i1:i2], copy[j1:j2]
        if tag == "equal":
            kept += len(a)
            continue
        leading, trailing = i1 == 0 and j1 == 0, i2 == len(original) and j2 == len(copy)
        if _typo_gap(a, b, typo):  # never changes a number
            kept += len(a)
        elif _has_number(a) and _has_number(b):
            return False  # another house, entrance or flat number
        elif leading and _wrapped(a, b, max_added, typo):
            kept += len(a)  # a wrapper before the text (its first words may carry a typo)
            wrapped = True
        elif trailing and len(b) <= max_added and (not a or cut or not (b or wrapped)):
            pass  # a sign-off; a cut tail (marked, or the only change at the edges)
        elif trailing and _signed(a, b, max_added, typo):
            kept += len(a)  # a sign-off after the text's last words, one with a typo
        else:
            return False
    return kept >= min_kept * len(original)


# The longest sign-off taken for a call without a break before it ("Примите меры!").
_CALL_WORDS = 3


def added_apart(
    original: Sequence[str], copy: Sequence[str], breaks: Sequence[bool], exclaims: bool = False
) -> bool:
    """The words a copy adds around the original stand apart from it.

    A repost adds its words as a unit of their own: a wrapper ends with a colon
    or a line break («Нам пишут: …»), a sign-off starts a new sentence («…
    Помогите!»), a quote closes. Somebody else's post that contains the same few
    words writes them into its own sentence («надписи на стенах», «прошу
    закрасить граффити»). ``copy`` and ``breaks`` are words_and_breaks of the
    copy; the original's run in it must meet a break wherever words were added.
    A sign-off needs no break when the copy ends with an exclamation or a question
    (``exclaims``) and it is a call of a few words («… парадной помогите!!!», «…
    Куда смотрит администрация?!»).
    """
    if len(breaks) != len(copy) + 1:
        return False
    blocks = [b for b in matching_blocks(original, copy) if b[2]]
    if not blocks:  # no word unchanged: a typo in a word or two, nothing added
        return len(copy) <= len(original) + 1
    (first_a, first_b, _), (last_a, last_b, last_size) = blocks[0], blocks[-1]
    # Where the original's run starts and ends in the copy. An edge word with a
    # typo is in no block; split in two or glued to its neighbour, it moves the
    # seam by a word either way.
    if first_a == 0:
        starts = range(first_b, first_b + 1)
    else:
        start = first_b - first_a
        starts = range(max(0, start - 1), min(first_b, start + 1) + 1)
    run_end = last_b + last_size
    tail = len(original) - last_a - last_size
    if tail == 0:
        ends = range(run_end, run_end + 1)
    else:
        # Past the copy's end: its tail was cut, and the text's edge is the seam.
        end = min(run_end + tail, len(copy))
        ends = range(max(run_end, end - 1), min(len(copy), end + 1) + 1)
    called = exclaims and len(copy) - ends[0] <= _CALL_WORDS
    return any(breaks[i] for i in starts) and (called or any(breaks[i] for i in ends))
