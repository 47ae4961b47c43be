"""Process settings for long-running stages: the worker, `incidents process` and replay.

The dedup window keeps tens of thousands of posts as live objects; Python's
cyclic garbage collector walks every container object it tracks, and with its
default thresholds (a young collection every 700 allocations, a full one as
the old generation grows by a quarter) that walking cost ~15 µs a post with
50,000 posts in the window, a tenth of the dedup work (`incidents bench --only
dedup`). Two standard remedies, both safe for a process that creates little
cyclic garbage:

- ``gc.freeze()`` once startup is done: the models, gazetteer and code loaded
  so far move to a permanent generation that collections never walk again;
- a young generation of 20,000 allocations instead of 700: far fewer
  collections, each walking what is new since the last. Cyclic garbage waits
  a little longer to be freed (at most ~20,000 small objects).
"""

from __future__ import annotations

import gc

YOUNG_ALLOCATIONS = 20_000


def tune_gc() -> None:
    """Freeze what is loaded and collect the young generation less often (see above)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_ALLOCATIONS, 50, 20)
