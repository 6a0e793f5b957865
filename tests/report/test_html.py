"""The HTML page, read as text: self-contained, escaped, charts with marks."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from ptc_observe.report import build_report, load_snapshot, render_text
from ptc_observe.report.html import render_html


def _page(path: Path, now: datetime) -> str:
    return render_html(build_report(load_snapshot(str(path), now=now)))


def test_self_contained(snapshot_file: Path, now: datetime) -> None:
    """No script, no external resource: nothing the page could fetch."""
    page = _page(snapshot_file, now)
    for forbidden in (
        "<script",
        " src=",
        " href=",
        "@import",
        "url(",
        "<link",
        "<iframe",
    ):
        assert forbidden not in page


def test_charts_have_marks_with_values(snapshot_file: Path, now: datetime) -> None:
    """Every chart of a snapshot with data draws marks; their values are the report's."""
    page = _page(snapshot_file, now)
    charts = re.findall(
        r'<figure class="chart[^"]*" data-chart="([^"]+)" data-marks="(\d+)"', page
    )
    names = [name for name, _ in charts]
    assert names == [
        "spend-by-model",
        "spend-by-component",
        "runs-by-mode",
        "tokens-per-run",
        "compare-0",
        "compare-1",
        "compare-2",
        "compare-3",
        "savings",
    ]
    assert all(int(marks) > 0 for _, marks in charts)
    spend_by_model = page.split('data-chart="spend-by-model"')[1].split("</figure>")[0]
    values = [float(v) for v in re.findall(r'data-value="([^"]+)"', spend_by_model)]
    assert sum(values) == 6.0


def test_values_from_the_metrics_are_escaped(tmp_path: Path, now: datetime) -> None:
    """A hostile model name is shown as text, never as markup."""
    path = tmp_path / "evil.prom"
    evil = '<script>alert(1)</script>"'
    label = evil.replace('"', '\\"')
    path.write_text(
        "# TYPE ptc_cost_usd_total counter\n"
        f'ptc_cost_usd_total{{gen_ai_request_model="{label}",component="input"}} 1\n'
    )
    page = _page(path, now)
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;" in page


def test_spend_only_metrics_say_what_is_missing(tmp_path: Path, now: datetime) -> None:
    """Cost without runs: the run sections say there were none; no chart is an empty frame."""
    path = tmp_path / "spend.prom"
    path.write_text(
        "# TYPE ptc_cost_usd_total counter\n"
        'ptc_cost_usd_total{gen_ai_request_model="m",component="input"} 0\n'
    )
    report = build_report(load_snapshot(str(path), now=now))
    page = render_html(report)
    assert "No finished runs in the window." in page
    assert 'data-chart="spend-by-model" data-marks="0"' in page
    assert (
        page.count("no data in the window") == 2
    )  # spend by model, spend by component
    assert "<svg" not in page
    text = render_text(report)
    assert "no finished runs in the window" in text
    assert "projected month (30 days) - (the window's length is unknown)" in text
