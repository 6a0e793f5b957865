"""The snapshot source: a saved /metrics text parsed with prometheus_client's parsers."""

from __future__ import annotations

import io
import socket
from datetime import datetime, timezone
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import start_http_server
from prometheus_client.openmetrics.exposition import (
    generate_latest as generate_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families

from ptc_observe.report import NoMetricsError, SourceError, load_snapshot

from .conftest import STARTED, TAKEN


def test_totals_are_grouped_by_the_families_labels(
    snapshot_file: Path, now: datetime
) -> None:
    """Each family is summed by its own labels; histogram parts are read as _sum and _count."""
    got = load_snapshot(str(snapshot_file), now=now)
    cost = got.totals["ptc_cost_usd_total"]
    assert cost[("claude-sonnet-4-5", "output")] == 2.0
    assert sum(cost.values()) == pytest.approx(6.0)
    assert got.totals["ptc_runs_total"] == {
        ("programmatic",): 40.0,
        ("direct",): 20.0,
        ("none",): 10.0,
    }
    assert got.totals["ptc_run_duration_seconds_sum"][("direct",)] == 120.0
    assert got.totals["ptc_price_data_info"] == {
        ("genai-prices", "0.0.41", "2026-11-20"): 1.0
    }


def test_window_runs_from_process_start_to_the_file_time(
    snapshot_file: Path, now: datetime
) -> None:
    """A snapshot covers process start .. the file's modification time, and says it is one."""
    window = load_snapshot(str(snapshot_file), now=now).window
    assert window.snapshot
    assert window.start == datetime.fromtimestamp(STARTED, tz=timezone.utc)
    assert window.end == datetime.fromtimestamp(TAKEN, tz=timezone.utc)
    assert window.covered_seconds == 86400
    assert "totals since the process started" in window.description


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    cost = Counter(
        "ptc_cost_usd", "c", ["gen_ai_request_model", "component"], registry=registry
    )
    cost.labels("m", "input").inc(0.25)
    runs = Counter("ptc_runs", "r", ["mode"], registry=registry)
    runs.labels("direct").inc(3)
    info = Gauge(
        "ptc_price_data_info", "i", ["source", "version", "updated"], registry=registry
    )
    info.labels("genai-prices", "1.2", "2026-01-01").set(1)
    return registry


@pytest.mark.parametrize("fmt", ["prometheus", "openmetrics"])
def test_reads_what_prometheus_client_exposes(
    tmp_path: Path, now: datetime, fmt: str
) -> None:
    """Both text formats prometheus_client writes are read, extra labels summed over."""
    registry = _registry()
    text = (
        generate_latest(registry)
        if fmt == "prometheus"
        else generate_openmetrics(registry)
    )
    path = tmp_path / "m.txt"
    path.write_bytes(text)
    got = load_snapshot(str(path), now=now)
    assert got.totals["ptc_cost_usd_total"] == {("m", "input"): 0.25}
    assert got.totals["ptc_runs_total"] == {("direct",): 3.0}
    # No process_start_time_seconds in this registry: the cost series' creation time dates it.
    created = [
        sample.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
        if sample.name == "ptc_cost_usd_created"
    ]
    assert got.window.start == datetime.fromtimestamp(created[0], tz=timezone.utc)
    assert "the first priced at" in got.window.description


def test_standard_input(monkeypatch: pytest.MonkeyPatch, now: datetime) -> None:
    """``-`` reads the text from standard input; the snapshot time is now."""
    monkeypatch.setattr("sys.stdin", io.StringIO(generate_latest(_registry()).decode()))
    got = load_snapshot("-", now=now)
    assert got.totals["ptc_runs_total"] == {("direct",): 3.0}
    assert got.window.end == now


def test_missing_file(tmp_path: Path, now: datetime) -> None:
    """A file that does not exist is a SourceError naming it."""
    with pytest.raises(SourceError, match=r"cannot read .*nope\.prom: No such file"):
        load_snapshot(str(tmp_path / "nope.prom"), now=now)


def test_empty_file(tmp_path: Path, now: datetime) -> None:
    """An empty file says so."""
    path = tmp_path / "empty.prom"
    path.write_text("\n")
    with pytest.raises(SourceError, match="empty"):
        load_snapshot(str(path), now=now)


def test_binary_file(tmp_path: Path, now: datetime) -> None:
    """Bytes that are not UTF-8 are refused, with the offset."""
    path = tmp_path / "bin.prom"
    path.write_bytes(b"ptc_runs_total 1\n\xff\xfe")
    with pytest.raises(SourceError, match="not UTF-8 at byte 17"):
        load_snapshot(str(path), now=now)


def test_malformed_line_is_named(tmp_path: Path, now: datetime) -> None:
    """A line the parser refuses is named with its number."""
    path = tmp_path / "bad.prom"
    path.write_text('ptc_runs_total{mode="direct"} 1\nptc_runs_total{mode="direct 2\n')
    with pytest.raises(
        SourceError, match=r"not in the Prometheus text format \(line 2: "
    ):
        load_snapshot(str(path), now=now)


def test_no_ptc_metrics(tmp_path: Path, now: datetime) -> None:
    """Metrics without any ptc_ family: NoMetricsError saying so."""
    path = tmp_path / "other.prom"
    path.write_text("# TYPE up gauge\nup 1\n")
    with pytest.raises(NoMetricsError, match="no ptc_ metrics at all"):
        load_snapshot(str(path), now=now)


def test_ptc_metrics_without_cost_families(tmp_path: Path, now: datetime) -> None:
    """Older ptc_observe metrics (no cost or run families) are told apart from foreign ones."""
    path = tmp_path / "old.prom"
    path.write_text(
        '# TYPE ptc_exchanges_total counter\nptc_exchanges_total{outcome="ok"} 5\n'
    )
    with pytest.raises(
        NoMetricsError, match=r"other ptc_ metrics \(ptc_exchanges_total"
    ):
        load_snapshot(str(path), now=now)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_url(now: datetime) -> None:
    """A /metrics URL nobody serves is a SourceError, not a traceback."""
    url = f"http://127.0.0.1:{_closed_port()}/metrics"
    with pytest.raises(SourceError, match=r"cannot fetch .*: connection failed"):
        load_snapshot(url, now=now, timeout=5)


def test_metrics_url_served_over_loopback(now: datetime) -> None:
    """A live /metrics endpoint (prometheus_client's own server) is read; taken now."""
    httpd, thread = start_http_server(0, addr="127.0.0.1", registry=_registry())
    try:
        got = load_snapshot(f"http://127.0.0.1:{httpd.server_port}/metrics", now=now)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
    assert got.totals["ptc_cost_usd_total"] == {("m", "input"): 0.25}
    assert got.window.end == now
