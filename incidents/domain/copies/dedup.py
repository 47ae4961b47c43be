"""The dedup stage: each new post against every post of the window, whatever its region.

A copy is a copy wherever it was found: a resident's complaint in a city public
is pasted into a Telegram chat nobody registered, or into a neighbouring
region's public, as «Подписчики пишут: «…»», and the text names no city. So the
window is one, not one per region: every post meets every earlier post of the
last ``INCIDENTS_DEDUP_WINDOW_DAYS``, and the dedup stage runs *before* the
mentions are keyed by region for the desk. A copy takes its original's place
(region, municipality, address), agency, appeal and category (every Mention
field that says what the post is about, see ``ABOUT_FIELDS``), and is keyed by
that region, so it reaches the desk partition that holds its original's
incident. What its own evidence said of a region, when that disagrees, is kept
in ``Mention.own_place``.

A family whose first post had no region takes the region of the first copy that
has one (*adoption*): that copy keeps its own place, later copies inherit it,
and an ``AdoptCommand`` tells the desk of the region-less posts to move their
incident into that region (docs/dedup.md, docs/architecture.md).

A post whose platform names its original (``Mention.origin``: a VK repost, a
Telegram forward) is linked to it before any text rule (incidents/domain/copies/origin.py).
A newer version of a post already decided (a later ``edited_at``: an edit) is
judged again with other words, and keeps its verdict with the same words; the
desk then moves it between incidents (docs/incidents.md, "Edited posts").

Everything is a pure function of the store (a ``MutableMapping[str, bytes]``:
a Faust table in the stream, a dict offline) and the input, so a redelivered
post re-emits exactly its first verdict. The candidate index, fingerprints and
expiry heap are derived in memory and rebuilt from the store after a restart.

The rules that tell a copy from another resident's post are those of
docs/dedup.md ("How a copy is recognised"); they moved here from the desk
unchanged, with one addition: two texts of a sentence or less
(``INCIDENTS_DEDUP_SENTENCE_WORDS``) placed in two different regions are never
one post. Hundreds of people write «Мусор не вывозят» or «Не горит фонарь во
дворе»; the rules link such a text carried over between networks, or posted word
for word, which across two regions is two residents. A longer text (a news item,
a resident's account of their problem) is a copy in any region.

Why this module is long: ``Deduplicator`` is one decision procedure over one window.
Its methods share the window's state (the records, the candidate index, the time
order of eviction, the cached k-gram sets) and call each other in the order a post
is judged (stated origin, redelivery, long text, short text, place, region); the
comparisons themselves are in ``signatures.py`` and ``origin.py``. Cutting the
procedure across files would hide the order in which the rules apply.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec
import numpy as np

from incidents.contracts.models import AdoptCommand, AnyCommand, GeoPoint, Mention, Place
from incidents.domain.copies import speedups
from incidents.domain.copies.origin import StatedOrigins, stated_origin
from incidents.domain.copies.signatures import (
    CandidateIndex,
    GramSet,
    Signer,
    Similarity,
    _similarity_of,
    gram_set,
    similarity,
)
from incidents.domain.copies.wording import (
    EDGE_WORDS,
    MIN_KEPT,
    Partners,
    WordPair,
    added_apart,
    carries,
    match_ratio,
    misspelt,
    near,
    retyped,
    word_containment,
)
from incidents.domain.desk.grouping import haversine_m
from incidents.domain.policy import DedupSettings
from incidents.domain.text.normalize import fingerprint, strip_and_split, words_and_breaks

UNKNOWN_REGION = "unknown"
# The window is one: every post of every region in one set of band tables.
_WINDOW = "all"
# Words a repost may add around a short text ("Нам пишут: …", "… Помогите!").
_SHORT_ADDED = 4
# Fewest 5-grams of a text that may be found "inside" a longer one (a cut or wrapped copy).
_MIN_INSIDE_GRAMS = 24
# The top level of _short_match: the same text, carried over or at the same place.
_SAME_TEXT = 3.0
_EXCLAIMS = re.compile(r"[!?]\W*$")
# The longest short text looked up as a run of a short post's words (see _short_inside).
_SHORT_SPAN_WORDS = 6
_MAX_NORM = 2000
# The position of the normalized text in a DedupRecord as stored (array-like msgpack):
# the compiled twins read it from there without decoding the record (_screen).
NORM_FIELD = 3
_ADDR_NOISE = re.compile(
    r"\b(?:ул|улица|пр|пр-т|проспект|пер|переулок|ш|шоссе|наб|набережная|бульвар|б-р|пл|"
    r"площадь|д|дом|дома|корп|корпус|к|стр|строение|лит|литера|кв|г|город|во|дворе|у|на|по)\b\.?",
    re.I,
)

# Mention fields that belong to the post itself: who wrote it where, when, in which
# words, how urgent its own words are, and what the pipeline decided about it. Every
# other field says what the post is *about* (place, agency, appeal, category, and any
# classification added later) and a duplicate takes it from its original.
OWN_FIELDS = frozenset(
    {
        "id",
        "platform",
        "source",
        "text",
        "created_at",
        "fingerprint",
        "author",
        "url",
        "reply_to",
        "metrics",
        "priority",
        "priority_cues",
        "status",
        "duplicate_of",
        "incident_id",
        "pipeline_version",
        "source_topic",
        "own_place",
        "origin",  # the post this one says it copies: its own statement
        "edited_at",  # its own version
    }
)


def _about_fields() -> list[tuple[str, Any, Any]]:
    out: list[tuple[str, Any, Any]] = []
    for f in msgspec.structs.fields(Mention):
        if f.name in OWN_FIELDS:
            continue
        if f.default is not msgspec.NODEFAULT:
            out.append((f.name, f.type, f.default))
        elif f.default_factory is not msgspec.NODEFAULT:
            out.append((f.name, f.type, msgspec.field(default_factory=f.default_factory)))
        else:
            out.append((f.name, f.type))  # type: ignore[arg-type]
    return out


#: What a post is about, as a duplicate inherits it: the Mention fields not in OWN_FIELDS.
About: Any = msgspec.defstruct("About", _about_fields(), array_like=True, omit_defaults=True)
ABOUT_FIELDS: tuple[str, ...] = tuple(f.name for f in msgspec.structs.fields(About))


def about_of(m: Mention) -> Any:
    return About(**{name: getattr(m, name) for name in ABOUT_FIELDS})


def region_key(region: str | None) -> str:
    """Partition key of a mention on the region-keyed topics: its region, or 'unknown'."""
    return region or UNKNOWN_REGION


def address_key(address: str | None) -> str | None:
    """An address without street types and case, for comparing two readings of it."""
    if not address:
        return None
    key = " ".join(
        _ADDR_NOISE.sub(" ", address.lower().replace("ё", "е")).replace(",", " ").split()
    )
    return key or None


def _one_address_within(a: str, b: str) -> bool:
    """ "дома 14" and "дома 14 по улице советской": one reading of the address holds the
    other (a cut-off copy, or a copy whose case hid the street), or they differ by a
    typo in one word (never in a number), so they do not disagree."""
    wa, wb = a.split(), b.split()
    sa, sb = set(wa), set(wb)
    if sa <= sb or sb <= sa:
        return True
    if len(wa) != len(wb):
        return False
    # One word of it retyped with a typo ("ул ботвническая 18"): the same address.
    differ = [(x, y) for x, y in zip(wa, wb, strict=True) if x != y]
    return len(differ) == 1 and near(*differ[0])


class DedupRecord(msgspec.Struct, array_like=True, omit_defaults=True):
    """What the dedup stage remembers of a post inside the window."""

    id: str
    at: float
    fp: str
    norm: str  # normalized text (capped): re-shingled only to verify a candidate
    grams: int  # its distinct k-grams (read with norm by the compiled screen)
    sig: bytes
    status: str
    platform: str
    source_id: str
    # What the post was emitted as being about (a copy: its original's), an encoded About:
    # decoded only when a decision needs it, not for every candidate read.
    about: msgspec.Raw
    duplicate_of: str | None = None
    lat: float | None = None
    lon: float | None = None
    address_key: str | None = None
    # A root without a region whose family a later post placed: what its family is about
    # from then on (that post's About, encoded). `about` stays as emitted, for redeliveries.
    adopted: bytes = b""
    adopter: bool = False  # this post placed its region-less original (re-sent on redelivery)
    origin: str | None = None  # the post its platform says it copies (stated_origin)
    # The version judged: the platform's edit time (0: the first version, never edited).
    edited: float = 0.0


_enc = msgspec.msgpack.Encoder()
_decode = msgspec.msgpack.Decoder(DedupRecord).decode
_dec_about = msgspec.msgpack.Decoder(About)


def _raw(about: Any) -> msgspec.Raw:
    return msgspec.Raw(_enc.encode(about))


def _emitted(rec: DedupRecord) -> Any:
    """What a record was emitted as being about (an About)."""
    return _dec_about.decode(rec.about)


def _family(rec: DedupRecord) -> Any:
    """What the family of a record is about (an About): adopted, else as emitted."""
    return _dec_about.decode(rec.adopted or rec.about)


@dataclass(slots=True)
class Prepared:
    """A mention with its signature, computed in batches before the stateful part."""

    mention: Mention
    fp: str
    norm: str
    shingles: np.ndarray
    sig: bytes  # the MinHash signature as little-endian uint32 values, as stored
    band_keys: np.ndarray
    word_list: list[str]
    words: int
    at: float  # created_at as a timestamp
    address_key: str | None = None
    cut: bool = False  # a cut marker or an ellipsis at the end: a feed may have cut the text
    clean: str = ""  # the text without links, tags, emojis and wrappers (strip_noise)
    origin: str | None = None  # the post it says it reposts (stated_origin)
    _breaks: tuple[list[str], list[bool]] | None = None
    _gram_set: GramSet | None = None
    _partners: Partners | None = None
    _exclaims: bool | None = None

    @property
    def region(self) -> str | None:
        """The region the post's own evidence gave (enrich)."""
        return self.mention.place.region

    @property
    def breaks(self) -> tuple[list[str], list[bool]]:
        """Words with the wrappers kept, and the sentence breaks between them."""
        if self._breaks is None:
            self._breaks = words_and_breaks(self.mention.text)
        return self._breaks

    @property
    def partners(self) -> Partners:
        """Partners of this post's words, for comparing it with many originals."""
        if self._partners is None:
            self._partners = Partners(self.word_list)
        return self._partners

    @property
    def exclaims(self) -> bool:
        """The post ends with an exclamation or a question (links, tags, emojis aside)."""
        if self._exclaims is None:
            self._exclaims = bool(_EXCLAIMS.search(self.clean))
        return self._exclaims

    @property
    def gram_set(self) -> GramSet:
        """The shingles as a set, for exact verification against candidates."""
        if self._gram_set is None:
            self._gram_set = gram_set(self.shingles)
        return self._gram_set


# How a post's place came out of dedup, for the metric (bounded values).
Placing = Literal[
    "original",  # not a copy (or a redelivery)
    "same_region",  # a copy, its own evidence gave the original's region
    "region_filled",  # a copy with no region of its own: it took the original's
    "region_differs",  # a copy whose own evidence gave another region: kept in own_place
    "no_region",  # a copy, and neither it nor its original has a region
    "adopted",  # a copy whose region-less original's family takes its region
]


@dataclass(slots=True)
class Verdict:
    """The dedup stage's decision on one post, and what it sends."""

    mention: Mention  # with status, duplicate_of and (a copy) its original's place
    redelivered: bool = False
    revised: bool = False  # a new version (an edit) of a post already decided
    placing: Placing = "original"
    # (region key, command) for the desk: an AdoptCommand when a copy placed its family.
    commands: list[tuple[str, AnyCommand]] = field(default_factory=list)


def _word_count(norm: str) -> int:
    """len(norm.split()) of a normalized text (words joined by single spaces, perhaps
    cut at _MAX_NORM), without making the words."""
    return norm.count(" ") + 1 - norm.endswith(" ") if norm else 0


class Deduplicator:
    """Redelivery, copy or new, for each post against the whole window."""

    def __init__(self, store: MutableMapping[str, bytes], settings: DedupSettings) -> None:
        self.store = store
        self.dedup = settings
        self.signer = Signer(
            num_perm=settings.num_perm,
            candidate_threshold=settings.candidate_threshold,
            k=settings.shingle_chars,
        )
        # Half the candidate threshold in agreeing MinHash values: a cut-off copy keeping
        # 60 % of its original still agrees on ~60 %, an accidental candidate on few.
        self._prefilter = int(settings.num_perm * settings.candidate_threshold * 0.5)
        self._gram_cache: dict[str, GramSet] = {}
        self._built = False
        self._cand = CandidateIndex()
        self._fp: dict[str, str] = {}  # fingerprint → the first post with it
        # Texts of up to _SHORT_SPAN_WORDS words by their normalized text, for the run
        # lookup of _short_inside: the first post of each region with that text (one id,
        # or a list when the text was posted in several regions).
        self._short_texts: dict[str, str | list[str]] = {}
        self._expiry: list[tuple[float, str]] = []
        self._clock = 0.0
        # Copies that named an original not (yet) in the window: `o:` entries of the store.
        self._origins = StatedOrigins(store)

    # ----------------------------------------------------------------- state
    def _get(self, mention_id: str) -> DedupRecord | None:
        raw = self.store.get("m:" + mention_id)
        return _decode(raw) if raw else None

    def _put(self, rec: DedupRecord) -> None:
        self.store["m:" + rec.id] = _enc.encode(rec)

    def _seen(self, mention_id: str) -> bool:
        """A post in the window (what StatedOrigins asks)."""
        return ("m:" + mention_id) in self.store

    def invalidate(self) -> None:
        """Forget derived indexes; they are rebuilt from the store on next use."""
        self._built = False

    def _ensure_built(self) -> None:
        if self._built:
            return
        self._cand.clear()
        self._fp.clear()
        self._short_texts.clear()
        self._expiry.clear()
        self._clock = 0.0
        records = []
        for key, raw in list(self.store.items()):
            if raw and key.startswith("m:"):
                records.append(_decode(raw))
        # In time order (the order posts arrived in is not stored): "the first post with
        # this text" is then the earliest, which it nearly always was.
        records.sort(key=lambda r: (r.at, r.id))
        for rec in records:
            sig = np.frombuffer(rec.sig, dtype="<u4").astype(np.uint32)[None, :]
            self._cand.add(rec.id, _WINDOW, self.signer.band_keys(sig)[0], rec.sig, rec.at)
            self._index(rec)
            self._clock = max(self._clock, rec.at)
        self._built = True

    def _index(self, rec: DedupRecord) -> None:
        """The exact indexes and the window's expiry; the candidate index is the caller's
        (resolve() fills it as it looks candidates up)."""
        self._fp.setdefault(rec.fp, rec.id)
        if rec.norm.count(" ") < _SHORT_SPAN_WORDS:
            held = self._short_texts.get(rec.norm)
            if held is None:
                self._short_texts[rec.norm] = rec.id
            else:
                ids = [held] if isinstance(held, str) else held
                region = _family(rec).place.region
                if all(self._region_of(i) != region for i in ids):
                    self._short_texts[rec.norm] = [*ids, rec.id]
        heapq.heappush(self._expiry, (rec.at, rec.id))

    def _region_of(self, mention_id: str) -> str | None:
        rec = self._get(mention_id)
        return _family(rec).place.region if rec is not None else None

    def _advance(self, at: float) -> None:
        """Move the window's event-time clock; posts older than the window leave it."""
        if at <= self._clock:
            return
        self._clock = at
        horizon = at - self.dedup.window_days * 86400
        expiry = self._expiry
        while expiry and expiry[0][0] < horizon:
            _, mention_id = heapq.heappop(expiry)
            rec = self._get(mention_id)
            if rec is None:
                continue
            del self.store["m:" + mention_id]
            self._unindex(rec)
            self._origins.forget(mention_id, rec.origin)

    def _unindex(self, rec: DedupRecord) -> None:
        """Forget a post's text in the window's indexes (it left the window, or a new
        version of it replaces its record)."""
        mention_id = rec.id
        self._cand.remove(mention_id)
        self._gram_cache.pop(mention_id, None)
        if self._fp.get(rec.fp) == mention_id:
            del self._fp[rec.fp]
        held = self._short_texts.get(rec.norm)
        if held == mention_id:
            del self._short_texts[rec.norm]
        elif isinstance(held, list) and mention_id in held:
            rest = [i for i in held if i != mention_id]
            self._short_texts[rec.norm] = rest[0] if len(rest) == 1 else rest

    def window_size(self) -> int:
        self._ensure_built()
        return len(self._cand)

    # ------------------------------------------------------------- mentions
    def prepare(self, mentions: Sequence[Mention]) -> list[Prepared]:
        """Signatures for a batch (vectorised); no state is touched."""
        stripped = [strip_and_split(m.text) for m in mentions]
        words = [w for _, _, w in stripped]
        norms = [" ".join(w) for w in words]
        shingles, sigs = self.signer.sign(norms)
        bands = self.signer.band_keys(sigs)
        sig_bytes = sigs.astype("<u4", copy=False).tobytes()
        width = 4 * sigs.shape[1]
        return [
            Prepared(
                mention=m,
                fp=fingerprint(norms[i]),
                norm=norms[i],
                address_key=address_key(m.place.address),
                shingles=shingles[i],
                sig=sig_bytes[i * width : (i + 1) * width],
                band_keys=bands[i],
                word_list=w,
                words=len(w),
                at=m.created_at.timestamp(),
                cut=stripped[i][1],
                clean=stripped[i][0],
                origin=stated_origin(m),
            )
            for i, (m, w) in enumerate(zip(mentions, words, strict=True))
        ]

    def resolve(self, p: Prepared) -> Verdict:
        """Decide one post: a redelivery, a new version (an edit), a copy of an earlier
        post (its root), or new."""
        verdict = self._judge(p)
        if verdict.mention.fingerprint != p.fp:
            # The fingerprint of the words judged here (enrich computes the same one): the
            # desk tells an edit of the words from an edit of punctuation by it.
            verdict.mention = msgspec.structs.replace(verdict.mention, fingerprint=p.fp)
        return verdict

    def _judge(self, p: Prepared) -> Verdict:
        self._ensure_built()
        m = p.mention
        known = self._get(m.id)
        if known is not None:
            if not _newer(m, known):
                return self._redelivery(m, known)
            if p.fp == known.fp:
                # Edited, the same words (punctuation, case, a link): the same verdict.
                known.edited = _version(m)
                self._put(known)
                again = self._redelivery(m, known)
                return Verdict(again.mention, revised=True, placing="original")
            # Other words: the old text leaves the indexes and the post is decided again
            # (docs/incidents.md, "Edited posts"); its copies keep their verdicts.
            self._unindex(known)
            if known.origin != p.origin:
                self._origins.forget(m.id, known.origin)
            verdict = self._decide(p, known)
            verdict.revised = True
            return verdict
        # Time first: expire the window up to now.
        self._advance(p.at)
        return self._decide(p)

    def _decide(self, p: Prepared, known: DedupRecord | None = None) -> Verdict:
        """Find the post's original (a stated one first, then by its text), and remember
        the post; ``known``: the record of the version it replaces."""
        m = p.mention
        # Indexed now (every decided post is), which also yields its LSH candidates:
        # for a text long enough to be told by its words, only those whose MinHash
        # agrees enough (an estimate of the Jaccard, cheap; it drops the candidates a
        # band collision brought in by chance before their records are read).
        long_enough = p.words >= self.dedup.min_words
        candidates = self._cand.add(
            m.id, _WINDOW, p.band_keys, p.sig, p.at, agreeing=self._prefilter if long_enough else 0
        )
        root = self._stated_original(p) or self._find_original(p, candidates)
        verdict = self._verdict(p, root)
        geo = m.place.geo
        norm = p.norm[:_MAX_NORM]
        rec = DedupRecord(
            id=m.id,
            at=p.at,
            fp=p.fp,
            norm=norm,
            grams=self.signer.distinct(p.shingles if norm is p.norm else None, norm),
            sig=p.sig,
            status=verdict.mention.status or "accepted",
            platform=m.platform,
            source_id=m.source.id,
            about=_raw(about_of(verdict.mention)),
            duplicate_of=verdict.mention.duplicate_of,
            lat=geo.lat if geo else None,
            lon=geo.lon if geo else None,
            address_key=p.address_key,
            # A root stays what its family was placed in by a copy (adoption).
            adopted=known.adopted if known is not None and root is None else b"",
            adopter=verdict.placing == "adopted",
            origin=p.origin,
            edited=_version(m),
        )
        if root is not None and verdict.placing == "adopted":
            root.adopted = _enc.encode(about_of(verdict.mention))
            self._put(root)
        self._put(rec)
        self._index(rec)
        self._origins.remember(m.id, p.origin, self._seen)
        return verdict

    def _verdict(self, p: Prepared, root: DedupRecord | None) -> Verdict:
        """The post as the dedup stage emits it: status, original, and its place."""
        m = p.mention
        if root is None:
            return Verdict(msgspec.structs.replace(m, status="accepted", duplicate_of=None))
        family = _family(root)
        own = m.place.region
        if family.place.region is None and own is not None:
            # The family had no region; this copy gives it one. It keeps its own place and
            # what it was found to be about; the desk of the region-less posts moves their
            # incident into this region.
            mention = msgspec.structs.replace(m, status="duplicate", duplicate_of=root.id)
            adopt = AdoptCommand(
                command_id=f"adopt:{root.id}",
                at=m.created_at,
                mention_id=root.id,
                region=own,
                by=m.id,
            )
            return Verdict(mention, placing="adopted", commands=[(UNKNOWN_REGION, adopt)])
        inherited = {name: getattr(family, name) for name in ABOUT_FIELDS}
        place: Place = family.place
        if m.place.geo is not None and place.geo is None:
            place = msgspec.structs.replace(place, geo=m.place.geo)  # its own pin, near it
        inherited["place"] = place
        placing: Placing
        own_place = None
        if family.place.region is None:
            placing = "no_region"
        elif own is None:
            placing = "region_filled"
        elif own == family.place.region:
            placing = "same_region"
        else:
            placing, own_place = "region_differs", m.place
        mention = msgspec.structs.replace(
            m, status="duplicate", duplicate_of=root.id, own_place=own_place, **inherited
        )
        return Verdict(mention, placing=placing)

    def _redelivery(self, m: Mention, known: DedupRecord) -> Verdict:
        """The same id again: the verdict it got the first time, and what it sent."""
        emitted = _emitted(known)
        inherited = {name: getattr(emitted, name) for name in ABOUT_FIELDS}
        own_place = None
        if (
            known.duplicate_of
            and m.place.region is not None
            and emitted.place.region not in (None, m.place.region)
        ):
            own_place = m.place
        mention = msgspec.structs.replace(
            m,
            status=known.status,
            duplicate_of=known.duplicate_of,
            own_place=own_place,
            **inherited,
        )
        commands: list[tuple[str, AnyCommand]] = []
        if known.adopter and known.duplicate_of and m.place.region is not None:
            commands.append(
                (
                    UNKNOWN_REGION,
                    AdoptCommand(
                        command_id=f"adopt:{known.duplicate_of}",
                        at=m.created_at,
                        mention_id=known.duplicate_of,
                        region=m.place.region,
                        by=m.id,
                    ),
                )
            )
        return Verdict(mention, redelivered=True, commands=commands)

    def _stated_original(self, p: Prepared) -> DedupRecord | None:
        """The family root of the post this one's platform says it copies: a copy by the
        platform's word, no text compared (incidents/domain/copies/origin.py). Its original when
        that is in the window; else the first copy that named the same original; and a
        late original joins the first copy that named it."""
        linked = self._origins.linked(p.mention.id, p.origin, self._seen)
        if linked is None:
            return None
        rec = self._get(linked)
        if rec is None or not self._in_window(p, rec):
            return None
        root = self._root(linked)
        return None if root is None or root.id == p.mention.id else root

    def _short_inside(self, p: Prepared) -> set[str]:
        """Short posts whose whole text is a run of this short post's words.

        A short text carried over with a few words added («Нам пишут: мусор на
        газоне. Помогите!») shares too few k-grams with it for the LSH bands to
        find it reliably; its words are a contiguous run of the copy's, so an index
        of the short texts by their words finds it exactly. Whether it is a copy is
        then decided by the short-text rules (_short_match).
        """
        n = p.words
        if n < 2 or n > _SHORT_SPAN_WORDS + 2 * _SHORT_ADDED:
            return set()
        words = p.word_list
        found: set[str] = set()
        for size in range(max(1, n - 2 * _SHORT_ADDED), min(_SHORT_SPAN_WORDS, n - 1) + 1):
            for start in range(n - size + 1):
                hit = self._short_texts.get(" ".join(words[start : start + size]))
                if hit is None:
                    continue
                if isinstance(hit, str):
                    found.add(hit)
                else:
                    found.update(hit)
        return found

    def _find_original(self, p: Prepared, candidates: set[str]) -> DedupRecord | None:
        """The first-seen mention this one copies (the root of its family), or None.

        ``candidates``: the LSH candidates; for a text of ``min_words`` or more,
        those whose MinHash agrees in ``_prefilter`` places or more.
        """
        if p.words < self.dedup.min_words:
            # "Мусор", "снег на дороге": hundreds of people write exactly this about
            # hundreds of places. A text this short says nothing about which post
            # it copies, so only the same place makes it a copy.
            return self._find_short_original(p, candidates | self._short_inside(p))
        best: tuple[float, float, str] | None = None
        found = self._short_inside(p)
        first = self._fp.get(p.fp)
        if first is not None:
            found.add(first)
        # What the exact fingerprints found needs no MinHash agreement.
        for cand_id, counted in self._screen(p, [*found, *(candidates - found)]):
            cand = self._get(cand_id)
            if cand is None:
                continue
            exact = cand.fp == p.fp
            if not self._in_window(p, cand) or self._other_place(p, cand):
                continue
            # Five short words ("мешки с мусором на газоне") are as common as fewer:
            # below _MIN_INSIDE_GRAMS a text is never "inside" another, so the short rules.
            grams = min(len(p.shingles), len(cand.norm) - self.signer.k + 1)
            cand_count = _word_count(cand.norm)
            too_short = min(p.words, cand_count) < self.dedup.min_words or (
                grams < _MIN_INSIDE_GRAMS
            )
            few = min(p.words, cand_count) <= self.dedup.sentence_words
            if few and self._other_region(p, cand):
                continue  # a sentence in two regions: two residents, even word for word
            if too_short and not self._short_match(p, cand, cand.norm.split()):
                continue  # one of the two is too short to tell which post the other copies
            if exact:
                sim = Similarity(1.0, 1.0, len(p.norm), len(p.norm))
            elif too_short:
                # Ranked by Jaccard: a short text is trivially "inside" a longer one.
                jaccard = (counted or self._similarity(p, cand)).jaccard
                sim = Similarity(jaccard, jaccard, 0, 0)
            else:
                sim = counted or self._similarity(p, cand)
                if not self._is_copy(sim, p, cand, cand_count):
                    continue
            root = self._root(cand_id)
            if root is None or root.id == p.mention.id:
                continue  # a copy of this post itself (its earlier version)
            if root.id != cand_id and self._other_place(p, root):
                continue  # the copy had no place, its original is somewhere else
            score = max(sim.jaccard, sim.containment * 0.99)
            if best is None or (score, -cand.at) > (best[0], -best[1]):
                best = (score, cand.at, root.id)
        return self._get(best[2]) if best else None

    def _screen(self, p: Prepared, ids: list[str]) -> list[tuple[str, Similarity | None]]:
        """The candidates of a long post worth a full look, with their similarity when
        it is already counted.

        A candidate whose k-grams say it is neither close enough to be a copy nor too
        short to tell by them (the first test of _is_copy, on the counts alone) would be
        refused after its record was decoded. With the compiled twins one call counts
        every candidate from its stored bytes and drops those, and only the rest are
        decoded: the same counts as _similarity, so the same decisions. Without them,
        every candidate gets the full look.
        """
        fast = speedups.compiled
        if fast is None or not ids:
            return [(cand_id, None) for cand_id in ids]
        signer, d = self.signer, self.dedup
        gate = (
            p.words,
            d.min_words,
            _MIN_INSIDE_GRAMS,
            len(p.shingles),
            d.threshold,
            min(d.containment, d.aligned_containment),
        )
        raws = [self.store.get("m:" + cand_id) for cand_id in ids]
        rows = fast.screen_records(p.shingles, raws, NORM_FIELD, signer.k, signer._mul_bytes, gate)
        return [
            (ids[i], _similarity_of(inter, mine, theirs) if inter >= 0 else None)
            for i, inter, mine, theirs, _chars, _words in rows
        ]

    def _similarity(self, p: Prepared, cand: DedupRecord) -> Similarity:
        """Exact k-gram similarity of the post and a candidate."""
        if speedups.compiled is not None:  # the candidate's k-grams hashed as they are counted
            return self.signer.similarity(p.shingles, cand.norm)
        return similarity(p.gram_set, self._cached_grams(cand))

    def _cached_grams(self, rec: DedupRecord) -> GramSet:
        """Shingles of a candidate; popular originals are verified against again and again."""
        grams = self._gram_cache.get(rec.id)
        if grams is None:
            if len(self._gram_cache) > 20_000:
                self._gram_cache.clear()
            grams = gram_set(self.signer.shingles(rec.norm))
            self._gram_cache[rec.id] = grams
        return grams

    def _in_window(self, p: Prepared, rec: DedupRecord) -> bool:
        return rec.at >= p.at - self.dedup.window_days * 86400

    def _other_place(self, p: Prepared, rec: DedupRecord) -> bool:
        """Both posts say where they are, and it is not the same place: not a copy."""
        geo = p.mention.place.geo
        if geo is not None and rec.lat is not None and rec.lon is not None:
            far = haversine_m(geo, GeoPoint(lat=rec.lat, lon=rec.lon)) > self.dedup.max_distance_m
            if far:
                return True
        a, b = p.address_key, rec.address_key
        return bool(a and b and a != b and not _one_address_within(a, b))

    def _other_region(self, p: Prepared, rec: DedupRecord) -> bool:
        """The post and the candidate's family are placed in two different regions."""
        theirs = _family(rec).place.region
        return p.region is not None and theirs is not None and theirs != p.region

    def _find_short_original(self, p: Prepared, ids: set[str]) -> DedupRecord | None:
        """A short text: the same words (typos forgiven) at the same place, or carried over."""
        first = self._fp.get(p.fp)
        if first is not None:
            ids.add(first)
        # «Мусор» meets every «Мусор» of the window: hundreds. Without a place, only a
        # post carried over recently can be the original; and the earliest post of the
        # best level wins, so in time order the first of the top level ends the search.
        placed = p.mention.place.geo is not None or p.address_key is not None
        since = float("-inf") if placed else p.at - self.dedup.short_repost_hours * 3600
        best: tuple[float, float, DedupRecord] | None = None
        for cand_id in self._cand.by_time(ids, since):
            rec = self._get(cand_id)
            if rec is None or not self._in_window(p, rec) or self._other_place(p, rec):
                continue
            if p.mention.id in (rec.id, rec.duplicate_of):
                continue  # a copy of this post itself (its earlier version)
            if p.mention.place.geo is not None and rec.lat is None:
                continue  # a post that knows its place does not copy one that does not
            level = self._short_match(p, rec, rec.norm.split())
            if level and (best is None or (level, -rec.at) > best[:2]):
                best = (level, -rec.at, rec)
                if level >= _SAME_TEXT:
                    break
        return self._root(best[2].id) if best else None

    def _short_match(self, p: Prepared, rec: DedupRecord, words: list[str]) -> float:
        """How surely a short text and another are one post: 0 not at all.

        3: the same text, 2: the same words with typos — either at the same place, or
        carried over to another network soon after. Between 1 and 1.5 (closer is
        higher): a few words added at the edges ("Нам пишут: …", "… Помогите!"), only
        when carried over: at one place, "Роллеты на фасаде" and "Самовольно
        установлены роллеты на фасаде" are two residents. The earliest of the best
        level wins, so a copy with a sign-off goes to its own original rather than to
        a shorter text somebody else wrote. Never across two regions: «Мусор не
        вывозят» in Tver and in Ivanovo are two residents.
        """
        if self._other_region(p, rec):
            return 0.0
        mine = p.word_list
        carried = self._short_repost(p, rec)
        if not carried and not self._same_place(p, rec):
            return 0.0
        if rec.fp == p.fp or retyped(words, mine):
            return _SAME_TEXT if rec.fp == p.fp else 2.0
        # Words added: only carried over, and only by the later post (when the copy is
        # the stored one, its punctuation is gone, so it is not taken for a copy).
        if not carried or rec.at > p.at:
            return 0.0
        if not carries(words, mine, _SHORT_ADDED, p.cut, 1.0, misspelt, p.partners):
            return 0.0  # nothing of a short text may be cut
        if not added_apart(words, *p.breaks, p.exclaims):
            return 0.0  # added words written into the sentence: somebody else's post
        return 1.0 + 0.5 * match_ratio(words, mine)

    def _carries(
        self,
        p: Prepared,
        rec: DedupRecord,
        words: list[str],
        max_added: int = EDGE_WORDS,
        min_kept: float = MIN_KEPT,
        typo: WordPair = near,
    ) -> bool:
        """dedup.carries with the earlier of the two posts as the original."""
        if rec.at <= p.at:
            return carries(words, p.word_list, max_added, p.cut, min_kept, typo, p.partners)
        return carries(p.word_list, words, max_added, min_kept=min_kept, typo=typo)

    def _short_repost(self, p: Prepared, rec: DedupRecord) -> bool:
        """The same short text soon after, in another network: most likely carried over.

        Two residents of one city do write "мусор не вывозят" independently, but
        they usually do it on the same portal or in the same public; a copy shows
        up elsewhere, within hours.
        """
        hours = self.dedup.short_repost_hours
        soon = p.at - rec.at <= hours * 3600
        return soon and rec.platform != p.mention.platform and rec.source_id != p.mention.source.id

    def _same_place(self, p: Prepared, rec: DedupRecord) -> bool:
        geo = p.mention.place.geo
        if geo is not None and rec.lat is not None and rec.lon is not None:
            return haversine_m(geo, GeoPoint(lat=rec.lat, lon=rec.lon)) <= 100
        return bool(p.address_key and p.address_key == rec.address_key)

    def _is_copy(self, sim: Similarity, p: Prepared, cand: DedupRecord, cand_count: int) -> bool:
        """Close in characters, and the words say copy rather than a shared template
        (``cand_count``: the candidate's words)."""
        d = self.dedup
        few = min(p.words, cand_count) <= d.sentence_words
        # A cut-off tail or an added wrapper: one text almost inside the other,
        # and the shorter one long enough to mean something.
        inside = sim.shorter >= _MIN_INSIDE_GRAMS and sim.shorter >= 0.4 * sim.longer
        if few:  # the words decide, in order
            aligned = inside and sim.containment >= d.aligned_containment
            return (sim.jaccard >= d.threshold or aligned) and self._few_words_copy(
                p, cand, cand.norm.split()
            )
        if sim.jaccard >= d.threshold or (inside and sim.containment >= d.containment):
            cand_words = cand.norm.split()
            share = word_containment(p.word_list, cand_words, at_least=d.word_containment)
            if share >= d.word_containment:
                return True
        elif not (inside and sim.containment >= d.aligned_containment):
            return False  # most candidates: a shared sentence or two, no more
        else:
            cand_words = cand.norm.split()
        # Words added at the edges (a wrapper or sign-off nobody listed), a tail
        # cut with a feed's own marker, glued words: the aligned words decide.
        return self._carries(p, cand, cand_words)

    def _few_words_copy(self, p: Prepared, rec: DedupRecord, words: list[str]) -> bool:
        """A text of a sentence or so, and another: the words in order, none changed
        for another word, none inserted in the middle ("незаконная решетка" /
        "незаконная глухая решетка" are two residents); words added at the edges
        stand apart from it; its tail is cut only with a feed's marker."""
        later = rec.at <= p.at
        min_kept = MIN_KEPT if later and p.cut else 1.0
        if not self._carries(p, rec, words, min_kept=min_kept, typo=misspelt):
            return False
        return not later or added_apart(words, *p.breaks, p.exclaims)

    def _root(self, mention_id: str) -> DedupRecord | None:
        rec = self._get(mention_id)
        seen = 0
        while rec is not None and rec.duplicate_of and seen < 16:
            parent = self._get(rec.duplicate_of)
            if parent is None:
                break
            rec, seen = parent, seen + 1
        return rec


def placing_of(verdict: Verdict) -> str:
    """The metric label of a verdict (bounded)."""
    if verdict.redelivered:
        return "redelivered"
    return "revised" if verdict.revised else verdict.placing


def _version(m: Mention) -> float:
    """A post's version: the platform's edit time (0: the first version, never edited)."""
    return m.edited_at.timestamp() if m.edited_at else 0.0


def _newer(m: Mention, known: DedupRecord) -> bool:
    """Whether a post is a later version than the one decided; ties keep the first."""
    return _version(m) > known.edited


__all__ = [
    "ABOUT_FIELDS",
    "OWN_FIELDS",
    "UNKNOWN_REGION",
    "About",
    "DedupRecord",
    "Deduplicator",
    "Prepared",
    "Verdict",
    "about_of",
    "address_key",
    "placing_of",
    "region_key",
    "stated_origin",
]
