"""A body served as an SSE stream without ``content-type: text/event-stream`` is a stream.

The real API always sends the header; a proxy or a mock may drop or change it. The
recorder then looks at the body's first bytes (or, for a content-encoded body, at the
decoded body) instead of recording the exchange as an incomplete JSON body.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest

from ptc_observe import Observer, Outcome
from ptc_observe.testing import MemorySink

URL = "http://api.test/v1/messages"
BODY = (
    b'{"model": "claude-sonnet-4-6", "max_tokens": 8, "stream": true, "messages": []}'
)


def observed(handler: Any) -> tuple[httpx2.Client, MemorySink, Observer]:
    sink = MemorySink()
    observer = Observer([sink], prometheus=False, opentelemetry=False)
    client = httpx2.Client(transport=observer.transport(httpx2.MockTransport(handler)))
    return client, sink, observer


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


@pytest.mark.parametrize("content_type", [None, "application/json", "text/plain"])
@pytest.mark.parametrize("size", [1, 7, 4096])
def test_stream_found_by_its_first_bytes(
    fixtures: Any, content_type: str | None, size: int
) -> None:
    """Missing or wrong header, any chunking (one byte at a time included): a complete stream."""
    sse = fixtures.bytes("09_stream_plain_text.sse")
    headers = {"content-type": content_type} if content_type else {}

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers=headers, content=chunks(sse, size))

    client, sink, observer = observed(handler)
    with client.stream("POST", URL, content=BODY) as response:
        received = b"".join(response.iter_raw())
    assert received == sse  # byte for byte
    (ex,) = sink.exchanges
    assert (ex.outcome, ex.streamed, ex.complete) == (Outcome.OK, True, True)
    assert ex.timings.first_token is not None
    assert ex.reply is not None and ex.reply.usage.output_tokens == 27
    assert dict(observer.telemetry_errors) == {}


def test_whole_body_given_at_once(fixtures: Any) -> None:
    """A response built with content=bytes (read before the transport saw it)."""
    sse = fixtures.bytes("08_stream_ptc_turn1.sse")

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=sse)

    client, sink, _ = observed(handler)
    client.post(URL, content=BODY)
    (ex,) = sink.exchanges
    assert (ex.outcome, ex.streamed) == (Outcome.OK, True)
    assert ex.reply is not None and len(ex.reply.tool_uses) >= 1


def test_content_encoded_stream_without_the_header(fixtures: Any) -> None:
    """gzip-coded: the decoded body is looked at once it is complete."""
    sse = fixtures.bytes("09_stream_plain_text.sse")

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            200,
            headers={"content-encoding": "gzip"},
            content=chunks(gzip.compress(sse), 64),
        )

    client, sink, observer = observed(handler)
    with client.stream("POST", URL, content=BODY) as response:
        assert b"".join(response.iter_bytes()) == sse
    (ex,) = sink.exchanges
    assert (ex.outcome, ex.streamed, ex.complete) == (Outcome.OK, True, True)
    assert dict(observer.telemetry_errors) == {}


@pytest.mark.parametrize("body", [b"", b"   ", b"ev", b'{"oops"', b"eventually"])
def test_short_or_json_bodies_stay_json(body: bytes) -> None:
    """Bodies that are not a stream keep the JSON path (a truncated one is incomplete)."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=body)

    client, sink, _ = observed(handler)
    client.post(URL, content=BODY)
    (ex,) = sink.exchanges
    assert ex.streamed is False and ex.outcome is Outcome.INCOMPLETE


def test_sdk_stream_without_the_header(fixtures: Any) -> None:
    """The official SDK streams such a body; the observer records what it read."""
    sse = fixtures.bytes("09_stream_plain_text.sse")

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=chunks(sse, 50))

    client, sink, _ = observed(handler)
    sdk = anthropic.Anthropic(
        api_key="k",
        base_url="http://api.test",
        http_client=client,
        open_telemetry=False,
    )
    events = list(
        sdk.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=8,
            messages=[{"role": "user", "content": "x"}],
            stream=True,
        )
    )
    assert events[-1].type == "message_stop"
    (ex,) = sink.exchanges
    assert (ex.outcome, ex.streamed, ex.complete) == (Outcome.OK, True, True)
