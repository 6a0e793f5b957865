"""Code executions by variant, server tools by caller, billed requests, reasoning and TTLs.

One response with every 2026 shape goes through both sinks: the Prometheus series and the
OpenTelemetry metrics (named to export as the same series) carry the same splits, the
exchange span the reasoning tokens and the cache-write TTL split.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from ptc_observe.events import Outcome
from ptc_observe.models import Message
from ptc_observe.observer.sinks.otel import OTelSink
from ptc_observe.observer.sinks.prometheus import PrometheusSink

from .factory import MODEL, ExchangeFactory
from .test_otel import only, points, run

CALLED = {"type": "code_execution_20260120", "tool_id": "srvtoolu_code"}
CONTENT: list[dict[str, Any]] = [
    {"type": "thinking", "thinking": "hm", "signature": "s"},
    {
        "type": "server_tool_use",
        "id": "srvtoolu_code",
        "name": "code_execution",
        "input": {"code": "print(1)"},
        "caller": {"type": "direct"},
    },
    {
        "type": "server_tool_use",
        "id": "srvtoolu_fetch",
        "name": "web_fetch",
        "input": {"url": "https://example.com"},
        "caller": CALLED,
    },
    {
        "type": "web_fetch_tool_result",
        "tool_use_id": "srvtoolu_fetch",
        "caller": CALLED,
        "content": {"type": "web_fetch_result", "url": "https://example.com"},
    },
    {
        "type": "code_execution_tool_result",
        "tool_use_id": "srvtoolu_code",
        "content": {"type": "code_execution_result", "return_code": 0, "stdout": "1"},
    },
    {"type": "server_tool_use", "id": "srvtoolu_b1", "name": "bash_code_execution"},
    {
        "type": "bash_code_execution_tool_result",
        "tool_use_id": "srvtoolu_b1",
        "content": {"type": "bash_code_execution_result", "return_code": 0},
    },
    {"type": "server_tool_use", "id": "srvtoolu_b2", "name": "bash_code_execution"},
    {
        "type": "bash_code_execution_tool_result",
        "tool_use_id": "srvtoolu_b2",
        "content": {"type": "bash_code_execution_result", "return_code": 2},
    },
    {
        "type": "server_tool_use",
        "id": "srvtoolu_t",
        "name": "text_editor_code_execution",
    },
    {
        "type": "text_editor_code_execution_tool_result",
        "tool_use_id": "srvtoolu_t",
        "content": {
            "type": "text_editor_code_execution_tool_result_error",
            "error_code": "file_not_found",
        },
    },
]
USAGE = {
    "input_tokens": 10,
    "output_tokens": 300,
    "cache_creation_input_tokens": 130,
    "cache_read_input_tokens": 7,
    "cache_creation": {
        "ephemeral_5m_input_tokens": 100,
        "ephemeral_1h_input_tokens": 20,
    },
    "output_tokens_details": {"thinking_tokens": 250},
    "server_tool_use": {"web_search_requests": 2, "web_fetch_requests": 1},
}
MESSAGE = Message.model_validate(
    {
        "id": "msg_1",
        "model": MODEL,
        "content": CONTENT,
        "stop_reason": "end_turn",
        "usage": USAGE,
    }
)
EXECUTIONS = {
    ("code_execution", "success"): 1,
    ("bash_code_execution", "success"): 1,
    ("bash_code_execution", "error"): 1,
    ("text_editor_code_execution", "error"): 1,
}
SERVER_CALLS = {
    ("code_execution", "direct"): 1,
    ("web_fetch", "programmatic"): 1,
    ("bash_code_execution", "direct"): 2,
    ("text_editor_code_execution", "direct"): 1,
}


def prom(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_prometheus_counts_every_split(
    prom_sink: PrometheusSink,
    prom_registry: CollectorRegistry,
    factory: ExchangeFactory,
) -> None:
    prom_sink.on_exchange(factory.make(message=MESSAGE))
    r = prom_registry
    for (variant, outcome), n in EXECUTIONS.items():
        assert (
            prom(
                r,
                "ptc_code_executions_total",
                gen_ai_tool_name=variant,
                outcome=outcome,
            )
            == n
        )
    assert (
        prom(
            r,
            "ptc_code_executions_total",
            gen_ai_tool_name="text_editor_code_execution",
            outcome="success",
        )
        == 0  # the known variants' series exist from the start
    )
    for (tool, caller), n in SERVER_CALLS.items():
        assert (
            prom(r, "ptc_server_tool_calls_total", gen_ai_tool_name=tool, caller=caller)
            == n
        )
    model = {"gen_ai_request_model": MODEL}
    for tool, n in (("web_search", 2), ("web_fetch", 1)):
        assert prom(r, "ptc_server_tool_requests_total", **model, server_tool=tool) == n
    assert prom(r, "ptc_reasoning_tokens_total", **model) == 250
    # Reasoning is part of output: ptc_tokens_total's output is unchanged.
    assert prom(r, "ptc_tokens_total", **model, token_kind="output") == 300
    ttl = {
        t: prom(r, "ptc_cache_write_tokens_total", **model, ttl=t)
        for t in ("5m", "1h", "unknown")
    }
    assert ttl == {"5m": 100, "1h": 20, "unknown": 10}
    assert sum(v or 0 for v in ttl.values()) == prom(
        r, "ptc_tokens_total", **model, token_kind="cache_write"
    )


def test_a_cut_response_counts_its_usage_not_its_blocks(
    prom_sink: PrometheusSink,
    prom_registry: CollectorRegistry,
    factory: ExchangeFactory,
) -> None:
    ex = replace(
        factory.make(message=MESSAGE, outcome=Outcome.INCOMPLETE), complete=False
    )
    prom_sink.on_exchange(ex)
    r = prom_registry
    assert prom(r, "ptc_reasoning_tokens_total", gen_ai_request_model=MODEL) == 250
    assert (
        prom(
            r,
            "ptc_code_executions_total",
            gen_ai_tool_name="bash_code_execution",
            outcome="error",
        )
        == 0
    )
    assert (
        prom(
            r,
            "ptc_server_tool_calls_total",
            gen_ai_tool_name="web_fetch",
            caller="programmatic",
        )
        is None
    )


def test_server_tool_names_are_bounded(
    prom_registry: CollectorRegistry, factory: ExchangeFactory
) -> None:
    sink = PrometheusSink(prom_registry)
    names = {f"tool{n}_requests": 1 for n in range(70)}
    message = Message.model_validate(
        {"model": MODEL, "usage": {"output_tokens": 1, "server_tool_use": names}}
    )
    sink.on_exchange(factory.make(message=message))
    sink.on_exchange(factory.make(message=message))
    samples = [
        s
        for m in prom_registry.collect()
        if m.name == "ptc_server_tool_requests"
        for s in m.samples
        if s.name.endswith("_total")
    ]
    assert (
        len(samples) == 65
    )  # 64 admitted names (web_search and web_fetch first), _other
    other = [s for s in samples if s.labels["server_tool"] == "_other"]
    assert other[0].value == 2 * 8
    known = {s.labels["server_tool"]: s.value for s in samples}
    assert known["web_search"] == known["web_fetch"] == 0  # from 0 for rate()


def test_otel_metrics_carry_the_same_splits(
    otel_sink: OTelSink,
    metric_reader: InMemoryMetricReader,
    span_exporter: InMemorySpanExporter,
    factory: ExchangeFactory,
) -> None:
    run(otel_sink, factory.make(message=MESSAGE))

    def values(name: str) -> dict[tuple[Any, ...], Any]:
        return {
            tuple(sorted(dict(p.attributes).items())): p.value
            for p in points(metric_reader, name)
        }

    assert values("ptc.code_executions") == {
        (("gen_ai.tool.name", variant), ("outcome", outcome)): n
        for (variant, outcome), n in EXECUTIONS.items()
    }
    assert values("ptc.server_tool_calls") == {
        (("caller", caller), ("gen_ai.tool.name", tool)): n
        for (tool, caller), n in SERVER_CALLS.items()
    }
    model = ("gen_ai.request.model", MODEL)
    assert values("ptc.server_tool_requests") == {
        (model, ("server_tool", "web_fetch")): 1,
        (model, ("server_tool", "web_search")): 2,
    }
    assert values("ptc.reasoning_tokens") == {(model,): 250}
    assert values("ptc.cache_write_tokens") == {
        (model, ("ttl", "5m")): 100,
        (model, ("ttl", "1h")): 20,
        (model, ("ttl", "unknown")): 10,
    }
    attrs = dict(only(span_exporter, "chat").attributes or {})
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 250
    assert attrs["gen_ai.usage.output_tokens"] == 300
    assert attrs["ptc.usage.cache_write_5m.input_tokens"] == 100
    assert attrs["ptc.usage.cache_write_1h.input_tokens"] == 20
    assert attrs["ptc.server_tool_calls.direct"] == 4
    assert attrs["ptc.server_tool_calls.programmatic"] == 1


def test_no_reasoning_attribute_without_reasoning(
    otel_sink: OTelSink,
    metric_reader: InMemoryMetricReader,
    span_exporter: InMemorySpanExporter,
    factory: ExchangeFactory,
) -> None:
    message = Message.model_validate(
        {"model": MODEL, "usage": {"input_tokens": 3, "output_tokens": 4}}
    )
    run(otel_sink, factory.make(message=message))
    attrs = dict(only(span_exporter, "chat").attributes or {})
    assert "gen_ai.usage.reasoning.output_tokens" not in attrs
    assert not [k for k in attrs if k.startswith("ptc.server_tool_calls")]
    assert points(metric_reader, "ptc.reasoning_tokens") == []
    assert points(metric_reader, "ptc.code_executions") == []


FAMILIES = (
    "ptc_code_executions",
    "ptc_server_tool_calls",
    "ptc_server_tool_requests",
    "ptc_reasoning_tokens",
    "ptc_cache_write_tokens",
)


def series(registry: CollectorRegistry) -> dict[tuple[Any, ...], float]:
    """The non-zero ``_total`` samples of the five families, by name and labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for metric in registry.collect()
        if metric.name in FAMILIES
        for sample in metric.samples
        if sample.name.endswith("_total") and sample.value
    }


def test_otel_counters_export_as_the_prometheus_series(
    prom_sink: PrometheusSink,
    prom_registry: CollectorRegistry,
    tracer_provider: Any,
    factory: ExchangeFactory,
) -> None:
    """Through the OTel Prometheus exporter, the ptc.* counters are the same series."""
    exported = CollectorRegistry()
    reader = PrometheusMetricReader(
        disable_target_info=True, scope_info_enabled=False, registry=exported
    )
    provider = MeterProvider(metric_readers=[reader])
    try:
        sink = OTelSink(tracer_provider, provider)
        ex = factory.make(message=MESSAGE)
        prom_sink.on_exchange(ex)
        run(sink, ex)
        ours = series(prom_registry)
        assert len(ours) == 4 + 4 + 2 + 1 + 3
        assert series(exported) == ours
    finally:
        provider.shutdown()
