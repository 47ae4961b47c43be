"""Compiled twins of dedup's hottest steps, used when the C extension was built.

``incidents/domain/copies/_speedups.c`` is built by ``pip install`` when a C compiler
is there (gcc and the Python headers; Debian: ``apt install gcc python3-dev``)
and skipped when not: every function it has is a twin of Python code that
stays the reference and runs when ``compiled`` is None. tests/domain/copies/test_speedups.py
holds each pair equal, on every Unicode code point and on generated texts.

- ``clean_words``: ``strip_noise_cut`` and ``clean_words`` of normalize.py in
  one pass, for texts of Cyrillic, ASCII, hashtags and emojis without links,
  @mentions or VK markup; None for any other text (the Python path decides).
  A text that may carry a repost wrapper, a quoted post or a cut marker comes
  back with its words left to ``words``, once the Python code has stripped
  those (``normalize.strip_and_split``).
- ``words``: ``clean_words`` of such a text.
- ``sign``: the k-gram hashes and MinHash signature of each text
  (``Signer.shingle_batch`` and ``Signer.signatures``).
- ``overlap``, ``overlap_text``: shared and distinct k-grams of two texts, the
  second one given as hashes or as its text (``similarity``,
  ``Signer.similarity``).
- ``matching_blocks``: difflib's matching blocks of two word lists
  (``wording.matching_blocks``, for ``carries`` and ``added_apart``).
- ``BandTable``: one region's LSH band tables with each post's key and
  signature, so it returns only the candidates whose MinHash agrees enough
  (``CandidateIndex``).

``use(False)`` turns them off in a running process (the benchmark's
``--pure-python`` and the tests compare the two paths that way).
"""

from __future__ import annotations

from types import ModuleType

try:
    from incidents.domain.copies import _speedups as _built  # type: ignore[attr-defined]
except ImportError:  # no C compiler at install time: the Python code, slower
    _built = None

built: ModuleType | None = _built
compiled: ModuleType | None = _built


def use(on: bool) -> bool:
    """Use the compiled twins (when built) or not; returns whether they are now in use."""
    global compiled
    compiled = built if on else None
    return compiled is not None
