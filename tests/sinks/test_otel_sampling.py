"""The chat span's attributes and the sampler: decided once, and none built for a dropped span."""

# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.trace import NoOpTracerProvider

from ptc_observe.observer.sinks import _otel_attributes
from ptc_observe.observer.sinks.otel import OTelSink, samples_every_root

from .factory import PTC_TOOLS, ExchangeFactory


def _provider(sampler: Sampler) -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=sampler)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def _chat_attributes(sampler: Sampler) -> dict[str, Any]:
    provider, exporter = _provider(sampler)
    ex = ExchangeFactory().make("02_ptc_turn1_response.json", tools=PTC_TOOLS)
    OTelSink(provider).trace(ex)
    (span,) = exporter.get_finished_spans()
    return dict(span.attributes or {})


@pytest.mark.parametrize(
    ("sampler", "expected"),
    [
        pytest.param(ALWAYS_ON, True, id="always-on"),
        pytest.param(ParentBased(ALWAYS_ON), True, id="parent-based-default"),
        pytest.param(TraceIdRatioBased(0.5), False, id="ratio"),
        pytest.param(ParentBased(TraceIdRatioBased(1.0)), False, id="parent-ratio"),
        pytest.param(ALWAYS_OFF, False, id="always-off"),
    ],
)
def test_samples_every_root(sampler: Sampler, expected: bool) -> None:
    """Only ALWAYS_ON and ParentBased(ALWAYS_ON) are known to keep every root span."""
    assert samples_every_root(TracerProvider(sampler=sampler)) is expected


def test_a_provider_without_a_sampler_is_not_assumed_to_keep_all() -> None:
    """The API's no-op provider shows no sampler: attributes wait for the decision."""
    assert samples_every_root(NoOpTracerProvider()) is False


def test_attributes_are_the_same_on_both_paths() -> None:
    """A span kept by a ratio sampler gets, after its start, exactly the attributes an
    always-on provider gives it at its start."""
    assert _chat_attributes(TraceIdRatioBased(1.0)) == _chat_attributes(ALWAYS_ON)


def test_a_dropped_span_gets_no_end_attributes(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a sampler that drops the span, the end attributes are never built."""
    calls: list[int] = []
    real = _otel_attributes.add_end_attributes

    def counting(*args: Any) -> dict[str, Any]:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(_otel_attributes, "add_end_attributes", counting)
    provider, exporter = _provider(ALWAYS_OFF)
    sink = OTelSink(provider)
    sink.trace(ExchangeFactory().make("02_ptc_turn1_response.json", tools=PTC_TOOLS))
    assert exporter.get_finished_spans() == ()
    assert calls == []
    kept, _ = _provider(ALWAYS_ON)
    OTelSink(kept).trace(
        ExchangeFactory().make("02_ptc_turn1_response.json", tools=PTC_TOOLS)
    )
    assert calls == [1]
