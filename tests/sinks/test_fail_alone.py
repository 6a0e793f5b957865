"""Each sink, and each optional part of a sink, fails alone.

A failing tracer or exemplar lookup must not cost the Prometheus counts, nor the
OpenTelemetry metrics; a failing sink must not cost the others. The failure is counted
(``Observer.telemetry_errors``, ``ptc_telemetry_errors_total``) and the exchange still is.
Real parts: the official SDK over httpx2 with a mock transport answering, the real
OpenTelemetry SDK providers and a Prometheus registry.
"""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2
from opentelemetry import context as otel_context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    Tracer,
    TracerProvider,
    set_span_in_context,
)
from prometheus_client import CollectorRegistry

from ptc_observe import Observer

MODEL = "claude-sonnet-4-6"


class BrokenSpan(NonRecordingSpan):
    """A span (an application's own, say) that fails whenever it is asked anything."""

    def __init__(self) -> None:
        super().__init__(SpanContext(1, 1, is_remote=False))

    def get_span_context(self) -> SpanContext:
        raise RuntimeError("broken span")

    def is_recording(self) -> bool:
        raise RuntimeError("broken span")


class FailingTracer(Tracer):
    """A tracer whose every span fails to start."""

    def start_span(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("cannot start a span")

    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("cannot start a span")


class FailingTracerProvider(TracerProvider):
    """Hands out :class:`FailingTracer` s."""

    def get_tracer(self, *args: Any, **kwargs: Any) -> Tracer:
        return FailingTracer()


class ExplodingSink:
    """A sink that fails on every exchange."""

    def on_exchange(self, exchange: Any) -> None:
        raise RuntimeError("sink down")


def call(observer: Observer, fixtures: Any, ctx: Any = None) -> None:
    """One real SDK call through the observer's transport, under ``ctx`` if given."""
    body = fixtures.bytes("01_direct_tool_use.json")

    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            200, content=body, headers={"content-type": "application/json"}
        )

    inner = httpx2.MockTransport(answer)
    client = anthropic.Anthropic(
        api_key="k",
        http_client=httpx2.Client(transport=observer.transport(inner)),
        open_telemetry=False,
        max_retries=0,
    )
    token = otel_context.attach(ctx) if ctx is not None else None
    try:
        message = client.messages.create(
            model=MODEL, max_tokens=16, messages=[{"role": "user", "content": "x"}]
        )
    finally:
        if token is not None:
            otel_context.detach(token)
    assert message.id  # the call itself is never affected


def counted(registry: CollectorRegistry) -> float | None:
    return registry.get_sample_value(
        "ptc_exchanges_total",
        {"gen_ai_request_model": MODEL, "stream": "false", "outcome": "ok"},
    )


def otel_durations(reader: InMemoryMetricReader) -> int:
    data = reader.get_metrics_data()
    assert data is not None
    return sum(
        p.count
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == "gen_ai.client.operation.duration"
        for p in m.data.data_points
        if isinstance(p, HistogramDataPoint)
    )


def test_failing_exemplar_lookup_costs_only_the_exemplars(
    fixtures: Any,
    prom_registry: CollectorRegistry,
    tracer_provider: Any,
    meter_provider: MeterProvider,
    metric_reader: InMemoryMetricReader,
) -> None:
    """A parent span that fails when asked: both sinks still count the exchange."""
    observer = Observer(
        registry=prom_registry,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    )
    call(observer, fixtures, set_span_in_context(BrokenSpan()))
    assert counted(prom_registry) == 1
    assert otel_durations(metric_reader) == 1
    errors = dict(observer.telemetry_errors)
    assert errors.get("exemplar", 0) >= 1
    assert (
        prom_registry.get_sample_value(
            "ptc_telemetry_errors_total", {"stage": "exemplar"}
        )
        == errors["exemplar"]
    )


def test_failing_tracer_costs_no_metric(
    fixtures: Any,
    prom_registry: CollectorRegistry,
    meter_provider: MeterProvider,
    metric_reader: InMemoryMetricReader,
) -> None:
    """Every span fails to start: the Prometheus and OTel metrics count the exchange."""
    observer = Observer(
        registry=prom_registry,
        tracer_provider=FailingTracerProvider(),
        meter_provider=meter_provider,
    )
    call(observer, fixtures)
    assert counted(prom_registry) == 1
    assert otel_durations(metric_reader) == 1
    assert dict(observer.telemetry_errors) == {"trace": 1}
    assert (
        prom_registry.get_sample_value("ptc_telemetry_errors_total", {"stage": "trace"})
        == 1
    )


def test_failing_sink_costs_the_others_nothing(
    fixtures: Any,
    prom_registry: CollectorRegistry,
    tracer_provider: Any,
    meter_provider: MeterProvider,
    metric_reader: InMemoryMetricReader,
    span_exporter: Any,
) -> None:
    """A sink that raises: spans, OTel metrics and Prometheus counts are all there."""
    observer = Observer(
        [ExplodingSink()],
        registry=prom_registry,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    )
    call(observer, fixtures)
    assert counted(prom_registry) == 1
    assert otel_durations(metric_reader) == 1
    assert [s.name for s in span_exporter.get_finished_spans()] == [f"chat {MODEL}"]
    assert dict(observer.telemetry_errors) == {"sink": 1}
