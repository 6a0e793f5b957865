"""The Prometheus sink: exact series values for every fixture and for PTC runs."""

# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import set_span_in_context
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import (
    generate_latest as generate_openmetrics,
)

from ptc_observe.events import Exchange, Outcome, RateLimit
from ptc_observe.observer.correlator import Correlator, Limits
from ptc_observe.observer.sinks.prometheus import PrometheusSink

from .factory import MODEL, PTC_TOOLS, RATE_LIMITS, ExchangeFactory, result

C = "container_011CZq7TfRmB3vKx9NwPd2Lh"
GENAI = {
    "gen_ai_operation_name": "chat",
    "gen_ai_provider_name": "anthropic",
    "gen_ai_request_model": MODEL,
    "gen_ai_response_model": MODEL,
}
OK = {**GENAI, "error_type": ""}


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    """One sample's value (None when the series does not exist)."""
    return registry.get_sample_value(name, labels)


def histogram(registry: CollectorRegistry, name: str, **labels: str) -> tuple[Any, Any]:
    """(count, sum) of one histogram series."""
    return value(registry, f"{name}_count", **labels), value(
        registry, f"{name}_sum", **labels
    )


# Expected per JSON fixture: uncached input, output, client tool calls, server tool calls.
JSON_CASES = [
    pytest.param("01_direct_tool_use.json", 912, 71, {("get_inventory", "direct"): 1}, {}, id="01-direct"),
    pytest.param(
        "02_ptc_turn1_response.json", 1874, 246,
        {("query_sales", "programmatic"): 1}, {"code_execution": 1}, id="02-ptc-turn1",
    ),
    pytest.param("03_ptc_resume_response.json", 0, 0, {("query_sales", "programmatic"): 1}, {}, id="03-resume"),
    pytest.param("04_ptc_final_response.json", 2311, 58, {}, {}, id="04-final"),
    pytest.param(
        "05_ptc_multiple_calls_response.json", 1890, 301,
        {("query_sales", "programmatic"): 3}, {"code_execution": 1}, id="05-parallel",
    ),
]  # fmt: skip


class TestFixtures:
    @pytest.mark.parametrize(
        ("fixture", "uncached", "output", "calls", "server"), JSON_CASES
    )
    def test_json_response(
        self,
        prom_registry,
        prom_sink,
        factory,
        fixture,
        uncached,
        output,
        calls,
        server,
    ):
        """A complete JSON exchange: outcome, duration, token histograms and counters, tool calls."""
        prom_sink.on_exchange(factory.make(fixture))
        r = prom_registry
        assert (
            value(
                r,
                "ptc_exchanges_total",
                gen_ai_request_model=MODEL,
                stream="false",
                outcome="ok",
            )
            == 1
        )
        assert histogram(r, "gen_ai_client_operation_duration_seconds", **OK) == (
            1,
            1.5,
        )
        assert (
            value(r, "gen_ai_client_operation_duration_seconds_bucket", **OK, le="1.28")
            == 0
        )
        assert (
            value(r, "gen_ai_client_operation_duration_seconds_bucket", **OK, le="2.56")
            == 1
        )
        tokens_in = histogram(
            r, "gen_ai_client_token_usage", **GENAI, gen_ai_token_type="input"
        )
        tokens_out = histogram(
            r, "gen_ai_client_token_usage", **GENAI, gen_ai_token_type="output"
        )
        assert tokens_in == (1, uncached) and tokens_out == (1, output)
        assert (
            value(
                r,
                "ptc_tokens_total",
                gen_ai_request_model=MODEL,
                token_kind="input",
            )
            == uncached
        )
        assert (
            value(
                r,
                "ptc_tokens_total",
                gen_ai_request_model=MODEL,
                token_kind="output",
            )
            == output
        )
        for kind in ("cache_read", "cache_write"):
            assert (
                value(
                    r,
                    "ptc_tokens_total",
                    gen_ai_request_model=MODEL,
                    token_kind=kind,
                )
                == 0
            )
        for (tool, caller), n in calls.items():
            assert (
                value(r, "ptc_tool_calls_total", gen_ai_tool_name=tool, caller=caller)
                == n
            )
        assert sum(
            s.value
            for m in r.collect()
            if m.name == "ptc_tool_calls"
            for s in m.samples
            if s.name.endswith("_total")
        ) == sum(calls.values())
        for tool, n in server.items():
            assert (
                value(
                    r,
                    "ptc_server_tool_calls_total",
                    gen_ai_tool_name=tool,
                    caller="direct",
                )
                == n
            )
        expected_success = 1 if fixture.startswith("04") else 0
        executions = {"gen_ai_tool_name": "code_execution"}
        assert (
            value(r, "ptc_code_executions_total", **executions, outcome="success")
            == expected_success
        )
        assert value(r, "ptc_code_executions_total", **executions, outcome="error") == 0
        # No stream: no time to first chunk; no failure: no error series.
        assert (
            value(r, "gen_ai_client_operation_time_to_first_chunk_seconds_count", **OK)
            is None
        )
        assert (
            value(r, "ptc_errors_total", gen_ai_request_model=MODEL, error_type="")
            is None
        )

    @pytest.mark.parametrize(
        ("fixture", "uncached", "output"),
        [
            pytest.param("08_stream_ptc_turn1.sse", 1874, 246, id="08-stream-turn1"),
            pytest.param("09_stream_plain_text.sse", 24, 27, id="09-stream-text"),
            pytest.param(
                "10_stream_ptc_resume_prepopulated.sse", 0, 0, id="10-stream-resume"
            ),
        ],
    )
    def test_stream(self, prom_registry, prom_sink, factory, fixture, uncached, output):
        """A complete stream: stream=true, time to first chunk, cumulative usage from the last delta."""
        prom_sink.on_exchange(factory.make(fixture, duration=3.0, ttft=0.3))
        r = prom_registry
        assert (
            value(
                r,
                "ptc_exchanges_total",
                gen_ai_request_model=MODEL,
                stream="true",
                outcome="ok",
            )
            == 1
        )
        assert histogram(r, "gen_ai_client_operation_duration_seconds", **OK) == (
            1,
            3.0,
        )
        assert histogram(
            r, "gen_ai_client_operation_time_to_first_chunk_seconds", **OK
        ) == (1, pytest.approx(0.3))
        assert (
            value(
                r,
                "gen_ai_client_operation_time_to_first_chunk_seconds_bucket",
                **OK,
                le="0.32",
            )
            == 1
        )
        assert (
            value(
                r,
                "gen_ai_client_operation_time_to_first_chunk_seconds_bucket",
                **OK,
                le="0.16",
            )
            == 0
        )
        assert histogram(
            r, "gen_ai_client_token_usage", **GENAI, gen_ai_token_type="input"
        ) == (1, uncached)
        assert histogram(
            r, "gen_ai_client_token_usage", **GENAI, gen_ai_token_type="output"
        ) == (1, output)

    @pytest.mark.parametrize(
        ("fixture", "error_type", "status"),
        [
            pytest.param(
                "06_error_429_rate_limit.json", "rate_limit_error", 429, id="06-429"
            ),
            pytest.param(
                "07_error_529_overloaded.json", "overloaded_error", 529, id="07-529"
            ),
        ],
    )
    def test_error(
        self, prom_registry, prom_sink, factory, fixture, error_type, status
    ):
        """An error response: outcome error, ptc_errors_total and duration carry the error type; no tokens."""
        prom_sink.on_exchange(
            factory.make(fixture, duration=0.5, rate_limits=RATE_LIMITS)
        )
        r = prom_registry
        failed = {**GENAI, "gen_ai_response_model": "", "error_type": error_type}
        assert (
            value(
                r,
                "ptc_exchanges_total",
                gen_ai_request_model=MODEL,
                stream="false",
                outcome="error",
            )
            == 1
        )
        assert (
            value(
                r,
                "ptc_exchanges_total",
                gen_ai_request_model=MODEL,
                stream="false",
                outcome="ok",
            )
            == 0
        )
        assert (
            value(
                r, "ptc_errors_total", gen_ai_request_model=MODEL, error_type=error_type
            )
            == 1
        )
        assert histogram(r, "gen_ai_client_operation_duration_seconds", **failed) == (
            1,
            0.5,
        )
        no_response = {**GENAI, "gen_ai_response_model": ""}
        assert (
            value(
                r,
                "gen_ai_client_token_usage_count",
                **no_response,
                gen_ai_token_type="input",
            )
            is None
        )
        assert value(r, "ptc_ratelimit_remaining", resource="input_tokens") == 1998000
        assert value(r, "ptc_ratelimit_limit", resource="input_tokens") == 2000000
        assert value(r, "ptc_ratelimit_remaining", resource="requests") == 3999
        assert value(r, "ptc_ratelimit_limit", resource="tokens") == 2400000

    def test_rate_limit_gauges_follow_the_latest_response(
        self, prom_registry, prom_sink, factory
    ):
        """Each response's headers overwrite the gauges; repeats leave them as they are."""
        first = (RateLimit("requests", 4000, 3999, None),)
        later = (
            RateLimit("requests", 4000, 3998, None),
            RateLimit("tokens", None, 5, None),
        )
        for limits in (first, first, later, later):
            prom_sink.on_exchange(
                factory.make("01_direct_tool_use.json", rate_limits=limits)
            )
        assert (
            value(prom_registry, "ptc_ratelimit_remaining", resource="requests") == 3998
        )
        assert value(prom_registry, "ptc_ratelimit_limit", resource="requests") == 4000
        assert value(prom_registry, "ptc_ratelimit_remaining", resource="tokens") == 5
        assert (
            value(prom_registry, "ptc_ratelimit_limit", resource="tokens") == 0
        )  # never reported

    def test_incomplete_stream_is_a_failure(self, prom_registry, prom_sink, factory):
        """A stream cut before message_stop: outcome incomplete, error type incomplete_stream."""
        ex = factory.make("08_stream_ptc_turn1.sse", cut_after=1500, duration=2.0)
        assert ex.outcome is Outcome.INCOMPLETE
        prom_sink.on_exchange(ex)
        r = prom_registry
        failed = {**OK, "error_type": "incomplete_stream"}
        assert (
            value(
                r,
                "ptc_exchanges_total",
                gen_ai_request_model=MODEL,
                stream="true",
                outcome="incomplete",
            )
            == 1
        )
        assert (
            value(
                r,
                "ptc_errors_total",
                gen_ai_request_model=MODEL,
                error_type="incomplete_stream",
            )
            == 1
        )
        assert histogram(r, "gen_ai_client_operation_duration_seconds", **failed) == (
            1,
            2.0,
        )
        assert (
            value(
                r, "gen_ai_client_operation_time_to_first_chunk_seconds_count", **failed
            )
            == 1
        )

    def test_closed_early_is_not_a_failure(self, prom_registry, prom_sink, factory):
        """The caller closed the stream: outcome closed_early, success duration, no error."""
        prom_sink.on_exchange(
            factory.make("09_stream_plain_text.sse", cut_after=900, closed_early=True)
        )
        r = prom_registry
        assert (
            value(
                r,
                "ptc_exchanges_total",
                gen_ai_request_model=MODEL,
                stream="true",
                outcome="closed_early",
            )
            == 1
        )
        assert histogram(r, "gen_ai_client_operation_duration_seconds", **OK) == (
            1,
            1.5,
        )
        assert (
            value(
                r,
                "ptc_errors_total",
                gen_ai_request_model=MODEL,
                error_type="incomplete_stream",
            )
            is None
        )

    def test_retry(self, prom_registry, prom_sink, factory):
        """Attempts with x-stainless-retry-count > 0 count as retries."""
        prom_sink.on_exchange(factory.make("07_error_529_overloaded.json"))
        prom_sink.on_exchange(factory.make("01_direct_tool_use.json", retry_count=1))
        assert (
            value(prom_registry, "ptc_http_retries_total", gen_ai_request_model=MODEL)
            == 1
        )

    def test_cache_tokens(self, prom_registry, prom_sink, factory):
        """Cache reads and writes go to their own token types; the histogram input includes them."""
        message = factory.make("01_direct_tool_use.json").message
        assert message is not None
        usage = message.usage.model_copy(
            update={"cache_read_input_tokens": 5000, "cache_creation_input_tokens": 700}
        )
        prom_sink.on_exchange(
            factory.make(message=message.model_copy(update={"usage": usage}))
        )
        r = prom_registry
        for kind, n in (
            ("input", 912),
            ("output", 71),
            ("cache_read", 5000),
            ("cache_write", 700),
        ):
            assert (
                value(
                    r,
                    "ptc_tokens_total",
                    gen_ai_request_model=MODEL,
                    token_kind=kind,
                )
                == n
            )
        assert histogram(
            r, "gen_ai_client_token_usage", **GENAI, gen_ai_token_type="input"
        ) == (1, 912 + 5000 + 700)


def ptc_run(
    factory: ExchangeFactory, correlator: Correlator, sink: PrometheusSink
) -> list[Exchange]:
    """02 -> (2 s tool) -> 03 -> (1 s tool, an error result) -> 04, through the correlator."""
    exchanges = []
    steps = [
        ("02_ptc_turn1_response.json", None, ()),
        (
            "03_ptc_resume_response.json",
            C,
            (
                result(
                    "toolu_01Fk2YwHs9PqLm4Rt7VbZc3N",
                    48,
                    tool="query_sales",
                    programmatic=True,
                ),
            ),
        ),
        (
            "04_ptc_final_response.json",
            C,
            (
                result(
                    "toolu_01Wn6DcJ3xRv8Hq2Lt5MpYk9",
                    52,
                    is_error=True,
                    tool="query_sales",
                    programmatic=True,
                ),
            ),
        ),
    ]
    for n, ((fixture, container, results), pause) in enumerate(
        zip(steps, (2.0, 1.0, 0.0), strict=True)
    ):
        ex = correlator.correlate(
            factory.make(
                fixture,
                tools=PTC_TOOLS,
                container_id=container,
                tool_results=results,
                messages=1 + 2 * n,
            )
        )
        sink.on_exchange(ex)
        exchanges.append(ex)
        factory.advance(pause)
    return exchanges


class TestPTCRun:
    def test_turnarounds_result_bytes_and_containers(
        self, prom_registry, prom_sink, factory, correlator
    ):
        """A whole programmatic run: tool turnaround, result bytes, container creation and reuses."""
        ptc_run(factory, correlator, prom_sink)
        r = prom_registry
        turnaround = histogram(
            r,
            "ptc_tool_turnaround_seconds",
            gen_ai_tool_name="query_sales",
            caller="programmatic",
        )
        assert turnaround == (2, pytest.approx(3.0))
        assert (
            value(
                r,
                "ptc_tool_turnaround_seconds_bucket",
                gen_ai_tool_name="query_sales",
                caller="programmatic",
                le="1.28",
            )
            == 1
        )
        assert value(r, "ptc_tool_result_bytes_total", caller="programmatic") == 100
        for outcome in ("success", "error"):
            assert (
                value(
                    r,
                    "ptc_tool_results_total",
                    gen_ai_tool_name="query_sales",
                    caller="programmatic",
                    outcome=outcome,
                )
                == 1
            )
        assert value(r, "ptc_tool_results_unmatched_total", caller="programmatic") == 0
        assert (
            value(
                r,
                "ptc_tool_calls_total",
                gen_ai_tool_name="query_sales",
                caller="programmatic",
            )
            == 2
        )
        assert (
            value(
                r,
                "ptc_server_tool_calls_total",
                gen_ai_tool_name="code_execution",
                caller="direct",
            )
            == 1
        )
        assert (
            value(
                r,
                "ptc_code_executions_total",
                gen_ai_tool_name="code_execution",
                outcome="success",
            )
            == 1
        )
        assert value(r, "ptc_containers_created_total") == 1
        assert value(r, "ptc_container_reuses_total") == 2
        assert value(r, "ptc_containers_expired_total") == 0
        # Time left at the reuses: 09:18:37.318 - 09:14:03.5, then 09:18:41.078 - 09:14:06.
        count, total = histogram(r, "ptc_container_remaining_seconds")
        assert count == 2 and total == pytest.approx(273.818204 + 275.077952)
        assert value(r, "ptc_containers_active") == 1
        assert value(r, "ptc_container_lifetime_seconds_count") == 0

    def test_container_expiry_and_lifetime(
        self, prom_registry, prom_sink, factory, correlator
    ):
        """After expires_at the active gauge drops, the lifetime is observed once; a late
        request the API refuses is an expiry."""
        ptc_run(factory, correlator, prom_sink)
        factory.advance(600)
        r = prom_registry
        assert value(r, "ptc_containers_active") == 0  # scrape-time collector sweeps
        # Created 09:14:01.5 (end of turn 1), last expires_at 09:18:41.078.
        lifetime = 275.077952 + 4.5
        assert histogram(r, "ptc_container_lifetime_seconds") == (
            1,
            pytest.approx(lifetime),
        )
        for late in (
            factory.make("07_error_529_overloaded.json", container_id=C),
            factory.make(
                status=400,
                error_type="invalid_request_error",
                error_message=f"container: `{C}` has expired",
                container_id=C,
            ),
        ):
            prom_sink.on_exchange(correlator.correlate(late))
        assert value(r, "ptc_containers_expired_total") == 1
        assert histogram(r, "ptc_container_lifetime_seconds") == (
            1,
            pytest.approx(lifetime),
        )

    def test_direct_turnaround(self, prom_registry, prom_sink, factory, correlator):
        """A direct tool call's result counts under caller=direct."""
        prom_sink.on_exchange(
            correlator.correlate(factory.make("01_direct_tool_use.json"))
        )
        factory.advance(0.75)
        answer = factory.make(
            "09_stream_plain_text.sse",
            tool_results=[
                result("toolu_01Tb5RzQm8KcVw3hN2xJp7Ly", 321, tool="get_inventory")
            ],
        )
        prom_sink.on_exchange(correlator.correlate(answer))
        r = prom_registry
        assert histogram(
            r,
            "ptc_tool_turnaround_seconds",
            gen_ai_tool_name="get_inventory",
            caller="direct",
        ) == (1, pytest.approx(0.75))
        assert value(r, "ptc_tool_result_bytes_total", caller="direct") == 321


class TestLabels:
    def test_models_and_tools_are_bounded(self, prom_registry, factory):
        """Past max_label_values distinct values, new models and tool names become _other."""
        sink = PrometheusSink(prom_registry, limits=Limits(max_label_values=2))
        base = factory.make("01_direct_tool_use.json").message
        assert base is not None
        for n, model in enumerate(("m-1", "m-2", "m-3", "m-4")):
            block = base.content[1].model_copy(update={"name": f"tool_{n}"})
            message = base.model_copy(update={"content": [base.content[0], block]})
            sink.on_exchange(factory.make(message=message, model=model))
        r = prom_registry
        # Admitted in order of appearance: m-1, then the response model claude-sonnet-4-6.
        for model, n in (("m-1", 1), ("_other", 3)):
            assert (
                value(
                    r,
                    "ptc_exchanges_total",
                    gen_ai_request_model=model,
                    stream="false",
                    outcome="ok",
                )
                == n
            )
        assert (
            value(
                r,
                "ptc_exchanges_total",
                gen_ai_request_model="m-2",
                stream="false",
                outcome="ok",
            )
            is None
        )
        labels = {**GENAI, "gen_ai_request_model": "_other"}
        assert histogram(
            r, "gen_ai_client_operation_duration_seconds", **labels, error_type=""
        ) == (3, 4.5)
        for tool, n in (("tool_0", 1), ("tool_1", 1), ("_other", 2)):
            assert (
                value(r, "ptc_tool_calls_total", gen_ai_tool_name=tool, caller="direct")
                == n
            )

    def test_unknown_model_is_empty(self, prom_registry, prom_sink, factory):
        """An exchange that names no model at all is labelled with the empty string."""
        prom_sink.on_exchange(factory.make("07_error_529_overloaded.json", model=None))
        assert (
            value(
                prom_registry,
                "ptc_errors_total",
                gen_ai_request_model="",
                error_type="overloaded_error",
            )
            == 1
        )

    def test_telemetry_errors(self, prom_registry, prom_sink):
        """on_telemetry_error counts by stage."""
        prom_sink.on_telemetry_error("sink")
        prom_sink.on_telemetry_error("sink")
        prom_sink.on_telemetry_error("stream_parse")
        assert value(prom_registry, "ptc_telemetry_errors_total", stage="sink") == 2
        assert (
            value(prom_registry, "ptc_telemetry_errors_total", stage="stream_parse")
            == 1
        )

    def test_two_sinks_share_one_registry(self, prom_registry, factory):
        """A second sink on the same registry shares the families instead of failing."""
        first, second = PrometheusSink(prom_registry), PrometheusSink(prom_registry)
        first.on_exchange(factory.make("01_direct_tool_use.json"))
        second.on_exchange(factory.make("01_direct_tool_use.json"))
        assert (
            value(
                prom_registry,
                "ptc_exchanges_total",
                gen_ai_request_model=MODEL,
                stream="false",
                outcome="ok",
            )
            == 2
        )


class TestExemplars:
    def test_trace_ids_of_the_exchange(self, prom_registry, prom_sink, factory):
        """Histograms carry the exchange's trace id and span id, in the OpenMetrics format only."""
        ex = factory.make("09_stream_plain_text.sse")
        traced = Exchange(
            **{
                **{f: getattr(ex, f) for f in ex.__slots__},
                "trace_id": 0xABC,
                "span_id": 0xDEF,
            }
        )
        prom_sink.on_exchange(traced)
        om = generate_openmetrics(prom_registry).decode()
        exemplar = (
            '# {span_id="0000000000000def",trace_id="00000000000000000000000000000abc"}'
        )
        duration = [
            line
            for line in om.splitlines()
            if line.startswith("gen_ai_client_operation_duration_seconds_bucket")
            and 'le="2.56"' in line
        ]
        assert duration and exemplar in duration[0]
        assert exemplar in next(
            line
            for line in om.splitlines()
            if line.startswith("gen_ai_client_token_usage_bucket")
            and "input" in line
            and 'le="64.0"' in line
        )
        assert "trace_id" not in generate_latest(prom_registry).decode()

    def test_falls_back_to_the_recording_parent_span(
        self, prom_registry, prom_sink, factory, tracer_provider: TracerProvider
    ):
        """Without ids from a tracer, the recording span of the request's context is used."""
        with tracer_provider.get_tracer("app").start_as_current_span(
            "parent"
        ) as parent:
            ctx = set_span_in_context(parent)
            prom_sink.on_exchange(
                factory.make("01_direct_tool_use.json", parent_context=ctx)
            )
            sc = parent.get_span_context()
        om = generate_openmetrics(prom_registry).decode()
        assert (
            f'trace_id="{sc.trace_id:032x}"' in om
            and f'span_id="{sc.span_id:016x}"' in om
        )

    def test_no_exemplar_without_a_sampled_span(
        self, prom_registry, prom_sink, factory
    ):
        """No trace: no exemplar."""
        prom_sink.on_exchange(factory.make("01_direct_tool_use.json"))
        assert "trace_id" not in generate_openmetrics(prom_registry).decode()


class TestLatestSemconv:
    def test_gen2_names_on_opt_in(self, prom_registry, factory, monkeypatch):
        """OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental adds the gen2 names."""
        monkeypatch.setenv(
            "OTEL_SEMCONV_STABILITY_OPT_IN", "http, gen_ai_latest_experimental"
        )
        sink = PrometheusSink(prom_registry)
        sink.on_exchange(factory.make("02_ptc_turn1_response.json"))
        sink.on_exchange(factory.make("07_error_529_overloaded.json"))
        r = prom_registry
        assert histogram(r, "gen_ai_client_inference_duration_seconds", **OK) == (
            1,
            1.5,
        )
        modality = {**GENAI, "gen_ai_token_modality": "unknown"}
        assert (
            value(r, "gen_ai_client_inference_usage_input_tokens_total", **modality)
            == 1874
        )
        assert (
            value(r, "gen_ai_client_inference_usage_output_tokens_total", **modality)
            == 246
        )
        assert (
            value(
                r,
                "gen_ai_client_inference_usage_cache_read_input_tokens_total",
                **modality,
            )
            == 0
        )
        # Per-operation histograms: no error_type label; the 529 is not recorded.
        assert histogram(
            r, "gen_ai_client_inference_operation_input_tokens", **GENAI
        ) == (1, 1874)
        text = generate_latest(r).decode()
        assert not [
            line
            for line in text.splitlines()
            if line.startswith("gen_ai_client_inference_operation_")
            and "error_type" in line
        ]
        failed = {**GENAI, "gen_ai_response_model": ""}
        # Failures are counted too, as 0 tokens.
        assert (
            value(
                r,
                "gen_ai_client_inference_usage_input_tokens_total",
                **failed,
                gen_ai_token_modality="unknown",
            )
            == 0
        )
        # gen1 stays in Prometheus (dashboards, rules and the demo query it).
        assert histogram(r, "gen_ai_client_operation_duration_seconds", **OK) == (
            1,
            1.5,
        )

    def test_gen1_only_by_default(self, prom_registry, prom_sink, factory):
        """Without the opt-in no gen2 family exists."""
        prom_sink.on_exchange(factory.make("02_ptc_turn1_response.json"))
        assert "gen_ai_client_inference" not in generate_latest(prom_registry).decode()

    def test_execute_tool_duration_gen2(self, prom_registry, factory, correlator):
        """gen2 also records the inferred tool time as gen_ai_execute_tool_duration_seconds."""
        sink = PrometheusSink(prom_registry, latest_semconv=True)
        ptc_run(factory, correlator, sink)
        labels = {
            "gen_ai_operation_name": "execute_tool",
            "gen_ai_tool_name": "query_sales",
        }
        assert histogram(
            prom_registry,
            "gen_ai_execute_tool_duration_seconds",
            **labels,
            error_type="",
        ) == (1, pytest.approx(2.0))
        assert histogram(
            prom_registry,
            "gen_ai_execute_tool_duration_seconds",
            **labels,
            error_type="tool_error",
        ) == (1, pytest.approx(1.0))
