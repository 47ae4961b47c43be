"""Routing: lookup precedence, the bundled table, learning and dumping."""

from __future__ import annotations

from pathlib import Path

from incidents.domain.understanding.routing import RoutingTable

TABLE = {
    "default": "Мэрия",
    "categories": {"roads": "Дорожный фонд", "healthcare": "Минздрав"},
    "regions": {
        "RU-TVE": {
            "default": "Правительство Тверской области",
            "categories": {"roads": "Минтранс ТО"},
            "municipalities": {
                "Тверь": {"categories": {"roads": "Дорожное управление Твери"}},
                "Ржев": {"default": "Администрация Ржева"},
            },
        }
    },
}


def test_precedence_municipality_region_default() -> None:
    t = RoutingTable.from_dict(TABLE)
    assert t.route("roads", "RU-TVE", "Тверь") == "Дорожное управление Твери"
    assert t.route("roads", "RU-TVE", "ТВЕРЬ") == "Дорожное управление Твери"
    assert t.route("healthcare", "RU-TVE", "Тверь") == "Правительство Тверской области"
    assert t.route("roads", "RU-TVE", "Ржев") == "Администрация Ржева"
    assert t.route("roads", "RU-TVE", "Торжок") == "Минтранс ТО"
    assert t.route("roads", "RU-IVA", "Иваново") == "Дорожный фонд"
    assert t.route("healthcare", None, None) == "Минздрав"
    assert t.route(None, None, None) == "Мэрия"
    assert t.route("waste", "RU-IVA", None) == "Мэрия"


def test_empty_table_routes_nowhere() -> None:
    assert RoutingTable.from_dict({}).route("roads", "RU-TVE", "Тверь") is None


def test_bundled_table_loads() -> None:
    t = RoutingTable.load()
    for code in ("roads", "housing", "utilities", "healthcare", "other", None):
        assert t.route(code, None, None)
    assert "Твер" in (t.route("roads", "RU-TVE", "Тверь") or "")


def test_learn_majority_with_support() -> None:
    records = (
        [("roads", "RU-TVE", "Тверь", "A")] * 6
        + [("roads", "RU-TVE", "Тверь", "B")] * 2
        + [("roads", "RU-TVE", "Ржев", "C")] * 3  # below support: falls back
        + [("waste", "RU-TVE", "Ржев", "D")] * 10
        + [("waste", "RU-TVE", "Тверь", "D")] * 10
    )
    t = RoutingTable.learn(records, min_support=5)
    assert t.route("roads", "RU-TVE", "Тверь") == "A"
    assert t.route("waste", "RU-TVE", "Тверь") == "D"
    # Ржев has 3 roads cases (< 5): the region-level roads majority (A) answers
    assert t.route("roads", "RU-TVE", "Ржев") == "A"
    assert t.route("waste", None, None) == "D"


def test_learn_dump_load_round_trip(tmp_path: Path) -> None:
    records = [("c1", "RU-SPE", "Приморский", "X")] * 5 + [("c2", "RU-SPE", "Приморский", "Y")] * 7
    records += [("c1", "RU-SPE", "Колпинский", "Z")] * 9
    t = RoutingTable.learn(records, min_support=3)
    path = tmp_path / "routing.yaml"
    t.dump(path)
    back = RoutingTable.load(path)
    for cat in ("c1", "c2", None):
        for muni in ("Приморский", "Колпинский", None):
            assert back.route(cat, "RU-SPE", muni) == t.route(cat, "RU-SPE", muni)
    assert back.route("c1", "RU-SPE", "Приморский") == "X"
    assert back.route("c1", "RU-SPE", "Колпинский") == "Z"
    assert back.route("c2", "RU-SPE", "Приморский") == "Y"
