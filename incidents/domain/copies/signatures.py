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

from collections.abc import Iterable, Sequence, Set
from typing import Any, NamedTuple

import numpy as np
from datasketch import MinHash
from datasketch.lsh import _optimal_param

from incidents.domain.copies import speedups

_U32 = np.uint32
# Grams signed per chunk (see Signer.signatures).
_CHUNK_GRAMS = 8192
_SEED = 1
_SCHEME = "affine32"


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
