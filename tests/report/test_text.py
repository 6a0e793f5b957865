"""The plain-text report: sections, aligned columns, estimates labelled as such."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ptc_observe.report import build_report, load_snapshot, render_text
from ptc_observe.report.text import num, table, usd


def _text(snapshot_file: Path, now: datetime) -> str:
    return render_text(build_report(load_snapshot(str(snapshot_file), now=now)))


def test_sections_and_values(snapshot_file: Path, now: datetime) -> None:
    """Every part the issue asks for is in the text, with its numbers."""
    text = _text(snapshot_file, now)
    for heading in (
        "SPEND",
        "RUNS BY MODE",
        "PROGRAMMATIC VS DIRECT",
        "ESTIMATED SAVINGS",
    ):
        assert f"\n{heading}" in text
    assert "genai-prices 0.0.41 (updated 2026-11-20)" in text
    assert "projected month (30 days) $180.00" in text
    assert "claude-future-9  12,000" in text
    assert (
        "container: code-execution container time at the configured rate, an estimate"
        in text
    )
    lines = text.splitlines()
    total = next(
        line for line in lines if line.strip().startswith("total") and "$6.00" in line
    )
    assert total.split() == [
        "total",
        "$2.00",
        "$0.250",
        "$0.750",
        "$2.50",
        "$0.100",
        "$0.400",
        "$6.00",
    ]
    rt = next(line for line in lines if line.strip().startswith("round trips per run"))
    assert rt.split()[-3:] == ["2", "6", "3.00x"]


def test_every_savings_line_says_estimate(snapshot_file: Path, now: datetime) -> None:
    """Nothing in the savings section reads as a measurement."""
    text = _text(snapshot_file, now)
    section = text.split("ESTIMATED SAVINGS")[1]
    lines = [line for line in section.splitlines()[1:] if line.strip()]
    assert lines and all("estimate" in line for line in lines)


def test_columns_are_aligned(snapshot_file: Path, now: datetime) -> None:
    """The rows of the spend table end in the same column (right-aligned numbers)."""
    text = _text(snapshot_file, now)
    spend = text.split("SPEND\n")[1].split("\n\n")[0].splitlines()
    spend = [line for line in spend if not line.strip().startswith("container:")]
    assert len(spend) == 4  # header, two models, total
    assert len({len(line) for line in spend}) == 1


def test_formatting_helpers() -> None:
    """Small amounts keep their digits; fractional increases keep one decimal."""
    assert usd(0.000123) == "$0.000123"
    assert usd(0.02153) == "$0.0215"
    assert usd(0.0) == "$0.00"
    assert usd(0.99999999) == "$1.00"
    assert usd(0.9994) == "$0.999"
    assert usd(1234.5) == "$1,234.50"
    assert usd(None) == "-"
    assert num(12.34) == "12.3"
    assert num(12.0) == "12"
    assert num(3 * 1024 * 1024, "bytes") == "3.0 MiB"
    assert table(["a", "bb"], [["xyz", "1"]]) == ["  a    bb", "  xyz   1"]
