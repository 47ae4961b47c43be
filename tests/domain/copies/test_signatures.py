"""Signatures are datasketch's; candidates and exact similarity behave as documented."""

from __future__ import annotations

import numpy as np
import pytest
from datasketch import MinHash
from hypothesis import given, settings
from hypothesis import strategies as st

from incidents.domain.copies.dedup import _word_count
from incidents.domain.copies.signatures import CandidateIndex, Signer, similarity
from incidents.domain.copies.wording import (
    Partners,
    _one_edit,
    added_apart,
    carries,
    misspelt,
    near,
    word_containment,
)
from incidents.domain.text.normalize import normalize_text, words_and_breaks


def test_batched_signatures_equal_datasketch_minhash() -> None:
    signer = Signer(num_perm=64)
    texts = ["во дворе дома 5 на ул ленина яма", "нет горячей воды третий день", "x", ""]
    shingles = [signer.shingles(t) for t in texts]
    sigs = signer.signatures(shingles)
    for sh, sig in zip(shingles, sigs, strict=True):
        m = MinHash(
            num_perm=64, seed=1, scheme="affine32", hashfunc=lambda b: int.from_bytes(b, "little")
        )
        m.update_batch([int(v).to_bytes(4, "little") for v in sh])
        assert np.array_equal(m.hashvalues.astype(np.uint32), sig)


def test_copies_share_candidates_and_different_texts_mostly_do_not() -> None:
    signer = Signer(num_perm=64)
    a = normalize_text(
        "Во дворе дома 5 на ул. Ленина огромная яма, машины ломают колёса, сколько можно"
    )
    b = normalize_text(
        "Подписчики пишут: во дворе дома 5 на ул Ленина огромная яма машины ломают колеса"
    )
    c = normalize_text(
        "Нет горячей воды в доме 12 по улице Гагарина уже третий день, управляющая молчит"
    )
    sh = [signer.shingles(t) for t in (a, b, c)]
    sigs = signer.signatures(sh)
    bands = signer.band_keys(sigs)
    raw = [s.astype("<u4").tobytes() for s in sigs]
    index = CandidateIndex()
    assert index.add("a", "RU-TVE", bands[0], raw[0], at=30.0) == set()
    assert index.add("b", "RU-TVE", bands[1], raw[1], at=10.0) == {"a"}  # yields the candidates
    assert "a" not in index.add("c", "RU-TVE", bands[2], raw[2], at=20.0)
    assert index.add("d", "RU-IVA", bands[1], raw[1]) == set()  # other region: never a candidate
    # Candidates by their posts' time, earliest first, from a recent span only.
    assert index.by_time(["a", "b", "c", "gone"]) == ["b", "c", "a"]
    assert index.by_time(["a", "b", "c"], since=15.0) == ["c", "a"]
    # The stored signatures drop a chance candidate before its record is read.
    assert index.agreeing(["a", "c"], sigs[1], at_least=12) == ["a"]
    assert index.agreeing(["a", "gone"], sigs[0], at_least=64) == ["a"]
    for key in "abcd":
        index.remove(key)
    assert len(index) == 0 and index.add("e", "RU-TVE", bands[1], raw[1]) == set()
    assert index.agreeing(["a"], sigs[0], at_least=0) == []  # removed keys are no candidates


def test_similarity_measures_jaccard_and_containment_exactly() -> None:
    signer = Signer()
    full = signer.shingles("раз два три четыре пять шесть семь восемь")
    head = signer.shingles("раз два три четыре")
    s = similarity(full, head)
    assert s.containment == 1.0
    assert 0 < s.jaccard < 0.5
    assert similarity(full, full).jaccard == 1.0
    assert similarity(full, np.zeros(0, dtype=np.uint32)).jaccard == 0.0


ORIG = "двор дома завален мусором контейнеры переполнены"


@pytest.mark.parametrize(
    ("copy", "cut", "expected"),
    [
        ("нам пишут двор дома завален мусором контейнеры переполнены", False, True),  # wrapper
        ("двор дома завален мусором контейнеры переполнены примите меры", False, True),  # sign-off
        ("двор дома завален мусором", False, True),  # a plain cut
        ("двор дома завален мусором крысы", False, False),  # another ending, no cut shown
        ("двор дома завален мусором еще", True, True),  # a cut with the feed's marker
        ("нам пишут двор дома завален мусором", False, False),  # wrapped and cut: quoted
        ("двор дома завален листьями контейнеры переполнены", False, False),  # middle changed
        ("двор домазавален мусором контейнеры переполнены", False, True),  # two words glued
        ("двор дома завален мусором контейнеры переполнеы", False, True),  # a typo
        ("двор дома", False, False),  # less than half kept
        ("двор дома завален мусором контейнеры переполнены", False, True),  # the same
        ("двор дом азавален мусором контейнеры переполнены", False, True),  # a space moved
    ],
)
def test_carries_follows_what_reposting_does(copy: str, cut: bool, expected: bool) -> None:
    assert carries(ORIG.split(), copy.split(), cut=cut) is expected


def test_carries_never_links_two_house_numbers() -> None:
    assert not carries("дом 5 двор завален мусором".split(), "дом 7 двор завален мусором".split())


def test_carries_forgives_a_doubled_letter_in_a_short_word() -> None:
    original = "на парковке стоят бетонные блоки".split()
    assert carries(original, "наа парковке стоят бетонные блоки".split())
    assert not carries(original, "за парковкой стоят бетонные блоки".split())


_VOCAB = [
    "мусор",
    "мусорр",
    "мксор",
    "во",
    "дворе",
    "двор",
    "дома",
    "12",
    "14",
    "не",
    "вывозят",
    "вывозит",
]


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from(_VOCAB), min_size=1, max_size=8),
    st.lists(st.sampled_from(_VOCAB), min_size=1, max_size=8),
    st.sampled_from([0.5, 0.75, 0.9, 1.0]),
)
def test_word_containment_stopping_early_decides_as_the_full_count(
    a: list[str], b: list[str], at_least: float
) -> None:
    full = word_containment(a, b)
    early = word_containment(a, b, at_least=at_least)
    assert (early >= at_least) == (full >= at_least)
    if full >= at_least:
        assert early == full


def test_a_lost_space_is_a_typo_unless_it_joins_two_numbers() -> None:
    assert carries("во дворе дома 14 мусор".split(), "во дворе дома14 мусор".split())
    assert carries("дом 14 не убирают".split(), "дом 14не убирают".split())
    # House 12, building 3 is not house 123.
    assert not carries("дом 12 3 не убирают".split(), "дом 123 не убирают".split())


@pytest.mark.parametrize(
    ("original", "copy", "apart"),
    [
        ("мусор на газоне", "Нам пишут: мусор на газоне. Помогите!", True),
        ("мусор на газоне", "мусор на газоне", True),
        ("объявления", "👉 объявлени я‼️", True),  # a typo splits the only word
        ("просьба стереть надписи", "Репост: просьб а стереть надписи", True),  # at the seam
        ("мусор на газоне", "мусор на газоне у школы", False),
        ("граффити", "прошу закрасить граффити", False),
        ("мусор на газоне", "Нам пишут: мусор на газоне у школы", False),  # one side is enough
    ],
)
def test_words_a_repost_adds_stand_apart_from_the_text_it_carries(
    original: str, copy: str, apart: bool
) -> None:
    assert added_apart(original.split(), *words_and_breaks(copy)) is apart


@pytest.mark.parametrize(
    ("original", "copy", "exclaims", "apart"),
    [
        # A feed's cut: the copy ends inside the original, at the text's edge.
        ("детская площадка в песке и в осколках стекла", "Детская площадка в песке и в…",
         False, True),
        # A call of a few words with "!" or "?" needs no break before it.
        ("мусор у седьмой парадной", "мусор у седьмой парадной помогите!!!", True, True),
        ("фонарь не горит", "Фонарь Не Горит Куда смотрит администрация?!", True, True),
        # Without the exclamation, or longer than a call: the resident's own words.
        ("мусор у седьмой парадной", "мусор у седьмой парадной помогите", False, False),
        ("мусор у седьмой парадной", "мусор у седьмой парадной и у школы за углом!", True,
         False),
    ],
)  # fmt: skip
def test_a_cut_or_a_call_at_the_end_stands_apart(
    original: str, copy: str, exclaims: bool, apart: bool
) -> None:
    assert added_apart(original.split(), *words_and_breaks(copy), exclaims) is apart


@pytest.mark.parametrize(
    ("a", "b", "typo"),
    [
        ("светофоре", "светлфоре", True),  # the typo is no word
        ("подъезда", "подьезда", True),
        ("на", "нв", True),
        ("на", "ан", True),  # two letters swapped
        ("жк", "к", True),  # one dropped
        ("с", "c", True),  # a Latin look-alike
        # Two words of the dictionary: somebody chose each.
        ("стене", "стенде", False),
        ("объявление", "объявления", False),
        ("тротуар", "тротуара", False),
        ("в", "на", False),
        ("в", "и", False),
        # A digit is never a typo: another floor, another count.
        ("2м", "5м", False),
        ("4шт", "2шт", False),
        ("мусор", "мусор", False),  # the same word is no typo
    ],
)
def test_a_typo_makes_a_word_that_does_not_exist(a: str, b: str, typo: bool) -> None:
    assert misspelt(a, b) is typo
    assert misspelt(b, a) is typo


def test_numbers_are_never_near_each_other() -> None:
    assert not near("4шт", "2шт")
    assert not near("5к2", "5к3")
    assert near("переполнены", "перепорнены")


def test_a_typo_just_before_a_sign_off_is_still_a_typo() -> None:
    original = "не работает фонарь у второго подъезда".split()
    copy = "не работает фонарь у второго подьезда пишет наш читатель".split()
    assert carries(original, copy, typo=misspelt)
    # Another form of the word is not a typo, sign-off or not.
    other = "не работает фонарь у второго подъезду пишет наш читатель".split()
    assert not carries(original, other, typo=misspelt)


def _edits(a: str, b: str) -> bool:
    """One edit by the book: one letter changed, dropped or added, or two neighbours swapped."""
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (
            len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )  # fmt: skip
    short, long_ = sorted((a, b), key=len)
    return len(long_) - len(short) == 1 and any(
        long_[:i] + long_[i + 1 :] == short for i in range(len(long_))
    )


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="абвг", max_size=6), st.text(alphabet="абвг", max_size=6))
def test_one_edit_is_one_edit_by_the_book(a: str, b: str) -> None:
    assert _one_edit(a, b) == _edits(a, b)


_WORD = st.text(alphabet="абвc", min_size=1, max_size=5)


@st.composite
def _carried(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    """A text and a copy of it: words added at the edges, some retyped, glued or split."""
    original = draw(st.lists(_WORD, min_size=1, max_size=4))
    copy: list[str] = draw(st.lists(_WORD, max_size=2))
    for w in original:
        how = draw(st.sampled_from(["keep", "typo", "glue", "split"]))
        if how == "typo":
            i = draw(st.integers(0, len(w) - 1))
            copy.append(w[:i] + draw(st.sampled_from("абвгc")) + w[i + 1 :])
        elif how == "glue" and copy:
            copy[-1] += w
        elif how == "split" and len(w) > 1:
            copy.extend([w[:1], w[1:]])
        else:
            copy.append(w)
    return original, copy + draw(st.lists(_WORD, max_size=2))


@settings(max_examples=1500, deadline=None)
@given(_carried())
def test_the_word_prefilter_never_refuses_what_the_alignment_keeps(
    pair: tuple[list[str], list[str]],
) -> None:
    """Partners only spares the alignment: whenever the alignment alone keeps every
    word (min_kept just under 1 runs it without the prefilter), the prefilter agrees."""
    original, copy = pair
    for typo in (near, misspelt):
        if carries(original, copy, max_added=4, min_kept=0.9999, typo=typo):
            assert Partners(copy).of_all(original)


@given(
    st.lists(st.text(alphabet="абв5", min_size=1, max_size=6), max_size=12),
    st.integers(0, 60),
)
def test_a_stored_texts_words_are_counted_without_splitting(words: list[str], cap: int) -> None:
    """The desk counts a candidate's words from its stored text, which may be cut."""
    norm = " ".join(words)[:cap]
    assert _word_count(norm) == len(norm.split())
