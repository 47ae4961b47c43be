"""Where things are: the checkout, the demo sample, the development data beside it."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "incidents" / "ops" / "demo" / "sample"
#: ../shared/data: the development data (absent from a user's clone)
SHARED_DATA = ROOT.parent / "shared" / "data"
