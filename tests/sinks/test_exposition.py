"""Serving /metrics: promtool finds nothing, OpenMetrics carries exemplars, server and apps."""

# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False

from __future__ import annotations

import shutil
import subprocess

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import (
    generate_latest as generate_openmetrics,
)
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from ptc_observe.observer.correlator import Correlator
from ptc_observe.observer.exposition import (
    make_asgi_app,
    make_wsgi_app,
    start_metrics_server,
)
from ptc_observe.observer.sinks.prometheus import PrometheusSink

from .factory import PTC_TOOLS, RATE_LIMITS, ExchangeFactory, result
from .test_prometheus import ptc_run

OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
ALL_FIXTURES = [
    "01_direct_tool_use.json",
    "02_ptc_turn1_response.json",
    "03_ptc_resume_response.json",
    "04_ptc_final_response.json",
    "05_ptc_multiple_calls_response.json",
    "06_error_429_rate_limit.json",
    "07_error_529_overloaded.json",
    "08_stream_ptc_turn1.sse",
    "09_stream_plain_text.sse",
    "10_stream_ptc_resume_prepopulated.sse",
]


@pytest.fixture
def full_registry() -> CollectorRegistry:
    """A registry holding every family: all fixtures, a PTC run, an expiry, gen2, errors, exemplars."""
    registry = CollectorRegistry()
    factory = ExchangeFactory()
    correlator = Correlator(clock=factory.clock)
    sink = PrometheusSink(registry, latest_semconv=True)
    sink.bind(correlator)
    correlator.add_listener(sink.on_container_ended)
    for n, fixture in enumerate(ALL_FIXTURES):
        ex = correlator.correlate(
            factory.make(
                fixture, tools=PTC_TOOLS, rate_limits=RATE_LIMITS, retry_count=n % 2
            )
        )
        fields = {f: getattr(ex, f) for f in ex.__slots__}
        sink.on_exchange(
            type(ex)(**{**fields, "trace_id": 0x1234 + n, "span_id": 0x99 + n})
        )
    ptc_run(factory, correlator, sink)
    factory.advance(900)
    sink.on_exchange(
        correlator.correlate(
            factory.make(
                status=400,
                error_type="invalid_request_error",
                error_message="container: `container_011CZq7TfRmB3vKx9NwPd2Lh` has expired",
                container_id="container_011CZq7TfRmB3vKx9NwPd2Lh",
            )
        )
    )
    sink.on_exchange(
        correlator.correlate(
            factory.make("09_stream_plain_text.sse", tool_results=[result("toolu_x")])
        )
    )
    sink.on_telemetry_error("stream_parse")
    return registry


@pytest.mark.prometheus
def test_promtool_check_metrics_finds_nothing(full_registry):
    """``promtool check metrics`` reports no problem in the exposition (text format)."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail(
            "promtool is not installed: run scripts/setup (installs the Debian package `prometheus`)"
        )
    text = generate_latest(full_registry)
    for family in (
        "ptc_containers_expired_total 1.0",
        "ptc_container_lifetime_seconds_count 1.0",
        "gen_ai_execute_tool_duration_seconds_count",
    ):
        assert family.encode() in text  # the registry really holds every kind of family
    done = subprocess.run(
        [promtool, "check", "metrics"],
        input=text,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, b"")


def test_openmetrics_is_valid_and_carries_exemplars(full_registry):
    """The OpenMetrics exposition parses strictly and its histogram buckets carry the trace ids."""
    families = {
        f.name: f
        for f in text_string_to_metric_families(
            generate_openmetrics(full_registry).decode()
        )
    }
    duration = families["gen_ai_client_operation_duration_seconds"]
    exemplars = [s.exemplar for s in duration.samples if s.exemplar is not None]
    assert exemplars and set(exemplars[0].labels) == {"trace_id", "span_id"}
    assert all(
        len(e.labels["trace_id"]) == 32 and len(e.labels["span_id"]) == 16
        for e in exemplars
    )
    assert families["ptc_exchanges"].type == "counter"
    assert families["ptc_containers_active"].type == "gauge"


class TestServer:
    def test_serves_metrics_with_format_negotiation(self, full_registry):
        """GET /metrics: OpenMetrics (with exemplars) when asked for, the text format otherwise; 404 elsewhere."""
        server, thread = start_metrics_server(0, registry=full_registry)
        try:
            base = f"http://127.0.0.1:{server.server_port}"
            with httpx.Client(base_url=base, timeout=10) as client:
                om = client.get(
                    "/metrics",
                    headers={"Accept": "application/openmetrics-text; version=1.0.0"},
                )
                text = client.get("/metrics")
                missing = client.get("/")
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)
        assert om.status_code == 200 and om.headers["content-type"].startswith(
            OPENMETRICS
        )
        assert "trace_id=" in om.text and om.text.endswith("# EOF\n")
        assert text.status_code == 200 and text.headers["content-type"].startswith(
            "text/plain; version=0.0.4"
        )
        assert "trace_id=" not in text.text and "ptc_exchanges_total" in text.text
        assert missing.status_code == 404
        assert not thread.is_alive()

    def test_wsgi_app(self, full_registry):
        """The WSGI app answers any GET with the metrics (mount it where you like)."""
        app = make_wsgi_app(full_registry)
        status: list[str] = []
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": "/",
            "QUERY_STRING": "",
            "HTTP_ACCEPT": "application/openmetrics-text",
        }
        body = b"".join(app(environ, lambda s, headers: status.append(s)))
        assert status == ["200 OK"] and b"# EOF" in body

    @pytest.mark.anyio
    async def test_asgi_app(self, full_registry):
        """The ASGI app serves the same exposition."""
        app = make_asgi_app(full_registry)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        ) as client:
            response = await client.get(
                "/metrics", headers={"Accept": "application/openmetrics-text"}
            )
        assert response.status_code == 200 and response.headers[
            "content-type"
        ].startswith(OPENMETRICS)
        assert "ptc_tool_turnaround_seconds_bucket" in response.text

    def test_default_registry(self):
        """Without a registry the app serves prometheus_client's default registry."""
        app = make_wsgi_app()
        body = b"".join(
            app(
                {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": ""},
                lambda s, h: None,
            )
        )
        assert b"python_info" in body or b"process_" in body
