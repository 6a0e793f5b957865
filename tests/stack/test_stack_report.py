"""``ptc-observe report --prometheus`` against a real Prometheus, and its HTML in a real browser.

A prometheus_client registry with the cost and run families (the values of the report tests'
hand-written snapshot, reached in ten steps while a real Prometheus scrapes every second) is
served over loopback. Every series exists at zero before the first scrape and the range ends
at the last scrape, so Prometheus's ``increase()`` has nothing to extrapolate: the report read
from Prometheus must say exactly what the report read from the snapshot says.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import start_http_server
from prometheus_client.parser import text_string_to_metric_families
from report.browser import Chromium, chromium_binary, measure
from report.conftest import SNAPSHOT

from ptc_observe.report import (
    NoMetricsError,
    SourceError,
    TimeRange,
    build_report,
    load_prometheus,
    load_snapshot,
    render_text,
)

from .helpers import PrometheusServer
from .queries import REPO_ROOT

pytestmark = [pytest.mark.prometheus, pytest.mark.slow]

STEPS = 10
# Per-step wall times of the duration histogram: 3 s x 3 programmatic, 6 s x 2 direct
# (the snapshot's sums and counts are 90 / 30 and 120 / 20 over ten steps).
DURATIONS = {"programmatic": (3.0, 3), "direct": (6.0, 2)}


class CostWorkload:
    """The snapshot's cost and run families, counted up in ``STEPS`` equal steps."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.steps: list[tuple[Any, float]] = []
        self.histograms: dict[str, Any] = {}
        text = SNAPSHOT.read_text(encoding="utf-8")
        for family in text_string_to_metric_families(text):
            if not family.name.startswith("ptc_"):
                continue
            labels = sorted({k for s in family.samples for k in s.labels if k != "le"})
            if family.type == "counter":
                metric = Counter(family.name, "cost", labels, registry=self.registry)
                for s in family.samples:
                    if s.name.endswith("_total"):
                        child = metric.labels(
                            **s.labels
                        )  # exists at 0 from the first scrape
                        self.steps.append((child, s.value / STEPS))
            elif family.type == "gauge":
                gauge = Gauge(family.name, "info", labels, registry=self.registry)
                for s in family.samples:
                    gauge.labels(**s.labels).set(s.value)
            elif family.type == "histogram":
                hist = Histogram(
                    family.name,
                    "runs",
                    labels,
                    buckets=(1.0, 10.0),
                    registry=self.registry,
                )
                for mode in DURATIONS:
                    self.histograms[mode] = hist.labels(mode=mode)
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        time.sleep(2.5)  # a few scrapes at zero first
        for _ in range(STEPS):
            for child, amount in self.steps:
                child.inc(amount)
            for mode, (seconds, count) in DURATIONS.items():
                for _ in range(count):
                    self.histograms[mode].observe(seconds)
            time.sleep(0.4)
        self.done.set()

    def start(self) -> None:
        """Begin counting up in the background."""
        self._thread.start()


@dataclass
class Live:
    """The Prometheus server and the ``host:port`` of the /metrics it scraped."""

    server: PrometheusServer
    target: str

    @property
    def url(self) -> str:
        """The server's base URL."""
        return self.server.url


@pytest.fixture(scope="module")
def prometheus(
    prometheus_binary: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    """A real Prometheus that scraped the whole workload, from zero to its final values."""
    workload = CostWorkload()
    httpd, thread = start_http_server(0, addr="127.0.0.1", registry=workload.registry)
    try:
        workdir = tmp_path_factory.mktemp("prometheus-report")
        target = f"127.0.0.1:{httpd.server_port}"
        with PrometheusServer(prometheus_binary, workdir, [target]) as prom:
            prom.wait_for_scrapes(2)
            workload.start()
            assert workload.done.wait(30), "the workload did not finish"
            time.sleep(2.5)  # let the final values be scraped twice
            yield Live(prom, target)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def _last_scrape(live: Live) -> datetime:
    result = live.server.query("max(timestamp(ptc_runs_total))")
    return datetime.fromtimestamp(float(result[0]["value"][1]), tz=timezone.utc)


def _first_scrape(live: Live, end: datetime) -> datetime:
    """The oldest raw sample of the cost family (a range selector returns raw samples)."""
    data = live.server.api(
        "query", query="ptc_cost_usd_total[1h]", time=str(end.timestamp())
    )
    first = min(float(t) for series in data["result"] for t, _ in series["values"])
    return datetime.fromtimestamp(first, tz=timezone.utc)


def _sections(text: str) -> str:
    """Everything from the spend table on, without the projected month (it depends on time)."""
    body = text.split("\nSPEND\n", 1)[1]
    return "\n".join(
        line for line in body.splitlines() if "projected month" not in line
    )


def test_report_from_prometheus_equals_the_snapshot_report(prometheus: Live) -> None:
    """Spend, unpriced tokens, runs, comparison and estimates: the same numbers as the snapshot."""
    end = _last_scrape(prometheus)
    rng = TimeRange(end - timedelta(minutes=10), end)
    from_prometheus = build_report(load_prometheus(prometheus.url, rng))
    from_snapshot = build_report(load_snapshot(str(SNAPSHOT), now=end))
    assert from_prometheus.total_spend == pytest.approx(6.0, rel=1e-9)
    assert _sections(render_text(from_prometheus)) == _sections(
        render_text(from_snapshot)
    )
    assert [p.version for p in from_prometheus.prices] == ["0.0.41"]


def test_window_and_projection_follow_the_data(prometheus: Live) -> None:
    """The window starts at the first sample in the range, not at the range's start."""
    end = _last_scrape(prometheus)
    rng = TimeRange(end - timedelta(hours=6), end)
    report = build_report(load_prometheus(prometheus.url, rng))
    start = report.window.start
    assert start is not None
    # The coarse grid is 6 h / 120 = 180 s; refined to 1.8 s steps.
    assert abs((start - _first_scrape(prometheus, end)).total_seconds()) <= 2.0
    covered = (end - start).total_seconds()
    assert report.projected_month_usd == pytest.approx(6.0 / covered * 30 * 86400)
    assert report.spend_series and max(v for _, v in report.spend_series) > 0


def test_command_line_and_html_in_a_browser(prometheus: Live, tmp_path: Path) -> None:
    """The command prints the report and writes a page whose charts a browser draws."""
    end = _last_scrape(prometheus)
    page = tmp_path / "report.html"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ptc_observe",
            "report",
            "--prometheus",
            prometheus.url,
            "--since",
            f"{(end - timedelta(minutes=10)).timestamp():.3f}",
            "--until",
            f"{end.timestamp():.3f}",
            "--html",
            str(page),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"source      Prometheus {prometheus.url}" in done.stdout
    assert "$6.00" in done.stdout
    charts = measure(Chromium(chromium_binary(), tmp_path), page)
    assert "spend-rate" in charts
    for name, chart in charts.items():
        assert chart["declared"] and chart["drawn"] == chart["declared"], (name, chart)


def test_a_range_without_ptc_metrics(prometheus: Live) -> None:
    """A range before anything was scraped holds no ptc metrics: NoMetricsError."""
    end = _last_scrape(prometheus) - timedelta(hours=2)
    with pytest.raises(NoMetricsError, match="no ptc_observe cost or run metrics"):
        load_prometheus(prometheus.url, TimeRange(end - timedelta(hours=1), end))


def test_a_url_that_is_not_prometheus(prometheus: Live) -> None:
    """The scraped /metrics endpoint is not a Prometheus API, and the error says so."""
    url = f"http://{prometheus.target}"
    end = datetime.now(timezone.utc)
    with pytest.raises(
        SourceError, match="does not answer like the Prometheus HTTP API"
    ):
        load_prometheus(url, TimeRange(end - timedelta(hours=1), end))


def test_selector_restricts_every_query(prometheus: Live) -> None:
    """Matching the scraped job gives the same report; another job has no ptc metrics."""
    end = _last_scrape(prometheus)
    rng = TimeRange(end - timedelta(minutes=10), end)
    matching = build_report(
        load_prometheus(prometheus.url, rng, matchers='{job="ptc-demo"}')
    )
    assert matching.total_spend == pytest.approx(6.0, rel=1e-9)
    assert matching.source == f'Prometheus {prometheus.url} {{job="ptc-demo"}}'
    with pytest.raises(NoMetricsError, match=r'matching \{job="elsewhere"\}'):
        load_prometheus(prometheus.url, rng, matchers='job="elsewhere"')


def test_a_bad_selector_is_refused_by_prometheus(prometheus: Live) -> None:
    """Prometheus's own parse error comes back as a SourceError naming the query problem."""
    end = _last_scrape(prometheus)
    with pytest.raises(SourceError, match=r"refused a query \(bad_data\)"):
        load_prometheus(
            prometheus.url, TimeRange(end - timedelta(minutes=10), end), matchers="job="
        )
