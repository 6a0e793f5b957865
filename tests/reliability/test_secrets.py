"""Secrets and content: what must never reach telemetry, and what only does when asked.

A distinctive fake key (``sk-ant-LEAKCHECK-…``) is sent the ways a key travels: as
``x-api-key``, as ``Authorization: Bearer``, in the URL query and in a request body
field (``metadata.user_id``), through the official SDK, on the success, stream, error,
retry, connection-error and telemetry-failure paths. Every output is then scanned:

* the Prometheus exposition, classic text and OpenMetrics (exemplars included);
* every span: name, attributes, events, links, status, resource;
* every OpenTelemetry metric data point: attributes, exemplars;
* every log record of the ``ptc_observe`` loggers at DEBUG, with formatted tracebacks
  (this is where exception messages of telemetry failures go);
* ``repr()`` of every :class:`~ptc_observe.Exchange` and :class:`~ptc_observe.RequestFacts`.

Content capture: canary strings in the prompt, system prompt, tool definitions, tool
results, response text, thinking, tool arguments and streamed deltas appear in no
output by default; with capture on and a redaction hook that replaces them, the
replacement appears where the content is recorded and the raw text nowhere.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest

from ptc_observe import Exchange, Observer, Outcome
from ptc_observe.observer.sinks.otel import OTelSink

from .conftest import (
    JSON_HEADERS,
    MODEL,
    SSE_HEADERS,
    Replies,
    Reply,
    Telemetry,
    dumps,
    fixture_bytes,
    sse_events,
)

KEY = f"sk-ant-LEAKCHECK-{uuid.uuid4().hex}"
MARK = "LEAKCHECK"  # any part of the key that shows would be a leak
BASE = "http://api.test"
# The SDK takes one credential argument and, given an Authorization header, leaves
# x-api-key out: both go as default headers, so both are sent.
BEARER = {"X-Api-Key": KEY, "Authorization": f"Bearer {KEY}"}


# --- scanning every output ---


def span_text(tel: Telemetry) -> str:
    """Everything every finished span carries, as text."""
    parts: list[str] = []
    for span in tel.spans():
        parts.append(span.name)
        parts.append(repr(dict(span.attributes or {})))
        for event in span.events:
            parts += [event.name, repr(dict(event.attributes or {}))]
        for link in span.links:
            parts.append(repr(dict(link.attributes or {})))
        parts.append(f"{span.status.status_code} {span.status.description}")
        parts.append(repr(dict(span.resource.attributes)))
    return "\n".join(parts)


def metric_text(tel: Telemetry) -> str:
    """Every OpenTelemetry metric point: name, attributes, value, exemplars."""
    parts = []
    for name, attrs, point in tel.metric_points():
        parts.append(f"{name} {attrs!r} {point!r}")
        for exemplar in getattr(point, "exemplars", None) or ():
            parts.append(repr(exemplar.filtered_attributes))
    return "\n".join(parts)


def log_text(records: list[logging.LogRecord]) -> str:
    """Every record of the ptc_observe loggers, formatted with its traceback."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(
        formatter.format(r) for r in records if r.name.startswith("ptc_observe")
    )


def record_text(exchanges: list[Exchange]) -> str:
    """repr() of every exchange and its request facts."""
    return "\n".join(f"{ex!r}\n{ex.request!r}" for ex in exchanges)


def outputs(tel: Telemetry, logs: pytest.LogCaptureFixture) -> dict[str, str]:
    """Every output a secret or content could leak into, by kind."""
    return {
        "exposition": tel.exposition(),
        "spans": span_text(tel),
        "metrics": metric_text(tel),
        "logs": log_text(logs.records),
        "records": record_text(tel.sink.exchanges),
    }


def leaks(found: dict[str, str], needle: str) -> list[str]:
    """The kinds of output that contain ``needle``."""
    return [kind for kind, text in found.items() if needle in text]


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Captures every log record of the ptc_observe loggers, at DEBUG."""
    with caplog.at_level(logging.DEBUG, logger="ptc_observe"):
        yield caplog


# --- traffic carrying the key ---


def client(tel: Telemetry, replies: Replies, **options: Any) -> anthropic.Anthropic:
    """An SDK client sending the key as x-api-key, bearer token and URL query."""
    http = httpx2.Client(transport=tel.observer.transport(replies.transport()))
    options.setdefault("max_retries", 0)
    return anthropic.Anthropic(
        api_key=KEY,
        base_url=BASE,
        default_headers=BEARER,
        default_query={"key": KEY},
        http_client=http,
        **options,
    )


PARAMS: dict[str, Any] = {
    "model": MODEL,
    "max_tokens": 256,
    "messages": [{"role": "user", "content": "What is in stock?"}],
    "metadata": {"user_id": KEY},
}


class Raising:
    """A sink and a tracer that fail with the exchange's repr in the message."""

    def trace(self, exchange: Exchange) -> Exchange:
        raise RuntimeError(f"tracer down: {exchange.request!r}")

    def on_exchange(self, exchange: Exchange) -> None:
        raise RuntimeError(f"sink down: {exchange!r}")


def run_path(path: str, tel: Telemetry) -> Replies:
    """Drive one path with the key; returns the script (to check what was sent)."""
    replies = Replies()
    if path == "json":
        replies.json("01_direct_tool_use.json")
        client(tel, replies).messages.create(**PARAMS)
    elif path == "stream":
        replies.sse("08_stream_ptc_turn1.sse")
        with client(tel, replies).messages.stream(**PARAMS) as stream:
            stream.get_final_message()
    elif path == "error":
        body = dumps({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}})  # fmt: skip
        replies.queue.append(Reply(401, dict(JSON_HEADERS), [body]))
        with pytest.raises(anthropic.AuthenticationError):
            client(tel, replies).messages.create(**PARAMS)
    elif path == "retry":
        overloaded = fixture_bytes("07_error_529_overloaded.json")
        headers = {**JSON_HEADERS, "retry-after-ms": "1", "x-should-retry": "true"}
        replies.queue.append(Reply(529, headers, [overloaded]))
        replies.json("01_direct_tool_use.json")
        client(tel, replies, max_retries=2).messages.create(**PARAMS)
    elif path == "connect_error":
        # An inner transport whose error message holds the whole URL, key included.
        def refuse(request: httpx2.Request) -> httpx2.Response:
            replies.requests.append(request)
            raise httpx2.ConnectError(
                f"cannot connect to {request.url}", request=request
            )

        http = httpx2.Client(transport=tel.observer.transport(httpx2.MockTransport(refuse)))  # fmt: skip
        sdk = anthropic.Anthropic(api_key=KEY, base_url=BASE, default_headers=BEARER, default_query={"key": KEY}, http_client=http, max_retries=0)  # fmt: skip
        with pytest.raises(anthropic.APIConnectionError):
            sdk.messages.create(**PARAMS)
    elif path == "telemetry_failures":
        # A failing sink and tracer, a malformed stream event, a content coding the
        # observer cannot decode, a request body the parser refuses: every telemetry
        # stage that traffic can make fail, fails.
        chunks = sse_events(fixture_bytes("09_stream_plain_text.sse"))
        chunks.insert(3, b"event: content_block_start\ndata: {broken\n\n")
        replies.queue.append(Reply(200, dict(SSE_HEADERS), chunks))
        # A coding the observer cannot decode (httpx passes it through as it is).
        odd = {**JSON_HEADERS, "content-encoding": "compress"}
        replies.queue.append(
            Reply(200, odd, [fixture_bytes("01_direct_tool_use.json")])
        )
        replies.json("01_direct_tool_use.json")
        sdk = client(tel, replies)
        with pytest.raises(ValueError):  # the SDK refuses the broken event
            with sdk.messages.stream(**PARAMS) as stream:
                stream.get_final_message()
        sdk.messages.create(**PARAMS)
        broken = b'{"model": "m", "metadata": {"user_id": "' + KEY.encode()
        sdk._client.post(f"{BASE}/v1/messages?key={KEY}", content=broken, headers={"x-api-key": KEY})  # fmt: skip
    return replies


PATHS = ["json", "stream", "error", "retry", "connect_error", "telemetry_failures"]


@pytest.mark.parametrize("path", PATHS)
def test_the_key_never_reaches_an_output(
    path: str, telemetry: Any, debug_logs: pytest.LogCaptureFixture
) -> None:
    """The key goes out in four places and comes back in none of the outputs."""
    extra = [Raising()] if path == "telemetry_failures" else []
    tel: Telemetry = telemetry(*extra)
    replies = run_path(path, tel)

    # It was really sent, in every place.
    request = replies.requests[0]
    assert request.headers["x-api-key"] == KEY
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert KEY in str(request.url)
    assert KEY.encode() in request.content

    found = outputs(tel, debug_logs)
    assert leaks(found, MARK) == []
    # The scan is not vacuous: the outputs hold what this path records.
    assert tel.sink.exchanges and MODEL in found["exposition"]
    assert tel.spans() and tel.metric_points()
    if path == "retry":
        assert [ex.request.retry_count for ex in tel.sink.exchanges] == [0, 1]
    if path == "telemetry_failures":
        assert tel.errors().keys() == {"request_parse", "stream_parse", "decode", "trace", "sink"}  # fmt: skip
        assert "telemetry error in stage" in found["logs"]
        assert "Traceback" in found["logs"]


def test_captured_key_in_a_body_field_is_redacted(
    telemetry: Any, debug_logs: pytest.LogCaptureFixture
) -> None:
    """With content capture on, a body field holding a key is content: the redaction
    hook sees it first, and only its replacement is recorded."""
    pattern = re.compile(r"sk-ant-[A-Za-z0-9_-]+")

    def redact(value: Any) -> Any:
        return json.loads(pattern.sub("[KEY]", json.dumps(value)))

    tel: Telemetry = telemetry(capture_content=True, redact=redact)
    params = {**PARAMS, "messages": [{"role": "user", "content": f"my key is {KEY}"}]}
    replies = Replies().json("01_direct_tool_use.json")
    client(tel, replies).messages.create(**params)
    found = outputs(tel, debug_logs)
    assert leaks(found, MARK) == []
    assert "my key is [KEY]" in found["spans"]
    assert tel.sink.last.request.content["metadata"] == {"user_id": "[KEY]"}


# --- content capture ---

CANARIES = {
    "prompt": "CANARY-PROMPT-7f3a",
    "system": "CANARY-SYSTEM-7f3a",
    "tool_description": "CANARY-TOOLDESC-7f3a",
    "schema": "CANARY-SCHEMA-7f3a",
    "tool_result": "CANARY-RESULT-7f3a",
    "output": "CANARY-OUTPUT-7f3a",
    "thinking": "CANARY-THINK-7f3a",
    "arguments": "CANARY-ARGS-7f3a",
    "stream_text": "CANARY-STREAM-7f3a",
    "stream_arguments": "CANARY-JSONDELTA-7f3a",
}
TOOLS = [
    {
        "name": "lookup",
        "description": CANARIES["tool_description"],
        "input_schema": {
            "type": "object",
            "properties": {"q": {"type": "string", "description": CANARIES["schema"]}},
        },
    }
]


def first_response() -> bytes:
    """A JSON response with text, thinking and a tool call, each holding a canary."""
    return dumps(
        {
            "id": "msg_canary_1",
            "type": "message",
            "role": "assistant",
            "model": MODEL,
            "content": [
                {"type": "thinking", "thinking": CANARIES["thinking"], "signature": "s"},
                {"type": "text", "text": CANARIES["output"]},
                {"type": "tool_use", "id": "toolu_canary", "name": "lookup",
                 "input": {"q": CANARIES["arguments"]}},
            ],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 11, "output_tokens": 7},
        }
    )  # fmt: skip


def second_response() -> list[bytes]:
    """An SSE response streaming canary text and canary tool arguments."""
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {"id": "msg_canary_2", "type": "message", "role": "assistant", "model": MODEL, "content": [], "usage": {"input_tokens": 20, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": CANARIES["stream_text"]}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_canary_2", "name": "lookup", "input": {}}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": json.dumps({"q": CANARIES["stream_arguments"]})}},
        {"type": "content_block_stop", "index": 1},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}},
        {"type": "message_stop"},
    ]  # fmt: skip
    return [b"event: %s\ndata: %s\n\n" % (e["type"].encode(), dumps(e)) for e in events]


def converse(tel: Telemetry) -> None:
    """Two turns: a tool call, then its result (a canary) answered by a stream."""
    replies = Replies(
        Reply(200, dict(JSON_HEADERS), [first_response()]),
        Reply(200, dict(SSE_HEADERS), second_response()),
    )
    with httpx2.Client(transport=tel.observer.transport(replies.transport())) as http:
        sdk = anthropic.Anthropic(api_key="sk-ant-test", base_url=BASE, http_client=http, max_retries=0)  # fmt: skip
        first = sdk.messages.create(
            model=MODEL,
            max_tokens=256,
            system=CANARIES["system"],
            tools=TOOLS,  # type: ignore[arg-type]
            messages=[{"role": "user", "content": CANARIES["prompt"]}],
        )
        result = {
            "type": "tool_result",
            "tool_use_id": "toolu_canary",
            "content": CANARIES["tool_result"],
        }
        history: Any = [
            {"role": "user", "content": CANARIES["prompt"]},
            {"role": "assistant", "content": [b.to_dict() for b in first.content]},
            {"role": "user", "content": [result]},
        ]
        with sdk.messages.stream(
            model=MODEL,
            max_tokens=256,
            system=CANARIES["system"],
            tools=TOOLS,  # type: ignore[arg-type]
            messages=history,
        ) as stream:
            for _ in stream:
                pass
    assert [ex.outcome for ex in tel.sink.exchanges] == [Outcome.OK, Outcome.OK]
    assert tel.sink.last.tool_turnarounds  # the tool result was matched


def telemetry_outputs(tel: Telemetry, logs: pytest.LogCaptureFixture) -> dict[str, str]:
    """The outputs telemetry backends receive (records are in-memory objects)."""
    found = outputs(tel, logs)
    del found["records"]
    return found


def test_no_content_by_default(
    telemetry: Any, debug_logs: pytest.LogCaptureFixture
) -> None:
    """Capture off (the default): no canary in any output; no request content kept,
    no streamed text accumulated."""
    tel: Telemetry = telemetry()
    converse(tel)
    found = telemetry_outputs(tel, debug_logs)
    for name, canary in CANARIES.items():
        assert leaks(found, canary) == [], name
    assert all(ex.request.content is None for ex in tel.sink.exchanges)
    streamed = tel.sink.last.message
    assert streamed is not None and streamed.text == ""
    # The scan sees the spans' facts (tool names and ids are not content either, but are
    # on spans only with OTelSink(tool_call_events=True): see the test below).
    assert MODEL in found["spans"] and "ptc.outcome" in found["spans"]


def scrub(value: Any) -> Any:
    """A redaction hook that replaces every canary, wherever it sits."""
    if isinstance(value, str):
        return re.sub(r"CANARY-[A-Z]+-7f3a", "[REDACTED]", value)
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


@pytest.mark.parametrize(
    "where", ["SPAN_ONLY", "EVENT_ONLY", "SPAN_AND_EVENT"], ids=str.lower
)
def test_capture_goes_through_the_redaction_hook(
    telemetry: Any,
    debug_logs: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
) -> None:
    """Capture on (span attributes, events, or both): the hook runs before anything
    is recorded; its replacements appear, the raw text never does."""
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", where)
    seen: list[Any] = []

    def redact(value: Any) -> Any:
        seen.append(value)
        return scrub(value)

    tel: Telemetry = telemetry(redact=redact)
    assert tel.observer.capture_content
    converse(tel)
    found = telemetry_outputs(tel, debug_logs)
    for name, canary in CANARIES.items():
        assert leaks(found, canary) == [], name
    # Content was captured (so the hook had work to do) ...
    assert found["spans"].count("[REDACTED]") >= 8
    assert any(CANARIES["prompt"] in json.dumps(v) for v in seen)
    # ... and what sinks receive as request content is the hook's output.
    for ex in tel.sink.exchanges:
        assert "CANARY" not in json.dumps(ex.request.content)


def test_failing_redaction_hook_records_no_content(
    telemetry: Any, debug_logs: pytest.LogCaptureFixture
) -> None:
    """A hook that raises (with the content in its message) drops the content: the raw
    text reaches no output, not even the debug log of the failure."""

    def redact(value: Any) -> Any:
        raise ValueError(f"cannot redact {json.dumps(value)}")

    tel: Telemetry = telemetry(capture_content=True, redact=redact)
    converse(tel)
    found = telemetry_outputs(tel, debug_logs)
    for name, canary in CANARIES.items():
        assert leaks(found, canary) == [], name
    assert all(ex.request.content is None for ex in tel.sink.exchanges)
    assert tel.errors() == {"request_parse": 2}


def test_inferred_tool_span_carries_the_redacted_result(
    telemetry: Any, debug_logs: pytest.LogCaptureFixture
) -> None:
    """With inferred execute_tool spans on (opt-in), the tool result recorded on them is
    the hook's output too."""
    tel: Telemetry = telemetry(opentelemetry=False)
    otel = OTelSink(
        tel.tracer_provider,
        tel.meter_provider,
        capture_content=True,
        redact=scrub,
        infer_tool_spans=True,
        tool_call_events=True,  # tool arguments on events: scanned too
    )
    tel.observer = Observer(
        [tel.sink, otel],
        registry=tel.registry,
        opentelemetry=False,
        capture_content=True,
        redact=scrub,
    )
    converse(tel)
    (tool_span,) = [s for s in tel.spans() if s.name == "execute_tool lookup"]
    assert (tool_span.attributes or {})["gen_ai.tool.call.result"] == "[REDACTED]"
    found = telemetry_outputs(tel, debug_logs)
    # Tool names and ids are not content: the tool-call events record them.
    assert "lookup" in found["spans"] and "toolu_canary" in found["spans"]
    for name, canary in CANARIES.items():
        assert leaks(found, canary) == [], name
