"""The configurations under test: the bare SDK, three existing observers, the naive one, ptc_observe.

Each :class:`Config` says how to wrap the client's transport, which extra options the SDK client
gets, and what to switch on and off around its rounds (OpenLLMetry patches SDK classes, so it is
instrumented only while its own rounds run and uninstrumented right after: ``wrapt`` puts the
original functions back, so the other configurations time the untouched SDK).

All OpenTelemetry users share one SDK ``TracerProvider`` whose only span processor hands each
finished span to an exporter that drops it (:class:`CountingExporter`), and one SDK
``MeterProvider`` with an in-memory reader that is never collected during a timed batch. The
existing observers get both (their default telemetry: spans, and OTel metrics where they have
any); ptc_observe's main configurations get the tracer provider and their own Prometheus
registry, as the issue defines them, and ``ptc_otel_metrics`` adds the meter provider. The
global providers are never set, so nothing is traced unless a configuration asks for it.
"""

from __future__ import annotations

import importlib
import types
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from prometheus_client import CollectorRegistry

from .naive import NaiveMetrics, naive_async_transport, naive_transport

__all__ = ["ALL_CONFIGS", "Config", "CountingExporter", "Telemetry", "make_configs"]


class CountingExporter(SpanExporter):
    """Drops every span, counting them: export costs nothing, span creation and ending are real."""

    def __init__(self) -> None:
        self.spans = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Count and drop ``spans``."""
        self.spans += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Nothing to release."""


@dataclass
class Telemetry:
    """The providers every OpenTelemetry-based configuration is given."""

    exporter: CountingExporter = field(default_factory=CountingExporter)
    reader: InMemoryMetricReader = field(default_factory=InMemoryMetricReader)
    tracer_provider: TracerProvider = field(init=False)
    meter_provider: MeterProvider = field(init=False)

    def __post_init__(self) -> None:
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.meter_provider = MeterProvider(metric_readers=[self.reader])


class Config:
    """One way of running a call. The default is the bare client: nothing added.

    Attributes:
        name: short id used on the command line and in the JSON.
        label: what the table prints.
        sdk_only: applies only to scenarios that go through the ``anthropic`` SDK.
        family: ``baseline``, ``competitor`` or ``ptc`` (for the table's grouping).
    """

    name = "bare"
    label = "bare SDK / client"
    sdk_only = False
    family = "baseline"

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry
        self.unavailable: str | None = None
        """Why the configuration cannot run here, or ``None``."""

    def sdk_kwargs(self) -> dict[str, Any]:
        """Extra keyword arguments for ``Anthropic(...)`` / ``AsyncAnthropic(...)``.

        None: the SDK's default options, what a user gets (its tracing goes to the global
        tracer provider, the API's no-op here, so it makes non-recording spans).
        """
        return {}

    def wrap(self, lib: types.ModuleType, inner: Any, is_async: bool) -> Any:
        """The transport the client is given, built around the mock (or real) ``inner`` one."""
        return inner

    def activate(self) -> None:
        """Called before each of this configuration's batches."""

    def deactivate(self) -> None:
        """Called after each of this configuration's batches."""


class SdkTracing(Config):
    """anthropic 2.x's own spans: the ``open_telemetry`` client option with our tracer provider."""

    name = "sdk_tracing"
    label = "SDK's own tracing"
    sdk_only = True
    family = "competitor"

    def sdk_kwargs(self) -> dict[str, Any]:
        """Spans on, with the shared provider; propagation left at its default (on)."""
        return {"open_telemetry": {"tracer_provider": self.telemetry.tracer_provider}}


class OpenLLMetry(Config):
    """``opentelemetry-instrumentation-anthropic`` (Traceloop's OpenLLMetry), toggled per batch."""

    name = "openllmetry"
    label = "OpenLLMetry"
    sdk_only = True
    family = "competitor"

    def __init__(self, telemetry: Telemetry) -> None:
        super().__init__(telemetry)
        try:
            module = importlib.import_module("opentelemetry.instrumentation.anthropic")
        except ImportError as exc:
            self.unavailable = (
                f"opentelemetry-instrumentation-anthropic not installed ({exc})"
            )
            return
        self._instrumentor = module.AnthropicInstrumentor()

    def activate(self) -> None:
        """Patch the SDK's ``Messages`` classes."""
        self._instrumentor.instrument(
            tracer_provider=self.telemetry.tracer_provider,
            meter_provider=self.telemetry.meter_provider,
        )

    def deactivate(self) -> None:
        """Put the SDK's original methods back."""
        self._instrumentor.uninstrument()


class OTelHttpx(Config):
    """``opentelemetry-instrumentation-httpx``'s transport: the httpx2 classes for httpx2 clients."""

    name = "otel_httpx"
    label = "OTel httpx(2) transport"
    family = "competitor"

    def __init__(self, telemetry: Telemetry) -> None:
        super().__init__(telemetry)
        try:
            self._module = importlib.import_module(
                "opentelemetry.instrumentation.httpx"
            )
        except ImportError as exc:
            self.unavailable = (
                f"opentelemetry-instrumentation-httpx not installed ({exc})"
            )

    def wrap(self, lib: types.ModuleType, inner: Any, is_async: bool) -> Any:
        """``{Sync,Async}OpenTelemetryTransport`` (httpx) or ``...TransportHttpx2`` (httpx2)."""
        suffix = "Httpx2" if lib.__name__ == "httpx2" else ""
        cls = getattr(
            self._module,
            ("Async" if is_async else "Sync") + "OpenTelemetryTransport" + suffix,
        )
        return cls(
            inner,
            tracer_provider=self.telemetry.tracer_provider,
            meter_provider=self.telemetry.meter_provider,
        )


class Naive(Config):
    """bench/naive.py: json.loads of the body (every SSE event) + four prometheus-client metrics."""

    name = "naive"
    label = "naive transport"
    family = "competitor"

    def __init__(self, telemetry: Telemetry) -> None:
        super().__init__(telemetry)
        self.metrics = NaiveMetrics()

    def wrap(self, lib: types.ModuleType, inner: Any, is_async: bool) -> Any:
        """The naive tee transport with this configuration's registry."""
        if is_async:
            return naive_async_transport(lib, inner, self.metrics)
        return naive_transport(lib, inner, self.metrics)


class NaiveSpan(Naive):
    """The naive transport plus one GenAI ``chat`` span per exchange: the floor of metrics+spans."""

    name = "naive_span"
    label = "naive transport + one GenAI span"

    def __init__(self, telemetry: Telemetry) -> None:
        super().__init__(telemetry)
        self.metrics = NaiveMetrics(
            tracer=telemetry.tracer_provider.get_tracer("bench.naive")
        )


PTC_SPAN_EXTRA: dict[str, Any] = {
    "server.port": 443,
    "gen_ai.request.max_tokens": 4096,
    "anthropic.request.id": "req_011CZqA7Nd3Wk8Hs2Lq5TxVb",
    "gen_ai.usage.cache_read.input_tokens": 0,
    "gen_ai.usage.cache_creation.input_tokens": 0,
    "ptc.usage.cache_write_5m.input_tokens": 0,
    "ptc.usage.cache_write_1h.input_tokens": 0,
    "ptc.outcome": "ok",
    "ptc.tool_calls.direct": 0,
    "ptc.tool_calls.programmatic": 1,
    "ptc.server_tool_calls.direct": 1,
    "ptc.server_tool_calls.programmatic": 0,
    "ptc.container.id": "container_011CZq7TfRmB3vKx9NwPd2Lh",
    "ptc.container.expires_at": "2026-12-04T15:39:42.868045+00:00",
    "ptc.container.reused": True,
    "ptc.cost.usd": 0.009312001502097222,
    "ptc.run.mode": "programmatic",
}
"""The attributes ptc_observe's chat span carries on the 4 KB workload beyond the ten of the
naive span (as of this commit; 27 in all, no links or events)."""


class NaivePtcSpan(Naive):
    """The naive transport plus one span carrying ptc_observe's 27 attributes, 17 of them
    constants: what the documented span costs through the OpenTelemetry API, every fact free."""

    name = "naive_ptc_span"
    label = "naive transport + a span with ptc_observe's 27 attributes"

    def __init__(self, telemetry: Telemetry) -> None:
        super().__init__(telemetry)
        self.metrics = NaiveMetrics(
            tracer=telemetry.tracer_provider.get_tracer("bench.naive"),
            extra_attributes=PTC_SPAN_EXTRA,
        )


class PtcObserve(Config):
    """``ptc_observe.Observer`` with Prometheus and OpenTelemetry sinks (metrics + spans)."""

    name = "ptc_full"
    label = "ptc_observe metrics+spans"
    family = "ptc"
    prometheus = True
    opentelemetry = True
    otel_metrics = False
    """Give the OTel sink the SDK meter provider too (else its metrics go to the global one,
    the API's no-op here): the issue's configuration is Prometheus metrics + OTel spans."""

    def __init__(self, telemetry: Telemetry) -> None:
        super().__init__(telemetry)
        self.registry = CollectorRegistry()
        try:
            observer_module = importlib.import_module("ptc_observe.observer")
        except ImportError as exc:
            self.unavailable = f"ptc_observe.observer not importable yet ({exc})"
            return
        self.observer = observer_module.Observer(
            registry=self.registry,
            tracer_provider=telemetry.tracer_provider,
            meter_provider=telemetry.meter_provider if self.otel_metrics else None,
            prometheus=self.prometheus,
            opentelemetry=self.opentelemetry,
        )

    def wrap(self, lib: types.ModuleType, inner: Any, is_async: bool) -> Any:
        """``observer.transport(inner)`` / ``observer.async_transport(inner)``."""
        if is_async:
            return self.observer.async_transport(inner)
        return self.observer.transport(inner)


class PtcOtelMetrics(PtcObserve):
    """ptc_observe with Prometheus metrics, spans, and OpenTelemetry metrics on the SDK provider."""

    name = "ptc_otel_metrics"
    label = "ptc_observe metrics+spans+OTel metrics"
    otel_metrics = True


class PtcMetrics(PtcObserve):
    """ptc_observe with the Prometheus sink only."""

    name = "ptc_metrics"
    label = "ptc_observe metrics only"
    opentelemetry = False


class PtcSpans(PtcObserve):
    """ptc_observe with the OpenTelemetry sink only."""

    name = "ptc_spans"
    label = "ptc_observe spans only"
    prometheus = False


class PtcNoSinks(PtcObserve):
    """ptc_observe with no sink: the cost of recording and parsing alone."""

    name = "ptc_nosinks"
    label = "ptc_observe no sinks"
    prometheus = False
    opentelemetry = False


ALL_CONFIGS: tuple[type[Config], ...] = (
    Config,
    SdkTracing,
    OpenLLMetry,
    OTelHttpx,
    Naive,
    NaiveSpan,
    NaivePtcSpan,
    PtcObserve,
    PtcOtelMetrics,
    PtcMetrics,
    PtcSpans,
    PtcNoSinks,
)


def make_configs(
    telemetry: Telemetry, names: Sequence[str] | None = None
) -> list[Config]:
    """Instantiate the configurations named (all by default), the bare one always first."""
    chosen = [
        cls
        for cls in ALL_CONFIGS
        if names is None or cls.name in names or cls is Config
    ]
    return [cls(telemetry) for cls in chosen]
