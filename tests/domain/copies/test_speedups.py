"""The compiled twins (incidents/domain/copies/_speedups.c) give what the Python code gives.

The Python code is the reference: each compiled function must return exactly
its result, or None where it hands the text back to the Python path.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incidents.domain.copies import speedups
from incidents.domain.copies.signatures import CandidateIndex, Signer
from incidents.domain.text.normalize import clean_words, strip_and_split, strip_noise_cut

fast = speedups.built
needs_build = pytest.mark.skipif(fast is None, reason="the C extension was not built")


def python_path(text: str) -> tuple[str, bool, list[str]]:
    clean, cut = strip_noise_cut(text)
    return clean, cut, clean_words(clean)


def same_or_handed_back(text: str) -> bool:
    """The compiled step hands the text back (None), or strip_and_split with it gives
    what the Python path gives: itself, or with a wrapper stripped by Python."""
    got = fast.clean_words(text)  # type: ignore[union-attr]
    return got is None or strip_and_split(text) == python_path(text)


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler on this machine")
def test_the_extension_is_built_where_a_compiler_is() -> None:
    """pip install builds it silently or skips it: a broken build must show here."""
    assert speedups.built is not None, "incidents/domain/copies/_speedups.c did not build"
    assert speedups.compiled is speedups.built


@contextmanager
def python_only() -> Iterator[None]:
    """The Python code alone inside the block, the compiled twins again after it."""
    speedups.use(False)
    try:
        yield
    finally:
        speedups.use(True)


def both_indexes() -> tuple[CandidateIndex, CandidateIndex]:
    """A CandidateIndex on the Python path and one on the compiled path."""
    with python_only():
        python_index = CandidateIndex()
    return python_index, CandidateIndex()


@needs_build
def test_every_code_point_is_taken_exactly_or_handed_back() -> None:
    taken = 0
    for cp in range(sys.maxunicode + 1):
        c = chr(cp)
        for text in (f"Мусор{c}у дома", f"{c}яма", f"двор {c}", f"Ё{c}Z", c):
            got = fast.clean_words(text)  # type: ignore[union-attr]
            if got is not None:
                taken += 1
                assert strip_and_split(text) == python_path(text), (hex(cp), text)
            words = fast.words(text)  # type: ignore[union-attr]
            assert words is None or words == clean_words(text), (hex(cp), text)
    assert taken > 5 * 1000  # Cyrillic, ASCII and the emoji blocks are the fast path's


@needs_build
def test_plain_texts_take_the_fast_path() -> None:
    texts = [
        "Во дворе дома 5 по ул. Ленина яма, машины бьются 😡",
        "На Невском пр.,д.10 не убран снег!!! Примите меры",
        "нет горячей воды\nтретий день… куда смотрит УК №3?",
        "Мусор у подъезда. ПОЧЕМУ НИКТО НЕ УБИРАЕТ",
        "Ленинa 5, квартира a5б и 2к3",  # look-alikes folded only where letters touch
    ]
    for text in texts:
        got = fast.clean_words(text)  # type: ignore[union-attr]
        assert got is not None and got[2] is not None, text
        assert got == python_path(text)


@needs_build
def test_wrapped_and_cut_texts_are_split_by_the_compiled_step() -> None:
    """A repost wrapper, a quoted post or a feed's cut marker is stripped by the Python
    code from what the compiled step made, and the compiled step splits the rest."""
    texts = [
        "Репост: Во дворе дома 5 яма",
        "Подписчики пишут: «Мусор у подъезда третий день» 😡",
        "«Нет света в парадной»",
        "Из-за ремонта нет воды",  # not a wrapper, though it starts like "из предложки"
        "Нет освещения на опоре… Показать полностью",
        "полы не в надлежащем виде\ufffc Мусор у дома...",
    ]
    for text in texts:
        got = fast.clean_words(text)  # type: ignore[union-attr]
        assert got is not None and got[2] is None, text
        assert strip_and_split(text) == python_path(text)
    assert strip_and_split(texts[0])[2] == ["во", "дворе", "дома", "5", "яма"]


@needs_build
@settings(max_examples=1000, deadline=None)
@given(st.text(max_size=80))
def test_words_of_any_text_are_clean_words_or_handed_back(text: str) -> None:
    got = fast.words(text)  # type: ignore[union-attr]
    assert got is None or got == clean_words(text)


# Pieces the Python path treats specially, mixed with ordinary words.
_PIECES = [
    "мусор", "Яма", "ДВОР", "ёлка", "Ёж", "дом", "5", "2к3", "ул.", "пр.", "д.10",
    "Ленинa", "MУСОР", "xoд", "ok", "No", "№", "…", "...", "..", ".", ",", "!", "?", ":", ";",
    "(", ")", "[", "]", "«", "»", '"', "'", "-", "—", "–", "/", "//", "://", "www.", ".ru",
    ".рф", ".com", ".co", ".me", "vk.cc/abc", "t.me/x", "@user", "#тег", "#", "#5", "#Ёлка_2", "[…]", "“", "„", "”", "’", "−", "°", "[id1|Имя]", "[Club5|x]", "😡", "👍🏻", "❗",
    "\u200d", "\ufe0f", "①", "\u00a0", "\t", "\n", " ", "  ", "Репост:", "Подписчики пишут:",
    "из", "Из-за", "жители", "читать далее", "Показать полностью", "далее", "полностью",
    "ё", "Ё", "_", "x_y", "\x0b", "\x1c", "ﬁ", "²", "é", "\u0301", "\ufffc", "«Мусор»",
    "Цитата", "пишут", "подписчики", "Forwarded message", "a5д", "дом5a",
]  # fmt: skip


@needs_build
@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=30), st.lists(st.booleans(), max_size=30))
def test_texts_of_tricky_pieces_are_taken_exactly_or_handed_back(
    pieces: list[str], spaces: list[bool]
) -> None:
    text = "".join(
        p + (" " if s else "") for p, s in zip(pieces, spaces + [False] * 30, strict=False)
    )
    assert same_or_handed_back(text), text


@needs_build
@settings(max_examples=1000, deadline=None)
@given(st.text(max_size=80))
def test_any_text_is_taken_exactly_or_handed_back(text: str) -> None:
    assert same_or_handed_back(text)


@needs_build
@settings(max_examples=500, deadline=None)
@given(st.lists(st.text(max_size=60), max_size=8), st.sampled_from([2, 3, 5, 8]))
def test_signatures_equal_the_numpy_ones(texts: list[str], k: int) -> None:
    signer = Signer(num_perm=64, k=k)
    shingles = signer.shingle_batch(texts)
    sigs = signer.signatures(shingles)
    got_shingles, got_sigs = signer.sign(texts)
    assert len(got_shingles) == len(texts)
    for mine, ref in zip(got_shingles, shingles, strict=True):
        assert np.array_equal(mine, ref)
    assert np.array_equal(got_sigs, sigs)
    for text, ref in zip(texts, shingles, strict=True):
        assert np.array_equal(signer.shingles(text), ref)


@needs_build
@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 3), min_size=8, max_size=8), min_size=1, max_size=12),
    st.integers(0, 9),
)
def test_agreeing_picks_what_numpy_picks(rows: list[list[int]], at_least: int) -> None:
    sig = np.array(rows[0], dtype=np.uint32)
    index = CandidateIndex()
    for i, row in enumerate(rows):
        index.add(f"k{i}", "r", [i], np.array(row, dtype="<u4").tobytes())
    keys = [f"k{i}" for i in range(len(rows))]
    with python_only():
        expected = index.agreeing(keys, sig, at_least)
    assert index.agreeing(keys, sig, at_least) == expected


@needs_build
def test_the_dedup_stage_decides_the_same_with_and_without_the_compiled_twins() -> None:
    """The bundled sample's texts and copies of them through a fresh dedup stage both ways."""
    from incidents.config.settings import Settings
    from incidents.domain.copies.dedup import Deduplicator
    from incidents.ops.bench.stages import _dedup_mentions

    sample = Path(__file__).parents[3] / "incidents" / "ops" / "demo" / "sample" / "mentions.jsonl"
    texts = []
    for line in sample.read_bytes().splitlines():
        try:
            text = json.loads(line)["text"]
        except (ValueError, KeyError, TypeError):
            continue  # the sample's deliberately broken lines
        if isinstance(text, str):
            texts += [
                text,
                f"Подписчики пишут: «{text}» 😡",
                text.upper() + " #жкх",
                text[:60] + "…",
            ]
    mentions = _dedup_mentions(texts, every_s=60, networks=3, regions=["RU-MOW", "RU-NVS"])
    s = Settings()

    def decide() -> list[tuple[str, str | None]]:
        window = Deduplicator({}, s.dedup)
        out = []
        for i in range(0, len(mentions), 500):
            for p in window.prepare(mentions[i : i + 500]):
                m = window.resolve(p).mention
                out.append((m.status, m.duplicate_of))
        return out

    compiled = decide()
    with python_only():
        pure = decide()
    assert sum(status == "duplicate" for status, _ in pure) > 300
    assert compiled == pure


def test_without_the_twins_the_python_code_answers() -> None:
    """What a machine without a C compiler runs (and the answer a twin must equal)."""
    from incidents.domain.text.normalize import strip_and_split

    with python_only():
        assert speedups.compiled is None
        assert strip_and_split("Подписчики пишут: «Мусор у дома 5» 😡 #жкх") == (
            "Мусор у дома 5",
            False,
            ["мусор", "у", "дома", "5"],
        )
    assert speedups.compiled is speedups.built


@needs_build
@settings(max_examples=2000, deadline=None)
@given(
    st.lists(st.sampled_from("абвгде"), max_size=14),
    st.lists(st.sampled_from("абвгдеж"), max_size=14),
)
def test_word_alignment_equals_difflib(a: list[str], b: list[str]) -> None:
    from difflib import SequenceMatcher

    from incidents.domain.copies.wording import match_ratio, matching_blocks, opcodes

    matcher = SequenceMatcher(None, a, b, autojunk=False)
    assert matching_blocks(a, b) == [tuple(m) for m in matcher.get_matching_blocks()]
    assert opcodes(a, b) == matcher.get_opcodes()
    assert match_ratio(a, b) == matcher.ratio()


@needs_build
@settings(max_examples=1000, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=60), st.lists(st.integers(0, 40), max_size=60))
def test_overlap_counts_what_python_sets_count(a: list[int], b: list[int]) -> None:
    from incidents.domain.copies.signatures import similarity

    xa, xb = np.array(a, dtype=np.uint32), np.array(b, dtype=np.uint32)
    assert similarity(xa, xb) == similarity(set(a), set(b))


@needs_build
@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.booleans(),  # add (True) or remove
            st.integers(0, 30),  # which post
            st.sampled_from(["RU-MOW", "RU-SPE"]),
            st.lists(st.integers(0, 12) | st.integers(0, 2**64 - 1), min_size=3, max_size=3),
            st.lists(st.integers(0, 2), min_size=4, max_size=4),  # its signature
            st.integers(0, 5),  # the agreement asked of candidates
        ),
        max_size=120,
    )
)
def test_the_compiled_band_tables_find_what_the_python_ones_find(
    ops: list[tuple[bool, int, str, list[int], list[int], int]],
) -> None:
    python_index, compiled_index = both_indexes()
    for add, post, region, bands, sig, agreeing in ops:
        key = f"p{post}"
        sig_bytes = np.array(sig, dtype="<u4").tobytes()
        for index_ in (python_index, compiled_index):
            if add:
                # salted with the band number, as Signer.band_keys does
                keys = np.array(bands, dtype=np.uint64) ^ np.arange(3, dtype=np.uint64)
                index_.last = index_.add(key, region, keys, sig_bytes, 0.0, agreeing)  # type: ignore[attr-defined]
            else:
                index_.remove(key)
        if add:
            assert compiled_index.last == python_index.last  # type: ignore[attr-defined]
        assert len(compiled_index) == len(python_index)
        everyone = [f"p{i}" for i in range(31)]
        mine = np.array(sig, dtype=np.uint32)
        assert compiled_index.agreeing(everyone, mine, agreeing) == python_index.agreeing(
            everyone, mine, agreeing
        )


@needs_build
def test_the_compiled_band_tables_grow_and_forget_as_the_python_ones() -> None:
    """Thousands of posts, half of them expired and more added: the tables resize
    and reuse freed slots, and still find the same candidates."""
    rng = np.random.default_rng(5)
    python_index, compiled_index = both_indexes()
    live: list[str] = []
    for i in range(6000):
        keys = rng.integers(0, 3000, size=21, dtype=np.uint64) ^ np.arange(21, dtype=np.uint64)
        got = [
            ix.add(f"p{i}", "RU-MOW", keys, b"\0" * 8, 0.0) for ix in (python_index, compiled_index)
        ]
        assert got[0] == got[1]
        live.append(f"p{i}")
        if i % 3 == 2:  # the window moves on
            gone = live.pop(int(rng.integers(0, len(live))))
            python_index.remove(gone)
            compiled_index.remove(gone)
    assert len(compiled_index) == len(python_index) == 4000


@needs_build
@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80), st.text(max_size=700), st.sampled_from([2, 3, 5, 8]))
def test_similarity_to_a_stored_text_counts_what_python_sets_count(
    mine: str, stored: str, k: int
) -> None:
    """A candidate is compared from its stored text (its k-grams hashed on the way),
    texts longer than the compiled step's stack buffer too."""
    signer = Signer(num_perm=16, k=k)
    got = signer.similarity(signer.shingles(mine), stored)
    with python_only():
        assert got == signer.similarity(signer.shingles(mine), stored)


def _screened_in_python(
    shingles: np.ndarray, records: list[bytes | None], gate: tuple[int, int, int, int, float, float]
) -> list[tuple[int, int, int, int, int, int]]:
    """screen_records' reference: decode each record and count as Deduplicator does."""
    import msgspec

    from incidents.domain.copies.dedup import NORM_FIELD, _word_count
    from incidents.domain.copies.signatures import Signer

    post_words, min_words, min_inside, post_grams, threshold, least = gate
    signer = Signer()
    rows = []
    mine = len(set(shingles.tolist()))
    for i, raw in enumerate(records):
        fields = msgspec.msgpack.decode(raw) if raw is not None else None
        if not isinstance(fields, list) or len(fields) < NORM_FIELD + 2:
            rows.append((i, -1, 0, 0, 0, 0))
            continue
        norm, theirs = fields[NORM_FIELD], fields[NORM_FIELD + 1]
        with python_only():
            sim = signer.similarity(shingles, norm)
        inter = round(sim.containment * sim.shorter)
        words = _word_count(norm)
        grams = min(post_grams, len(norm) - signer.k + 1)
        too_short = min(post_words, words) < min_words or grams < min_inside
        shorter, longer = sorted((mine, theirs))
        jac = inter / (mine + theirs - inter) if shorter else 0.0
        cont = inter / shorter if shorter else 0.0
        inside = shorter >= min_inside and shorter >= 0.4 * longer
        if too_short or jac >= threshold or (inside and cont >= least):
            rows.append((i, inter, mine, theirs, len(norm), words))
    return rows


@needs_build
@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet="абвгдеёжз ийклмно12 xyz\u00e9\U0001f600", max_size=120),
    st.lists(st.text(alphabet="абвгдеёжз ийклмно12 xyz\u00e9\U0001f600", max_size=120), max_size=8),
    st.integers(1, 12),
    st.floats(0.1, 1.0),
)
def test_screened_records_are_counted_as_the_python_code_counts_them(
    post: str, texts: list[str], post_words: int, least: float
) -> None:
    """The dedup stage's compiled screen reads a candidate's text from its stored bytes and
    drops what _is_copy would refuse on the counts alone: the same counts as Python's."""
    import msgspec

    from incidents.domain.copies.dedup import NORM_FIELD
    from incidents.domain.copies.signatures import Signer

    signer = Signer()
    shingles = signer.shingles(" ".join(post.split()))
    records: list[bytes | None] = [None]
    for text in texts:
        norm = " ".join(text.split())
        grams = len(set(signer.shingles(norm).tolist()))
        records.append(msgspec.msgpack.encode(["vk:1", 1.5, "fp", norm, grams, b"sig", "x"]))
    records.append(msgspec.msgpack.encode(["too", "few"]))  # laid out otherwise
    gate = (post_words, 5, 24, len(shingles), 0.6, least)
    got = fast.screen_records(shingles, records, NORM_FIELD, 5, signer._mul_bytes, gate)  # type: ignore[union-attr]
    assert [tuple(row) for row in got] == _screened_in_python(shingles, records, gate)
