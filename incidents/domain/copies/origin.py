"""Stated origins: a copy the platform names is linked to its original without comparing texts.

A VK repost carries its original in ``copy_history``; a Telegram forward of a
channel post carries the channel and the message id. The connectors publish that
as ``RawMention.origin`` (the original's mention id), and dedup takes the
platform's word for it, wherever the two texts have drifted apart (a repost with
the city public's comment around it, a short forward that the text rules would
not link across one platform):

1. **the original is in the window**: the copy is a duplicate of it (of its
   family's root), whatever the texts say;
2. **the original is not in the window** (not arrived yet, or it never will: a
   resident's wall nobody monitors): the first copy that names it stands for it.
   Later copies naming the same original are duplicates of that first copy, and
   the original, if it arrives later, is a duplicate of the first copy too (the
   first post seen stays the root of its family, as everywhere in dedup), so the
   whole family ends in one incident in any order of arrival;
3. the first copy itself is judged by its text like any post: it may be found a
   copy by the text rules, it may open an incident. An original that never comes
   changes nothing else.

What (2) needs is one entry per named original: ``o:<original id>`` → the id of
the first copy that named it, kept in the same store as the window and dropped
when that copy leaves it. Everything else is the caller's (the dedup stage,
``Deduplicator._stated_original``): what "in the window" means and what the root
of a family is.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping

from incidents.contracts.models import Mention

ORIGIN_PREFIX = "o:"


def stated_origin(m: Mention) -> str | None:
    """The mention id of the post this one says it copies, if its platform says so."""
    o = m.origin
    if o is None or o.id == m.id:
        return None
    return o.id


class StatedOrigins:
    """The copies that named an original not (yet) seen, in the window's store."""

    def __init__(self, store: MutableMapping[str, bytes]) -> None:
        self.store = store

    def first_copy(self, original: str) -> str | None:
        raw = self.store.get(ORIGIN_PREFIX + original)
        return raw.decode() if raw else None

    def linked(
        self, mention_id: str, origin: str | None, seen: Callable[[str], bool]
    ) -> str | None:
        """The post this one is a copy of by the platform's word, or None.

        ``origin``: what this post names (stated_origin); ``seen``: whether a mention
        id is in the window. Its original when seen; else the first copy that named
        the same original; and a post that earlier copies named as their original
        links to the first of them.
        """
        if origin is not None:
            if seen(origin):
                return origin
            first = self.first_copy(origin)
            if first is not None and first != mention_id and seen(first):
                return first
        first = self.first_copy(mention_id)
        if first is not None and first != mention_id and seen(first):
            return first
        return None

    def remember(self, mention_id: str, origin: str | None, seen: Callable[[str], bool]) -> None:
        """After a post was decided: if it names an original not seen, and no copy named
        it before, this post stands for it."""
        if origin is None or seen(origin):
            return
        key = ORIGIN_PREFIX + origin
        if self.first_copy(origin) is None:
            self.store[key] = mention_id.encode()

    def forget(self, mention_id: str, origin: str | None) -> None:
        """A post leaves the window: so does its standing for the original it named."""
        if origin is not None and self.first_copy(origin) == mention_id:
            del self.store[ORIGIN_PREFIX + origin]
