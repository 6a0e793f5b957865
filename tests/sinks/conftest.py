"""Fixtures of the sink tests: an exchange factory on a simulated clock, a correlator on
the same clock, and sinks wired to fresh telemetry backends (see tests/conftest.py)."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from ptc_observe.observer.correlator import Correlator, Limits
from ptc_observe.observer.sinks.otel import OTelSink
from ptc_observe.observer.sinks.prometheus import PrometheusSink

from .factory import ExchangeFactory


@pytest.fixture(autouse=True)
def _no_semconv_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests choose the semconv generation and content capture explicitly."""
    monkeypatch.delenv("OTEL_SEMCONV_STABILITY_OPT_IN", raising=False)
    monkeypatch.delenv(
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", raising=False
    )
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)


@pytest.fixture
def factory() -> ExchangeFactory:
    """Makes exchanges from the fixtures on a simulated clock."""
    return ExchangeFactory()


@pytest.fixture
def correlator(factory: ExchangeFactory) -> Correlator:
    """A correlator on the factory's wall clock."""
    return Correlator(Limits(), clock=factory.clock)


@pytest.fixture
def prom_sink(
    prom_registry: CollectorRegistry, correlator: Correlator
) -> PrometheusSink:
    """A Prometheus sink on a fresh registry, bound to ``correlator``."""
    sink = PrometheusSink(prom_registry)
    sink.bind(correlator)
    correlator.add_listener(sink.on_container_ended)
    return sink


@pytest.fixture
def otel_sink(
    tracer_provider: TracerProvider, meter_provider: MeterProvider
) -> OTelSink:
    """An OpenTelemetry sink on fresh in-memory providers."""
    return OTelSink(tracer_provider, meter_provider)


@pytest.fixture
def inferring_sink(
    tracer_provider: TracerProvider, meter_provider: MeterProvider
) -> OTelSink:
    """An OpenTelemetry sink that infers ``execute_tool`` spans (opt-in)."""
    return OTelSink(tracer_provider, meter_provider, infer_tool_spans=True)
