"""The spans of run(): ptc.run over exact execute_tool spans and the HTTP exchanges."""

from __future__ import annotations

import json
import threading

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from ptc_observe.client.errors import BadRequestError
from ptc_observe.observer import Observer

from .helpers import Harness, error, ok, sales_registry


def by_name(spans: tuple[ReadableSpan, ...], prefix: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name.startswith(prefix)]


def code_execution_spans(spans: tuple[ReadableSpan, ...]) -> list[ReadableSpan]:
    """The observer's span per code execution (``execute_tool code_execution``)."""
    return [
        s
        for s in by_name(spans, "execute_tool")
        if "ptc.code_execution.start_observed" in (s.attributes or {})
    ]


def exact_tool_spans(spans: tuple[ReadableSpan, ...]) -> list[ReadableSpan]:
    """The client's execute_tool spans; the observer adds no inferred ones under a run."""
    tools = by_name(spans, "execute_tool")
    assert not [s for s in tools if (s.attributes or {}).get("ptc.tool.inferred")]
    code = code_execution_spans(spans)
    return [s for s in tools if s not in code]


def parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


class TestRunSpans:
    def test_run_tool_and_exchange_spans(
        self, harness: Harness, span_exporter: InMemorySpanExporter
    ) -> None:
        """One INTERNAL ptc.run span; each handler call an execute_tool child; each HTTP exchange a child too."""
        observer = Observer(
            sinks=[harness.sink],
            prometheus=False,
            tracer_provider=harness.tracer_provider,
        )
        client = harness.client(
            [ok("05"), ok("04")], tools=sales_registry(), observer=observer
        )
        harness.call(client.run, "Q2")
        # These fixtures' final reply carries the result of another code execution id:
        # the calls' code execution is still open; close() ends it (as at shutdown).
        observer.close()
        spans = span_exporter.get_finished_spans()

        (run,) = by_name(spans, "ptc.run")
        assert run.kind is SpanKind.INTERNAL
        assert run.parent is None
        assert run.status.status_code is StatusCode.UNSET
        attrs = dict(run.attributes or {})
        assert attrs["ptc.run.rounds"] == 2
        assert attrs["ptc.tool_calls.programmatic"] == 3
        assert attrs["ptc.tool_calls.direct"] == 0
        assert attrs["ptc.container.id"] == "container_011CZq8AqT5nVm2Wc9Lx4RhB"
        assert attrs["gen_ai.request.model"] == "claude-sonnet-4-6"

        tools = exact_tool_spans(spans)
        assert [s.name for s in tools] == ["execute_tool query_sales"] * 3
        assert sorted(
            str(dict(s.attributes or {})["gen_ai.tool.call.id"]) for s in tools
        ) == sorted(
            [
                "toolu_01Ee4Vq8Bn2Xk6Rw9Lt3HcPa",
                "toolu_01Gm7Ts1Jd5Yq3Np8Wz6KbRe",
                "toolu_01Cr3Hx6Lk9Vb2Ft5Qm8NwZs",
            ]
        )
        for span in tools:
            assert span.kind is SpanKind.INTERNAL
            assert parent_id(span) == run.context.span_id
            assert span.context.trace_id == run.context.trace_id
            a = dict(span.attributes or {})
            assert a["gen_ai.operation.name"] == "execute_tool"
            assert a["gen_ai.tool.name"] == "query_sales"
            assert a["gen_ai.tool.type"] == "function"
            assert a["ptc.caller.type"] == "code_execution_20260120"
            assert a["ptc.caller.tool_id"] == "srvtoolu_01Ax9LqW3eRt6YbN2mKc8VhZ"
            assert "error.type" not in a
            assert span.start_time is not None and span.end_time is not None
            assert run.start_time is not None and run.end_time is not None
            assert run.start_time <= span.start_time <= span.end_time <= run.end_time
        # The code execution that made the calls: one span under the run, over both
        # exchanges, counting its three calls.
        # The code execution that made the calls: one span under the run, counting its
        # three calls.
        code_spans = {
            dict(s.attributes or {})["gen_ai.tool.call.id"]: s
            for s in code_execution_spans(spans)
        }
        code = code_spans["srvtoolu_01Ax9LqW3eRt6YbN2mKc8VhZ"]
        assert parent_id(code) == run.context.span_id
        code_attrs = dict(code.attributes or {})
        assert code_attrs["ptc.code_execution.tool_calls"] == 3
        assert code_attrs["ptc.code_execution.start_observed"] is True
        assert code.start_time is not None and run.start_time is not None
        assert code.end_time is not None and run.end_time is not None
        assert run.start_time <= code.start_time <= code.end_time <= run.end_time

        exchanges = [s for s in spans if s.kind is SpanKind.CLIENT]
        assert len(exchanges) == 2
        assert all(parent_id(s) == run.context.span_id for s in exchanges)

    def test_failed_tool_span(
        self, harness: Harness, span_exporter: InMemorySpanExporter
    ) -> None:
        """A raising handler's span has error.type (the exception class) and status ERROR; the direct caller is recorded."""

        def get_inventory(sku: str, warehouse: str) -> str:
            raise KeyError(sku)

        registry = sales_registry()
        registry.register(registry.get("get_inventory"), get_inventory, replace=True)
        client = harness.client([ok("01"), ok("04")], tools=registry)
        harness.call(client.run, "stock?")
        (span,) = exact_tool_spans(span_exporter.get_finished_spans())
        a = dict(span.attributes or {})
        assert a["error.type"] == "KeyError"
        assert a["ptc.caller.type"] == "direct"
        assert "ptc.caller.tool_id" not in a
        assert span.status.status_code is StatusCode.ERROR
        assert [e.name for e in span.events] == ["exception"]

    def test_handler_spans_nest_under_execute_tool(
        self, harness: Harness, span_exporter: InMemorySpanExporter
    ) -> None:
        """Spans a handler starts (in its worker thread) are children of its execute_tool span."""
        tracer = harness.tracer_provider.get_tracer("app")
        threads: list[str] = []

        def query_sales(sql: str) -> str:
            threads.append(threading.current_thread().name)
            with tracer.start_as_current_span("db.query"):
                return "[]"

        client = harness.client([ok("02"), ok("04")], tools=sales_registry(query_sales))
        harness.call(client.run, "Q2")
        spans = span_exporter.get_finished_spans()
        (db,) = by_name(spans, "db.query")
        (tool,) = exact_tool_spans(spans)
        assert parent_id(db) == tool.context.span_id

    def test_failed_run_span(
        self, harness: Harness, span_exporter: InMemorySpanExporter
    ) -> None:
        """A run that fails ends its span with status ERROR and the API error type."""
        client = harness.client(
            [error(400, "invalid_request_error", "bad")], tools=sales_registry()
        )
        exc = harness.raises(client.run, "Q2")
        assert isinstance(exc, BadRequestError)
        (run,) = by_name(span_exporter.get_finished_spans(), "ptc.run")
        assert run.status.status_code is StatusCode.ERROR
        assert dict(run.attributes or {})["error.type"] == "invalid_request_error"

    def test_run_span_under_the_callers_span(
        self, harness: Harness, span_exporter: InMemorySpanExporter
    ) -> None:
        """The run span is a child of whatever span is current when run() is called."""
        tracer = harness.tracer_provider.get_tracer("app")
        client = harness.client([ok("04")], tools=sales_registry())

        def sync_call() -> None:
            with tracer.start_as_current_span("request"):
                client.run("Q2")

        async def async_call() -> None:
            with tracer.start_as_current_span("request"):
                await client.run("Q2")

        harness.call(async_call if harness.mode.is_async else sync_call)
        spans = span_exporter.get_finished_spans()
        (outer,) = by_name(spans, "request")
        (run,) = by_name(spans, "ptc.run")
        assert parent_id(run) == outer.context.span_id

    def test_no_spans_without_observation(
        self, harness: Harness, span_exporter: InMemorySpanExporter
    ) -> None:
        """observe=False makes no spans at all."""
        client = harness.client(
            [ok("02"), ok("04")], tools=sales_registry(), observe=False
        )
        harness.call(client.run, "Q2")
        assert span_exporter.get_finished_spans() == ()
        assert trace.get_current_span() is trace.INVALID_SPAN

    def test_kill_switch_silences_the_run(
        self,
        harness: Harness,
        span_exporter: InMemorySpanExporter,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """PTC_OBSERVE_DISABLED=1: no run or tool spans, and the transport passes through."""
        monkeypatch.setenv("PTC_OBSERVE_DISABLED", "1")
        client = harness.client([ok("02"), ok("04")], tools=sales_registry())
        result = harness.call(client.run, "Q2")
        assert result.summary.tool_calls["programmatic"] == 1
        assert span_exporter.get_finished_spans() == ()
        assert harness.sink.exchanges == []


class TestToolSpanConventions:
    @pytest.mark.parametrize("capture", [False, True])
    def test_description_and_arguments(
        self,
        harness: Harness,
        span_exporter: InMemorySpanExporter,
        capture: bool,
    ) -> None:
        """gen_ai.tool.description from the tool's spec and gen_ai.tool.call.arguments: content, with capture only, redacted."""
        observer = Observer(
            sinks=[harness.sink],
            prometheus=False,
            tracer_provider=harness.tracer_provider,
            capture_content=capture,
            redact=lambda value: (
                {**value, "warehouse": "[redacted]"}
                if isinstance(value, dict) and "warehouse" in value
                else value
            ),
        )
        client = harness.client(
            [ok("01"), ok("04")], tools=sales_registry(), observer=observer
        )
        harness.call(client.run, "stock?")
        (span,) = exact_tool_spans(span_exporter.get_finished_spans())
        a = dict(span.attributes or {})
        if capture:
            assert (
                a["gen_ai.tool.description"] == "Stock level of a SKU in a warehouse."
            )
            assert json.loads(str(a["gen_ai.tool.call.arguments"])) == {
                "sku": "LMP-2290",
                "warehouse": "[redacted]",
            }
        else:
            assert "gen_ai.tool.description" not in a
            assert "gen_ai.tool.call.arguments" not in a
