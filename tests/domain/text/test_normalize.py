"""Normalization: the noise copies add must disappear, the words that differ must stay."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incidents.domain.text.normalize import (
    _WORDS,
    _split_words,
    fingerprint,
    normalize_text,
    strip_noise,
    words_and_breaks,
)


def test_repost_wrappers_hashtags_emojis_links_and_case_are_removed() -> None:
    original = "Во дворе дома 5 на ул. Ленина огромная яма!"
    copies = [
        "Подписчики пишут: «Во дворе дома 5 на ул. Ленина огромная яма!»",
        "Репост: Подписчики пишут: Во дворе дома 5 на ул. Ленина ОГРОМНАЯ ЯМА 😡😡",
        "#Тверь #дороги Во дворе дома 5 на ул. Ленина огромная яма! https://vk.com/wall-1_2",
        "Анонимно. во дворе   дома 5 на ул ленина огромная яма",
        "Пишет подписчик — Во дворе дома 5 на ул. Ленина огромная яма ❗️ @tver_admin",
    ]
    for copy in copies:
        assert normalize_text(copy) == normalize_text(original), copy


def test_latin_lookalikes_inside_russian_words_are_folded() -> None:
    assert normalize_text("ул. Ленинa, дом 5") == normalize_text("ул. Ленина, дом 5")
    # In a post written in capitals too.
    assert normalize_text("ЦЕПЬ МEШАEТ ПАРКОВКЕ") == normalize_text("цепь мешает парковке")
    # A real Latin word stays Latin.
    assert "wifi" in normalize_text("Не работает wifi в поликлинике")


def test_links_in_capitals_are_links() -> None:
    assert normalize_text("ЯМА НА ДОРОГЕ T.ME/CITYCHAT/1234") == "яма на дороге"
    assert normalize_text("Яма на дороге WWW.EXAMPLE.RU/x") == "яма на дороге"


def test_short_links_and_cyrillic_domains_are_links() -> None:
    for link in ("vk.cc/cAbC12", "bit.ly/3xYz", "youtu.be/abc", "госуслуги.рф/help"):
        assert normalize_text(f"Яма на дороге {link}") == "яма на дороге", link
    # Abbreviations with a dot are words, not links.
    assert normalize_text("г.Санкт-Петербург, ул.Ленина") == "г санкт петербург ул ленина"


def test_different_complaints_keep_their_differences() -> None:
    a = normalize_text("Яма на ул. Ленина, 5")
    b = normalize_text("Яма на ул. Гагарина, 12")
    assert a != b
    assert fingerprint(a) != fingerprint(b)


def test_fingerprint_is_stable_and_short() -> None:
    assert fingerprint("яма на дороге") == fingerprint("яма на дороге")
    assert len(fingerprint("x")) == 16


def test_vk_mention_markup_keeps_the_name() -> None:
    assert strip_noise("[id123|Иван], спасибо") == "Иван, спасибо"


_TRICKY = (
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюя AZaz09_-.,!?:;«»()[]—–…'\"@#/\u00a0\t\n²٣\u0301ﬁ😤\u200d\x1c"
)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(_TRICKY), max_size=60) | st.text(max_size=40))
def test_word_split_fast_path_equals_the_regex(text: str) -> None:
    """The fast tokeniser must give exactly the regex's words, or signatures change."""
    assert _split_words(text) == _WORDS.findall(text)


@pytest.mark.parametrize(
    ("text", "seams"),
    [
        ("Нам пишут: мусор на газоне. Помогите!", "нам пишут | мусор на газоне | помогите"),
        ("Сообщение от подписчика\nмусор на газоне", "сообщение от подписчика | мусор на газоне"),
        ("мусор на газоне Примите меры", "мусор на газоне | примите меры"),
        ("сломана скамейка у дома 2к3 Примите меры", "сломана скамейка у дома 2к3 | примите меры"),
        # Not after a word in capitals ("ТЦ Радуга").
        ("реклама магазина в ТЦ Радуга на фасаде", "реклама магазина в | тц радуга на фасаде"),
        ("мусор 😤 у школы", "мусор | у школы"),
        ("«мусор на газоне» — пишет Анна", "мусор на газоне | пишет | анна"),
        ("мусор на газоне подробнее: https://t.me/x/1", "мусор на газоне | подробнее"),
        # One sentence: no seam, also not at a name or a hyphen inside a word.
        ("мусор на газоне у школы", "мусор на газоне у школы"),
        ("северо-западный район", "северо западный район"),
        # In capitals, or every word capitalised, a capital letter says nothing.
        ("МУСОР НА ГАЗОНЕ ПРИМИТЕ МЕРЫ", "мусор на газоне примите меры"),
        ("Мусор На Газоне Примите Меры", "мусор на газоне примите меры"),
    ],
)
def test_words_and_breaks_finds_where_a_repost_adds_its_own_words(text: str, seams: str) -> None:
    words, breaks = words_and_breaks(text)
    assert len(breaks) == len(words) + 1 and breaks[0] and breaks[-1]
    shown = " ".join(("| " if i and breaks[i] else "") + w for i, w in enumerate(words))
    assert shown == seams
