"""`incidents report --html`: written from pipeline data, read in headless Chromium.

The page is for an official of a control centre, on a desktop (1400 px) or a phone
(390 px). Chromium lays it out at both widths and tests/oversight/clipping.js
measures every label, tick, legend, cell and tile against the box it belongs to:
a label cut by its chart, text spilling out of a cell, a table or a page wider
than the screen, SVG text squeezed below 9 px or written over other text is a
failure that names the element. The page itself must stay self-contained.
"""

from __future__ import annotations

import asyncio
import os
import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest

from incidents.domain.labels import CATEGORIES, region_names
from incidents.oversight.dashboards import dashboards
from incidents.oversight.report_html import build
from tests.support.browser import CHROMIUM, Browser
from tests.support.oversight import PipelineData

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
WIDTHS = (1400, 390)
CLIPPING_JS = (Path(__file__).parent / "clipping.js").read_text(encoding="utf-8")
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed: the page is not measured"
)


def decode_png(data: bytes, rows: int | None = None) -> tuple[int, int, int, bytes]:
    """(width, height, bytes per pixel, pixels of the first `rows` rows) of an 8-bit,
    non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    width = height = bpp = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0, (depth, interlace)
            bpp = {0: 1, 2: 3, 4: 2, 6: 4}[color]
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    out = bytearray()
    prev = bytearray(stride)
    for y in range(min(height, rows or height)):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 255
        out += line
        prev = line
    return width, height, bpp, bytes(out)


@pytest.fixture(scope="module")
def page(pipeline_data: PipelineData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("html") / "report.html"
    out.write_text(build(pipeline_data.query), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def measured(page: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[int, dict[str, Any]]:
    """The page laid out at each width: the measuring script's verdict and a screenshot."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed: the page is not measured")
    shots = Path(os.environ.get("INCIDENTS_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))

    async def run() -> dict[int, dict[str, Any]]:
        out: dict[int, dict[str, Any]] = {}
        async with Browser() as browser:
            for width in WIDTHS:
                tab = await browser.open(page.as_uri(), width)
                out[width] = await tab.evaluate(CLIPPING_JS)
                out[width]["screenshot"] = str(await tab.screenshot(shots / f"report-{width}.png"))
        return out

    return asyncio.run(run())


# ------------------------------------------------------------------ the page as a file
def test_the_page_is_self_contained(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert "<script" not in text.lower()
    # nothing is fetched: no src at all, and href only on links (to posts and sections)
    assert not re.search(r"\bsrc\s*=", text)
    assert not re.search(r"<(?:link|img|iframe|object|embed)\b", text)
    hrefs = re.findall(r"<(\w+)[^>]*\bhref=", text)
    assert set(hrefs) <= {"a"}, hrefs
    assert "@import" not in text and "url(" not in text
    for d in dashboards():
        if d.uid != "incidents-pipeline":
            assert f'id="{d.uid}"' in text


def test_no_placeholder_and_no_chart_that_means_nothing(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    # empty panels and "see Grafana" boxes are gone
    for placeholder in ("no data in the range", "From Prometheus", "no rows"):
        assert placeholder not in text
    # a bar per incident id says nothing to an official
    labels = re.findall(r'<div class="bar-label"[^>]*>([^<]*)</div>', text)
    assert labels and not [x for x in labels if re.search(r"/[0-9a-f]{16}", x)]
    # one unit per chart: every chart says what it measures, from three kinds
    figures = re.findall(r'<figure class="chart" data-kind="(\w+)" data-scale="(\w+)"', text)
    assert len(figures) == text.count('<figure class="chart"') >= 8
    assert {s for _, s in figures} <= {"count", "hours", "percent"}
    # a time series has at least two points per drawing
    for points in re.findall(r'<polyline [^>]*points="([^"]*)"', text):
        assert len(points.split()) >= 2


# ------------------------------------------------------------------ laid out in Chromium
@needs_chromium
@pytest.mark.parametrize("width", WIDTHS)
def test_no_label_is_cut_or_spills_out(measured: dict[int, dict[str, Any]], width: int) -> None:
    got = measured[width]
    assert got["width"] == width
    problems = got["problems"]
    assert not problems, f"{len(problems)} at {width} px:\n" + "\n".join(problems[:25])


@needs_chromium
@pytest.mark.parametrize("width", WIDTHS)
def test_summary_numbers_sit_on_their_labels(
    measured: dict[int, dict[str, Any]], width: int
) -> None:
    kpis = measured[width]["facts"]["kpis"]
    assert len(kpis) >= 8
    for k in kpis:
        assert abs(k["number_left"] - k["label_left"]) <= 1, k
        assert 0 <= k["label_top"] - k["number_bottom"] <= 8, k


@needs_chromium
def test_numbers_in_tables_line_up_under_their_headers(
    measured: dict[int, dict[str, Any]],
) -> None:
    columns = measured[1400]["facts"]["columns"]
    numeric = [c for c in columns if c["numeric"] and c["cell_rights"]]
    assert len(numeric) > 20
    for c in numeric:  # right-aligned: the header's text ends where the numbers end
        for right in c["cell_rights"]:
            assert abs(right - c["header_right"]) <= 1.5, (c["table"], c["header"], right)
    for c in columns:
        if not c["numeric"] and c["cell_lefts"]:
            assert all(abs(x - c["header_left"]) <= 1.5 for x in c["cell_lefts"]), c["header"]


@needs_chromium
def test_labels_columns_and_categories_are_russian(measured: dict[int, dict[str, Any]]) -> None:
    facts = measured[1400]["facts"]
    cyrillic = re.compile(r"[а-яА-ЯёЁ]")
    assert all(cyrillic.search(c["header"]) for c in facts["columns"]), [
        c["header"] for c in facts["columns"] if not cyrillic.search(c["header"])
    ]
    for chart in facts["charts"]:
        assert cyrillic.search(chart["title"]), chart["title"]
        assert all(cyrillic.search(x) for x in chart["legend"] + chart["axis_titles"]), chart
    # the pipeline section quotes the decoder's own (English) reasons; the rest is Russian
    text = facts["text"][: facts["text"].rindex("Работа конвейера")]
    # no SQL alias and no category code on screen (a code stays in a tooltip)
    assert not re.findall(r"\b[a-z]+_[a-z_]+\b", text)
    for code in CATEGORIES:
        assert not re.search(rf"\b{code}\b", text), code
    assert CATEGORIES["public_transport"] in text
    assert region_names()["RU-TVE"] in text and "RU-TVE" not in text.replace("RU-TVE/", "")


@needs_chromium
def test_axes_are_whole_for_counts_and_name_their_unit(
    measured: dict[int, dict[str, Any]],
) -> None:
    for width in WIDTHS:
        for chart in measured[width]["facts"]["charts"]:
            assert chart["axis_titles"], chart["title"]
            unit = {"count": "шт.", "hours": "час", "percent": "%"}[chart["scale"]]
            assert any(unit in t.lower() for t in chart["axis_titles"]), chart
            if chart["scale"] == "count":
                ticks = [t for t in chart["ticks"] if re.fullmatch(r"[\d\u202f]+", t)]
                numeric = [t for t in chart["ticks"] if not re.fullmatch(r"\d\d\.\d\d.*", t)]
                assert ticks and ticks == numeric, chart  # no 2,8 or 5,5 on a count axis


@needs_chromium
def test_long_agency_names_are_whole_on_the_bars(
    measured: dict[int, dict[str, Any]], pipeline_data: PipelineData
) -> None:
    names = {
        r[0]
        for r in pipeline_data.rows(
            "SELECT DISTINCT agency FROM incidents.incidents FINAL WHERE agency != ''"
        )
    }
    for width in WIDTHS:
        labels = {x for c in measured[width]["facts"]["charts"] for x in c["labels"]}
        shown = labels & names
        # the agencies on the bars are named in full: a long name is there whole, and
        # no label is a cut-down agency name
        assert any(len(n) > 40 for n in shown), (width, sorted(shown))
        cut = [x for x in labels if x not in names and any(n.startswith(x) for n in names)]
        assert not cut, (width, cut)


@needs_chromium
def test_appeals_and_incidents_by_region_shows_both(
    measured: dict[int, dict[str, Any]], pipeline_data: PipelineData
) -> None:
    charts = measured[1400]["facts"]["charts"]
    bars = next(c for c in charts if c["title"].startswith("Обращения, инциденты"))
    assert bars["legend"][:2] == ["Обращения", "Инциденты"]
    tver = bars["values"][bars["labels"].index(region_names()["RU-TVE"])]
    appeals = pipeline_data.scalar(
        "SELECT sum(appeals) FROM incidents.appeals_daily WHERE region = 'RU-TVE'"
    )
    opened = pipeline_data.scalar(
        "SELECT sum(opened) FROM incidents.incidents_daily WHERE region = 'RU-TVE'"
    )
    assert tver[:2] == [str(appeals), str(opened)]
    lines = next(c for c in charts if c["kind"] == "line" and "Обращения" in c["legend"])
    assert "Инциденты" in lines["legend"] and min(lines["points"]) >= 2


@needs_chromium
def test_chromium_renders_the_page(measured: dict[int, dict[str, Any]]) -> None:
    """The screenshot shows a page with text and chart colours, not a blank one."""
    for width in WIDTHS:
        w, h, bpp, first_screen = decode_png(Path(measured[width]["screenshot"]).read_bytes(), 1600)
        assert w == width and h > 2000
        ink = colored = 0
        for i in range(0, len(first_screen), bpp * 7):
            r, g, b = first_screen[i], first_screen[i + 1], first_screen[i + 2]
            ink += min(r, g, b) < 200
            colored += max(r, g, b) - min(r, g, b) > 60
        sampled = len(first_screen) // (bpp * 7)
        assert ink / sampled > 0.03, f"{width} px: the page looks blank"
        assert colored > 500, f"{width} px: no chart colours on the first screen"


def test_the_report_command_writes_the_page(pipeline_data: PipelineData, tmp_path: Path) -> None:
    out = tmp_path / "oversight.html"
    env = {k: v for k, v in os.environ.items() if not k.startswith("INCIDENTS_")}
    env["INCIDENTS_CLICKHOUSE_URL"] = f"chdb://{pipeline_data.copy()}"
    run = subprocess.run(
        [sys.executable, "-m", "incidents.cli.main", "report", "--html", str(out)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert f"wrote {out}" in run.stdout
    assert out.stat().st_size > 20_000 and "<svg" in out.read_text(encoding="utf-8")
