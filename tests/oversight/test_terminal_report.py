"""`incidents report` in a terminal: the pipeline's own data, read at 100 to 200 columns.

What a reader relies on: every line fits the terminal (COLUMNS, or the real
width), no value is cut to `…` and no column collapses to nothing, long agency
names wrap whole, each table is printed once, and the numbers of two tables
that count the same thing agree.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from incidents.oversight.report import Section, collect, render
from tests.support.oversight import PipelineData

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sections(pipeline_data: PipelineData) -> list[Section]:
    return collect(pipeline_data.query, top=10_000)  # every row: the longest names, all agencies


def rendered(sections: list[Section], width: int) -> str:
    out = io.StringIO()
    render(sections, Console(file=out, width=width, color_system=None))
    return out.getvalue()


def tables(text: str) -> dict[str, list[list[str]]]:
    """Each printed table's body as rows of cells (a wrapped cell's lines joined), by title.

    A row starts on a line whose rightmost non-empty cell is a number: numbers never wrap,
    so the continuation lines of a wrapped text cell leave them blank.
    """
    lines = text.splitlines()
    out: dict[str, list[list[str]]] = {}
    for i, line in enumerate(lines):
        if not line.startswith("┏"):
            continue
        title = lines[i - 1].strip()
        j = next(k for k in range(i, len(lines)) if lines[k].startswith("┡"))
        rows: list[list[str]] = []
        for body in lines[j + 1 :]:
            if body.startswith("└"):
                break
            cells = [c.strip() for c in body.strip().strip("│").split("│")]
            starts = not rows or any(re.fullmatch(r"-?[\d.]+", c) for c in cells[1:])
            if starts:
                rows.append(cells)
            else:
                rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], cells, strict=True)]
        out[title] = rows
    return out


@pytest.mark.parametrize("width", [100, 140, 200])
def test_every_table_fits_the_width_without_cutting_a_value(
    sections: list[Section], width: int
) -> None:
    text = rendered(sections, width)
    too_wide = [line for line in text.splitlines() if len(line) > width]
    assert not too_wide, f"{len(too_wide)} lines over {width} columns, e.g. {too_wide[0]!r}"
    # the only "…" on screen are those residents wrote (a cut value would add one)
    written = sum(str(v).count("…") for s in sections for r in s.rows for v in r)
    assert text.count("…") <= written, [line for line in text.splitlines() if "…" in line][:3]
    # a collapsed column shows as two borders with nothing between them
    assert not re.search(r"┃┃|││|┳┳|╇╇|┴┴", text), "a column of zero width"
    # every table is there, and what a narrow terminal leaves out is said
    for sec in sections:
        assert sec.title in text
    if width == 100:
        assert "not shown at 100 columns:" in text


def test_long_agency_names_wrap_whole_at_100_columns(sections: list[Section]) -> None:
    agencies = next(s for s in sections if s.title == "Agencies")
    names = [r[0] for r in agencies.rows]
    assert max(len(n) for n in names) > 60  # the sample has long official names
    shown = tables(rendered(sections, 100))["Agencies"]
    assert [r[0] for r in shown] == names


def test_each_table_is_printed_once(sections: list[Section]) -> None:
    text = rendered(sections, 160)
    titles = [s.title for s in sections]
    assert len(titles) == len(set(titles)), titles
    for title in titles:
        assert sum(1 for line in text.splitlines() if line.strip() == title) == 1, title
    # and no table repeats another's numbers under another name
    bodies = [tuple(map(tuple, s.rows)) for s in sections if s.rows]
    assert len(bodies) == len(set(bodies)), [
        s.title for s in sections if bodies.count(tuple(map(tuple, s.rows))) > 1
    ]


def test_agencies_count_closed_incidents_as_sla_compliance_does(sections: list[Section]) -> None:
    by_title = {s.title: s for s in sections}
    agencies = by_title["Agencies"]
    per_agency = by_title["SLA compliance per agency and category"]
    by_region = by_title["SLA compliance by region"]
    closed = agencies.columns.index("closed")
    agency_closed = {r[0]: r[closed] for r in agencies.rows}
    expected: dict[str, int] = {}
    i = per_agency.columns.index("closed")
    for r in per_agency.rows:
        expected[r[0]] = expected.get(r[0], 0) + r[i]
    assert sum(expected.values()) > 0  # the sample's official answers close incidents
    for agency, n in agency_closed.items():
        assert n == expected.get(agency, 0), agency
    region_closed = sum(r[by_region.columns.index("closed")] for r in by_region.rows)
    assert sum(agency_closed.values()) == region_closed


def _run_report(pipeline_data: PipelineData, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("INCIDENTS_")}
    base.pop("COLUMNS", None)
    base["INCIDENTS_CLICKHOUSE_URL"] = f"chdb://{pipeline_data.copy()}"
    return subprocess.run(
        [sys.executable, "-m", "incidents.cli.main", "report", "--top", "5"],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**base, **env},
        cwd=ROOT,
        timeout=300,
        check=False,
    )


def test_the_report_command_honours_columns_and_a_pipe(pipeline_data: PipelineData) -> None:
    narrow = _run_report(pipeline_data, COLUMNS="100")
    assert narrow.returncode == 0, narrow.stderr
    widths = [len(line) for line in narrow.stdout.splitlines()]
    assert max(widths) == 100, max(widths)
    assert "first 5 of" in narrow.stdout
    piped = _run_report(pipeline_data)  # no terminal anywhere, no COLUMNS: a CI log
    assert piped.returncode == 0, piped.stderr
    assert max(len(line) for line in piped.stdout.splitlines()) == 120
