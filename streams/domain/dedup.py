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
    """Shingles and MinHash signatures, for a whole batch at once."""

    def __init__(self, num_perm: int = 64, candidate_threshold: float = 0.4) -> None:
        self.num_perm = num_perm
        reference = MinHash(num_perm=num_perm, seed=_SEED, scheme=_SCHEME)
        a, b = reference.permutations
        self._a = np.asarray(a, dtype=_U32)[:, None]
        self._b = np.asarray(b, dtype=_U32)[:, None]
        bands, rows = _optimal_param(candidate_threshold, num_perm, 0.3, 0.7)
        self.bands, self.rows = int(bands), int(rows)
        rng = np.random.RandomState(7)
        self._band_mul = rng.randint(1, 2**62, size=self.rows, dtype=np.int64).astype(np.uint64)
        self._word_hash: dict[str, int] = {}
        self._buf = np.empty((num_perm, 0), dtype=_U32)

    def _hashes(self, words: list[str]) -> list[int]:
        """crc32 of each word, cached: social media repeats a small vocabulary."""
        cache = self._word_hash
        if len(cache) > 500_000:
            cache.clear()
        get = cache.get
        out = [get(w) for w in words]
        for i, h in enumerate(out):
            if h is None:
                w = words[i]
                out[i] = cache[w] = zlib.crc32(w.encode("utf-8"))
        return out  # type: ignore[return-value]

    def shingle_batch(self, word_lists: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """Per text, 32-bit hashes of its word unigrams then bigrams (repeats allowed).

        Repeats do not change a MinHash, and exact similarity dedups its inputs,
        so the batch needs no sort (sorting was half the cost).
        """
        n = len(word_lists)
        lengths = np.fromiter(map(len, word_lists), dtype=np.int64, count=n)
        h = np.array(self._hashes([w for ws in word_lists for w in ws]), dtype=_U32)
        doc = np.repeat(np.arange(n), lengths)
        # Bigrams of neighbours inside one text (the last word of a text pairs with nothing).
        same = doc[:-1] == doc[1:] if len(h) > 1 else np.zeros(0, dtype=bool)
        with np.errstate(over="ignore"):
            bigrams = ((h[:-1] * _BIGRAM_MUL) ^ h[1:] ^ _U32(0x5BD1E995))[same]
        uni_end = np.cumsum(lengths)
        big_end = np.cumsum(np.maximum(lengths - 1, 0))
        out = []
        u0 = b0 = 0
        for u1, b1 in zip(uni_end.tolist(), big_end.tolist(), strict=True):
            out.append(np.concatenate((h[u0:u1], bigrams[b0:b1])))
            u0, b0 = u1, b1
        return out

    def shingles(self, normalized: str) -> np.ndarray:
        """Sorted unique hashes of word unigrams and bigrams of one normalized text."""
        return self.shingle_batch([_WORD.findall(normalized)])[0]

    def signatures(self, shingle_sets: Sequence[np.ndarray]) -> np.ndarray:
        """MinHash values (n × num_perm, uint32) equal to datasketch's update_batch."""
        n = len(shingle_sets)
        out = np.full((n, self.num_perm), np.iinfo(_U32).max, dtype=_U32)
        lengths = np.fromiter((len(s) for s in shingle_sets), dtype=np.int64, count=n)
        nonempty = lengths > 0
        if not nonempty.any():
            return out
        mixed = _fmix32(np.concatenate([s for s in shingle_sets if len(s)]))[None, :]
        total = mixed.shape[1]
        if self._buf.shape[1] < total:  # reuse one buffer: fresh pages cost more than the math
            self._buf = np.empty((self.num_perm, max(total, 2 * self._buf.shape[1])), dtype=_U32)
        permuted = self._buf[:, :total]
        with np.errstate(over="ignore"):
            np.multiply(self._a, mixed, out=permuted)
            np.add(permuted, self._b, out=permuted)
        starts = np.concatenate(([0], np.cumsum(lengths[nonempty])[:-1]))
        out[nonempty] = np.minimum.reduceat(permuted, starts, axis=1).T
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
    """Exact Jaccard and containment of two shingle sets (arrays; repeats ignored).

    Python sets beat numpy's set routines on arrays this small (~70 values).
    """
    sa, sb = set(a.tolist()), set(b.tolist())
    if not sa or not sb:
        return Similarity(0.0, 0.0, min(len(sa), len(sb)), max(len(sa), len(sb)))
    inter = len(sa & sb)
    union = len(sa) + len(sb) - inter
    shorter, longer = min(len(sa), len(sb)), max(len(sa), len(sb))
    return Similarity(inter / union, inter / shorter, shorter, longer)


def shingles_to_bytes(s: np.ndarray) -> bytes:
    return s.astype("<u4").tobytes()


def shingles_from_bytes(b: bytes) -> np.ndarray:
    return np.frombuffer(b, dtype="<u4").astype(_U32)


class CandidateIndex:
    """Banded LSH over the mentions in the window, one table set per region.

    In memory only: it is derived from the dedup state and rebuilt from it
    after a restart or a rebalance, so it needs no changelog of its own. A
    bucket holds a bare key until a second key arrives (most buckets hold
    one), which saves a list per band per mention.
    """

    def __init__(self) -> None:
        self._tables: dict[str, dict[int, str | list[str]]] = defaultdict(dict)
        self._keys: dict[str, tuple[str, tuple[int, ...]]] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: str) -> bool:
        return key in self._keys

    def add(self, key: str, region: str, band_keys: Iterable[int]) -> None:
        if key in self._keys:
            return
        bk = tuple(band_keys.tolist() if isinstance(band_keys, np.ndarray) else band_keys)
        table = self._tables[region]
        for k in bk:
            bucket = table.get(k)
            if bucket is None:
                table[k] = key
            elif isinstance(bucket, str):
                table[k] = [bucket, key]
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

    def candidates(self, region: str, band_keys: Iterable[int]) -> set[str]:
        table = self._tables.get(region)
        if not table:
            return set()
        found: set[str] = set()
        keys = band_keys.tolist() if isinstance(band_keys, np.ndarray) else band_keys
        for k in keys:
            bucket = table.get(k)
            if bucket is None:
                continue
            if isinstance(bucket, str):
                found.add(bucket)
            else:
                found.update(bucket)
        return found

    def clear(self) -> None:
        self._tables.clear()
        self._keys.clear()
