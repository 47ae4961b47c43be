"""The default appeal classifier: relevance and rubric on hand-written texts."""

from __future__ import annotations

import pytest

from incidents.domain.understanding.classify import (
    DEFAULT_LABELS,
    AppealClassifier,
    Classification,
)
from incidents.domain.understanding.features import _normalize

APPEALS = [
    "Во дворе дома 5 по улице Мира огромная яма, машины бьют колёса. Когда отремонтируют?",
    "Третий день нет горячей воды, управляющая компания трубку не берёт!",
    "Мусор не вывозят уже две недели, контейнеры переполнены, вонь на весь двор",
    "Лифт в нашем подъезде опять сломался, бабушка с пятого этажа не может выйти",
    "Не горят фонари на всей улице Лесной, вечером страшно идти",
    "Автобус 12 не пришёл ни разу за утро, люди опаздывают на работу. Примите меры",
    "Яма на проезжей части",
    "Граффити на стене дома",
    "Подскажите, куда жаловаться? В поликлинике талонов к терапевту нет на месяц вперёд",
]

NOT_APPEALS = [
    "В Твери в этом году отремонтируют 40 километров дорог по нацпроекту",
    "Губернатор провёл совещание о подготовке к отопительному сезону",
    "Продам гараж в кооперативе «Север», недорого, звоните",
    "Скидки на пластиковые окна до 30%! Только до конца месяца",
    "Огромное спасибо управляющей компании, быстро починили свет в подъезде!",
    "Как подать жалобу на управляющую компанию: пошаговая инструкция",
    "Уважаемые жители! 15 марта с 9:00 до 17:00 будет отключена холодная вода "
    "в связи с плановыми работами",
    "Всем доброе утро, хорошего дня!",
    "Какая красивая осень в нашем парке!",
]

CATEGORY_TEXTS = {
    "roads": [
        "Сплошные ямы на дороге до деревни, асфальт разбит",
        "Не работает светофор на перекрёстке",
    ],
    "public_transport": [
        "Маршрутка 5 ходит раз в час, на остановке мёрзнем",
        "Водитель автобуса нахамил пассажирам и не остановился на остановке",
    ],
    "housing": [
        "Течёт крыша, на потолке в квартире пятна, УК не реагирует",
        "В подъезде месяц не убирали, грязь на лестнице",
    ],
    "utilities": ["Нет горячей воды третий день", "Отключили свет во всём доме без предупреждения"],
    "landscaping": ["На детской площадке сломаны качели", "Во дворе не горят фонари"],
    "waste": ["Не вывозят мусор, контейнеры переполнены", "Стихийная свалка за гаражами"],
    "healthcare": ["В поликлинике не записаться к врачу, талонов нет", "Скорая ехала два часа"],
    "education": [
        "Ребёнка не берут в детский сад, мест нет",
        "В школе холодно, дети сидят в куртках",
    ],
    "social_support": [
        "Не пришло детское пособие за два месяца",
        "Отказали в субсидии на оплату ЖКУ",
    ],
    "environment": ["Завод по ночам выбрасывает дым, нечем дышать", "В реку сливают отходы"],
    "stray_animals": [
        "Стая бродячих собак бросается на детей",
        "Просим отловить бездомных собак у школы",
    ],
    "safety": [
        "Заброшенное здание, туда лазят подростки",
        "Оголённые провода торчат из земли у остановки",
    ],
}


@pytest.fixture(scope="module")
def clf() -> AppealClassifier:
    return AppealClassifier.default()


def test_default_is_cached(clf: AppealClassifier) -> None:
    assert AppealClassifier.default() is clf
    assert set(clf.labels) == set(DEFAULT_LABELS)


def test_shapes(clf: AppealClassifier) -> None:
    assert clf.classify([]) == []
    (c,) = clf.classify(["Яма на дороге"])
    assert isinstance(c, Classification)
    assert 0.0 <= c.appeal_score <= 1.0
    assert 0.0 <= c.confidence <= 1.0
    assert c.category in clf.labels
    # emoji-only, URL-only and non-Russian text must not crash
    out = clf.classify(["😀😀", "https://example.com/x", "hello world", "…", "#тег @user"])
    assert len(out) == 5


def test_appeals_detected(clf: AppealClassifier) -> None:
    got = clf.classify(APPEALS)
    missed = [t for t, c in zip(APPEALS, got, strict=True) if not c.is_appeal]
    assert not missed


def test_non_appeals_rejected(clf: AppealClassifier) -> None:
    got = clf.classify(NOT_APPEALS)
    flagged = [t for t, c in zip(NOT_APPEALS, got, strict=True) if c.is_appeal]
    assert not flagged


@pytest.mark.parametrize("code", sorted(CATEGORY_TEXTS))
def test_categories(clf: AppealClassifier, code: str) -> None:
    got = clf.classify(CATEGORY_TEXTS[code])
    assert [c.category for c in got] == [code] * len(got)


def test_batch_equals_single(clf: AppealClassifier) -> None:
    batch = clf.classify(APPEALS)
    for text, c in zip(APPEALS, batch, strict=True):
        assert clf.classify([text])[0] == c


def test_normalize() -> None:
    got = _normalize("Ёлки https://vk.com/x #ЖКХ @admin Яма")
    assert got.split() == ["елки", "яма"]


def test_fast_transform_matches_feature_names(clf: AppealClassifier) -> None:
    """The cached inference path yields exactly the features the trainer counted."""
    from incidents.evaluation.learner import matrix_from_names

    feat = clf._rel.featurizer
    texts = [*APPEALS, *NOT_APPEALS, "Горячая вода не идёт, горячей воды нет", "пахнет газом"]
    fast = feat.transform(texts).toarray()
    slow = matrix_from_names(feat, [feat.names(t) for t in texts]).toarray()
    assert abs(fast - slow).max() < 1e-6


def test_a_model_trained_before_the_package_move_still_finds_its_problem_hook() -> None:
    """Models record their problem hook as "module:function"; the shipped model and any a
    deployment trained before the move name ``streams.domain.problems``."""
    from incidents.domain.understanding import problems
    from incidents.domain.understanding.features import resolve_problem_cues

    assert resolve_problem_cues("streams.domain.problems:cues") is problems.cues
    assert resolve_problem_cues(f"{problems.__name__}:cues") is problems.cues
