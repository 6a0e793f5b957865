"""Observer: built-in sinks, the pipeline (correlate -> trace -> fan out), guarded stages."""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

import anthropic
import httpx2
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from prometheus_client import CollectorRegistry

from ptc_observe import Exchange, Limits, Observer, Outcome
from ptc_observe.observer.sinks.otel import OTelSink
from ptc_observe.observer.sinks.prometheus import PrometheusSink
from ptc_observe.testing import MemorySink, capture_exchanges

MODEL = "claude-sonnet-4-6"
PARAMS: dict[str, Any] = {
    "model": MODEL,
    "max_tokens": 1024,
    "messages": [{"role": "user", "content": "Compare Q2 revenue."}],
}


def call(observer: Observer, script: Any, **params: Any) -> Any:
    """One SDK call through ``observer`` answered by ``script``."""
    transport = observer.transport(script.transport())
    with anthropic.Anthropic(
        api_key="sk-ant-test",
        base_url="http://api.test",
        http_client=httpx2.Client(transport=transport),
    ) as client:
        return client.messages.create(**{**PARAMS, **params})


def bare(*sinks: Any, **kw: Any) -> Observer:
    return Observer(sinks=list(sinks), prometheus=False, opentelemetry=False, **kw)


class Tracer:
    """A tracer stage: stamps ids and remembers what it saw."""

    def __init__(self) -> None:
        self.seen: list[Exchange] = []

    def trace(self, exchange: Exchange) -> Exchange:
        self.seen.append(exchange)
        return dataclasses.replace(exchange, trace_id=0xABC, span_id=0xDEF)

    def on_exchange(self, exchange: Exchange) -> None:
        pass


class Broken:
    """A sink whose every hook fails."""

    def __init__(self) -> None:
        self.calls = 0

    def on_exchange(self, exchange: Exchange) -> None:
        self.calls += 1
        raise RuntimeError("sink down")


class TestBuiltInSinks:
    def test_default_sinks(self) -> None:
        """Observer() reports to Prometheus and OpenTelemetry."""
        observer = Observer()
        assert [type(s) for s in observer.sinks] == [PrometheusSink, OTelSink]

    def test_switched_off_and_extra_sinks(self) -> None:
        """prometheus=False / opentelemetry=False leave only the sinks given."""
        sink = MemorySink()
        assert bare(sink).sinks == (sink,)
        observer = Observer(
            sinks=[sink], opentelemetry=False, registry=CollectorRegistry()
        )
        assert [type(s) for s in observer.sinks] == [PrometheusSink, MemorySink]

    def test_span_options_reach_the_otel_sink(self) -> None:
        """tool_call_events / infer_tool_spans are off by default and passed on when set."""
        (default,) = Observer(prometheus=False).sinks
        assert isinstance(default, OTelSink)
        assert not default.tool_call_events and not default.infer_tool_spans
        (sink,) = Observer(
            prometheus=False, tool_call_events=True, infer_tool_spans=True
        ).sinks
        assert isinstance(sink, OTelSink)
        assert sink.tool_call_events and sink.infer_tool_spans

    def test_not_a_sink(self) -> None:
        """An object without on_exchange is refused at construction."""
        with pytest.raises(TypeError, match="on_exchange"):
            bare(object())

    def test_providers_and_registry_are_passed_on(
        self,
        make_script: Any,
        prom_registry: CollectorRegistry,
        tracer_provider: TracerProvider,
        meter_provider: MeterProvider,
        span_exporter: InMemorySpanExporter,
        metric_reader: InMemoryMetricReader,
        fixtures: Any,
    ) -> None:
        """The built-in sinks use the given registry and providers; sinks see the span ids."""
        sink = MemorySink()
        observer = Observer(
            sinks=[sink],
            registry=prom_registry,
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
        )
        body = json.loads(fixtures.bytes("02_ptc_turn1_response.json"))
        body["container"]["expires_at"] = "2099-01-01T00:00:00Z"  # still alive
        script = make_script(httpx2).add(
            200, {"content-type": "application/json"}, [json.dumps(body).encode()]
        )
        call(observer, script)
        labels = {"gen_ai_operation_name": "chat", "gen_ai_request_model": MODEL}
        count = [
            s.value
            for m in prom_registry.collect()
            for s in m.samples
            if s.name == "gen_ai_client_operation_duration_seconds_count"
            and labels.items() <= s.labels.items()
        ]
        assert count == [1.0]
        assert prom_registry.get_sample_value("ptc_containers_active") == 1.0
        (span,) = [
            s for s in span_exporter.get_finished_spans() if s.name == f"chat {MODEL}"
        ]
        data = metric_reader.get_metrics_data()
        assert data is not None
        names = {
            m.name
            for rm in data.resource_metrics
            for sm in rm.scope_metrics
            for m in sm.metrics
        }
        assert "gen_ai.client.operation.duration" in names
        ex = sink.last
        assert span.context is not None
        assert (ex.trace_id, ex.span_id) == (
            span.context.trace_id,
            span.context.span_id,
        )


class TestPipeline:
    def test_order_is_correlate_trace_fan_out(self, make_script: Any) -> None:
        """Tracers see the correlated exchange; sinks see the traced one."""
        tracer, sink = Tracer(), MemorySink()
        observer = bare(
            sink, tracer
        )  # a tracer runs before every on_exchange, whatever its place
        call(observer, make_script(httpx2).fixture("02_ptc_turn1_response.json"))
        (seen,) = tracer.seen
        assert seen.container is not None and seen.container.created
        assert seen.trace_id is None
        assert (sink.last.trace_id, sink.last.span_id) == (0xABC, 0xDEF)
        assert sink.last.container == seen.container

    @pytest.mark.parametrize(
        "stage",
        [
            pytest.param("correlate", id="correlator"),
            pytest.param("trace", id="tracer"),
            pytest.param("sink", id="sink"),
        ],
    )
    def test_a_failing_stage_is_counted_and_contained(
        self, stage: str, make_script: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Whichever stage raises, the call succeeds, later stages run, the failure is counted."""
        sink, errors = MemorySink(), MemorySink()
        extra: list[Any] = []
        if stage == "trace":

            class BadTracer(Tracer):
                def trace(self, exchange: Exchange) -> Exchange:
                    raise RuntimeError("tracer down")

            extra.append(BadTracer())
        elif stage == "sink":
            extra.append(Broken())
        observer = bare(*extra, sink)
        observer_errors: list[str] = []
        monkeypatch.setattr(
            observer,
            "_error_receivers",
            (errors.on_telemetry_error, observer_errors.append),
        )
        if stage == "correlate":

            def boom(ex: Exchange) -> Exchange:
                raise RuntimeError("correlator down")

            monkeypatch.setattr(observer.correlator, "correlate", boom)
        message = call(observer, make_script(httpx2).fixture("01_direct_tool_use.json"))
        assert message.id == "msg_011CZq6pW2dGh7sLx4RrTe9N"
        assert sink.last.outcome is Outcome.OK
        assert dict(observer.telemetry_errors) == {stage: 1}
        assert errors.telemetry_errors == [stage] and observer_errors == [stage]

    def test_prometheus_counts_telemetry_errors(
        self, make_script: Any, prom_registry: CollectorRegistry
    ) -> None:
        """The Prometheus sink hears of telemetry errors (ptc_telemetry_errors_total)."""
        observer = Observer(
            sinks=[Broken()], registry=prom_registry, opentelemetry=False
        )
        call(observer, make_script(httpx2).fixture("01_direct_tool_use.json"))
        assert (
            prom_registry.get_sample_value(
                "ptc_telemetry_errors_total", {"stage": "sink"}
            )
            == 1.0
        )

    def test_failing_error_receiver_does_not_loop(self, make_script: Any) -> None:
        """A sink whose on_telemetry_error raises is tolerated."""

        class Worse(Broken):
            def on_telemetry_error(self, stage: str) -> None:
                raise RuntimeError("also down")

        observer = bare(Worse())
        call(observer, make_script(httpx2).fixture("01_direct_tool_use.json"))
        assert dict(observer.telemetry_errors) == {"sink": 1}

    def test_debug_log_is_rate_limited(
        self, make_script: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Repeated failures of one kind log once (at debug), and are all counted."""
        broken = Broken()
        observer = bare(broken)
        script = make_script(httpx2).fixture("01_direct_tool_use.json", repeat=True)
        with caplog.at_level(logging.DEBUG, logger="ptc_observe"):
            for _ in range(5):
                call(observer, script)
        records = [r for r in caplog.records if "telemetry error" in r.getMessage()]
        assert len(records) == 1 and records[0].levelno == logging.DEBUG
        assert records[0].exc_info is not None
        assert broken.calls == 5 and observer.telemetry_errors["sink"] == 5

    def test_failing_container_listener(self, make_script: Any) -> None:
        """A sink failing on on_container_ended is counted; the call goes on."""

        class Listener(MemorySink):
            def on_container_ended(self, ended: Any) -> None:
                raise RuntimeError("listener down")

        sink = Listener()
        observer = bare(sink, limits=Limits(max_containers=1))
        script = make_script(httpx2)
        script.fixture("02_ptc_turn1_response.json")
        script.fixture("05_ptc_multiple_calls_response.json")
        call(observer, script)
        call(observer, script)
        assert len(sink.exchanges) == 2
        assert dict(observer.telemetry_errors) == {"sink": 1}

    def test_tracer_returning_nothing_is_ignored(self, make_script: Any) -> None:
        """A tracer that returns no exchange leaves the exchange as it was."""

        class Lazy(Tracer):
            def trace(self, exchange: Exchange) -> Exchange:
                return None  # type: ignore[return-value]

        sink = MemorySink()
        observer = bare(Lazy(), sink)
        call(observer, make_script(httpx2).fixture("01_direct_tool_use.json"))
        assert sink.last.outcome is Outcome.OK and sink.last.trace_id is None
        assert dict(observer.telemetry_errors) == {}

    def test_repr_and_limits(self) -> None:
        """The observer shows its sinks and the limits in force."""
        limits = Limits(max_containers=5)
        observer = bare(MemorySink(), limits=limits)
        assert repr(observer) == "<Observer sinks=[MemorySink]>"
        assert observer.limits is limits and observer.redact is None

    def test_telemetry_errors_is_read_only(self) -> None:
        """telemetry_errors is a read-only view."""
        with pytest.raises(TypeError):
            bare().telemetry_errors["sink"] = 1  # type: ignore[index]

    def test_container_ended_reaches_sinks(self, make_script: Any) -> None:
        """Containers the correlator lets go are announced to sinks that listen."""
        sink = MemorySink()
        observer = bare(sink, limits=Limits(max_containers=1))
        script = make_script(httpx2)
        script.fixture("02_ptc_turn1_response.json").fixture(
            "05_ptc_multiple_calls_response.json"
        )
        call(observer, script)
        call(observer, script)
        (ended,) = sink.containers_ended
        assert (ended.id, ended.reason) == (
            "container_011CZq7TfRmB3vKx9NwPd2Lh",
            "evicted",
        )


class TestContent:
    def test_capture_from_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """capture_content=None follows the GenAI variable; an explicit value wins."""
        monkeypatch.setenv(
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "SPAN_ONLY"
        )
        assert bare().capture_content is True
        assert bare(capture_content=False).capture_content is False
        monkeypatch.setenv(
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "NO_CONTENT"
        )
        assert bare().capture_content is False
        monkeypatch.delenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT")
        assert bare().capture_content is False

    def test_redacted_request_content(self, make_script: Any) -> None:
        """With capture on, sinks get the request content after the redaction hook."""
        sink = MemorySink()

        def redact(body: Any) -> Any:
            return {**body, "messages": "[redacted]"}

        observer = bare(sink, capture_content=True, redact=redact)
        call(observer, make_script(httpx2).fixture("01_direct_tool_use.json"))
        content = sink.last.request.content
        assert content["messages"] == "[redacted]" and content["model"] == MODEL
        assert "Compare Q2" not in json.dumps(content)

    def test_no_content_by_default(
        self, make_script: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without capture, no request content is kept."""
        monkeypatch.delenv(
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", raising=False
        )
        sink = MemorySink()
        call(bare(sink), make_script(httpx2).fixture("01_direct_tool_use.json"))
        assert sink.last.request.content is None


class TestTesting:
    def test_capture_exchanges_sees_every_observer(self, make_script: Any) -> None:
        """capture_exchanges() collects from all observers, only inside the block."""
        script = make_script(httpx2).fixture("01_direct_tool_use.json", repeat=True)
        with capture_exchanges() as exchanges:
            call(bare(), script)
            call(bare(MemorySink()), script)
        call(bare(), script)
        assert [ex.outcome for ex in exchanges] == [Outcome.OK, Outcome.OK]
        assert exchanges[0].id < exchanges[1].id

    def test_memory_sink(self, make_script: Any) -> None:
        """MemorySink keeps exchanges in order, and clear() forgets them."""
        sink = MemorySink()
        with pytest.raises(IndexError):
            _ = sink.last
        call(bare(sink), make_script(httpx2).fixture("01_direct_tool_use.json"))
        assert len(sink) == 1 and sink.last is sink.exchanges[0]
        sink.clear()
        assert len(sink) == 0 and repr(sink) == "<MemorySink exchanges=0>"
