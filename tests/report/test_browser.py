"""The HTML report in a real browser (Debian's chromium, headless): it renders, charts have data.

The page itself has no script. To learn what the browser laid out, the test loads a copy with
a probe appended that measures every chart mark with ``getBoundingClientRect`` and writes the
counts into the DOM, which ``--dump-dom`` returns. A screenshot of the untouched page shows the
chart colours were painted.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image

from ptc_observe.report import build_report, load_snapshot
from ptc_observe.report.html import render_html
from ptc_observe.report.svg import PALETTE

from .browser import Chromium, chromium_binary, measure

pytestmark = pytest.mark.slow


def painted(png: Path, colour: str) -> int:
    """Pixels of exactly ``colour`` (``#rrggbb``) in the screenshot."""
    rgb = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    with Image.open(png) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 24) or []
    return sum(count for count, value in colours if value == rgb)


def render_in_browser(
    page: Path, tmp_path: Path
) -> tuple[dict[str, dict[str, object]], Path]:
    """The probe's measurements and a screenshot of ``page``."""
    chromium = Chromium(chromium_binary(), tmp_path)
    return measure(chromium, page), chromium.screenshot(page, tmp_path / "page.png")


def test_snapshot_report_renders_with_charts(
    snapshot_file: Path, now: datetime, tmp_path: Path
) -> None:
    """Every chart of the snapshot report is laid out with all its marks, and painted."""
    page = tmp_path / "report.html"
    page.write_text(
        render_html(build_report(load_snapshot(str(snapshot_file), now=now)))
    )
    charts, png = render_in_browser(page, tmp_path)
    assert len(charts) == 9
    for name, chart in charts.items():
        assert chart["declared"] and chart["drawn"] == chart["declared"], (name, chart)
    assert charts["spend-by-model"]["caption"] == "Spend by model and component (USD)"
    # The first palette colour fills every single-series bar; the others the stacked parts.
    assert painted(png, PALETTE[0]) > 20_000
    assert all(painted(png, c) > 100 for c in PALETTE[1:6])
