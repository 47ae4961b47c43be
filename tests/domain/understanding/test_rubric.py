"""A deployment's rubric mapped onto the problem taxonomy; problem types learned from history."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from incidents.cli.main import main
from incidents.config.settings import EnrichSettings
from incidents.contracts.models import RawMention, Source
from incidents.domain.enrichment import Enricher
from incidents.domain.understanding.problems import default_taxonomy
from incidents.domain.understanding.rubric import RubricMap, main_types, score_problems

TAX = default_taxonomy()
MAP = {
    "rubric": "Портал «Наш город», причины",
    "lines": {
        "Неисправное освещение в подъезде": ["entrance_light_out"],
        "Состояние  подъезда": ["entrance_repair", "entrance_dirty"],
        "Бродячие животные": "stray_dogs",
    },
}


def test_lines_map_to_types_without_case_or_spacing() -> None:
    rubric = RubricMap.from_dict(MAP, TAX)
    assert rubric.types_of("неисправное освещение в подъезде") == ("entrance_light_out",)
    assert rubric.types_of("Состояние подъезда") == ("entrance_repair", "entrance_dirty")
    assert rubric.types_of("Бродячие животные") == ("stray_dogs",)
    assert rubric.types_of("нет такой строки") == ()


def test_a_map_naming_an_unknown_type_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown types"):
        RubricMap.from_dict({"lines": {"x": ["no_such_type"]}}, TAX)


def test_a_portal_posts_own_topic_names_its_problem(tmp_path: Path) -> None:
    path = tmp_path / "map.yaml"
    path.write_text(yaml.safe_dump(MAP, allow_unicode=True), encoding="utf-8")
    enricher = Enricher.from_settings(EnrichSettings(rubric_map=path))
    raw = RawMention(
        id="pos:1",
        platform="pos",
        source=Source(id="portal"),
        text="Просьба принять меры",  # the text alone names nothing
        created_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        source_topic="Неисправное освещение в подъезде",
    )
    (m,) = enricher.enrich([raw])
    assert m.problems == ["entrance_light_out"] and m.category == "housing"


def test_scoring_counts_compatible_types_as_right() -> None:
    rubric = RubricMap.from_dict(MAP, TAX)
    rep = score_problems(
        ["Состояние подъезда", "Состояние подъезда", "Бродячие животные", "нет строки"],
        [["entrance_window"], ["lift_broken"], [], ["stray_dogs"]],
        rubric,
        TAX,
    )
    # entrance_window refines entrance_repair; lift_broken does not; one unknown; one unscored
    assert (rep.scored, rep.recognised, rep.right) == (3, 2, 1)
    assert "лифт" not in rep.render() and "lift_broken" in rep.render()


def test_main_types_of_labels() -> None:
    rubric = RubricMap.from_dict(MAP, TAX)
    assert main_types(["Состояние подъезда", "dog_attack", "чепуха"], rubric, TAX) == [
        "entrance_repair",
        "dog_attack",
        "",
    ]


def _history(path: Path) -> None:
    rows = []
    lamps = ["лампочка перегорела", "на площадке темно", "светильник не светит"]
    dogs = ["собаки у школы", "свора во дворе", "псы лают у площадки"]
    for i in range(12):
        rows.append({"text": f"{lamps[i % 3]} {i}", "reason": "Неисправное освещение в подъезде"})
        rows.append({"text": f"{dogs[i % 3]} {i}", "reason": "Бродячие животные"})
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")


def test_problem_types_learned_from_history_and_evaluated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hist, mp, model = tmp_path / "h.jsonl", tmp_path / "map.yaml", tmp_path / "p.npz"
    _history(hist)
    mp.write_text(yaml.safe_dump(MAP, allow_unicode=True), encoding="utf-8")
    assert (
        main(
            [
                "train",
                str(hist),
                "--problems",
                "--label-field",
                "reason",
                "--rubric-map",
                str(mp),
                "--validation",
                "0",
                "-o",
                str(model),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert (
        main(
            [
                "evaluate",
                "problems",
                str(hist),
                "--label-field",
                "reason",
                "--rubric-map",
                str(mp),
                "--problem-model",
                str(model),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "type accuracy" in out and "by the learned model" in out
    enricher = Enricher.from_settings(EnrichSettings(problem_model=model))
    raw = RawMention(
        id="vk:1",
        platform="vk",
        source=Source(id="s"),
        text="светильник не светит 99",  # no place named: the rules do not know it
        created_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
    )
    assert not default_taxonomy().recognise(raw.text)
    (hits,) = enricher.find_problems([raw], [raw.text])
    assert hits and hits[0].code == "entrance_light_out" and hits[0].learned


def test_evaluate_problems_without_a_map_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hist = tmp_path / "h.jsonl"
    _history(hist)
    assert main(["evaluate", "problems", str(hist), "--label-field", "reason"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--rubric-map" in err[0]
