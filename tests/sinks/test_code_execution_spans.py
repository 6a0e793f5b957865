"""One ``execute_tool`` span per code execution, from the real PTC run's responses.

``tests/data/real/ptc_dice_stream_01..04.sse`` are the first four HTTP responses of a real
PTC run (one code execution making programmatic ``rollDie`` calls; see PROVENANCE.md).
They are served, with requests built to answer them, through the official SDK over the
observing transport; the run's last response (``code_execution_tool_result`` and the final
text, the shape of the run's stream 15) is built here since the recording stops at four.
"""

# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from prometheus_client import CollectorRegistry

from ptc_observe import Observer
from ptc_observe.observer import Limits

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
RUN = [REAL / f"ptc_dice_stream_0{i}.sse" for i in range(1, 5)]
CODE_ID = "srvtoolu_01MzSrFWsmzBdcoQkGWLyRjK"
CONTAINER = "container_011CWHPPTDTn1XufeRB9uHeH"
EXPIRES = re.compile(rb'("expires_at":")[^"]+(")')
TOOLS: list[Any] = [
    {"type": "code_execution_20250825", "name": "code_execution"},
    {
        "name": "rollDie",
        "description": "Roll a die for a player.",
        "input_schema": {
            "type": "object",
            "properties": {"player": {"type": "string"}},
        },
        "allowed_callers": ["code_execution_20250825"],
    },
]


def sse(*events: dict[str, Any]) -> bytes:
    return b"".join(
        f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events
    )


FINAL = sse(
    {
        "type": "message_start",
        "message": {
            "id": "msg_final",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 4100, "output_tokens": 1},
        },
    },
    {
        "type": "content_block_start",
        "index": 0,
        "content_block": {
            "type": "code_execution_tool_result",
            "tool_use_id": CODE_ID,
            "content": {
                "type": "code_execution_result",
                "stdout": "player1 wins 3-1\n",
                "stderr": "",
                "return_code": 0,
                "content": [],
            },
        },
    },
    {"type": "content_block_stop", "index": 0},
    {
        "type": "content_block_start",
        "index": 1,
        "content_block": {"type": "text", "text": ""},
    },
    {
        "type": "content_block_delta",
        "index": 1,
        "delta": {"type": "text_delta", "text": "Player 1 won."},
    },
    {"type": "content_block_stop", "index": 1},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 12},
    },
    {"type": "message_stop"},
)


def live(body: bytes) -> bytes:
    """The body with its container's expires_at moved into the future (it is past now)."""
    future = (datetime.now(timezone.utc) + timedelta(seconds=270)).isoformat()
    return EXPIRES.sub(lambda m: m.group(1) + future.encode() + m.group(2), body)


class Serve:
    """A MockTransport handler answering each request with the next body, in order."""

    def __init__(self, bodies: list[bytes]) -> None:
        self.bodies = list(bodies)
        self.requests: list[dict[str, Any]] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(json.loads(request.content))
        return httpx2.Response(
            200,
            headers={"content-type": "text/event-stream"},
            content=live(self.bodies.pop(0)),
        )


def play(observer: Observer, bodies: list[bytes]) -> list[Any]:
    """Drive the run with the SDK: each request answers the previous reply's tool call."""
    transport = observer.transport(httpx2.MockTransport(Serve(bodies)))
    client = anthropic.Anthropic(
        api_key="sk-ant-test-key",
        base_url="http://localhost",
        http_client=httpx2.Client(transport=transport),
    )
    messages: list[Any] = [{"role": "user", "content": "Play dice: 3 rounds."}]
    container: str | None = None
    finals = []
    for _ in bodies:
        kwargs: dict[str, Any] = {"container": container} if container else {}
        with client.messages.stream(
            model="claude-sonnet-4-5",
            max_tokens=1024,
            messages=messages,
            tools=TOOLS,
            extra_headers={"anthropic-beta": "advanced-tool-use-2025-11-20"},
            **kwargs,
        ) as stream:
            final = stream.get_final_message()
        finals.append(final)
        if final.container is not None:
            container = final.container.id
        calls = [b for b in final.content if b.type == "tool_use"]
        messages.append(
            {"role": "assistant", "content": [b.model_dump() for b in final.content]}
        )
        messages.append(
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": c.id, "content": "4"}
                    for c in calls
                ],
            }
        )
    client.close()
    return finals


def chat_spans(spans: tuple[ReadableSpan, ...]) -> list[ReadableSpan]:
    return [s for s in spans if s.name.startswith("chat")]


def code_spans(spans: tuple[ReadableSpan, ...]) -> list[ReadableSpan]:
    return [
        s for s in spans if "ptc.code_execution.start_observed" in (s.attributes or {})
    ]


def times(span: ReadableSpan) -> tuple[int, int]:
    """Start and end of a finished span."""
    assert span.start_time is not None and span.end_time is not None
    return span.start_time, span.end_time


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


@pytest.fixture
def observer(prom_registry, tracer_provider, meter_provider) -> Observer:
    return Observer(
        registry=prom_registry,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    )


def test_real_run_is_one_code_execution_span(observer, span_exporter, prom_registry):
    """The real run's four responses and its result: one execute_tool span over all five
    exchanges, four programmatic calls, linked from every later exchange."""
    bodies = [p.read_bytes() for p in RUN] + [FINAL]
    finals = play(observer, bodies)
    assert [f.stop_reason for f in finals] == ["tool_use"] * 4 + ["end_turn"]
    assert observer.telemetry_errors == {}
    spans = span_exporter.get_finished_spans()
    chats = chat_spans(spans)
    assert len(chats) == 5
    (code,) = code_spans(spans)
    attrs = dict(code.attributes or {})
    assert code.name == "execute_tool code_execution"
    assert code.kind.name == "INTERNAL"
    assert attrs["gen_ai.operation.name"] == "execute_tool"
    assert attrs["gen_ai.tool.name"] == "code_execution"
    assert attrs["gen_ai.tool.call.id"] == CODE_ID
    assert attrs["ptc.container.id"] == CONTAINER
    assert attrs["ptc.code_execution.tool_calls"] == 4
    assert attrs["ptc.code_execution.server_tool_calls"] == 0
    assert attrs["ptc.code_execution.exchanges"] == 5
    assert attrs["ptc.code_execution.outcome"] == "success"
    assert attrs["ptc.code_execution.return_code"] == 0
    assert attrs["ptc.code_execution.start_observed"] is True
    # It spans them: from the first response (it sits in that exchange's trace: a bare
    # client has no application span) to the end of the one that carried the result.
    assert code.parent is not None
    assert code.parent.span_id == chats[0].context.span_id
    first_start, first_end = times(chats[0])
    code_start, code_end = times(code)
    assert first_start <= code_start <= first_end
    assert code_end == times(chats[-1])[1]
    for later in chats[1:]:
        linked = [
            link.context.span_id
            for link in later.links
            if (link.attributes or {}).get("ptc.link.type") == "code_execution"
        ]
        assert linked == [code.context.span_id]
    assert (
        sample(
            prom_registry,
            "ptc_code_execution_duration_seconds_count",
            gen_ai_tool_name="code_execution",
            outcome="success",
        )
        == 1
    )
    assert observer.code_executions.open_count() == 0


def test_real_run_without_its_result_ends_unfinished_on_close(
    observer, span_exporter, prom_registry
):
    """The four recorded responses only: the span stays open, and close() ends it as
    unfinished at its last sighting, with the four calls counted."""
    play(observer, [p.read_bytes() for p in RUN])
    assert code_spans(span_exporter.get_finished_spans()) == []
    assert observer.code_executions.open_count() == 1
    observer.close()
    spans = span_exporter.get_finished_spans()
    (code,) = code_spans(spans)
    attrs = dict(code.attributes or {})
    assert attrs["ptc.code_execution.outcome"] == "unfinished"
    assert attrs["ptc.code_execution.end_reason"] == "closed"
    assert attrs["ptc.code_execution.tool_calls"] == 4
    assert attrs["error.type"] == "code_execution_unfinished"
    assert code.end_time == chat_spans(spans)[-1].end_time
    assert (
        sample(
            prom_registry,
            "ptc_code_executions_unfinished_total",
            gen_ai_tool_name="code_execution",
            reason="closed",
        )
        == 1
    )
    assert (
        sample(
            prom_registry,
            "ptc_code_execution_duration_seconds_count",
            gen_ai_tool_name="code_execution",
            outcome="success",
        )
        is None
    )


def test_split_over_two_processes_is_honest(
    prom_registry, tracer_provider, meter_provider, span_exporter
):
    """Two observers (two workers) share the run: the second, which sees the result but
    not the start, still makes a span from the wire (start_observed False, from the
    exchange where it came in) and observes no partial duration."""
    first = Observer(prometheus=False, tracer_provider=tracer_provider)
    second = Observer(
        registry=prom_registry,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    )
    bodies = [p.read_bytes() for p in RUN] + [FINAL]
    play(first, bodies[:2])
    # The second worker gets the conversation so far in its requests, as a real one would.
    transport_bodies = bodies[2:]
    play_tail(second, transport_bodies)
    spans = code_spans(span_exporter.get_finished_spans())
    (code,) = spans  # the first worker's is still open
    attrs = dict(code.attributes or {})
    assert attrs["ptc.code_execution.start_observed"] is False
    assert attrs["ptc.code_execution.tool_calls"] == 2
    assert attrs["ptc.code_execution.outcome"] == "success"
    assert (
        sample(
            prom_registry,
            "ptc_code_execution_duration_seconds_count",
            gen_ai_tool_name="code_execution",
            outcome="success",
        )
        is None
    )
    first.close()
    (_, opened_first) = sorted(
        code_spans(span_exporter.get_finished_spans()),
        key=lambda s: s.end_time or 0,
    )
    assert dict(opened_first.attributes or {})["ptc.code_execution.tool_calls"] == 2


def play_tail(observer: Observer, bodies: list[bytes]) -> None:
    """Requests of a run already under way (container named, a call answered)."""
    transport = observer.transport(httpx2.MockTransport(Serve(bodies)))
    client = anthropic.Anthropic(
        api_key="sk-ant-test-key",
        base_url="http://localhost",
        http_client=httpx2.Client(transport=transport),
    )
    for _ in bodies:
        with client.messages.stream(
            model="claude-sonnet-4-5",
            max_tokens=1024,
            messages=[
                {"role": "user", "content": "Play dice."},
                {"role": "user", "content": "(run under way)"},
            ],
            tools=TOOLS,
            container=CONTAINER,
        ) as stream:
            stream.get_final_message()
    client.close()


def test_inferred_tool_spans_are_children_of_the_code_execution(
    prom_registry, tracer_provider, meter_provider, span_exporter
):
    """With infer_tool_spans=True each programmatic call's span sits under the code
    execution's span."""
    observer = Observer(
        registry=prom_registry,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        infer_tool_spans=True,
    )
    play(observer, [p.read_bytes() for p in RUN] + [FINAL])
    spans = span_exporter.get_finished_spans()
    (code,) = code_spans(spans)
    inferred = [s for s in spans if (s.attributes or {}).get("ptc.tool.inferred")]
    assert [s.name for s in inferred] == ["execute_tool rollDie"] * 4
    for span in inferred:
        assert span.parent is not None
        assert span.parent.span_id == code.context.span_id
        assert code.start_time <= span.start_time <= span.end_time <= code.end_time


def test_content_capture_records_code_and_output(
    prom_registry, tracer_provider, meter_provider, span_exporter
):
    """With content capture on, the code (server_tool_use input) and the output
    (stdout, stderr, return code) are on the span, truncated like other content."""
    from ptc_observe.observer.sinks.otel import OTelSink

    sink = OTelSink(
        tracer_provider, meter_provider, capture_content=True, max_content_chars=40
    )
    # The observer keeps streamed tool inputs only with content capture on.
    observer = Observer(
        sinks=[sink], prometheus=False, opentelemetry=False, capture_content=True
    )
    play(observer, [p.read_bytes() for p in RUN] + [FINAL])
    (code,) = code_spans(span_exporter.get_finished_spans())
    attrs = dict(code.attributes or {})
    arguments = str(attrs["gen_ai.tool.call.arguments"])
    assert arguments.startswith('{"code": ')
    assert len(arguments) < 80  # truncated
    result = json.loads(str(attrs["gen_ai.tool.call.result"]))
    assert result["stdout"] == "player1 wins 3-1\n"
    assert result["return_code"] == 0


def test_no_content_without_capture(observer, span_exporter):
    play(observer, [p.read_bytes() for p in RUN] + [FINAL])
    (code,) = code_spans(span_exporter.get_finished_spans())
    assert "gen_ai.tool.call.arguments" not in (code.attributes or {})
    assert "gen_ai.tool.call.result" not in (code.attributes or {})


def test_code_execution_spans_can_be_turned_off(
    prom_registry, tracer_provider, meter_provider, span_exporter
):
    from ptc_observe.observer.sinks.otel import OTelSink

    sink = OTelSink(tracer_provider, meter_provider, code_execution_spans=False)
    observer = Observer(sinks=[sink], prometheus=False, opentelemetry=False)
    play(observer, [p.read_bytes() for p in RUN] + [FINAL])
    spans = span_exporter.get_finished_spans()
    assert code_spans(spans) == []
    assert all(not s.links for s in chat_spans(spans)[:1])


def test_limits_are_read(observer):
    assert Limits().max_code_executions == 10_000
    assert Limits().code_execution_ttl_seconds == 3600.0


def test_otel_duration_metric_has_the_prometheus_labels(
    tracer_provider, meter_provider, metric_reader
):
    """ptc.code_execution.duration carries gen_ai.tool.name and outcome, so an OTel
    Prometheus exporter gives the series the dashboards read."""
    observer = Observer(
        prometheus=False, tracer_provider=tracer_provider, meter_provider=meter_provider
    )
    play(observer, [p.read_bytes() for p in RUN] + [FINAL])
    data = metric_reader.get_metrics_data()
    points = [
        point
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == "ptc.code_execution.duration"
        for point in metric.data.data_points
    ]
    (point,) = points
    assert dict(point.attributes) == {
        "gen_ai.tool.name": "code_execution",
        "outcome": "success",
    }
    assert point.count == 1
