"""The OpenTelemetry sink: spans per exchange, links, inferred tool spans, metrics, content."""

# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False

from __future__ import annotations

import json
from typing import Any

import pytest
from opentelemetry import context as otel_context
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind, StatusCode, set_span_in_context

from ptc_observe.events import Exchange, Outcome, ToolDeclaration
from ptc_observe.observer.correlator import Correlator
from ptc_observe.observer.sinks import _semconv as sc
from ptc_observe.observer.sinks.otel import OTelSink

from .factory import MODEL, PTC_TOOLS, ExchangeFactory, result

C = "container_011CZq7TfRmB3vKx9NwPd2Lh"
TURN1_CALL = "toolu_01Fk2YwHs9PqLm4Rt7VbZc3N"
RESUME_CALL = "toolu_01Wn6DcJ3xRv8Hq2Lt5MpYk9"
SRVTOOLU = "srvtoolu_01HqJ7mVtX2cR9bW4nYk5eLs"
S = 1_000_000_000


def attributes(item: Any) -> dict[str, Any]:
    """The attributes of a span, event or link as a plain dict."""
    return dict(item.attributes or {})


def spans(exporter: InMemorySpanExporter, prefix: str = "") -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name.startswith(prefix)]


def only(exporter: InMemorySpanExporter, prefix: str = "") -> ReadableSpan:
    (span,) = spans(exporter, prefix)
    return span


def run(sink: OTelSink, ex: Exchange, correlator: Correlator | None = None) -> Exchange:
    """The observer's pipeline for one exchange: correlate, trace, metrics."""
    if correlator is not None:
        ex = correlator.correlate(ex)
    ex = sink.trace(ex)
    sink.on_exchange(ex)
    return ex


def ptc_run(
    factory: ExchangeFactory, correlator: Correlator, sink: OTelSink, parent: Any = None
) -> list[Exchange]:
    """02 -> (2 s tool) -> 03 -> (1 s tool, error result) -> 04."""
    steps = [
        ("02_ptc_turn1_response.json", None, ()),
        ("03_ptc_resume_response.json", C, (result(TURN1_CALL, 48),)),
        ("04_ptc_final_response.json", C, (result(RESUME_CALL, 52, is_error=True),)),
    ]
    out = []
    for (fixture, container, results), pause in zip(
        steps, (2.0, 1.0, 0.0), strict=True
    ):
        ex = factory.make(
            fixture,
            tools=PTC_TOOLS,
            container_id=container,
            tool_results=results,
            parent_context=parent,
        )
        out.append(run(sink, ex, correlator))
        factory.advance(pause)
    return out


class TestChatSpan:
    def test_json_response(self, otel_sink, span_exporter, factory, correlator):
        """A PTC turn: name, kind, times, every GenAI and ptc attribute; no event by default."""
        ex = run(
            otel_sink,
            factory.make("02_ptc_turn1_response.json", tools=PTC_TOOLS),
            correlator,
        )
        span = only(span_exporter)
        assert (span.name, span.kind, span.parent) == (
            f"chat {MODEL}",
            SpanKind.CLIENT,
            None,
        )
        assert (
            span.instrumentation_scope is not None
            and span.instrumentation_scope.name == "ptc_observe"
        )
        assert span.start_time == ex.timings.sent_unix_ns
        assert span.end_time == ex.timings.sent_unix_ns + 3 * S // 2
        assert span.status.status_code is StatusCode.UNSET
        assert dict(span.attributes or {}) == {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "anthropic",
            "gen_ai.request.model": MODEL,
            "gen_ai.request.max_tokens": 1024,
            "server.address": "api.anthropic.com",
            "server.port": 443,  # conditionally required with the address, 443 too
            "http.response.status_code": 200,
            "anthropic.request.id": "req_011CZqA7Nd3Wk8Hs2Lq5TxVb",
            "gen_ai.response.id": "msg_011CZq7S3aVbN6uPq1WcE8Dk",
            "gen_ai.response.model": MODEL,
            "gen_ai.response.finish_reasons": ("tool_use",),
            "gen_ai.usage.input_tokens": 1874,
            "gen_ai.usage.output_tokens": 246,
            "gen_ai.usage.cache_read.input_tokens": 0,
            "gen_ai.usage.cache_creation.input_tokens": 0,
            "ptc.usage.cache_write_5m.input_tokens": 0,
            "ptc.usage.cache_write_1h.input_tokens": 0,
            "ptc.outcome": "ok",
            "ptc.tool_calls.direct": 0,
            "ptc.tool_calls.programmatic": 1,
            "ptc.server_tool_calls.direct": 1,
            "ptc.server_tool_calls.programmatic": 0,
            "ptc.container.id": C,
            "ptc.container.expires_at": "2026-08-21T09:18:37.318204+00:00",
            "ptc.container.reused": False,
        }
        assert span.events == ()  # tool-call events are opt-in (tool_call_events)
        assert (ex.trace_id, ex.span_id) == (
            span.context.trace_id,
            span.context.span_id,
        )

    def test_stream(self, otel_sink, span_exporter, factory):
        """A stream's span covers the whole stream and says it completed."""
        run(
            otel_sink,
            factory.make(
                "09_stream_plain_text.sse", duration=4.0, ttft=0.4, server_port=8443
            ),
        )
        span = only(span_exporter)
        attrs = dict(span.attributes or {})
        assert span.end_time - span.start_time == 4 * S  # type: ignore[operator]
        assert attrs["gen_ai.request.stream"] is True
        assert attrs["gen_ai.response.time_to_first_chunk"] == pytest.approx(0.4)
        assert attrs["ptc.stream.complete"] is True
        assert attrs["server.port"] == 8443
        assert attrs["gen_ai.response.finish_reasons"] == ("end_turn",)
        assert (
            attrs["gen_ai.usage.input_tokens"],
            attrs["gen_ai.usage.output_tokens"],
        ) == (24, 27)
        assert span.events == ()

    @pytest.mark.parametrize(
        ("fixture", "error_type", "message"),
        [
            pytest.param(
                "06_error_429_rate_limit.json",
                "rate_limit_error",
                "This request would exceed",
                id="06-429",
            ),
            pytest.param(
                "07_error_529_overloaded.json",
                "overloaded_error",
                "Overloaded",
                id="07-529",
            ),
        ],
    )
    def test_error(
        self, otel_sink, span_exporter, factory, fixture, error_type, message
    ):
        """An error response: status ERROR with the API's message, error.type, no usage."""
        run(otel_sink, factory.make(fixture))
        span = only(span_exporter)
        attrs = dict(span.attributes or {})
        assert span.status.status_code is StatusCode.ERROR
        assert (span.status.description or "").startswith(message)
        assert attrs["error.type"] == error_type and attrs["ptc.outcome"] == "error"
        assert not [k for k in attrs if k.startswith("gen_ai.usage")]
        assert "gen_ai.response.id" not in attrs

    def test_tool_call_events_opt_in(
        self, tracer_provider, meter_provider, span_exporter, factory
    ):
        """tool_call_events=True: one ptc.tool_call event per tool_use block, at the end."""
        sink = OTelSink(tracer_provider, meter_provider, tool_call_events=True)
        run(sink, factory.make("02_ptc_turn1_response.json", tools=PTC_TOOLS))
        span = only(span_exporter)
        (event,) = span.events
        assert event.name == "ptc.tool_call" and event.timestamp == span.end_time
        assert dict(event.attributes or {}) == {
            "gen_ai.tool.name": "query_sales",
            "gen_ai.tool.call.id": TURN1_CALL,
            "ptc.caller.type": "code_execution_20260120",
            "ptc.caller.tool_id": SRVTOOLU,
        }

    def test_code_execution_result_event_opt_in(
        self, tracer_provider, meter_provider, span_exporter, factory
    ):
        """tool_call_events=True: one ptc.code_execution_result event per result block."""
        sink = OTelSink(tracer_provider, meter_provider, tool_call_events=True)
        run(sink, factory.make("04_ptc_final_response.json", tools=PTC_TOOLS))
        span = only(span_exporter)
        (event,) = span.events
        assert event.name == "ptc.code_execution_result"
        assert event.timestamp == span.end_time
        assert dict(event.attributes or {}) == {
            "gen_ai.tool.name": "code_execution",
            "gen_ai.tool.call.id": SRVTOOLU,
            "ptc.code_execution.outcome": "success",
            "ptc.code_execution.return_code": 0,
        }

    def test_exception_without_response(self, otel_sink, span_exporter, factory):
        """A request that got no response (an exception) gets an exception event with its class."""
        run(otel_sink, factory.make(error_type="ReadTimeout", duration=30.0))
        span = only(span_exporter)
        assert span.status.status_code is StatusCode.ERROR
        assert attributes(span)["error.type"] == "ReadTimeout"
        (event,) = span.events
        assert event.name == "gen_ai.client.operation.exception"
        assert attributes(event) == {"exception.type": "ReadTimeout"}
        assert event.timestamp == span.end_time

    def test_incomplete_stream(self, otel_sink, span_exporter, factory):
        """A stream cut before message_stop fails the span (error.type incomplete_stream)."""
        run(otel_sink, factory.make("08_stream_ptc_turn1.sse", cut_after=1500))
        span = only(span_exporter)
        assert span.status.status_code is StatusCode.ERROR
        assert (span.attributes or {})["error.type"] == "incomplete_stream"
        assert (span.attributes or {})["ptc.stream.complete"] is False

    def test_closed_early_leaves_status_unset(self, otel_sink, span_exporter, factory):
        """A stream the caller abandoned ends the span anyway, status unset, marked incomplete."""
        ex = factory.make("09_stream_plain_text.sse", cut_after=900, closed_early=True)
        assert ex.outcome is Outcome.CLOSED_EARLY
        run(otel_sink, ex)
        span = only(span_exporter)
        assert span.status.status_code is StatusCode.UNSET
        attrs = dict(span.attributes or {})
        assert (attrs["ptc.stream.complete"], attrs["ptc.outcome"]) == (
            False,
            "closed_early",
        )
        assert "error.type" not in attrs

    def test_latest_semconv_emits_gen2_names_not_gen1(
        self, tracer_provider, meter_provider, span_exporter, factory
    ):
        """The opt-in means the latest and not the old: cache_write, no cache_creation."""
        sink = OTelSink(tracer_provider, meter_provider, latest_semconv=True)
        run(sink, factory.make("01_direct_tool_use.json"))
        attrs = dict(only(span_exporter).attributes or {})
        assert attrs["gen_ai.usage.cache_write.input_tokens"] == 0
        assert "gen_ai.usage.cache_creation.input_tokens" not in attrs

    @pytest.mark.parametrize(("latest", "value"), [(False, 40.0), (True, 40)])
    def test_top_k_follows_the_generation(
        self, tracer_provider, meter_provider, span_exporter, factory, latest, value
    ):
        """gen_ai.request.top_k: double in v1.41.1 (gen1), int in genai main (gen2)."""
        sink = OTelSink(tracer_provider, meter_provider, latest_semconv=latest)
        run(sink, factory.make("01_direct_tool_use.json", request_extra={"top_k": 40}))
        top_k = attributes(only(span_exporter))["gen_ai.request.top_k"]
        assert top_k == value and type(top_k) is type(value)

    def test_output_type_and_reasoning_level(self, otel_sink, span_exporter, factory):
        """output_config.format -> gen_ai.output.type json; effort -> reasoning.level."""
        extra = {"output_type": "json", "reasoning_level": "high"}
        run(otel_sink, factory.make("01_direct_tool_use.json", request_extra=extra))
        attrs = attributes(only(span_exporter))
        assert attrs["gen_ai.output.type"] == "json"
        assert attrs["gen_ai.request.reasoning.level"] == "high"

    def test_cut_stream_finishes_with_error(self, otel_sink, span_exporter, factory):
        """A stream cut before its final event: finish_reasons ["error"]."""
        run(otel_sink, factory.make("08_stream_ptc_turn1.sse", cut_after=600))
        attrs = attributes(only(span_exporter))
        assert attrs["ptc.outcome"] == "incomplete"
        assert attrs["gen_ai.response.finish_reasons"] == ("error",)

    def test_error_response_has_no_finish_reason(
        self, otel_sink, span_exporter, factory
    ):
        """A 529 generated nothing: no finish reasons (only a started response has one)."""
        run(otel_sink, factory.make("07_error_529_overloaded.json"))
        assert "gen_ai.response.finish_reasons" not in attributes(only(span_exporter))

    def test_unsampled_exchange_gets_no_ids(self, meter_provider, factory):
        """A span that is not sampled records nothing and adds no ids to the exchange."""
        exporter = InMemorySpanExporter()
        provider = TracerProvider(sampler=ALWAYS_OFF)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        ex = factory.make("01_direct_tool_use.json")
        assert OTelSink(provider, meter_provider).trace(ex) is ex
        assert exporter.get_finished_spans() == ()


class TestPTCRun:
    def test_inferred_tool_spans_are_off_by_default(
        self, otel_sink, span_exporter, factory, correlator
    ):
        """By default the resumes link to the asking spans but no execute_tool span is inferred."""
        ex1, ex2, _ = ptc_run(factory, correlator, otel_sink)
        assert spans(span_exporter, "execute_tool") == []
        chat = spans(span_exporter, "chat")
        assert len(chat) == 3
        assert chat[1].links[0].context.span_id == ex1.span_id
        assert chat[0].events == ()  # no tool-call events unless asked for
        assert ex2.tool_turnarounds  # the correlator still measured the round trip

    def test_links_and_inferred_tool_spans(
        self, inferring_sink, span_exporter, factory, correlator
    ):
        """Resumes link to the asking span; each tool round trip becomes an inferred execute_tool span."""
        ex1, ex2, ex3 = ptc_run(factory, correlator, inferring_sink)
        chat = spans(span_exporter, "chat")
        assert [s.context.span_id for s in chat] == [
            ex1.span_id,
            ex2.span_id,
            ex3.span_id,
        ]
        assert chat[0].links == ()
        (link,) = chat[1].links
        assert link.context.span_id == ex1.span_id and dict(link.attributes or {}) == {
            "ptc.link.type": "answers_tool_calls"
        }
        assert chat[2].links[0].context.span_id == ex2.span_id
        assert (chat[1].attributes or {})["ptc.container.reused"] is True

        tools = spans(span_exporter, "execute_tool")
        assert [t.name for t in tools] == ["execute_tool query_sales"] * 2
        first, second = tools
        assert first.kind is SpanKind.INTERNAL
        # No application span: the tool run nests under the span of the response that asked.
        assert first.parent is not None and first.parent.span_id == ex1.span_id
        assert (
            first.start_time == chat[0].end_time
            and first.end_time == chat[1].start_time
        )
        assert dict(first.attributes or {}) == {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "query_sales",
            "gen_ai.tool.call.id": TURN1_CALL,
            "gen_ai.tool.type": "function",
            "ptc.caller.type": "code_execution_20260120",
            "ptc.caller.tool_id": SRVTOOLU,
            "ptc.tool.inferred": True,
            "ptc.tool.result_bytes": 48,
        }
        assert first.status.status_code is StatusCode.UNSET
        assert second.status.status_code is StatusCode.ERROR
        assert (second.attributes or {})["error.type"] == "tool_error"
        assert second.end_time - second.start_time == S  # type: ignore[operator]

    def test_under_an_application_span(
        self, inferring_sink, span_exporter, factory, correlator, tracer_provider
    ):
        """Inside an application span every span is its child; tool spans link to the asking span."""
        with tracer_provider.get_tracer("app").start_as_current_span("agent") as agent:
            ex1, ex2, _ = ptc_run(
                factory, correlator, inferring_sink, parent=set_span_in_context(agent)
            )
        agent_id = agent.get_span_context().span_id
        assert all(
            s.parent is not None and s.parent.span_id == agent_id
            for s in spans(span_exporter, "chat")
        )
        first = spans(span_exporter, "execute_tool")[0]
        assert first.parent is not None and first.parent.span_id == agent_id
        assert [
            (link.context.span_id, dict(link.attributes or {})) for link in first.links
        ] == [(ex1.span_id, {"ptc.link.type": "asked_by"})]

    def test_no_inferred_spans_where_exact_ones_are_recorded(
        self, inferring_sink, span_exporter, factory, correlator
    ):
        """Under a context marked by PTCClient.run (exact tool spans), no execute_tool span is inferred."""
        ctx = otel_context.set_value(sc.CONTEXT_EXACT_TOOL_SPANS, True)
        ptc_run(factory, correlator, inferring_sink, parent=ctx)
        assert spans(span_exporter, "execute_tool") == []
        assert len(spans(span_exporter, "chat")) == 3

    def test_link_memory_is_bounded(
        self, tracer_provider, meter_provider, span_exporter, factory, correlator
    ):
        """Only the last max_linked_spans exchanges can be linked to."""
        sink = OTelSink(tracer_provider, meter_provider, max_linked_spans=1)
        run(sink, factory.make("01_direct_tool_use.json"), correlator)
        run(sink, factory.make("09_stream_plain_text.sse"), correlator)
        answer = factory.make(
            "09_stream_plain_text.sse",
            tool_results=[result("toolu_01Tb5RzQm8KcVw3hN2xJp7Ly")],
        )
        ex = run(sink, answer, correlator)
        assert ex.answers == (1,)  # the correlator knows, the link memory forgot
        assert spans(span_exporter, "chat")[-1].links == ()
        assert len(sink._spans) == 1


def points(reader: InMemoryMetricReader, name: str) -> list[Any]:
    data = reader.get_metrics_data()
    assert data is not None
    return [
        p
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == name
        for p in m.data.data_points
    ]


def metric_names(reader: InMemoryMetricReader) -> set[str]:
    data = reader.get_metrics_data()
    assert data is not None
    return {
        m.name
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
    }


BASE = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "anthropic",
    "gen_ai.request.model": MODEL,
    "gen_ai.response.model": MODEL,
    "server.address": "api.anthropic.com",
    "server.port": 443,
}


class TestMetrics:
    def test_gen1_metrics(self, otel_sink, metric_reader, factory):
        """Duration, token usage and time to first chunk with their attributes and advisory buckets."""
        run(otel_sink, factory.make("02_ptc_turn1_response.json"))
        run(otel_sink, factory.make("09_stream_plain_text.sse", duration=2.0, ttft=0.3))
        run(otel_sink, factory.make("07_error_529_overloaded.json", duration=0.5))
        duration = {
            tuple(sorted(p.attributes.items())): p
            for p in points(metric_reader, "gen_ai.client.operation.duration")
        }
        ok = duration[tuple(sorted(BASE.items()))]
        assert isinstance(ok, HistogramDataPoint)
        assert (ok.count, ok.sum) == (2, 3.5)
        assert tuple(ok.explicit_bounds) == sc.DURATION_BUCKETS
        failed_attrs = {**BASE, "error.type": "overloaded_error"}
        del failed_attrs["gen_ai.response.model"]
        failed = duration[tuple(sorted(failed_attrs.items()))]
        assert (failed.count, failed.sum) == (1, 0.5)
        usage = {
            p.attributes["gen_ai.token.type"]: p
            for p in points(metric_reader, "gen_ai.client.token.usage")
        }
        assert (usage["input"].count, usage["input"].sum) == (2, 1874 + 24)
        assert (usage["output"].count, usage["output"].sum) == (2, 246 + 27)
        assert tuple(usage["input"].explicit_bounds) == sc.TOKEN_BUCKETS
        (ttfc,) = points(metric_reader, "gen_ai.client.operation.time_to_first_chunk")
        assert ttfc.count == 1 and ttfc.sum == pytest.approx(0.3)
        assert not [n for n in metric_names(metric_reader) if "inference" in n]

    def test_exemplars_carry_the_span(self, otel_sink, metric_reader, factory):
        """Histogram points keep an exemplar with the exchange's trace and span ids."""
        ex = run(otel_sink, factory.make("01_direct_tool_use.json"))
        (point,) = points(metric_reader, "gen_ai.client.operation.duration")
        assert [(e.trace_id, e.span_id) for e in point.exemplars] == [
            (ex.trace_id, ex.span_id)
        ]

    def test_exemplars_of_a_span_another_sink_made(
        self, tracer_provider, meter_provider, metric_reader, factory
    ):
        """A sink that did not make the span takes the exemplar's ids from the exchange."""
        tracing = OTelSink(tracer_provider, meter_provider)
        recording = OTelSink(tracer_provider, meter_provider)
        ex = tracing.trace(factory.make("01_direct_tool_use.json"))
        recording.on_exchange(ex)
        (point,) = points(metric_reader, "gen_ai.client.operation.duration")
        assert ex.trace_id is not None
        assert [(e.trace_id, e.span_id) for e in point.exemplars] == [
            (ex.trace_id, ex.span_id)
        ]

    def test_no_op_meter_provider_records_nothing(
        self, tracer_provider, span_exporter, factory
    ):
        """Given the API's no-op meter provider, the sink skips its metrics altogether
        (nothing it recorded would go anywhere); spans are made as before."""
        sink = OTelSink(tracer_provider, NoOpMeterProvider())
        assert sink.metrics.enabled is False

        def fail(*args: Any) -> None:
            raise AssertionError("metrics recorded into the no-op meter")

        sink.metrics.record = fail  # type: ignore[method-assign,assignment]
        run(sink, factory.make("02_ptc_turn1_response.json"))
        assert only(span_exporter).name == f"chat {MODEL}"

    def test_the_global_meter_provider_stays_on(self, tracer_provider):
        """Without a meter provider the sink records through the global one, whose proxy
        forwards to a provider set later: it is never taken for the no-op one."""
        assert OTelSink(tracer_provider).metrics.enabled is True

    def test_label_dicts_per_label_set(
        self, otel_sink, metric_reader, factory, correlator
    ):
        """The attribute dicts built once per label set keep each set's own values."""
        run(otel_sink, factory.make("02_ptc_turn1_response.json"))
        run(otel_sink, factory.make("01_direct_tool_use.json", model="claude-other"))
        run(otel_sink, factory.make("07_error_529_overloaded.json"))
        run(otel_sink, factory.make("02_ptc_turn1_response.json"))
        duration = {
            (
                p.attributes.get("gen_ai.request.model"),
                p.attributes.get("error.type"),
            ): p.count
            for p in points(metric_reader, "gen_ai.client.operation.duration")
        }
        assert duration == {
            (MODEL, None): 2,
            ("claude-other", None): 1,
            (MODEL, "overloaded_error"): 1,
        }

    def test_gen2_metrics_on_opt_in(
        self,
        tracer_provider,
        meter_provider,
        metric_reader,
        factory,
        correlator,
        monkeypatch,
    ):
        """The opt-in emits inference duration, usage counters (modality unknown), operation tokens, tool time, and no gen1 instrument."""
        monkeypatch.setenv(
            "OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental"
        )
        sink = OTelSink(tracer_provider, meter_provider)
        ptc_run(factory, correlator, sink)
        run(sink, factory.make("07_error_529_overloaded.json"))
        names = metric_names(metric_reader)
        assert not names & {
            "gen_ai.client.operation.duration",
            "gen_ai.client.token.usage",
            "gen_ai.client.operation.time_to_first_chunk",
        }
        assert {
            "gen_ai.client.inference.duration",
            "gen_ai.client.inference.usage.input_tokens",
            "gen_ai.client.inference.usage.output_tokens",
            "gen_ai.client.inference.usage.cache_read.input_tokens",
            "gen_ai.client.inference.usage.cache_write.input_tokens",
            "gen_ai.client.inference.operation.input_tokens",
            "gen_ai.client.inference.operation.output_tokens",
            "gen_ai.execute_tool.duration",
        } <= names
        by_model = {
            p.attributes.get("gen_ai.response.model"): p
            for p in points(metric_reader, "gen_ai.client.inference.usage.input_tokens")
        }
        assert by_model[MODEL].value == 1874 + 0 + 2311
        assert by_model[MODEL].attributes["gen_ai.token.modality"] == "unknown"
        assert by_model[None].value == 0  # the failure counts, with 0 tokens
        # Per-operation histograms: completed operations only, without error.type.
        for name in (
            "gen_ai.client.inference.operation.input_tokens",
            "gen_ai.client.inference.operation.output_tokens",
        ):
            (op,) = points(metric_reader, name)
            assert "error.type" not in op.attributes and op.count == 3
        tools = {
            p.attributes.get("error.type"): p
            for p in points(metric_reader, "gen_ai.execute_tool.duration")
        }
        assert tools[None].sum == pytest.approx(2.0) and tools[
            "tool_error"
        ].sum == pytest.approx(1.0)


REQUEST_BODY = {
    "model": MODEL,
    "max_tokens": 1024,
    "system": "You are a careful analyst.",
    "tools": [
        {"type": "code_execution_20260120", "name": "code_execution"},
        {
            "name": "query_sales",
            "description": "Run SQL",
            "input_schema": {"type": "object"},
            "allowed_callers": ["code_execution_20260120"],
        },
    ],
    "messages": [{"role": "user", "content": "Which region led Q2?"}],
}


class TestContent:
    def test_off_by_default(self, otel_sink, span_exporter, factory):
        """No prompt, output or tool arguments unless asked for."""
        run(
            otel_sink,
            factory.make("02_ptc_turn1_response.json", request_content=REQUEST_BODY),
        )
        span = only(span_exporter)
        assert not [
            k
            for k in (span.attributes or {})
            if k.startswith(
                ("gen_ai.input", "gen_ai.output", "gen_ai.system", "gen_ai.tool.def")
            )
        ]
        assert span.events == ()

    def test_on_with_redaction(
        self, tracer_provider, meter_provider, span_exporter, factory
    ):
        """Captured content follows the semconv message schemas, after the redaction hook."""
        seen: list[Any] = []

        def redact(value: Any) -> Any:
            seen.append(value)
            return json.loads(json.dumps(value).replace("Central", "[REDACTED]"))

        sink = OTelSink(
            tracer_provider,
            meter_provider,
            capture_content=True,
            redact=redact,
            tool_call_events=True,
        )
        run(
            sink,
            factory.make("02_ptc_turn1_response.json", request_content=REQUEST_BODY),
        )
        attrs = attributes(only(span_exporter))
        assert json.loads(attrs["gen_ai.input.messages"]) == [
            {
                "role": "user",
                "parts": [{"type": "text", "content": "Which region led Q2?"}],
            }
        ]
        assert json.loads(attrs["gen_ai.system_instructions"]) == [
            {"type": "text", "content": "You are a careful analyst."}
        ]
        assert json.loads(attrs["gen_ai.tool.definitions"]) == [
            {"type": "code_execution_20260120", "name": "code_execution"},
            {
                "type": "function",
                "name": "query_sales",
                "description": "Run SQL",
                "parameters": {"type": "object"},
            },
        ]
        (output,) = json.loads(attrs["gen_ai.output.messages"])
        assert output["role"] == "assistant" and output["finish_reason"] == "tool_call"
        assert [p["type"] for p in output["parts"]] == [
            "text",
            "tool_call",
            "tool_call",
        ]
        assert (
            "[REDACTED]" in output["parts"][1]["arguments"]
            and "Central" not in attrs["gen_ai.output.messages"]
        )
        event = only(span_exporter).events[0]
        assert json.loads(attributes(event)["gen_ai.tool.call.arguments"])[
            "sql"
        ].startswith("SELECT SUM(amount)")
        assert seen  # the hook saw every captured value

    def test_failing_redaction_drops_the_content(
        self, tracer_provider, meter_provider, span_exporter, factory
    ):
        """If the hook raises, the content is dropped; the span is still recorded."""

        def broken(value: Any) -> Any:
            raise ValueError("no")

        sink = OTelSink(
            tracer_provider,
            meter_provider,
            capture_content=True,
            redact=broken,
            tool_call_events=True,
        )
        run(sink, factory.make("01_direct_tool_use.json"))
        span = only(span_exporter)
        assert "gen_ai.output.messages" not in (span.attributes or {})
        assert "gen_ai.tool.call.arguments" not in (span.events[0].attributes or {})
        assert (span.attributes or {})["gen_ai.usage.output_tokens"] == 71

    def test_event_only_from_the_environment(
        self, tracer_provider, meter_provider, span_exporter, factory, monkeypatch
    ):
        """EVENT_ONLY puts the content on a gen_ai.client.inference.operation.details event, not the span."""
        monkeypatch.setenv(
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "EVENT_ONLY"
        )
        sink = OTelSink(tracer_provider, meter_provider)
        run(
            sink, factory.make("09_stream_plain_text.sse", request_content=REQUEST_BODY)
        )
        span = only(span_exporter)
        assert "gen_ai.output.messages" not in (span.attributes or {})
        (event,) = [
            e
            for e in span.events
            if e.name == "gen_ai.client.inference.operation.details"
        ]
        assert json.loads(attributes(event)["gen_ai.output.messages"])[0]["parts"][0][
            "content"
        ].startswith("Programmatic tool calling")

    def test_tool_result_on_the_inferred_span(
        self, tracer_provider, meter_provider, span_exporter, factory, correlator
    ):
        """With capture on, the inferred execute_tool span carries the result text the app sent."""
        sink = OTelSink(
            tracer_provider,
            meter_provider,
            capture_content=True,
            infer_tool_spans=True,
        )
        run(sink, factory.make("01_direct_tool_use.json"), correlator)
        body = {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "toolu_01Tb5RzQm8KcVw3hN2xJp7Ly",
                            "content": "42 in stock",
                        }
                    ],
                }
            ]
        }
        run(
            sink,
            factory.make(
                "09_stream_plain_text.sse",
                tool_results=[result("toolu_01Tb5RzQm8KcVw3hN2xJp7Ly")],
                request_content=body,
            ),
            correlator,
        )
        assert (
            attributes(only(span_exporter, "execute_tool"))["gen_ai.tool.call.result"]
            == "42 in stock"
        )

    @pytest.mark.parametrize("capture", [False, True])
    def test_inferred_span_has_description_and_arguments(
        self,
        tracer_provider,
        meter_provider,
        span_exporter,
        factory,
        correlator,
        capture,
    ):
        """gen_ai.tool.description from the request's tools, arguments from its history: capture only."""
        sink = OTelSink(
            tracer_provider,
            meter_provider,
            capture_content=capture,
            infer_tool_spans=True,
        )
        run(sink, factory.make("01_direct_tool_use.json"), correlator)
        call_id = "toolu_01Tb5RzQm8KcVw3hN2xJp7Ly"
        arguments = {"sku": "LMP-2290", "warehouse": "reno"}
        body = {
            "messages": [
                {"role": "user", "content": "stock?"},
                {
                    "role": "assistant",
                    "content": [
                        {
                            "type": "tool_use",
                            "id": call_id,
                            "name": "get_inventory",
                            "input": arguments,
                        }
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": call_id, "content": "42"}
                    ],
                },
            ]
        }
        declared = ToolDeclaration(
            "get_inventory", None, (), "Units in stock of a SKU in a warehouse."
        )
        run(
            sink,
            factory.make(
                "09_stream_plain_text.sse",
                tool_results=[result(call_id)],
                tools=[declared],
                request_content=body if capture else None,
            ),
            correlator,
        )
        attrs = attributes(only(span_exporter, "execute_tool"))
        # The developer's tool text is content (docs/security.md): capture only.
        if capture:
            assert (
                attrs["gen_ai.tool.description"]
                == "Units in stock of a SKU in a warehouse."
            )
            assert json.loads(attrs["gen_ai.tool.call.arguments"]) == arguments
        else:
            assert "gen_ai.tool.description" not in attrs
            assert "gen_ai.tool.call.arguments" not in attrs


class TestUnderTheSDKSpan:
    """The official SDK's ``anthropic.messages.create`` span is the inference span when present."""

    @pytest.fixture
    def sdk_span(self, tracer_provider):
        """A span as the SDK makes it (its tracer scope and span name), under an app span."""
        app = tracer_provider.get_tracer("app").start_span("agent")
        sdk_tracer = tracer_provider.get_tracer("com.anthropic.sdk.python", "2.12.0")
        span = sdk_tracer.start_span(
            "anthropic.messages.create",
            context=set_span_in_context(app),
            kind=SpanKind.CLIENT,
        )
        yield span
        span.end()
        app.end()

    def test_attempt_mode(
        self,
        tracer_provider,
        meter_provider,
        span_exporter,
        factory,
        correlator,
        sdk_span,
    ):
        """Default: ours is a plain HTTP attempt span below it (no gen_ai.*) with the ptc.* facts; the SDK span stays as the SDK made it."""
        sink = OTelSink(tracer_provider, meter_provider, tool_call_events=True)
        ex = run(
            sink,
            factory.make(
                "02_ptc_turn1_response.json",
                parent_context=set_span_in_context(sdk_span),
                retry_count=1,
                request_extra={"url": "https://api.anthropic.com/v1/messages"},
            ),
            correlator,
        )
        attempt = only(span_exporter, "POST")
        assert attempt.name == "POST /v1/messages" and attempt.kind is SpanKind.CLIENT
        assert (
            attempt.parent is not None
            and attempt.parent.span_id == sdk_span.get_span_context().span_id
        )
        attrs = dict(attempt.attributes or {})
        assert not [k for k in attrs if k.startswith("gen_ai.")]
        assert attrs == {
            "http.request.method": "POST",
            "url.path": "/v1/messages",
            "url.full": "https://api.anthropic.com/v1/messages",
            "server.address": "api.anthropic.com",
            "server.port": 443,
            "http.request.resend_count": 1,
            "http.response.status_code": 200,
            "anthropic.request.id": "req_011CZqA7Nd3Wk8Hs2Lq5TxVb",
            "ptc.outcome": "ok",
            "ptc.tool_calls.direct": 0,
            "ptc.tool_calls.programmatic": 1,
            "ptc.server_tool_calls.direct": 1,
            "ptc.server_tool_calls.programmatic": 0,
            "ptc.container.id": C,
            "ptc.container.expires_at": "2026-08-21T09:18:37.318204+00:00",
            "ptc.container.reused": False,
        }
        assert [e.name for e in attempt.events] == ["ptc.tool_call"]
        sdk_span.end()
        sdk = only(span_exporter, "anthropic.messages.create")
        assert dict(sdk.attributes or {}) == {}  # not a single attribute of ours
        assert ex.span_id == attempt.context.span_id

    def test_enrich_mode(
        self,
        tracer_provider,
        meter_provider,
        span_exporter,
        factory,
        correlator,
        sdk_span,
    ):
        """enrich: no span of ours; the facts, tool-call events and links go on the SDK span."""
        sink = OTelSink(
            tracer_provider,
            meter_provider,
            sdk_span_mode="enrich",
            infer_tool_spans=True,
            tool_call_events=True,
        )
        ctx = set_span_in_context(sdk_span)
        first = run(
            sink,
            factory.make("02_ptc_turn1_response.json", parent_context=ctx),
            correlator,
        )
        factory.advance(2)
        second = run(
            sink,
            factory.make(
                "03_ptc_resume_response.json",
                container_id=C,
                tool_results=[result(TURN1_CALL)],
                parent_context=ctx,
            ),
            correlator,
        )
        sdk_span.end()
        assert spans(span_exporter, "POST") == [] and spans(span_exporter, "chat") == []
        sdk = only(span_exporter, "anthropic.messages.create")
        assert (sdk.attributes or {})[
            "ptc.container.reused"
        ] is True  # the last exchange's facts
        assert [e.name for e in sdk.events] == ["ptc.tool_call", "ptc.tool_call"]
        assert first.span_id == second.span_id == sdk.context.span_id
        # The inferred tool span sits under the application's span (the SDK span's parent).
        tool = only(span_exporter, "execute_tool")
        assert (
            tool.parent is not None
            and sdk.parent is not None
            and tool.parent.span_id == sdk.parent.span_id
        )

    def test_enrich_falls_back_when_the_sdk_span_ended(
        self, tracer_provider, meter_provider, span_exporter, factory, sdk_span
    ):
        """A stream closed early ends the SDK span before we finish: an attempt span keeps the facts."""
        sink = OTelSink(tracer_provider, meter_provider, sdk_span_mode="enrich")
        sdk_span.end()
        run(
            sink,
            factory.make(
                "09_stream_plain_text.sse",
                cut_after=900,
                closed_early=True,
                parent_context=set_span_in_context(sdk_span),
            ),
        )
        attempt = only(span_exporter, "POST")
        assert (attempt.attributes or {})["ptc.stream.complete"] is False

    def test_other_parents_get_a_chat_span(
        self, otel_sink, span_exporter, factory, tracer_provider
    ):
        """A span of another scope or name is no SDK call span: ours stays the chat span."""
        other = tracer_provider.get_tracer("com.anthropic.sdk.python").start_span(
            "anthropic.messages.tool_runner"
        )
        run(
            otel_sink,
            factory.make(
                "01_direct_tool_use.json", parent_context=set_span_in_context(other)
            ),
        )
        other.end()
        assert only(span_exporter, "chat").parent is not None

    def test_invalid_mode(self):
        """sdk_span_mode is checked."""
        with pytest.raises(ValueError, match="sdk_span_mode"):
            OTelSink(sdk_span_mode="duplicate")  # type: ignore[arg-type]


class TestDecidedOnce:
    def test_span_names_and_fixed_attributes_per_model(
        self, otel_sink, span_exporter, factory
    ):
        """The name and model/server attributes decided once per combination follow each
        exchange's own model, and their memory stays bounded under any number of models."""
        from ptc_observe.observer.sinks import _otel_attributes

        for i in range(1_500):
            otel_sink.trace(factory.make("01_direct_tool_use.json", model=f"m-{i}"))
        assert len(_otel_attributes._BASE) <= _otel_attributes._BASE_MAX
        done = span_exporter.get_finished_spans()
        assert [s.name for s in done[-2:]] == ["chat m-1498", "chat m-1499"]
        assert [attributes(s)["gen_ai.request.model"] for s in done[-2:]] == [
            "m-1498",
            "m-1499",
        ]
        otel_sink.trace(factory.make("01_direct_tool_use.json"))
        last = span_exporter.get_finished_spans()[-1]
        assert last.name == f"chat {MODEL}"
        assert attributes(last)["server.address"] == "api.anthropic.com"


class TestFreshRecords:
    def test_trace_copies_and_trace_fresh_writes_in_place(self, otel_sink, factory):
        """``trace`` leaves the record it was given as it was; ``trace_fresh`` (the
        pipeline's, for a record nothing else holds) writes the span's ids into it."""
        ex = factory.make("02_ptc_turn1_response.json", tools=PTC_TOOLS)
        copied = otel_sink.trace(ex)
        assert copied is not ex
        assert ex.trace_id is None and copied.trace_id is not None
        fresh = factory.make("02_ptc_turn1_response.json", tools=PTC_TOOLS)
        assert otel_sink.trace_fresh(fresh) is fresh
        assert fresh.trace_id is not None and fresh.span_id is not None

    def test_the_pipeline_calls_trace_fresh(self, otel_sink):
        """sink_hooks picks ``trace_fresh`` over ``trace`` where a sink has both."""
        from ptc_observe.observer.sinks import sink_hooks

        (tracer,) = sink_hooks([otel_sink]).trace
        assert tracer == otel_sink.trace_fresh
