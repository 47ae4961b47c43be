"""Near-duplicate signatures and the windowed candidate index.

Signatures are datasketch MinHash (affine32 scheme) over word unigrams and
bigrams of the normalized text. datasketch builds one MinHash per call in
Python (~0.2 ms a post, DESIGN §4); here the *same* signature is computed for a
whole batch at once in numpy, with the permutations taken from datasketch and
the equality checked by a unit test, which brings the cost to a few µs a post.

Word shingles rather than character shingles: a 250-character post has ~35
words but ~220 character 4-grams, so words are ~6× cheaper to sign, and they
separate "two people reporting potholes on different streets" (shared
vocabulary, different street, house and details) better than character grams.
A typo changes one unigram and two bigrams out of ~70, which costs little
similarity.

Candidates come from banded LSH (band/row counts chosen by datasketch's own
optimiser for a deliberately low retrieval threshold); every candidate is then
verified *exactly* on the stored shingle sets, so the decision does not depend
on MinHash estimation noise.
"""

from __future__ import annotations

import re
import zlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from datasketch import MinHash
from datasketch.lsh import _optimal_param

_U32 = np.uint32
_BIGRAM_MUL = _U32(0x9E3779B1)
_WORD = re.compile(r"\w+", re.U)
_SEED = 1
_SCHEME = "affine32"


def _fmix32(h: np.ndarray) -> np.ndarray:
    """murmur3's 32-bit finaliser, as datasketch applies it before permuting."""
    h = h ^ (h >> _U32(16))
    h = h * _U32(0x85EBCA6B)
    h = h ^ (h >> _U32(13))
    h = h * _U32(0xC2B2AE35)
    return h ^ (h >> _U32(16))


@dataclass(frozen=True, slots=True)
class Similarity:
    jaccard: float
    containment: float  # share of the shorter text's shingles found in the longer one
    shorter: int
    longer: int


class Signer:
    """Shingles and MinHash signatures, batched."""

    def __init__(self, num_perm: int = 64, candidate_threshold: float = 0.4) -> None:
        self.num_perm = num_perm
        reference = MinHash(num_perm=num_perm, seed=_SEED, scheme=_SCHEME)
        a, b = reference.permutations
        self._a = np.asarray(a, dtype=_U32)
        self._b = np.asarray(b, dtype=_U32)
        bands, rows = _optimal_param(candidate_threshold, num_perm, 0.3, 0.7)
        self.bands, self.rows = int(bands), int(rows)
        rng = np.random.RandomState(7)
        self._band_mul = rng.randint(1, 2**62, size=self.rows, dtype=np.int64).astype(np.uint64)

    @staticmethod
    def shingles(normalized: str) -> np.ndarray:
        """Sorted unique 32-bit hashes of word unigrams and bigrams."""
        words = _WORD.findall(normalized)
        if not words:
            return np.zeros(0, dtype=_U32)
        h = np.fromiter(
            (zlib.crc32(w.encode("utf-8")) for w in words), dtype=_U32, count=len(words)
        )
        if len(h) > 1:
            bigrams = (h[:-1] * _BIGRAM_MUL) ^ np.roll(h, -1)[:-1] ^ _U32(0x5BD1E995)
            h = np.concatenate((h, bigrams))
        return np.unique(h)

    def signatures(self, shingle_sets: Sequence[np.ndarray]) -> np.ndarray:
        """MinHash values (n × num_perm, uint32) equal to datasketch's update_batch."""
        n = len(shingle_sets)
        out = np.full((n, self.num_perm), np.iinfo(_U32).max, dtype=_U32)
        lengths = np.fromiter((len(s) for s in shingle_sets), dtype=np.int64, count=n)
        nonempty = lengths > 0
        if not nonempty.any():
            return out
        allh = np.concatenate([s for s in shingle_sets if len(s)])
        mixed = _fmix32(allh)[:, None]
        with np.errstate(over="ignore"):
            permuted = mixed * self._a[None, :] + self._b[None, :]
        starts = np.concatenate(([0], np.cumsum(lengths[nonempty])[:-1]))
        out[nonempty] = np.minimum.reduceat(permuted, starts, axis=0)
        return out

    def band_keys(self, sigs: np.ndarray) -> np.ndarray:
        """One 64-bit key per band (n × bands); equal band, equal key."""
        used = sigs[:, : self.bands * self.rows].astype(np.uint64)
        banded = used.reshape(len(sigs), self.bands, self.rows)
        with np.errstate(over="ignore"):
            keys = (banded * self._band_mul[None, None, :]).sum(axis=2, dtype=np.uint64)
        # Salt with the band number so equal values in different bands differ.
        return keys ^ np.arange(self.bands, dtype=np.uint64)[None, :]


def similarity(a: np.ndarray, b: np.ndarray) -> Similarity:
    """Exact Jaccard and containment of two shingle sets (sorted unique arrays)."""
    if len(a) == 0 or len(b) == 0:
        return Similarity(0.0, 0.0, min(len(a), len(b)), max(len(a), len(b)))
    inter = len(np.intersect1d(a, b, assume_unique=True))
    union = len(a) + len(b) - inter
    shorter, longer = min(len(a), len(b)), max(len(a), len(b))
    return Similarity(inter / union, inter / shorter, shorter, longer)


def shingles_to_bytes(s: np.ndarray) -> bytes:
    return s.astype("<u4").tobytes()


def shingles_from_bytes(b: bytes) -> np.ndarray:
    return np.frombuffer(b, dtype="<u4").astype(_U32)


class CandidateIndex:
    """Banded LSH over the mentions in the window, one table set per region.

    In memory only: it is derived from the dedup state and rebuilt from it
    after a restart or a rebalance, so it needs no changelog of its own.
    """

    def __init__(self) -> None:
        self._tables: dict[str, dict[int, list[str]]] = defaultdict(dict)
        self._keys: dict[str, tuple[str, tuple[int, ...]]] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: str) -> bool:
        return key in self._keys

    def add(self, key: str, region: str, band_keys: Iterable[int]) -> None:
        if key in self._keys:
            return
        bk = tuple(int(k) for k in band_keys)
        table = self._tables[region]
        for k in bk:
            bucket = table.get(k)
            if bucket is None:
                table[k] = [key]
            else:
                bucket.append(key)
        self._keys[key] = (region, bk)

    def remove(self, key: str) -> None:
        entry = self._keys.pop(key, None)
        if entry is None:
            return
        region, bk = entry
        table = self._tables[region]
        for k in bk:
            bucket = table.get(k)
            if bucket is None:
                continue
            try:
                bucket.remove(key)
            except ValueError:
                continue
            if not bucket:
                del table[k]

    def candidates(self, region: str, band_keys: Iterable[int]) -> set[str]:
        table = self._tables.get(region)
        if not table:
            return set()
        found: set[str] = set()
        for k in band_keys:
            bucket = table.get(int(k))
            if bucket:
                found.update(bucket)
        return found

    def clear(self) -> None:
        self._tables.clear()
        self._keys.clear()
