"""Near-duplicate signatures and the windowed candidate index.

Signatures are datasketch MinHash (affine32 scheme) over character k-grams
(k = INCIDENTS_DEDUP_SHINGLE_CHARS, 5 by default) of the normalized text.
datasketch builds one MinHash per call in Python (~0.2 ms a post, DESIGN §4);
here the *same* signature is computed for a whole batch at once in numpy (the
n-grams are hashed straight from the UTF-32 code points, the permutations are
datasketch's, and a unit test checks equality with datasketch's own
update_batch), which costs a few µs a post.

Character k-grams rather than words: a typo or a Latin look-alike letter in a
short post changes a word (and two word bigrams) out of a handful, which sinks
a word-level Jaccard, while it changes at most k of a few dozen character
k-grams. Distinguishing two residents who report the same kind of problem in
similar words is left to what actually differs between them: the place
(coordinates, address) and the words that are not shared, see Desk._is_copy.

Candidates come from banded LSH (band/row counts chosen by datasketch's own
optimiser for a deliberately low retrieval threshold); every candidate is then
verified *exactly* on the two texts' k-gram sets, so the decision does not
depend on MinHash estimation noise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence, Set
from difflib import SequenceMatcher
from typing import Any, NamedTuple

import numpy as np
from datasketch import MinHash
from datasketch.lsh import _optimal_param

from incidents.domain.copies import speedups
from incidents.domain.text.morph import known_word
from incidents.domain.text.normalize import HOMOGLYPHS

_U32 = np.uint32
# Grams signed per chunk (see Signer.signatures).
_CHUNK_GRAMS = 8192
_SEED = 1
_SCHEME = "affine32"
# Whether two words are one word typed with a typo (near, misspelt).
WordPair = Callable[[str, str], bool]


def _fmix32(h: np.ndarray) -> np.ndarray:
    """murmur3's 32-bit finaliser, as datasketch applies it before permuting."""
    h = h ^ (h >> _U32(16))
    h = h * _U32(0x85EBCA6B)
    h = h ^ (h >> _U32(13))
    h = h * _U32(0xC2B2AE35)
    return h ^ (h >> _U32(16))


class Similarity(NamedTuple):  # a tuple: made for every candidate, ~5x cheaper than a dataclass
    jaccard: float
    containment: float  # share of the shorter text's shingles found in the longer one
    shorter: int
    longer: int


_GRAM_MUL = np.array(
    [
        0x9E3779B1,
        0x85EBCA77,
        0xC2B2AE3D,
        0x27D4EB2F,
        0x165667B1,
        0xD3A2646C,
        0xFD7046C5,
        0xB55A4F09,
    ],
    dtype=_U32,
)


class Signer:
    """Character k-gram shingles and MinHash signatures, for a whole batch at once."""

    def __init__(self, num_perm: int = 64, candidate_threshold: float = 0.4, k: int = 5) -> None:
        if not 2 <= k <= len(_GRAM_MUL):
            raise ValueError(f"shingle length {k} not in 2..{len(_GRAM_MUL)}")
        self.k = k
        self.num_perm = num_perm
        reference = MinHash(num_perm=num_perm, seed=_SEED, scheme=_SCHEME)
        a, b = reference.permutations
        self._a = np.asarray(a, dtype=_U32)[:, None]
        self._b = np.asarray(b, dtype=_U32)[:, None]
        bands, rows = _optimal_param(candidate_threshold, num_perm, 0.3, 0.7)
        self.bands, self.rows = int(bands), int(rows)
        rng = np.random.RandomState(7)
        self._band_mul = rng.randint(1, 2**62, size=self.rows, dtype=np.int64).astype(np.uint64)
        self._buf = np.empty((num_perm, 0), dtype=_U32)
        # The same numbers as bytes, for the compiled twin (speedups.sign).
        self._mul_bytes = _GRAM_MUL[:k].tobytes()
        self._a_bytes = self._a.ravel().tobytes()
        self._b_bytes = self._b.ravel().tobytes()

    def sign(self, texts: Sequence[str]) -> tuple[list[np.ndarray], np.ndarray]:
        """shingle_batch and signatures of normalized texts in one step (compiled when built)."""
        fast = speedups.compiled
        if fast is None:
            shingles = self.shingle_batch(texts)
            return shingles, self.signatures(shingles)
        grams, sigs = fast.sign(list(texts), self.k, self._mul_bytes, self._a_bytes, self._b_bytes)
        return [np.frombuffer(g, dtype=_U32) for g in grams], np.frombuffer(
            sigs, dtype=_U32
        ).reshape(len(texts), self.num_perm)

    def _grams(self, codepoints: np.ndarray) -> np.ndarray:
        """A 32-bit hash of every run of k code points (vectorised)."""
        k = self.k
        n = len(codepoints) - k + 1
        h = np.zeros(max(n, 0), dtype=_U32)
        with np.errstate(over="ignore"):
            for j in range(k):
                h = (h * _U32(31)) ^ (codepoints[j : j + n] * _GRAM_MUL[j])
        return h

    def shingle_batch(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Per normalized text, the hashes of its character k-grams (repeats allowed).

        Repeats do not change a MinHash, and exact similarity dedups its inputs,
        so the batch needs no sort. A text shorter than k characters is one gram.
        """
        k = self.k
        padded = [t if len(t) >= k else t.ljust(k, "\x01") for t in texts]
        joined = "\x00".join(padded)
        cps = np.frombuffer(joined.encode("utf-32-le"), dtype=_U32)
        grams = self._grams(cps)
        out = []
        start = 0
        for t in padded:
            count = len(t) - k + 1
            out.append(grams[start : start + count])
            start += len(t) + 1  # the separator starts k-1 grams that belong to no text
        return out

    def shingles(self, normalized: str) -> np.ndarray:
        """Hashes of the character k-grams of one normalized text."""
        fast = speedups.compiled
        if fast is not None:  # no permutations: the k-gram hashes alone
            grams = fast.sign([normalized], self.k, self._mul_bytes, b"", b"")[0][0]
            return np.frombuffer(grams, dtype=_U32)
        return self.shingle_batch([normalized])[0]

    def similarity(self, shingles: np.ndarray, normalized: str) -> Similarity:
        """similarity(shingles, self.shingles(normalized)): a candidate is compared from
        its stored text, in one compiled step when built."""
        fast = speedups.compiled
        if fast is not None:
            return _similarity_of(*fast.overlap_text(shingles, normalized, self.k, self._mul_bytes))
        return similarity(shingles, self.shingles(normalized))

    def distinct(self, shingles: np.ndarray | None, normalized: str) -> int:
        """How many distinct k-grams a normalized text has (``shingles``: its k-gram
        hashes when the caller has them)."""
        grams = self.shingles(normalized) if shingles is None else shingles
        fast = speedups.compiled
        if fast is not None:
            return int(fast.overlap(grams, b"")[1])
        return len(set(grams.tolist()))

    def signatures(self, shingle_sets: Sequence[np.ndarray]) -> np.ndarray:
        """MinHash values (n × num_perm, uint32) equal to datasketch's update_batch.

        Computed a few dozen texts at a time: the permuted grams of a chunk
        (num_perm × _CHUNK_GRAMS values, 2 MB) stay in cache, which halves the
        cost against one pass over a whole batch of 500 posts.
        """
        n = len(shingle_sets)
        out = np.full((n, self.num_perm), np.iinfo(_U32).max, dtype=_U32)
        start = 0
        while start < n:
            end, grams = start, 0
            while end < n and (end == start or grams + len(shingle_sets[end]) <= _CHUNK_GRAMS):
                grams += len(shingle_sets[end])
                end += 1
            self._sign_chunk(shingle_sets[start:end], out[start:end])
            start = end
        return out

    def _sign_chunk(self, shingle_sets: Sequence[np.ndarray], out: np.ndarray) -> None:
        lengths = np.fromiter((len(s) for s in shingle_sets), dtype=np.int64, count=len(out))
        nonempty = lengths > 0
        if not nonempty.any():
            return
        mixed = _fmix32(np.concatenate([s for s in shingle_sets if len(s)]))[None, :]
        total = mixed.shape[1]
        if self._buf.shape[1] < total:  # reuse one buffer: fresh pages cost more than the math
            self._buf = np.empty((self.num_perm, max(total, _CHUNK_GRAMS)), dtype=_U32)
        permuted = self._buf[:, :total]
        with np.errstate(over="ignore"):
            np.multiply(self._a, mixed, out=permuted)
            np.add(permuted, self._b, out=permuted)
        starts = np.concatenate(([0], np.cumsum(lengths[nonempty])[:-1]))
        out[nonempty] = np.minimum.reduceat(permuted, starts, axis=1).T

    def band_keys(self, sigs: np.ndarray) -> np.ndarray:
        """One 64-bit key per band (n × bands); equal band, equal key."""
        used = sigs[:, : self.bands * self.rows].astype(np.uint64)
        banded = used.reshape(len(sigs), self.bands, self.rows)
        with np.errstate(over="ignore"):
            keys = (banded * self._band_mul[None, None, :]).sum(axis=2, dtype=np.uint64)
        # Salt with the band number so equal values in different bands differ.
        return keys ^ np.arange(self.bands, dtype=np.uint64)[None, :]


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


# A text's k-gram hashes in the form similarity() compares fastest (see gram_set).
GramSet = np.ndarray | frozenset[int]


def gram_set(shingles: np.ndarray) -> GramSet:
    """The array itself when the compiled twins are there (speedups.overlap counts it in
    place, and an array holds no objects for the garbage collector to walk), else a
    frozenset for Python's set operations. A caller comparing one text with several
    keeps it."""
    return shingles if speedups.compiled is not None else frozenset(shingles.tolist())


def similarity(a: np.ndarray | Set[int], b: np.ndarray | Set[int]) -> Similarity:
    """Exact Jaccard and containment of two shingle sets (arrays or sets; repeats ignored).

    Two arrays are counted in place by the compiled twin (speedups.overlap);
    otherwise Python sets, which beat numpy's set routines on arrays this small
    (~250 values). A caller that compares one text with several keeps its
    gram_set (Desk does).
    """
    fast = speedups.compiled
    if fast is not None and isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return _similarity_of(*fast.overlap(a, b))
    sa = set(a.tolist()) if isinstance(a, np.ndarray) else a
    sb = set(b.tolist()) if isinstance(b, np.ndarray) else b
    return _similarity_of(len(sa & sb), len(sa), len(sb))


def _similarity_of(inter: int, la: int, lb: int) -> Similarity:
    """Similarity of two sets of la and lb values sharing inter."""
    shorter, longer = (la, lb) if la <= lb else (lb, la)
    if not shorter:
        return Similarity(0.0, 0.0, shorter, longer)
    return Similarity(inter / (la + lb - inter), inter / shorter, shorter, longer)


class CandidateIndex:
    """Banded LSH over the mentions in the window, one table set per region.

    In memory only: it is derived from the dedup state and rebuilt from it
    after a restart or a rebalance, so it needs no changelog of its own. With
    the compiled twins, a region's band tables are one speedups.BandTable that
    knows posts by number and keeps their keys and signatures; in Python, a dict
    whose bucket holds a bare key until a second key arrives (most buckets hold
    one), which saves a list per band per mention. The choice is made when the
    index is built. Each key keeps its signature (4 bytes a permutation), so
    candidates a band collision brought in by chance are dropped without reading
    their records from the store, and its time, so candidates can be taken
    earliest first or from a recent span.
    """

    def __init__(self) -> None:
        self._fast = speedups.compiled
        self._tables: dict[str, Any] = {}
        # key -> (region, band keys, signature, time). Compiled: band keys as bytes and,
        # for the signature, the key's number in its region's BandTable, which holds it.
        # Python: band keys as a tuple of ints, the signature as bytes.
        self._keys: dict[str, tuple[str, Any, Any, float]] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: str) -> bool:
        return key in self._keys

    def add(
        self,
        key: str,
        region: str,
        band_keys: Iterable[int],
        sig: bytes,
        at: float = 0.0,
        agreeing: int = 0,
    ) -> set[str]:
        """Index a key; returns the keys already sharing a band with it (its candidates)
        whose signature agrees with ``sig`` in at least ``agreeing`` places.

        One pass does both: the desk indexes every post it decides anyway, and
        the band tables are large enough that each lookup is a cache miss.
        ``sig`` is the key's MinHash signature as little-endian uint32 bytes, ``at``
        its post's time.
        """
        if key in self._keys:
            return set()
        if self._fast is not None:
            bk = np.asarray(band_keys, dtype=np.uint64).tobytes()
            table = self._tables.get(region)
            if table is None:
                table = self._tables[region] = self._fast.BandTable()
            number, found = table.add(key, bk, sig, agreeing)
            self._keys[key] = (region, bk, number, at)
            return set(found)
        bands = tuple(band_keys.tolist() if isinstance(band_keys, np.ndarray) else band_keys)
        buckets = self._tables.setdefault(region, {})
        candidates: set[str] = set()
        for k in bands:
            bucket = buckets.get(k)
            if bucket is None:
                buckets[k] = key
            elif isinstance(bucket, str):
                candidates.add(bucket)
                buckets[k] = [bucket, key]
            else:
                candidates.update(bucket)
                bucket.append(key)
        self._keys[key] = (region, bands, sig, at)
        candidates.discard(key)  # two of its bands with one key (never in practice)
        if not agreeing:
            return candidates
        return set(self.agreeing(candidates, np.frombuffer(sig, dtype="<u4"), agreeing))

    def agreeing(self, keys: Iterable[str], sig: np.ndarray, at_least: int) -> list[str]:
        """The keys whose signature agrees with ``sig`` in at least ``at_least`` places.

        Agreement estimates the Jaccard of the two texts' k-gram sets; one numpy
        comparison for all the candidates of a post.
        """
        indexed = [(k, e) for k in keys if (e := self._keys.get(k)) is not None]
        if not indexed:
            return []
        if self._fast is not None:
            mine = sig.astype("<u4", copy=False).tobytes()
            return [k for k, e in indexed if self._tables[e[0]].agreement(e[2], mine) >= at_least]
        stacked = np.frombuffer(b"".join(e[2] for _, e in indexed), dtype="<u4")
        agree = np.count_nonzero(stacked.reshape(len(indexed), -1) == sig, axis=1)
        return [k for (k, _), n in zip(indexed, agree.tolist(), strict=True) if n >= at_least]

    def by_time(self, keys: Iterable[str], since: float = float("-inf")) -> list[str]:
        """The indexed keys among ``keys`` posted at ``since`` or later, earliest first."""
        entries = []
        for key in keys:
            entry = self._keys.get(key)
            if entry is not None and entry[3] >= since:
                entries.append((entry[3], key))
        entries.sort()
        return [key for _, key in entries]

    def remove(self, key: str) -> None:
        entry = self._keys.pop(key, None)
        if entry is None:
            return
        region, bk = entry[0], entry[1]
        table = self._tables[region]
        if self._fast is not None:
            table.remove(entry[2], bk)
            return
        for k in bk:
            bucket = table.get(k)
            if bucket is None:
                continue
            if isinstance(bucket, str):
                if bucket == key:
                    del table[k]
                continue
            try:
                bucket.remove(key)
            except ValueError:
                continue
            if len(bucket) == 1:
                table[k] = bucket[0]

    def clear(self) -> None:
        self._tables.clear()
        self._keys.clear()
