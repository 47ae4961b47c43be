"""Priority cues: each documented cue fires on a plain example and sets the level."""

from __future__ import annotations

from pathlib import Path

import pytest

from incidents.domain.understanding.priority import (
    PriorityRules,
    assess_priority,
    required_literals,
)


@pytest.mark.parametrize(
    ("text", "category", "level", "cue"),
    [
        ("В подъезде сильно пахнет газом, страшно!", "utilities", "critical", "gas_smell"),
        ("Утечка газа на улице Мира", None, "critical", "gas_smell"),
        (
            "Нет отопления, на улице -25, в квартире холодно",
            "utilities",
            "critical",
            "heating_in_frost",
        ),
        ("Батареи ледяные, а за окном мороз минус 30", "utilities", "critical", "heating_in_frost"),
        ("Не топят третий день", "utilities", "high", "no_heating"),
        ("Затопило подвал, вода прибывает", "housing", "high", "flooding"),
        ("Прорыв трубы, вода хлещет по улице", "utilities", "high", "flooding"),
        ("Открытый люк возле школы, дети могут упасть", "safety", "critical", "children"),
        ("Оголённые провода торчат из столба", "safety", "critical", "live_wires"),
        ("Горит сухая трава у домов", "safety", "critical", "fire"),
        ("Огромные сосульки над входом в подъезд", "housing", "high", "falling_ice"),
        ("Бродячие собаки покусали прохожего", "stray_animals", "high", "animal_attack"),
        ("Нет горячей воды", "utilities", "high", "no_water"),
        ("Дерево может упасть на машины", "landscaping", "high", "falling_tree"),
    ],
)
def test_cues(text: str, category: str | None, level: str, cue: str) -> None:
    got = assess_priority(text, category)
    assert got.level == level, got
    assert cue in got.cues, got


def test_plain_appeal_is_normal() -> None:
    got = assess_priority("Яма на дороге у дома 5, просим отремонтировать", "roads")
    assert got.level == "normal"
    assert got.cues == ()


def test_children_alone_do_not_raise() -> None:
    # a child mentioned without any hazard is not an emergency
    got = assess_priority("Просим поставить ещё одну горку на детской площадке", "landscaping")
    assert got.level == "normal"


def test_children_raise_a_hazard_one_level() -> None:
    assert assess_priority("Бродячие собаки нападают", None).level == "high"
    got = assess_priority("Бродячие собаки нападают на детей у школы", None)
    assert got.level == "critical"
    assert "children" in got.cues


def test_resonance() -> None:
    quiet = assess_priority("Яма на дороге", "roads", {"likes": 3, "reposts": None})
    assert quiet.level == "normal"
    loud = assess_priority("Яма на дороге", "roads", {"likes": 450, "reposts": 12})
    assert loud.level == "high"
    assert loud.cues == ("resonance",)
    viral = assess_priority("Нет горячей воды", "utilities", {"views": 250_000})
    assert viral.level == "critical"


def test_heating_cold_needs_heating() -> None:
    # frost alone in a roads complaint is no heating emergency
    got = assess_priority("Мороз минус 25, дорогу не чистят", "roads")
    assert got.level == "normal"


def test_custom_rules(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "cues:\n  bears:\n    level: critical\n    patterns: ['медвед']\n"
        "resonance: {likes: 5}\nviral: {likes: 50}\n",
        encoding="utf-8",
    )
    rules = PriorityRules.load(path)
    assert assess_priority("Во дворе медведь!", None, rules=rules).cues == ("bears",)
    assert assess_priority("Яма", None, {"likes": 6}, rules=rules).level == "high"


def test_bad_rules_rejected() -> None:
    with pytest.raises(ValueError, match="unknown level"):
        PriorityRules.from_dict({"cues": {"x": {"level": "urgent", "patterns": ["x"]}}})


def test_required_literals() -> None:
    assert required_literals(r"запах\w* газ") == {"запах"}
    assert required_literals(r"(?:пахн|воня)\w* газ") == {" газ"}  # the longer certain run
    assert required_literals(r"нет|без") == {"нет", "без"}
    assert required_literals(r"\bдет(?:и|ей)\b") == {"дет"}
    assert required_literals(r"(?:свет|электричеств)\w* (?:нет|отключ)") == {"свет", "электричеств"}
    # No prefilter where a literal is not certain: optional parts, classes, own flags.
    assert required_literals(r"[2-5]\d") == frozenset()
    assert required_literals(r"(?i)газ") == frozenset()
    assert required_literals(r"x?") == frozenset()


def test_cues_without_a_literal_still_fire() -> None:
    """The literal prefilter must never hide a match: patterns it cannot read always run."""
    rules = PriorityRules.from_dict(
        {
            "cues": {
                "digits": {"level": "high", "patterns": [r"\b\d{3}\b"]},
                "shout": {"level": "critical", "patterns": [r"(?i)пожар"]},
                "either": {"level": "high", "patterns": [r"дым|гарь"]},
            }
        }
    )
    assert assess_priority("дом 123 стоит", None, rules=rules).cues == ("digits",)
    assert assess_priority("ПОЖАР", None, rules=rules).level == "critical"
    assert assess_priority("пахнет гарью", None, rules=rules).cues == ("either",)
    assert assess_priority("всё спокойно", None, rules=rules).cues == ()


def test_a_bad_pattern_is_one_clear_error() -> None:
    with pytest.raises(ValueError, match="priority cue x: bad pattern"):
        PriorityRules.from_dict({"cues": {"x": {"level": "high", "patterns": ["(unclosed"]}}})
