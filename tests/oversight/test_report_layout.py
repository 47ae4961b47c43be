"""The terminal report's layout: which columns a width shows, and that nothing is cut."""

from __future__ import annotations

import io
import sys

import pytest
from rich.console import Console

from incidents.oversight.report import Section, layout, render, terminal_width

AGENCY = "Министерство энергетики и жилищно-коммунального хозяйства Тверской области"
WIDE = Section(
    "SLA compliance per agency and category",
    [
        "agency", "category", "incidents", "closed", "closed_on_time", "open_overdue",
        "compliance_pct", "open_in_time", "first_reaction_median_h", "first_reaction_p90_h",
    ],
    [
        (AGENCY, "utilities", 4, 0, 0, 4, 0.0, 0, 14.2, 14.2),
        ("Орган дорожного хозяйства муниципального образования", "roads", 17, 0, 0, 13, 0.0, 4,
         None, None),
    ],
)  # fmt: skip


def render_at(width: int, sec: Section = WIDE) -> str:
    out = io.StringIO()
    render([sec], Console(file=out, width=width, color_system=None))
    return out.getvalue()


@pytest.mark.parametrize("width", [60, 80, 100, 120, 160, 200])
def test_a_table_never_exceeds_the_width_nor_cuts_a_value(width: int) -> None:
    text = render_at(width)
    assert max(len(line) for line in text.splitlines()) <= width
    assert "…" not in text
    # the long name is all there, wrapped over lines of its column
    assert all(word in text for word in AGENCY.split())


def test_narrow_widths_leave_out_the_least_needed_columns_and_say_so() -> None:
    cells = [[str(v) if v is not None else "" for v in r] for r in WIDE.rows]
    fit = layout(WIDE.columns, cells, 100, WIDE.title)
    shown = [WIDE.columns[i] for i in fit.shown]
    assert shown[:2] == ["agency", "category"]
    assert {"compliance_pct", "open_overdue"} <= set(shown)
    assert "first_reaction_p90_h" not in shown and "open_in_time" not in shown
    assert sum(fit.widths) + 3 * len(fit.shown) + 1 <= 100
    assert "not shown at 100 columns: open in time" in render_at(100).replace("\n", " ")
    # at 200 everything fits
    assert layout(WIDE.columns, cells, 200, WIDE.title).hidden == []


def test_numbers_ids_and_times_are_never_broken() -> None:
    sec = Section(
        "Overdue incidents",
        ["opened", "incident", "title", "due"],
        [
            (
                "2026-11-16 01:05:00",
                "RU-NVS/9c6ee4b50dd58c7e",
                "Маршрутка 36 " * 8,
                "2026-11-16 05:05:00",
            )
        ],
    )
    text = render_at(95, sec)
    assert "RU-NVS/9c6ee4b50dd58c7e" in text
    assert "16.11.2026 05:05" in text


def test_width_is_columns_else_the_terminal_else_120(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "173")
    assert terminal_width() == 173
    monkeypatch.delenv("COLUMNS")
    monkeypatch.setattr(sys, "stdout", io.StringIO())  # piped, no terminal anywhere
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert terminal_width() == 120
