"""End to end: the official SDK 2.x through ``Observer`` into Prometheus and OpenTelemetry.

``anthropic.Anthropic(http_client=httpx2.Client(transport=observer.transport(MockTransport)))``
serves the recorded fixtures; every test runs sync and async, with the SDK's own tracing on
(``open_telemetry={"tracer_provider": ...}``) and off.
"""

# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from unittest import mock

import anthropic
import httpx2
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode
from prometheus_client import CollectorRegistry

from ptc_observe import Observer

from .factory import DATA_DIR, MODEL

C = "container_011CZq7TfRmB3vKx9NwPd2Lh"
HEADERS = {
    "request-id": "req_011CZqA7Nd3Wk8Hs2Lq5TxVb",
    "anthropic-ratelimit-requests-limit": "4000",
    "anthropic-ratelimit-requests-remaining": "3999",
    "anthropic-ratelimit-input-tokens-limit": "2000000",
    "anthropic-ratelimit-input-tokens-remaining": "1998000",
}
TOOLS: list[Any] = [
    {"type": "code_execution_20260120", "name": "code_execution"},
    {
        "name": "query_sales",
        "description": "Run SQL",
        "input_schema": {"type": "object", "properties": {"sql": {"type": "string"}}},
        "allowed_callers": ["code_execution_20260120"],
    },
]
EXPIRES = re.compile(rb'("expires_at":\s*")[^"]+(")')


class EventChunks(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """An SSE body delivered one event per chunk (sync or async), as the API streams it."""

    def __init__(self, body: bytes) -> None:
        self.chunks = [part + b"\n\n" for part in body.split(b"\n\n") if part.strip()]

    def __iter__(self) -> Any:
        yield from self.chunks

    async def __aiter__(self) -> Any:
        for chunk in self.chunks:
            yield chunk


class Script:
    """A MockTransport handler that answers requests with fixtures, in order."""

    def __init__(
        self, *replies: tuple[int, str] | tuple[int, str, dict[str, str]]
    ) -> None:
        self.replies = list(replies)
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        status, name, *extra = self.replies.pop(0)
        body = (DATA_DIR / name).read_bytes()
        # The fixtures' containers expired in August 2026: serve a live deadline instead.
        future = (
            (datetime.now(timezone.utc) + timedelta(seconds=270))
            .isoformat()
            .replace("+00:00", "Z")
        )
        body = EXPIRES.sub(lambda m: m.group(1) + future.encode() + m.group(2), body)
        headers = {**HEADERS, **(extra[0] if extra else {})}
        if name.endswith(".sse"):
            headers["content-type"] = "text/event-stream"
            return httpx2.Response(status, headers=headers, stream=EventChunks(body))
        headers["content-type"] = "application/json"
        return httpx2.Response(status, headers=headers, content=body)


@pytest.fixture
def observer(prom_registry, tracer_provider, meter_provider) -> Observer:
    """An observer on fresh backends."""
    return Observer(
        registry=prom_registry,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    )


@pytest.fixture(params=[True, False], ids=["sdk-tracing-on", "sdk-tracing-off"])
def sdk_tracing(request) -> bool:
    return bool(request.param)


@pytest.fixture
def make_client(mode, observer, tracer_provider, sdk_tracing):
    """Builds an SDK client (sync or async) over the observer's transport and a script."""
    clients: list[Any] = []

    def make(script: Script, **kwargs: Any) -> Any:
        transport = mode.observing(observer, httpx2.MockTransport(script))
        http_client = mode.http_client(httpx2, transport=transport)
        option = {"tracer_provider": tracer_provider} if sdk_tracing else False
        client = mode.anthropic(anthropic, http_client, open_telemetry=option, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        mode.close(client)


def create(mode, client, **params: Any) -> Any:
    """``client.messages.create(**params)`` in either mode; streams are read to the end."""
    params = {
        "model": MODEL,
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "Q2?"}],
        **params,
    }
    if params.get("stream"):
        return mode.collect(mode.run(client.messages.create, **params))
    return mode.run(client.messages.create, **params)


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def inference_spans(
    spans: Sequence[ReadableSpan], sdk_tracing: bool
) -> list[ReadableSpan]:
    """The one inference span per call: the SDK's when its tracing is on, else ours."""
    name = "anthropic.messages.create" if sdk_tracing else f"chat {MODEL}"
    return [s for s in spans if s.name == name]


def check_single_inference_span(
    spans: Sequence[ReadableSpan], sdk_tracing: bool, calls: int
) -> None:
    """No duplicate inference span; token usage on exactly one span per call."""
    inference = inference_spans(spans, sdk_tracing)
    assert len(inference) == calls
    with_usage = [
        s for s in spans if "gen_ai.usage.input_tokens" in (s.attributes or {})
    ]
    assert with_usage == inference
    if sdk_tracing:
        attempts = [s for s in spans if s.name == "POST /v1/messages"]
        assert attempts and not [s for s in spans if s.name.startswith("chat ")]
        sdk_ids = {s.context.span_id for s in inference}
        assert all(
            a.parent is not None and a.parent.span_id in sdk_ids for a in attempts
        )


@pytest.mark.parametrize(
    ("fixture", "stream", "uncached", "output"),
    [
        pytest.param("01_direct_tool_use.json", False, 912, 71, id="01"),
        pytest.param("02_ptc_turn1_response.json", False, 1874, 246, id="02"),
        pytest.param("03_ptc_resume_response.json", False, 0, 0, id="03"),
        pytest.param("04_ptc_final_response.json", False, 2311, 58, id="04"),
        pytest.param("05_ptc_multiple_calls_response.json", False, 1890, 301, id="05"),
        pytest.param("08_stream_ptc_turn1.sse", True, 1874, 246, id="08"),
        pytest.param("09_stream_plain_text.sse", True, 24, 27, id="09"),
        pytest.param("10_stream_ptc_resume_prepopulated.sse", True, 0, 0, id="10"),
    ],
)
def test_every_success_fixture(
    make_client,
    mode,
    prom_registry,
    span_exporter,
    metric_reader,
    sdk_tracing,
    fixture,
    stream,
    uncached,
    output,
):
    """Each recorded response through the SDK: counted once, one inference span, usage once."""
    client = make_client(Script((200, fixture)))
    create(mode, client, stream=stream, tools=TOOLS)
    r = prom_registry
    assert (
        sample(
            r,
            "ptc_exchanges_total",
            gen_ai_request_model=MODEL,
            stream=str(stream).lower(),
            outcome="ok",
        )
        == 1
    )
    assert (
        sample(r, "ptc_tokens_total", gen_ai_request_model=MODEL, token_kind="input")
        == uncached
    )
    assert (
        sample(
            r,
            "ptc_tokens_total",
            gen_ai_request_model=MODEL,
            token_kind="output",
        )
        == output
    )
    assert sample(r, "ptc_ratelimit_remaining", resource="requests") == 3999
    labels = {
        "gen_ai_operation_name": "chat",
        "gen_ai_provider_name": "anthropic",
        "gen_ai_request_model": MODEL,
        "gen_ai_response_model": MODEL,
    }
    assert (
        sample(
            r, "gen_ai_client_operation_duration_seconds_count", **labels, error_type=""
        )
        == 1
    )
    ttfc = sample(
        r,
        "gen_ai_client_operation_time_to_first_chunk_seconds_count",
        **labels,
        error_type="",
    )
    assert ttfc == (1 if stream else None)
    spans = span_exporter.get_finished_spans()
    check_single_inference_span(spans, sdk_tracing, calls=1)
    (inference,) = inference_spans(spans, sdk_tracing)
    if sdk_tracing and fixture.startswith("10_"):
        # A PTC continuation arrives whole in message_start: the SDK leaves output
        # tokens off its span, and by default its span is not ours to fill
        # (sdk_span_mode="enrich" does; the metrics count them either way).
        assert "gen_ai.usage.output_tokens" not in (inference.attributes or {})
    else:
        assert (inference.attributes or {})["gen_ai.usage.output_tokens"] == output
    (ours,) = [s for s in spans if s.name in ("POST /v1/messages", f"chat {MODEL}")]
    assert (ours.attributes or {})["ptc.outcome"] == "ok"
    if sdk_tracing:
        # By default the SDK's span is left exactly as the SDK made it.
        assert not [k for k in inference.attributes or {} if k.startswith("ptc.")]


@pytest.mark.parametrize(
    ("fixture", "error", "status"),
    [
        pytest.param("06_error_429_rate_limit.json", "rate_limit_error", 429, id="06"),
        pytest.param("07_error_529_overloaded.json", "overloaded_error", 529, id="07"),
    ],
)
def test_error_fixtures(
    make_client, mode, prom_registry, span_exporter, sdk_tracing, fixture, error, status
):
    """An error the SDK raises is counted by type, and the attempt's span fails with error.type."""
    client = make_client(Script((status, fixture)), max_retries=0)
    exc = mode.raises(
        client.messages.create,
        model=MODEL,
        max_tokens=10,
        messages=[{"role": "user", "content": "x"}],
    )
    assert isinstance(exc, anthropic.APIStatusError) and exc.status_code == status
    assert (
        sample(
            prom_registry,
            "ptc_errors_total",
            gen_ai_request_model=MODEL,
            error_type=error,
        )
        == 1
    )
    assert (
        sample(
            prom_registry,
            "ptc_exchanges_total",
            gen_ai_request_model=MODEL,
            stream="false",
            outcome="error",
        )
        == 1
    )
    ours = [
        s
        for s in span_exporter.get_finished_spans()
        if s.instrumentation_scope and s.instrumentation_scope.name == "ptc_observe"
    ]
    (span,) = ours
    assert (span.attributes or {})["error.type"] == error
    assert span.name == ("POST /v1/messages" if sdk_tracing else f"chat {MODEL}")


def test_retry_then_success(
    make_client, mode, prom_registry, span_exporter, sdk_tracing
):
    """A 529 then a 200: two attempts, one retry counted, one inference span (the SDK's, when on)."""
    script = Script(
        (529, "07_error_529_overloaded.json", {"retry-after-ms": "1"}),
        (200, "01_direct_tool_use.json"),
    )
    client = make_client(script, max_retries=2)
    create(mode, client)
    r = prom_registry
    assert sample(r, "ptc_http_retries_total", gen_ai_request_model=MODEL) == 1
    assert (
        sample(
            r,
            "ptc_exchanges_total",
            gen_ai_request_model=MODEL,
            stream="false",
            outcome="error",
        )
        == 1
    )
    assert (
        sample(
            r,
            "ptc_exchanges_total",
            gen_ai_request_model=MODEL,
            stream="false",
            outcome="ok",
        )
        == 1
    )
    spans = span_exporter.get_finished_spans()
    if sdk_tracing:
        (sdk,) = inference_spans(spans, True)
        attempts = [s for s in spans if s.name == "POST /v1/messages"]
        assert (
            len(attempts) == 2
            and (sdk.attributes or {})["http.request.resend_count"] == 1
        )
        assert (attempts[1].attributes or {})["http.request.resend_count"] == 1
    else:
        assert (
            len(inference_spans(spans, False)) == 2
        )  # one chat span per attempt, the first failed


def run_ptc(mode, client, *, stream: bool) -> list[Any]:
    """A programmatic run: turn 1, resume with the tool result and container, final answer."""
    messages: list[Any] = [{"role": "user", "content": "Which region led Q2?"}]
    replies = []
    container = None
    for n in range(3):
        params: dict[str, Any] = {"messages": messages, "tools": TOOLS}
        if container is not None:
            params["container"] = container
        if stream:
            with_helper = mode.stream_helper(
                client.messages.stream(model=MODEL, max_tokens=1024, **params)
            )
            reply = with_helper[1]
        else:
            reply = create(mode, client, **params)
        replies.append(reply)
        if reply.container is not None:
            container = reply.container.id
        calls = [b for b in reply.content if b.type == "tool_use"]
        if not calls:
            break
        messages = [
            *messages,
            {"role": "assistant", "content": reply.content},
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": c.id,
                        "content": f'[{{"total": {n}}}]',
                    }
                    for c in calls
                ],
            },
        ]
    return replies


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_ptc_run(
    make_client, mode, prom_registry, span_exporter, sdk_tracing, stream, observer
):
    """A multi-exchange PTC run: turnarounds, result bytes, container created then reused, linked spans."""
    if stream:
        script = Script(
            (200, "08_stream_ptc_turn1.sse"),
            (200, "10_stream_ptc_resume_prepopulated.sse"),
            (200, "09_stream_plain_text.sse"),
        )
    else:
        script = Script(
            (200, "02_ptc_turn1_response.json"),
            (200, "03_ptc_resume_response.json"),
            (200, "04_ptc_final_response.json"),
        )
    replies = run_ptc(mode, make_client(script), stream=stream)
    assert len(replies) == 3
    r = prom_registry
    assert (
        sample(
            r,
            "ptc_tool_calls_total",
            gen_ai_tool_name="query_sales",
            caller="programmatic",
        )
        == 2
    )
    assert (
        sample(
            r,
            "ptc_tool_turnaround_seconds_count",
            gen_ai_tool_name="query_sales",
            caller="programmatic",
        )
        == 2
    )
    assert (
        sample(r, "ptc_tool_result_bytes_total", caller="programmatic")
        == len('[{"total": 0}]') * 2
    )
    assert sample(r, "ptc_containers_created_total") == 1
    assert sample(r, "ptc_container_reuses_total") == 2
    assert sample(r, "ptc_containers_expired_total") == 0
    assert sample(r, "ptc_container_remaining_seconds_count") == 2
    assert sample(r, "ptc_containers_active") == 1
    assert (
        sample(
            r,
            "ptc_server_tool_calls_total",
            gen_ai_tool_name="code_execution",
            caller="direct",
        )
        == 1
    )
    # The requests really carried the container and the results.
    spans = span_exporter.get_finished_spans()
    check_single_inference_span(spans, sdk_tracing, calls=3)
    ours = [s for s in spans if s.name in ("POST /v1/messages", f"chat {MODEL}")]
    answers = [links_of(s, "answers_tool_calls") for s in ours]
    assert [len(links) for links in answers] == [0, 1, 1]
    assert answers[1][0].context.span_id == ours[0].context.span_id
    assert answers[2][0].context.span_id == ours[1].context.span_id
    # One span for the code execution, from the first response to the one with its
    # result; inferred execute_tool spans of the calls are opt-in: none here. The
    # streamed script never sends the result: the span stays open until close().
    assert [s for s in spans if s.name.startswith("execute_tool")] == (
        [] if stream else [mock.ANY]
    )
    if stream:
        observer.close()
        spans = span_exporter.get_finished_spans()
    (code,) = [s for s in spans if s.name.startswith("execute_tool")]
    assert code.name == "execute_tool code_execution"
    attrs = code.attributes or {}
    assert attrs["gen_ai.tool.name"] == "code_execution"
    assert attrs["gen_ai.tool.call.id"].startswith("srvtoolu_")
    assert attrs["ptc.container.id"].startswith("container_")
    assert attrs["ptc.code_execution.start_observed"] is True
    assert code.parent is not None and code.parent.span_id == ours[0].context.span_id
    assert ours[0].start_time <= code.start_time <= ours[0].end_time
    if stream:
        # Seen in the turn and one resume (its calls); the plain-text reply shows none.
        assert attrs["ptc.code_execution.outcome"] == "unfinished"
        assert attrs["ptc.code_execution.end_reason"] == "closed"
        assert attrs["ptc.code_execution.exchanges"] == 2
        assert code.end_time == ours[1].end_time
        assert code.status.status_code is StatusCode.ERROR
        linked = ours[1:2]
    else:
        assert attrs["ptc.code_execution.tool_calls"] == 2
        assert attrs["ptc.code_execution.outcome"] == "success"
        assert attrs["ptc.code_execution.end_reason"] == "result"
        assert attrs["ptc.code_execution.return_code"] == 0
        assert attrs["ptc.code_execution.exchanges"] == 3
        assert code.end_time == ours[2].end_time
        linked = ours[1:]
    for later in linked:
        (link,) = links_of(later, "code_execution")
        assert link.context.span_id == code.context.span_id
    assert sample(
        r,
        "ptc_code_execution_duration_seconds_count",
        gen_ai_tool_name="code_execution",
        outcome="success",
    ) == (None if stream else 1)
    assert sample(
        r,
        "ptc_code_executions_unfinished_total",
        gen_ai_tool_name="code_execution",
        reason="closed",
    ) == (1 if stream else None)
    # Our facts are on our spans (the SDK's spans stay as the SDK made them).
    assert [(s.attributes or {}).get("ptc.container.reused") for s in ours] == [
        False,
        True,
        True,
    ]


def links_of(span: ReadableSpan, kind: str) -> list[Any]:
    """The links of ``span`` whose ``ptc.link.type`` is ``kind``."""
    return [
        link
        for link in span.links
        if (link.attributes or {}).get("ptc.link.type") == kind
    ]


def test_stream_closed_early(
    make_client, mode, prom_registry, span_exporter, sdk_tracing
):
    """The caller stops reading a stream: outcome closed_early, no error, the span marked incomplete."""
    client = make_client(Script((200, "09_stream_plain_text.sse")))
    stream = mode.run(
        client.messages.create,
        model=MODEL,
        max_tokens=10,
        messages=[{"role": "user", "content": "x"}],
        stream=True,
    )
    mode.take(stream, 2)
    mode.close(stream)
    r = prom_registry
    assert (
        sample(
            r,
            "ptc_exchanges_total",
            gen_ai_request_model=MODEL,
            stream="true",
            outcome="closed_early",
        )
        == 1
    )
    (ours,) = [
        s
        for s in span_exporter.get_finished_spans()
        if s.name in ("POST /v1/messages", f"chat {MODEL}")
    ]
    assert (ours.attributes or {})["ptc.stream.complete"] is False
    assert "error.type" not in (ours.attributes or {})
    if sdk_tracing:
        # Closing ends the SDK's span first (Stream.close), then the body: our facts come
        # too late for it and stay on the attempt span (docs/telemetry.md says so).
        (sdk,) = inference_spans(span_exporter.get_finished_spans(), True)
        assert "ptc.outcome" not in (sdk.attributes or {})
        assert ours.parent is not None and ours.parent.span_id == sdk.context.span_id


def test_observer_with_no_arguments_uses_the_process_defaults():
    """``Observer()`` records into Prometheus' default registry and the global OTel providers."""
    worker = Path(__file__).with_name("defaults_worker.py")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    done = subprocess.run(
        [sys.executable, str(worker)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    # The SDK's tracing is on (a global provider exists): its span plus our attempt span.
    assert result["spans"] == ["POST /v1/messages", "anthropic.messages.create"]
    assert {"gen_ai.client.operation.duration", "gen_ai.client.token.usage"} <= set(
        result["metrics"]
    )
    assert result["exchanges"] == 1
    assert result["telemetry_errors"] == {}
