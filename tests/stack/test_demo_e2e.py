"""End to end: the real demo, scraped by a real Prometheus, queried like Grafana does.

``ptc-observe demo`` runs as a subprocess (emulator on loopback, the official SDK wrapped
by ptc_observe, its metrics on a free port); a real Prometheus with exemplar storage scrapes
it every second and evaluates the project's rules. Then every query of every dashboard panel
must return data, and so must the signal under every alert (the expression without its
threshold): a metric the code stopped emitting, a renamed label or a broken vector match
shows up here and nowhere else.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from report.browser import Chromium, chromium_binary, measure

from ptc_observe.report import TimeRange, build_report, load_prometheus

from .helpers import PrometheusServer, free_port
from .queries import REPO_ROOT, RULE_FILES, Query, all_queries

pytestmark = [pytest.mark.prometheus, pytest.mark.slow]

# A top-level threshold at the end of an alert expression: `... > 0.05`.
_THRESHOLD = re.compile(r"\s*(?:>=|<=|==|!=|>|<)\s*[0-9.]+\s*$")


def signal_expr(query: Query) -> str:
    """The expression a panel shows, or what an alert compares with its threshold."""
    if query.kind != "alert":
        return query.expr
    return _THRESHOLD.sub("", query.expr)


def _expects_data(query: Query) -> bool:
    # Telemetry-error series start at 0 (one per stage), so their panels, rules and alert
    # signals have data too.
    return query.kind in ("panel", "alert", "record")


class DemoProcess:
    """``python -m ptc_observe demo --forever`` with its output collected."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.port = port
        self.log_path = workdir / "demo.log"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> DemoProcess:
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "ptc_observe",
                    "demo",
                    "--forever",
                    "--rate",
                    "8",
                    "--seed",
                    "11",
                    "--port",
                    str(self.port),
                    "--quiet",
                ],
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        return self

    def output(self) -> str:
        """Everything the demo printed so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int:
        """SIGTERM, as ``docker compose down`` sends; returns the exit code."""
        assert self._process is not None
        self._process.send_signal(signal.SIGTERM)
        try:
            return self._process.wait(timeout=60)
        finally:
            if self._process.poll() is None:
                self._process.kill()

    def __exit__(self, *exc: object) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=30)


@pytest.fixture(scope="module")
def scraped_demo(
    prometheus_binary: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[PrometheusServer, DemoProcess]]:
    """A running demo that a real Prometheus has scraped for about 20 seconds."""
    workdir = tmp_path_factory.mktemp("demo-e2e")
    port = free_port()
    with DemoProcess(port, workdir) as demo:
        with PrometheusServer(
            prometheus_binary, workdir, [f"127.0.0.1:{port}"], rule_files=RULE_FILES
        ) as prom:
            prom.wait_for_scrapes(3)
            # Enough traffic for every fault kind, expired containers and rate windows.
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                expired = prom.query("sum(ptc_containers_expired_total)")
                errors = prom.query("count(ptc_errors_total)")
                if (
                    expired
                    and float(expired[0]["value"][1]) > 0
                    and errors
                    and float(errors[0]["value"][1]) >= 3
                ):
                    break
                time.sleep(1)
            time.sleep(3)  # rules evaluate every second; let them see the data
            yield prom, demo
            demo.stop()


QUERIES = all_queries()


@pytest.mark.parametrize("query", [pytest.param(q, id=q.name) for q in QUERIES])
def test_every_dashboard_and_alert_query_returns_data(
    scraped_demo: tuple[PrometheusServer, DemoProcess], query: Query
) -> None:
    """Each panel query, recording rule and alert signal returns series from the demo's metrics."""
    prom, demo = scraped_demo
    result = prom.query(signal_expr(query))
    if _expects_data(query):
        assert result, (
            f"{query.name}: no data for {signal_expr(query)}\n{demo.output()[-2000:]}"
        )


def test_exemplars_link_demo_latency_to_traces(
    scraped_demo: tuple[PrometheusServer, DemoProcess],
) -> None:
    """The demo's duration histogram carries exemplars with 32-hex-digit trace ids."""
    prom, _ = scraped_demo
    now = time.time()
    data = prom.api(
        "query_exemplars",
        query="gen_ai_client_operation_duration_seconds_bucket",
        start=str(now - 600),
        end=str(now),
    )
    trace_ids = {
        e["labels"].get("trace_id") for series in data for e in series["exemplars"]
    }
    assert trace_ids and all(re.fullmatch(r"[0-9a-f]{32}", t or "") for t in trace_ids)


def test_report_command_reads_the_demo_from_prometheus(
    scraped_demo: tuple[PrometheusServer, DemoProcess], tmp_path: Path
) -> None:
    """``ptc-observe report --prometheus`` on the live stack: spend, runs of both modes, the
    price data, and an HTML page whose every chart a real browser draws with data."""
    prom, demo = scraped_demo
    page = tmp_path / "report.html"
    done = subprocess.run(
        [sys.executable, "-m", "ptc_observe", "report", "--prometheus", prom.url]
        + ["--range", "10m", "--selector", 'job="ptc-demo"', "--html", str(page)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    end = datetime.now(timezone.utc)
    report = build_report(
        load_prometheus(prom.url, TimeRange(end - timedelta(minutes=10), end))
    )
    assert report.total_spend > 0
    assert {"programmatic", "direct"} <= set(report.mode_order())
    assert all(report.modes[m].runs > 0 for m in ("programmatic", "direct"))
    assert "genai-prices" in {p.source for p in report.prices}
    assert report.projected_month_usd is not None and report.projected_month_usd > 0
    # The per-model, per-component sums add up to what the whole family grew by.
    whole = prom.api(
        "query",
        query="sum(increase(ptc_cost_usd_total[10m]))",
        time=str(end.timestamp()),
    )["result"]
    assert float(whole[0]["value"][1]) == pytest.approx(report.total_spend, rel=1e-9)
    for line in (
        "SPEND",
        "RUNS BY MODE",
        "PROGRAMMATIC VS DIRECT",
        "ESTIMATED SAVINGS",
    ):
        assert f"\n{line}" in done.stdout
    charts = measure(Chromium(chromium_binary(), tmp_path), page)
    assert "spend-rate" in charts and "savings" in charts
    for name, chart in charts.items():
        assert chart["declared"] and chart["drawn"] == chart["declared"], (name, chart)


def test_report_command_reads_the_demo_metrics_page(
    scraped_demo: tuple[PrometheusServer, DemoProcess],
) -> None:
    """``ptc-observe report --metrics URL`` on the demo's own /metrics: one snapshot, dated
    from its first priced exchange."""
    _, demo = scraped_demo
    done = subprocess.run(
        [sys.executable, "-m", "ptc_observe", "report", "--metrics"]
        + [f"http://127.0.0.1:{demo.port}/metrics"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "the first priced at" in done.stdout
    assert re.search(
        r"projected month \(30 days\) \$[0-9,.]+ at the average rate", done.stdout
    )
    assert re.search(r"\n  programmatic +\d+ ", done.stdout)
    assert re.search(r"\n  direct +\d+ ", done.stdout)


def test_demo_stops_on_sigterm_with_a_summary(
    scraped_demo: tuple[PrometheusServer, DemoProcess],
) -> None:
    """SIGTERM ends the demo cleanly with its summary read back from the metrics."""
    prom, demo = scraped_demo
    assert demo.stop() == 0
    out = demo.output()
    assert "Traffic is EMULATED" in out
    assert "summary after" in out
    assert re.search(r"tool calls\s+\d+\s+\(programmatic \d+, direct \d+", out)
    assert "matches the metrics" in out


def test_signal_expr_strips_only_a_trailing_threshold() -> None:
    """An alert's threshold is removed; a comparison inside the expression stays."""
    alert = Query("f", "a", "alert", "x", "ptc:ratio > 0.05", True)
    inner = Query("f", "b", "alert", "x", "a / (b > 0) < 0.1", True)
    panel = Query("f", "c", "panel", "x", "up == 0")
    assert signal_expr(alert) == "ptc:ratio"
    assert signal_expr(inner) == "a / (b > 0)"
    assert signal_expr(panel) == "up == 0"
