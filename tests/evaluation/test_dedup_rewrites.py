"""Each way monitoring sees one post again, and the look-alikes that are not copies."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from incidents.contracts.models import GeoPoint
from incidents.evaluation.dedup import rewrite
from tests.domain.desk.test_desk import T0, feed, mention, new_desk

ORIGINAL = (
    "Третий день во дворе дома 14 на улице Циолковского не вывозят мусор, контейнеры "
    "переполнены, пакеты лежат на земле, их растаскивают собаки. Управляющая компания "
    "трубку не берёт."
)


def _copy_of(text: str, original: str = ORIGINAL, **kw: object) -> str | None:
    """What a post three hours after `original` (pos:1) is a duplicate of, if anything."""
    desk = new_desk()
    feed(desk, mention("pos:1", original, category="waste", appeal=False))
    (out,) = feed(desk, mention("telegram:2", text, at=T0 + timedelta(hours=3), appeal=False, **kw))
    return out.mentions[0].duplicate_of


@pytest.mark.parametrize(
    "copy",
    [
        f"Подписчики пишут: «{ORIGINAL}»",
        f"Репост: Пишет подписчик: {ORIGINAL}",
        f"#Циолковского #мусор {ORIGINAL} #ЖКХ",
        f"😡😡 {ORIGINAL} ‼️",
        ORIGINAL.upper(),
        ORIGINAL.replace("переполнены", "перепoлнены").replace(
            "собаки", "собакки"
        ),  # look-alike, typo
        ORIGINAL[: len(ORIGINAL) * 2 // 3] + "… Показать полностью",
        f"{ORIGINAL} https://vk.com/wall-1_2",
        "  ".join(ORIGINAL.split(" ")),
        ORIGINAL.replace("дома 14", "дома14"),  # a space lost before a number keeps it
    ],
    ids=[
        "wrapper",
        "nested-wrapper",
        "hashtags",
        "emoji",
        "case",
        "homoglyph+typo",
        "cut-tail",
        "link",
        "spaces",
        "glued-number",
    ],
)
def test_rewritten_copies_are_duplicates_of_the_original(copy: str) -> None:
    assert _copy_of(copy) == "pos:1"


def test_generated_rewrites_of_a_long_text_are_found() -> None:
    rng = random.Random(4)
    found = sum(_copy_of(rewrite(ORIGINAL, rng)[0]) == "pos:1" for _ in range(40))
    assert found >= 38


def test_another_resident_on_another_street_is_not_a_copy() -> None:
    other = ORIGINAL.replace("дома 14 на улице Циолковского", "дома 3 на улице Гагарина")
    assert _copy_of(other) is None


def test_the_same_template_about_another_object_is_not_a_copy() -> None:
    a = "Требуется очистка дорожных знаков от несанкционированной рекламы по адресу Невский проспект"
    b = "Требуется очистка опоры освещения от несанкционированной рекламы по адресу Невский проспект"
    desk = new_desk()
    feed(desk, mention("pos:1", a, appeal=False))
    (out,) = feed(desk, mention("pos:2", b, at=T0 + timedelta(hours=1), appeal=False))
    assert out.mentions[0].status == "accepted"


def test_another_entrance_number_is_another_place() -> None:
    a = "Не работает освещение над входом в подъезд по адресу улица Коллонтай дом 21 подъезд 4"
    desk = new_desk()
    feed(desk, mention("pos:1", a, appeal=False))
    (out,) = feed(desk, mention("pos:2", a.replace("подъезд 4", "подъезд 1"), appeal=False,
                                 at=T0 + timedelta(minutes=30)))  # fmt: skip
    assert out.mentions[0].status == "accepted"


def test_identical_texts_with_coordinates_far_apart_are_two_posts() -> None:
    text = "Самовольно установлена решётка на окне на лицевом фасаде, прошу демонтировать"
    desk = new_desk()
    feed(desk, mention("pos:1", text, geo=GeoPoint(lat=59.915, lon=30.328), appeal=False))
    (out,) = feed(desk, mention("pos:2", text, geo=GeoPoint(lat=59.929, lon=30.339), appeal=False,
                                 at=T0 + timedelta(hours=2)))  # fmt: skip
    assert out.mentions[0].status == "accepted"


def test_short_texts_link_only_when_carried_over_or_at_the_same_place() -> None:
    desk = new_desk()
    feed(desk, mention("pos:1", "Мусор не вывозят", appeal=False))
    # Another resident on the same portal writes the same three words: not a copy.
    (same_portal,) = feed(
        desk, mention("pos:2", "Мусор не вывозят!", appeal=False, at=T0 + timedelta(hours=1))
    )
    assert same_portal.mentions[0].status == "accepted"
    # A city public carries it over to VK a few hours later: a copy.
    (repost,) = feed(desk, mention("vk:3", "Подписчики пишут: мусор не вывозят", appeal=False,
                                    at=T0 + timedelta(hours=4)))  # fmt: skip
    assert repost.mentions[0].duplicate_of == "pos:1"


def test_the_same_short_text_links_to_the_earliest_post_it_can_come_from() -> None:
    desk = new_desk()
    text = "Мусор у подъезда"
    feed(desk, mention("vk:1", text, appeal=False))
    # The same network four days later: another resident, not a copy.
    (again,) = feed(desk, mention("vk:2", text, appeal=False, at=T0 + timedelta(days=4)))
    assert again.mentions[0].status == "accepted"
    # Elsewhere an hour after that: carried over from vk:2; vk:1 is too old (97 h > 72 h).
    (carried,) = feed(desk, mention("telegram:3", text, appeal=False,
                                     at=T0 + timedelta(days=4, hours=1)))  # fmt: skip
    assert carried.mentions[0].duplicate_of == "vk:2"
    # At the same place, anything in the window: the earliest post there.
    pin = GeoPoint(lat=59.915, lon=30.328)
    feed(desk, mention("pos:4", text, appeal=False, geo=pin, at=T0 + timedelta(days=4, hours=2)))
    (there,) = feed(desk, mention("pos:5", text, appeal=False, geo=pin,
                                   at=T0 + timedelta(days=9)))  # fmt: skip
    assert there.mentions[0].duplicate_of == "pos:4"


def test_a_copy_placed_in_another_region_is_still_a_copy_and_takes_the_originals_place() -> None:
    """A neighbouring region's public (or a federal one registered elsewhere) reposts the
    complaint: one post, in the original's region; what the copy's own source said is kept."""
    desk = new_desk()
    feed(desk, mention("pos:1", ORIGINAL, appeal=False))
    (out,) = feed(desk, mention("vk:2", f"Подписчики пишут: «{ORIGINAL}»", region="RU-IVA",
                                 municipality="Иваново", appeal=False,
                                 at=T0 + timedelta(hours=1)))  # fmt: skip
    copy = out.mentions[0]
    assert copy.status == "duplicate" and copy.duplicate_of == "pos:1"
    assert (copy.place.region, copy.place.municipality) == ("RU-TVE", "Тверь")
    assert copy.own_place is not None and copy.own_place.region == "RU-IVA"


@pytest.mark.parametrize("text", ["Мусор не вывозят", "Во дворе дома не горит ни один фонарь"])
@pytest.mark.parametrize(
    ("region", "is_copy"),
    [("RU-TVE", True), (None, True), ("RU-IVA", False)],
)
def test_a_sentence_word_for_word_is_a_copy_unless_it_is_placed_in_another_region(
    text: str, region: str | None, is_copy: bool
) -> None:
    """«Мусор не вывозят» on another network within hours, or a sentence word for word:
    one post when nothing says otherwise; in another region, another resident."""
    desk = new_desk()
    feed(desk, mention("pos:1", text, appeal=False))
    (out,) = feed(desk, mention("vk:2", text, region=region, municipality=None,
                                 appeal=False, at=T0 + timedelta(hours=2)))  # fmt: skip
    assert (out.mentions[0].duplicate_of == "pos:1") is is_copy


@pytest.mark.parametrize(
    ("copy_address", "is_copy"),
    [
        ("дома 14", True),
        ("улице Циолковского", True),
        ("дома 16", False),
        ("улице Горького", False),
        ("дома 14 на улице Циолковкого", True),  # a typo in the street name
        ("дома 15 на улице Циолковского", False),  # never in the number
    ],
)
def test_a_partial_reading_of_the_same_address_does_not_make_another_place(
    copy_address: str, is_copy: bool
) -> None:
    """A cut-off copy, or one whose capitals hid the street, yields only part of the address."""
    desk = new_desk()
    feed(desk, mention("pos:1", ORIGINAL, appeal=False, address="дома 14 на улице Циолковского"))
    (out,) = feed(desk, mention("vk:2", f"Репост: {ORIGINAL}", appeal=False, address=copy_address,
                                 at=T0 + timedelta(hours=2)))  # fmt: skip
    assert (out.mentions[0].duplicate_of == "pos:1") is is_copy


# Forms nobody listed in the normalizer: the aligned words decide.
SHORTER = "Не работает домофон в четвёртом подъезде, заходят посторонние"


@pytest.mark.parametrize(
    "copy",
    [
        f"Нам пишут: {SHORTER.replace('посторонние', 'постронние')}",  # unlisted wrapper, typo
        f"Пишет подписчица: {SHORTER.replace('домофон', 'доиофон')}",
        f"{SHORTER.replace('работает', 'работвет')} Куда смотрит администрация?!",  # sign-off
        SHORTER.replace("в четвёртом", "вчетвёртом"),  # two words glued
        SHORTER.replace("заходят", "заходчт"),  # a neighbouring key
        SHORTER[: len(SHORTER) * 3 // 4] + "… ещё",  # a feed's own cut marker
    ],
    ids=[
        "unknown-wrapper",
        "wrapper-feminine",
        "sign-off",
        "glued",
        "neighbour-key",
        "cut-marker",
    ],
)
def test_reposts_in_forms_nobody_listed_are_found(copy: str) -> None:
    assert _copy_of(copy, SHORTER) == "pos:1"


@pytest.mark.parametrize(
    "other",
    [
        # The same opening, another ending and no sign of a cut: another post.
        "Не работает домофон в четвёртом подъезде, течёт крыша",
        # Words added before and the end missing without a cut marker: one post quoting
        # the start of another.
        "Третий месяц жалуемся: не работает домофон в четвёртом подъезде",
        # Words changed in the middle.
        "Не работает домофон во втором подъезде, заходят посторонние",
    ],
    ids=["other-ending", "quoted-start", "middle-changed"],
)
def test_texts_that_differ_where_reposts_do_not_are_not_copies(other: str) -> None:
    assert _copy_of(other, SHORTER) is None


@pytest.mark.parametrize(
    ("original", "longer_here", "carried", "cut"),
    [
        (
            "Роллеты на лицевом фасаде",
            "Самовольно установлены роллеты на лицевом фасаде",
            "Роллеты на лицевом фасаде. Примите меры!",
            "Роллеты на фасаде",
        ),
        # Five words in 25 letters say as little as three: the same rules.
        (
            "Мешки с мусором на газоне",
            "Опять мешки с мусором на газоне у дома",
            "Поступило обращение: „мешки с мусором на газоне“",
            "Мешки с мусором",
        ),
    ],
    ids=["three-words", "five-short-words"],
)
def test_a_short_text_with_words_added_links_only_when_carried_over(
    original: str, longer_here: str, carried: str, cut: str
) -> None:
    desk = new_desk()
    at_pin = GeoPoint(lat=59.915, lon=30.328)
    feed(desk, mention("pos:1", original, geo=at_pin, appeal=False))
    # Another resident at the same building, more words: two posts.
    (same_place,) = feed(desk, mention("pos:2", longer_here, geo=at_pin, appeal=False,
                                        at=T0 + timedelta(hours=1)))  # fmt: skip
    assert same_place.mentions[0].status == "accepted"
    # A city public carries it to VK with a sign-off or a wrapper: a copy.
    (copy,) = feed(desk, mention("vk:3", carried, appeal=False, at=T0 + timedelta(hours=2)))
    assert copy.mentions[0].duplicate_of == "pos:1"
    # Nothing of a short text may be cut: part of it is not a copy.
    (part,) = feed(desk, mention("ok:4", cut, appeal=False, at=T0 + timedelta(hours=2)))
    assert part.mentions[0].status == "accepted"
    # Its words written into somebody else's sentence, elsewhere: not a copy either.
    (other,) = feed(desk, mention("telegram:5", f"{original} у школы", appeal=False,
                                   at=T0 + timedelta(hours=3)))  # fmt: skip
    assert other.mentions[0].status == "accepted"


@pytest.mark.parametrize(
    ("original", "carried"),
    [
        ("Надписи на остановке", "Сообщение от подписчика:\nнадписи на остановке"),
        ("Мусор", "Нам пишут: мусор. Помогите!!!"),
        ("Яма на дороге", "Жалоба от жительницы: яма на дороге. Куда смотрит администрация?!"),
    ],
)
def test_a_short_text_under_a_long_wrapper_is_found(original: str, carried: str) -> None:
    """Too few shared k-grams for the LSH bands: the copy's runs of words find it."""
    assert _copy_of(carried, original) == "pos:1"


@pytest.mark.parametrize(
    ("original", "other"),
    [("Надписи", "Надписи на стенах"), ("Граффити", "Прошу закрасить граффити")],
)
def test_a_short_text_inside_another_network_s_sentence_is_not_a_copy(
    original: str, other: str
) -> None:
    """«Надписи» on the portal; «Надписи на стенах» on Telegram is another resident."""
    assert _copy_of(other, original) is None


def test_an_unlisted_wrapper_on_a_cut_the_normalizer_knows_is_a_copy() -> None:
    """The "…" that normalization strips still tells the alignment that the end is
    missing because the feed cut it (not one post quoting the start of another)."""
    cut = ORIGINAL[: len(ORIGINAL) * 2 // 3]
    assert _copy_of(f"Сообщение от подписчика: {cut}…") == "pos:1"
    assert _copy_of(f"Сообщение от подписчика: {cut}") is None


# A text of a sentence or so: two residents write it a word apart, a repost carries
# its words in order.
SENTENCE = "Сломана скамейка на детской площадке у дома"


@pytest.mark.parametrize(
    "other",
    [
        "Сломана новая скамейка на детской площадке у дома",
        "Сломана скамейка на площадке у дома",
        "Сломаны скамейки на детской площадке у дома",
        "На детской площадке у дома сломана скамейка",
        "Сломана скамейка на детской площадке у дома 5",
        "Сломана скамейка на детской площадке",
    ],
    ids=["word-inserted", "word-dropped", "other-forms", "reordered", "number-added",
         "end-missing"],
)  # fmt: skip
def test_a_sentence_another_resident_wrote_alike_is_not_a_copy(other: str) -> None:
    assert _copy_of(other, SENTENCE) is None


@pytest.mark.parametrize(
    ("copy", "original"),
    [
        (f"{SENTENCE} помогите!!!", SENTENCE),
        (f"{SENTENCE.title()} Куда смотрит администрация?!", SENTENCE),
        (f"{SENTENCE} 5 Примите меры!", f"{SENTENCE} 5"),
        (f"{SENTENCE[:-2]}мо — пишет наш читатель", SENTENCE),
        (SENTENCE.replace(" на ", " нв "), SENTENCE),
        ("Сломана скамейка на детской площадке у…", f"{SENTENCE}, торчат гвозди и доски"),
    ],
    ids=["call", "title-case-call", "call-after-number", "typo-then-wrapper", "short-word-typo",
         "cut-marked"],
)  # fmt: skip
def test_a_sentence_carried_over_is_found(copy: str, original: str) -> None:
    assert _copy_of(copy, original) == "pos:1"
