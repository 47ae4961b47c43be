"""`incidents report --html`: written from pipeline data, opened in headless Chromium.

The page must be self-contained (no script, no external resource), carry one
chart per dashboard row that has ClickHouse data, and render: the screenshot
Chromium takes of it must show a real page, not a blank one.
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from streams.oversight import CLICKHOUSE, dashboards
from streams.report_html import build
from tests.oversight.conftest import PipelineData

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]


def decode_png(data: bytes) -> tuple[int, int, int, bytes]:
    """(width, height, bytes per pixel, raw pixels) of an 8-bit, non-interlaced PNG."""
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
    for y in range(height):
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


def _screenshot(page: Path, png: Path, profile: Path) -> None:
    cmd = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--screenshot={png}",
        "--window-size=1280,2000",
        page.as_uri(),
    ]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert png.is_file(), f"no screenshot (exit {run.returncode}): {run.stderr[-600:]}"


@pytest.fixture(scope="module")
def page(pipeline_data: PipelineData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("html") / "report.html"
    out.write_text(build(pipeline_data.query), encoding="utf-8")
    return out


def test_the_page_is_self_contained_with_a_chart_per_dashboard_row(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert "<script" not in text.lower()
    # nothing is fetched: no src at all, and href only on links to the posts
    assert not re.search(r"\bsrc\s*=", text)
    assert not re.search(r"<(?:link|img|iframe|object|embed)\b", text)
    hrefs = re.findall(r"<(\w+)[^>]*\bhref=", text)
    assert set(hrefs) <= {"a"}, hrefs
    assert "@import" not in text and "url(" not in text
    ch_rows = [
        row
        for d in dashboards()
        for row in d.rows
        if any(p.source == CLICKHOUSE for p in row.panels)
    ]
    assert text.count('<figure class="chart">') == len(ch_rows)
    assert text.count("<svg") >= len(ch_rows) - 1  # a chart with no data says so instead
    for d in dashboards():
        assert d.title in text
    assert "RU-TVE" in text and "compliance_pct" in text


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed")
def test_chromium_renders_the_page(page: Path, tmp_path: Path) -> None:
    png = tmp_path / "report.png"
    _screenshot(page, png, tmp_path / "profile")
    width, height, bpp, pixels = decode_png(png.read_bytes())
    assert (width, height) == (1280, 2000)
    assert bpp in (3, 4), bpp
    ink = 0
    colored = 0
    for i in range(0, len(pixels), bpp * 7):  # every 7th pixel is plenty
        r, g, b = pixels[i], pixels[i + 1], pixels[i + 2]
        if min(r, g, b) < 200:
            ink += 1
        if max(r, g, b) - min(r, g, b) > 60:
            colored += 1
    sampled = len(pixels) // (bpp * 7)
    assert ink / sampled > 0.03, f"the page looks blank ({ink} dark of {sampled} sampled pixels)"
    assert colored > 500, "no chart colours on screen"


def test_the_report_command_writes_the_page(pipeline_data: PipelineData, tmp_path: Path) -> None:
    out = tmp_path / "oversight.html"
    env = {k: v for k, v in os.environ.items() if not k.startswith("INCIDENTS_")}
    env["INCIDENTS_CLICKHOUSE_URL"] = f"chdb://{pipeline_data.copy()}"
    run = subprocess.run(
        [sys.executable, "-m", "streams.cli", "report", "--html", str(out)],
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
