"""Grouping rules on text places, and the scores that measure grouping."""

from __future__ import annotations

import pytest

from incidents.contracts.models import GeoPoint
from incidents.domain.desk.grouping import (
    Probe,
    Profile,
    Rules,
    place_agreement,
    place_marks,
    topic_of,
    topics_contradict,
)
from incidents.evaluation.grouping import (
    Appeal,
    bcubed,
    components,
    pairwise_vs_partition,
    pairwise_vs_relation,
    rubric_bound,
    score_labelled,
    weak_truth_pairs,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Петухова, 120 — контейнерная площадка превратилась в свалку", {"n:петухов", "h:120"}),
        ("Кто знает, почему площадку у 120-го дома не вывозят?", {"h:120"}),
        ("На Склизкова напротив дома 48 яма на полдороги", {"n:склизкова", "h:48"}),
        ("Люблинская, 153 — лифт в третьем подъезде не работает", {"n:люблинский", "h:153"}),
        ("г. Бердск, ул. Ленина, д. 37: отсутствует теплоснабжение", {"n:ленин", "h:37"}),
        ("улица Бабушкина, дом 113, корпус 2, литера Б", {"n:бабушкин", "h:113", "k:113/2"}),
        ("17 этаж, у меня коляска, маршрут 36 тоже не ходит", set()),
    ],
)
def test_place_marks_name_streets_and_houses(text: str, expected: set[str]) -> None:
    assert place_marks(text) == expected


def test_place_agreement() -> None:
    petukhova = place_marks("Петухова, 120 — свалка")
    assert place_agreement(petukhova, place_marks("баки на Петухова 120 полные")) == 1
    assert place_agreement(petukhova, place_marks("площадку у 120-го дома не вывозят")) == 1
    assert place_agreement(petukhova, place_marks("Петухова, 122 — свалка")) == -1
    assert place_agreement(petukhova, place_marks("улица Ленина, дом 120")) == -1
    wing1 = place_marks("улица Бабушкина, дом 113, корпус 1")
    assert place_agreement(wing1, place_marks("улица Бабушкина, дом 113, корпус 2")) == -1
    assert place_agreement(petukhova, place_marks("мусор не вывозят неделю")) == 0


def _profile(terms: set[str], places: frozenset[str] = frozenset()) -> Profile:
    return Profile("RU-TVE/1", "Тверь", None, None, frozenset(terms), 0.0, 0.0, "new", places)


def test_words_alone_need_enough_words() -> None:
    rules = Rules(radius_m=50, text_threshold=0.5, window_s=3 * 86400, min_terms=4)
    short = {"мешки", "газон"}
    assert rules.score(_profile(short), Probe("Тверь", None, None, frozenset(short), 0.0)) is None
    long = {"переполн", "контей", "мусор", "вывозя", "неделю"}
    assert rules.score(_profile(long), Probe("Тверь", None, None, frozenset(long), 0.0))
    # A shared street and house needs no shared words; a different house forbids them.
    here = place_marks("Петухова, 120")
    assert rules.score(_profile(short, here), Probe("Тверь", None, None, frozenset(), 0.0, here))
    there = place_marks("Петухова, 7")
    probe = Probe("Тверь", None, None, frozenset(long), 0.0, there)
    assert rules.score(_profile(long, here), probe) is None


def test_a_source_that_classed_two_posts_differently_keeps_them_apart() -> None:
    light, door = topic_of("pos-spb", "Освещение"), topic_of("pos-spb", "Дверь")
    assert topic_of("pos-spb", "  ОСВЕЩЕНИЕ ") == light and topic_of("pos-spb", "  ") is None
    assert topics_contradict({light}, door)  # type: ignore[arg-type]
    assert not topics_contradict({light}, light)  # type: ignore[arg-type]
    assert not topics_contradict({light}, None)  # a post its source did not class
    assert not topics_contradict({light}, topic_of("pos-msk", "Дверь"))  # another rubric
    assert not topics_contradict({light, door}, door)  # type: ignore[arg-type]
    rules = Rules(radius_m=30, text_threshold=0.5, window_s=86400)
    here = GeoPoint(lat=59.9386, lon=30.3141)
    prof = Profile(
        "RU-SPE/1", None, None, here, frozenset(), 0.0, 0.0, "new", topics=frozenset({light})
    )  # type: ignore[arg-type]
    assert rules.score(prof, Probe(None, None, here, frozenset(), 0.0, topic=light))
    assert rules.score(prof, Probe(None, None, here, frozenset(), 0.0, topic=door)) is None
    lenient = Rules(radius_m=30, text_threshold=0.5, window_s=86400, source_topics=False)
    assert lenient.score(prof, Probe(None, None, here, frozenset(), 0.0, topic=door))


def test_weak_truth_is_a_relation_and_components_chain() -> None:
    day = 86400.0
    items = [
        Appeal(at=0, reason="снег", building=1),
        Appeal(at=5 * day, reason="снег", building=1),
        Appeal(at=10 * day, reason="снег", building=1),  # 10 days from the first
        Appeal(at=0, reason="мусор", building=1),  # another reason
        Appeal(at=0, reason="снег", lat=59.9, lon=30.3),
        Appeal(at=day, reason="снег", lat=59.9002, lon=30.3),  # ~22 m away
        Appeal(at=day, reason="снег", lat=59.901, lon=30.3),  # ~110 m away
    ]
    pairs = weak_truth_pairs(items)
    assert pairs == {(0, 1), (1, 2), (4, 5)}
    comp = components(len(items), pairs)
    assert comp[0] == comp[1] == comp[2] and comp[4] == comp[5] and comp[3] != comp[0]


def test_pairwise_and_bcubed_scores() -> None:
    truth = {(0, 1), (1, 2)}
    predicted = ["a", "a", "b", None]  # one right pair, one missed
    pw = pairwise_vs_relation(predicted, truth)
    assert (pw.truth, pw.predicted, pw.both) == (2, 1, 1)
    assert pw.scores.precision == 1.0 and pw.scores.recall == 0.5
    part = pairwise_vs_partition(["a", "a", "a"], ["x", "x", "y"])
    assert (part.truth, part.predicted, part.both) == (1, 3, 1)
    b = bcubed(["a", "a", "a"], ["x", "x", "y"])
    assert b.recall == 1.0 and b.precision == pytest.approx((2 / 3 + 2 / 3 + 1 / 3) / 3)
    s = score_labelled(["i1", "i1", None], ["g", "g", None])
    assert s.pairwise.scores.f1 == 1.0 and s.bcubed.f1 == 1.0


def test_rubric_bound_judges_each_place_and_week_pair_by_category_alone() -> None:
    day = 86400.0
    items = [
        Appeal(at=0, reason="свет", building=1),
        Appeal(at=day, reason="свет", building=1),
        Appeal(at=day, reason="уборка", building=1),  # same place, another reason
        Appeal(at=20 * day, reason="свет", building=1),  # too late for any pair
        Appeal(at=0, reason="свет", building=2),  # another building
    ]
    # The rubric calls 0, 1 and 2 one category (a wrong pair 0-2 and 1-2), 4 too
    # (but it is elsewhere: no pair), and gives 3 none.
    bound = rubric_bound(items, ["parad", "parad", "parad", None, "parad"])
    assert (bound.truth, bound.predicted, bound.both) == (1, 3, 1)
    assert bound.scores.precision == pytest.approx(1 / 3) and bound.scores.recall == 1.0
    split = rubric_bound(items, ["light", "parad", "clean", None, "light"])
    assert (split.predicted, split.both) == (0, 0) and split.scores.recall == 0.0
