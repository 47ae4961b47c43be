"""`incidents evaluate dedup FILE`: users score dedup on their own labelled mentions."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ORIGINAL = (
    "Во дворе дома 14 по улице Советской третью неделю не вывозят мусор, контейнеры "
    "переполнены, пакеты лежат прямо на детской площадке"
)
OTHER = (
    "Во дворе дома 3 по улице Володарского третью неделю не вывозят мусор, контейнеры "
    "переполнены, управляющая компания на звонки не отвечает"
)


def _line(i: int, text: str, copy_of: str | None, platform: str = "vk") -> dict[str, object]:
    return {
        "id": f"{platform}:eval-{i}",
        "platform": platform,
        "source": {"id": "club1"},
        "text": text,
        "created_at": f"2026-11-10T{9 + i:02d}:00:00+03:00",
        "region_hint": "RU-TVE",
        "copy_of": copy_of,
    }


def _evaluate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "incidents.cli.main", "evaluate", "dedup", str(path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def _figures(out: str) -> tuple[float, float]:
    m = re.search(r"precision ([\d.]+)\s+recall ([\d.]+)", out)
    assert m, out
    return float(m.group(1)), float(m.group(2))


def test_copies_are_found_and_a_similar_complaint_elsewhere_is_not_one(tmp_path: Path) -> None:
    rows = [
        _line(0, ORIGINAL, None),
        _line(1, f"Подписчики пишут: «{ORIGINAL}» #ЖКХ 😡", "vk:eval-0", "telegram"),
        _line(2, ORIGINAL.upper() + " https://vk.com/wall-1_2", "vk:eval-0", "ok"),
        _line(3, OTHER, None),  # same kind of problem, another house: not a copy
    ]
    path = tmp_path / "labelled.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    done = _evaluate(path)
    assert done.returncode == 0, done.stderr
    assert _figures(done.stdout) == (1.0, 1.0)
    assert "rewrite" not in done.stdout  # no rewrite kinds named, no table of them


def test_recall_per_rewrite_when_the_file_names_them(tmp_path: Path) -> None:
    rows = [
        _line(0, ORIGINAL, None),
        {**_line(1, f"Репост: {ORIGINAL}", "vk:eval-0", "ok"), "kinds": ["wrapper"]},
        {**_line(2, OTHER, "vk:eval-0", "telegram"), "kinds": ["paraphrase"]},
    ]
    path = tmp_path / "labelled.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    done = _evaluate(path)
    assert done.returncode == 0, done.stderr
    per_kind = dict(re.findall(r"^(\w+)\s+1\s+[01]\s+([\d.]+)$", done.stdout, re.M))
    assert per_kind == {"paraphrase": "0.000", "wrapper": "1.000"}, done.stdout


def test_a_missed_copy_lowers_recall(tmp_path: Path) -> None:
    rows = [_line(0, ORIGINAL, None), _line(1, OTHER, "vk:eval-0")]  # mislabelled on purpose
    path = tmp_path / "labelled.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    done = _evaluate(path)
    assert done.returncode == 0, done.stderr
    assert _figures(done.stdout)[1] == 0.0


def test_a_line_without_id_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "labelled.jsonl"
    path.write_text('{"text": "нет id"}\n')
    done = _evaluate(path)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1].endswith("a labelled RawMention needs an `id`")


def test_a_copy_without_a_region_is_found_and_placed_in_its_originals(tmp_path: Path) -> None:
    """A chat no registry places pastes the complaint: the copy is found, and carries the
    original's region (the line users read to check where copies were counted)."""
    copy = _line(1, f"Нам пишут: {ORIGINAL}", "vk:eval-0", "telegram")
    del copy["region_hint"]
    rows = [_line(0, ORIGINAL, None), copy]
    path = tmp_path / "labelled.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    done = _evaluate(path)
    assert done.returncode == 0, done.stderr
    assert _figures(done.stdout) == (1.0, 1.0)
    assert "found with their original's region 1  recall 1.0000" in done.stdout
