"""Training and evaluation: reading labelled files, metrics, train → load → classify."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from incidents.domain.understanding.classify import DEFAULT_MODEL_PATH, AppealClassifier, load_model
from incidents.evaluation.labelled import evaluate, read_labelled
from incidents.evaluation.learner import grouped_split, train_category_model
from incidents.evaluation.training import default_sources_digest


def test_evaluate_hand_computed() -> None:
    y_true = ["a", "a", "a", "b", "b", "c"]
    y_pred = ["a", "a", "b", "b", "c", "c"]
    rep = evaluate(y_true, y_pred)
    assert rep.accuracy == pytest.approx(4 / 6)
    # a: p=2/2 r=2/3 f=0.8; b: p=1/2 r=1/2 f=0.5; c: p=1/2 r=1 f=2/3
    assert rep.per_class["a"] == pytest.approx((1.0, 2 / 3, 0.8, 3))
    assert rep.per_class["b"] == pytest.approx((0.5, 0.5, 0.5, 2))
    assert rep.per_class["c"] == pytest.approx((0.5, 1.0, 2 / 3, 1))
    assert rep.macro_f1 == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert rep.confusion == (("a", "b", "c"), [[2, 1, 0], [0, 1, 1], [0, 0, 1]])
    text = rep.render()
    assert "macro-F1=0.6556" in text
    assert "confusion" in text


def test_evaluate_counts_labels_only_predicted() -> None:
    rep = evaluate(["a", "a"], ["a", "z"])
    assert rep.per_class["z"] == (0.0, 0.0, 0.0, 0)
    assert rep.macro_f1 == pytest.approx((2 / 3 + 0) / 2)


def test_read_labelled_formats(tmp_path: Path) -> None:
    rows = [
        {"text": "яма", "category": "roads"},
        {"text": "мусор", "category": "waste"},
        {"text": "", "category": "x"},
        {"text": "без метки"},
    ]
    jl = tmp_path / "d.jsonl"
    jl.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    assert read_labelled(jl) == (["яма", "мусор"], ["roads", "waste"])
    gz = tmp_path / "d.jsonl.gz"
    with gzip.open(gz, "wt", encoding="utf-8") as f:
        f.write(jl.read_text(encoding="utf-8"))
    assert read_labelled(gz) == (["яма", "мусор"], ["roads", "waste"])
    cs = tmp_path / "d.csv"
    with open(cs, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["body", "rubric"])
        w.writeheader()
        w.writerow({"body": "нет воды, пишу уже месяц", "rubric": "utilities"})
    assert read_labelled(cs, "body", "rubric") == (["нет воды, пишу уже месяц"], ["utilities"])
    with pytest.raises(ValueError, match="no column"):
        read_labelled(cs)
    with pytest.raises(ValueError, match="unknown format"):
        read_labelled(tmp_path / "d.parquet")


def test_grouped_split_keeps_copies_together() -> None:
    texts = ["Яма!", "яма", "ЯМА.", "мусор", "снег", "лифт", "свет", "вода"]
    train, held = grouped_split(texts, 0.4, seed=1)
    assert sorted([*train, *held]) == list(range(len(texts)))
    sides = {i: ("t" if i in set(train) else "h") for i in range(len(texts))}
    assert sides[0] == sides[1] == sides[2]


ROWS = {
    "дороги": ["яма на дороге {}", "разбит асфальт на улице {}", "нет разметки у дома {}"],
    "свет": [
        "не горит фонарь {}",
        "темно во дворе, фонари не работают {}",
        "перегорели лампы уличного освещения {}",
    ],
    "мусор": ["не вывозят мусор {}", "переполнены контейнеры {}", "свалка у гаражей {}"],
}


def test_train_load_classify_round_trip(tmp_path: Path) -> None:
    texts, labels = [], []
    for label, patterns in ROWS.items():
        for i in range(12):
            texts.append(patterns[i % 3].format(i))
            labels.append(label)
    out = tmp_path / "own.npz"
    report = train_category_model(texts, labels, out, params={"min_df": 1, "max_iter": 200})
    assert report.labels == ("дороги", "мусор", "свет")
    assert report.n_train == 36
    assert "дороги" in report.render()
    clf = AppealClassifier.load(out)
    assert clf.labels == ("дороги", "мусор", "свет")
    got = clf.classify(["огромная яма на дороге", "контейнеры переполнены", "фонарь не горит"])
    assert [c.category for c in got] == ["дороги", "мусор", "свет"]
    assert all(0 <= c.confidence <= 1 and 0 <= c.appeal_score <= 1 for c in got)
    # relevance still comes from the default model
    assert got[0].is_appeal
    # the file is plain arrays: it loads without pickle
    with np.load(out, allow_pickle=False) as z:
        assert "category_W" in z


def test_train_with_validation(tmp_path: Path) -> None:
    texts, labels = [], []
    for label, patterns in ROWS.items():
        for i in range(20):
            texts.append(patterns[i % 3].format(i))
            labels.append(label)
    report = train_category_model(
        texts, labels, tmp_path / "m.npz", validation=0.25, params={"min_df": 1}
    )
    assert report.validation is not None
    assert report.validation.n == 15
    assert report.validation.accuracy > 0.8


def test_train_rejects_one_class(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="two categories"):
        train_category_model(["a", "b"], ["x", "x"], tmp_path / "m.npz")


def test_bundled_default_model_is_current() -> None:
    """The committed model was built from the committed examples, lexicon and parameters.

    If this fails, run `python -m incidents.evaluation.training build-default`.
    """
    model = load_model(DEFAULT_MODEL_PATH)
    assert model.meta["sources_digest"] == default_sources_digest()


def test_training_is_deterministic(tmp_path: Path) -> None:
    from incidents.evaluation.training import compare_models

    texts, labels = [], []
    for label, patterns in ROWS.items():
        for i in range(9):
            texts.append(patterns[i % 3].format(i))
            labels.append(label)
    params = {"min_df": 1, "max_iter": 100}
    train_category_model(texts, labels, tmp_path / "a.npz", params=params)
    train_category_model(texts, labels, tmp_path / "b.npz", params=params)
    assert compare_models(tmp_path / "a.npz", tmp_path / "b.npz") == ""
    train_category_model(texts[:-3], labels[:-3], tmp_path / "c.npz", params=params)
    assert compare_models(tmp_path / "a.npz", tmp_path / "c.npz") != ""
