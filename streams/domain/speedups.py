"""Compiled twins of dedup's hottest steps, used when the C extension was built.

``streams/domain/_speedups.c`` is built by ``pip install`` when a C compiler
is there (gcc and the Python headers; Debian: ``apt install gcc python3-dev``)
and skipped when not: every function it has is a twin of Python code that
stays the reference and runs when ``compiled`` is None. tests/test_speedups.py
holds each pair equal, on every Unicode code point and on generated texts.

- ``clean_words``: ``strip_noise_cut`` and ``clean_words`` of normalize.py in
  one pass, for texts of Cyrillic, ASCII, hashtags and emojis without links,
  @mentions, wrappers or cut markers; None for any other text (the Python
  path decides).
- ``sign``: the k-gram hashes and MinHash signature of each text
  (``Signer.shingle_batch`` and ``Signer.signatures``).
- ``agreeing``: which candidate signatures agree with a post's in enough
  places (``CandidateIndex.agreeing``).
- ``overlap``: shared and distinct k-grams of two texts (``similarity``).
- ``matching_blocks``: difflib's matching blocks of two word lists
  (``dedup.matching_blocks``, for ``carries`` and ``added_apart``).
- ``BandTable``: one region's LSH band tables (``CandidateIndex``).

``use(False)`` turns them off in a running process (the benchmark's
``--pure-python`` and the tests compare the two paths that way).
"""

from __future__ import annotations

from types import ModuleType

try:
    from streams.domain import _speedups as _built  # type: ignore[attr-defined]
except ImportError:  # no C compiler at install time: the Python code, slower
    _built = None

built: ModuleType | None = _built
compiled: ModuleType | None = _built


def use(on: bool) -> bool:
    """Use the compiled twins (when built) or not; returns whether they are now in use."""
    global compiled
    compiled = built if on else None
    return compiled is not None
