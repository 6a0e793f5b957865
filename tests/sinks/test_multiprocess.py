"""Multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, as under gunicorn): real worker processes."""

# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, multiprocess
from prometheus_client.openmetrics.exposition import (
    generate_latest as generate_openmetrics,
)

from ptc_observe.observer.exposition import make_wsgi_app, mark_process_dead

from .factory import MODEL

WORKER = Path(__file__).with_name("multiproc_worker.py")
REPO = Path(__file__).resolve().parents[2]


def run_worker(name: str, directory: Path) -> int:
    """Run one worker process to completion; return its pid."""
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
        "PYTHONPATH": str(REPO),
    }
    done = subprocess.run(
        [sys.executable, str(WORKER), name],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def workers(tmp_path: Path) -> tuple[Path, int, int]:
    """Two workers that ran one after the other into one multiprocess directory."""
    pid_a = run_worker("a", tmp_path)
    pid_b = run_worker("b", tmp_path)
    return tmp_path, pid_a, pid_b


def aggregate(directory: Path) -> CollectorRegistry:
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))
    return registry


def test_counters_and_histograms_add_up_across_processes(workers):
    """Counters and histograms of all workers are summed at scrape time."""
    directory, _, _ = workers
    r = aggregate(directory)
    get = r.get_sample_value
    assert (
        get(
            "ptc_exchanges_total",
            {"gen_ai_request_model": MODEL, "stream": "false", "outcome": "ok"},
        )
        == 2
    )
    assert (
        get(
            "ptc_exchanges_total",
            {"gen_ai_request_model": MODEL, "stream": "true", "outcome": "ok"},
        )
        == 1
    )
    assert (
        get(
            "ptc_errors_total",
            {"gen_ai_request_model": MODEL, "error_type": "overloaded_error"},
        )
        == 1
    )
    assert (
        get(
            "ptc_tool_calls_total",
            {"gen_ai_tool_name": "query_sales", "caller": "programmatic"},
        )
        == 3
    )
    assert get("ptc_containers_created_total", {}) == 2
    assert get("ptc_container_reuses_total", {}) == 1
    assert (
        get(
            "ptc_tool_turnaround_seconds_count",
            {"gen_ai_tool_name": "query_sales", "caller": "programmatic"},
        )
        == 1
    )
    assert get("ptc_telemetry_errors_total", {"stage": "sink"}) == 1


def test_gauges_aggregate_by_mode(workers, monkeypatch):
    """Active containers is a livesum over live workers; rate limits keep the most recent value."""
    directory, pid_a, _ = workers
    r = aggregate(directory)
    assert r.get_sample_value("ptc_containers_active", {}) == 2
    # Worker b saw the requests limit last (17 left); worker a's tokens limits remain.
    assert r.get_sample_value("ptc_ratelimit_remaining", {"resource": "requests"}) == 17
    assert (
        r.get_sample_value("ptc_ratelimit_remaining", {"resource": "input_tokens"})
        == 1998000
    )
    assert r.get_sample_value("ptc_ratelimit_limit", {"resource": "tokens"}) == 2400000
    # gunicorn's child_exit hook: the dead worker's live gauge goes away.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    mark_process_dead(pid_a)
    assert aggregate(directory).get_sample_value("ptc_containers_active", {}) == 1


def test_no_exemplars_in_multiprocess_mode(workers):
    """Exemplars cannot be stored across processes: none are exposed, and recording did not fail."""
    directory, _, _ = workers
    assert "trace_id" not in generate_openmetrics(aggregate(directory)).decode()


def test_exposition_serves_the_aggregate(workers, monkeypatch):
    """Without an explicit registry, the WSGI app serves every worker's metrics."""
    directory, _, _ = workers
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    app = make_wsgi_app()
    status: list[str] = []
    body = b"".join(
        app(
            {"REQUEST_METHOD": "GET", "PATH_INFO": "/metrics", "QUERY_STRING": ""},
            lambda s, headers: status.append(s),
        )
    )
    assert status == ["200 OK"]
    assert "ptc_containers_created_total 2.0" in body.decode()
