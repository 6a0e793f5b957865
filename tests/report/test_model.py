"""The report's numbers from the hand-written snapshot, checked by hand."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from ptc_observe.report import PriceData, Report, build_report, load_snapshot


@pytest.fixture
def report(snapshot_file: Path, now: datetime) -> Report:
    return build_report(load_snapshot(str(snapshot_file), now=now))


def test_spend_by_model_and_component(report: Report) -> None:
    """Spend is summed per model (largest first) and per component (documented order)."""
    assert report.total_spend == pytest.approx(6.0)
    assert report.spend_by_model() == {
        "claude-sonnet-4-5": 5.0,
        "claude-haiku-4-5": 1.0,
    }
    assert report.spend_by_component() == pytest.approx(
        {
            "input": 2.0,
            "cache_read": 0.25,
            "cache_write": 0.75,
            "output": 2.5,
            "server_tools": 0.1,
            "container": 0.4,
        }
    )


def test_projected_month_uses_the_covered_time(report: Report) -> None:
    """$6 over the one day the snapshot covers is $180 over 30 days."""
    assert report.projected_month_usd == pytest.approx(180.0)


def test_unpriced_tokens_stay_out_of_the_spend(report: Report) -> None:
    """A model without a price shows its tokens as unpriced and no spend."""
    assert report.unpriced_tokens == {"claude-future-9": 12000.0}
    assert "claude-future-9" not in report.spend_by_model()


def test_runs_per_mode(report: Report) -> None:
    """Per-run values are sum / runs of the same mode; wall time is sum / count."""
    p = report.modes["programmatic"]
    assert p.per_run(p.round_trips) == 2.0
    assert p.per_run(p.tool_calls) == 10.0
    assert p.per_run(p.total_tokens) == 18000.0
    assert p.per_run(p.cost_usd) == pytest.approx(0.05)
    assert p.mean_duration == 3.0
    assert report.mode_order() == ["programmatic", "direct", "none"]
    assert report.modes["none"].mean_duration is None


def test_programmatic_vs_direct(report: Report) -> None:
    """Each comparison row has both per-run values and direct / programmatic."""
    rows = {c.name: c for c in report.comparison()}
    assert rows["round trips per run"].ratio == 3.0
    assert rows["tokens per run"].ratio == 3.0
    assert rows["cost per run"].direct == pytest.approx(0.15)
    assert rows["tool-result bytes into the context per run"].ratio == 10.0
    assert rows["wall time per run"].ratio == 2.0


def test_estimates_and_price_data(report: Report) -> None:
    """Savings are the estimate counters passed through; the price data is named."""
    assert report.saved_tokens_estimate == 200000.0
    assert report.saved_usd_estimate == pytest.approx(0.6)
    assert report.prices == [PriceData("genai-prices", "0.0.41", "2026-11-20")]


def test_zero_series_are_left_out(tmp_path: Path, now: datetime) -> None:
    """Series created at zero (a mode without runs, a priced model's unpriced counter) show no row."""
    path = tmp_path / "zeros.prom"
    path.write_text(
        "# TYPE ptc_cost_usd_total counter\n"
        'ptc_cost_usd_total{gen_ai_request_model="a",component="input"} 0.5\n'
        'ptc_cost_usd_total{gen_ai_request_model="b",component="input"} 0\n'
        "# TYPE ptc_unpriced_tokens_total counter\n"
        'ptc_unpriced_tokens_total{gen_ai_request_model="a"} 0\n'
        "# TYPE ptc_runs_total counter\n"
        'ptc_runs_total{mode="direct"} 2\n'
        'ptc_runs_total{mode="none"} 0\n'
    )
    report = build_report(load_snapshot(str(path), now=now))
    assert report.spend_by_model() == {"a": 0.5}
    assert report.unpriced_tokens == {}
    assert report.mode_order() == ["direct"]
