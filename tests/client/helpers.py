"""Helpers of the client tests: a scripted Messages API on an httpx2.MockTransport.

``Script`` answers each request with the next scripted :class:`Reply` (a recorded
fixture body, an error, a stream, a stream that breaks) and keeps every request, so a
test can assert what the client sent. :class:`Harness` builds the sync or async client
of the test's ``mode`` over it, with an observer feeding a memory sink and the test's
tracer provider, and records the client's sleeps instead of sleeping.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from opentelemetry.sdk.trace import TracerProvider

from ptc_observe.client import AsyncPTCClient, PTCClient
from ptc_observe.client.tools import ToolRegistry, ToolSeverity, ToolSpec
from ptc_observe.observer import Observer
from ptc_observe.testing import MemorySink

DATA = Path(__file__).parent.parent / "data" / "anthropic"
HEADERS = {"request-id": "req_011CZqA7Nd3Wk8Hs2Lq5TxVb"}


def fixture_bytes(name: str) -> bytes:
    """A recorded body from tests/data/anthropic (name without extension is fine)."""
    matches = sorted(DATA.glob(f"{name}*"))
    assert matches, name
    return matches[0].read_bytes()


def fixture_json(name: str) -> dict[str, Any]:
    """A recorded JSON body, parsed."""
    value: dict[str, Any] = json.loads(fixture_bytes(name))
    return value


class _Broken(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """A body that sends some bytes, then fails like a dropped connection."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def __iter__(self) -> Iterator[bytes]:
        yield self._data
        raise httpx2.RemoteProtocolError(
            "peer closed connection without sending complete message body"
        )

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._data
        raise httpx2.RemoteProtocolError(
            "peer closed connection without sending complete message body"
        )


@dataclass
class Reply:
    """One scripted answer."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    sse: bool = False
    broken: bool = False
    """Send ``body``, then drop the connection."""
    raises: Exception | None = None
    """Raise this from the transport instead of answering."""

    def response(self) -> httpx2.Response:
        if self.raises is not None:
            raise self.raises
        headers = {
            **HEADERS,
            "content-type": "text/event-stream" if self.sse else "application/json",
            **self.headers,
        }
        if self.broken:
            return httpx2.Response(
                self.status, headers=headers, stream=_Broken(self.body)
            )
        return httpx2.Response(self.status, headers=headers, content=self.body)


def ok(name_or_body: str | dict[str, Any]) -> Reply:
    """A 200 JSON reply: a fixture name or a message dict."""
    if isinstance(name_or_body, str):
        return Reply(body=fixture_bytes(name_or_body))
    return Reply(body=json.dumps(name_or_body).encode())


def sse(name_or_body: str | bytes, *, broken: bool = False) -> Reply:
    """A 200 SSE reply: a fixture name or raw SSE bytes."""
    body = (
        fixture_bytes(name_or_body) if isinstance(name_or_body, str) else name_or_body
    )
    return Reply(body=body, sse=True, broken=broken)


def error(
    status: int,
    error_type: str,
    message: str,
    *,
    headers: dict[str, str] | None = None,
    request_id: str | None = "req_err",
) -> Reply:
    """An API error reply with the API's envelope."""
    envelope: dict[str, Any] = {
        "type": "error",
        "error": {"type": error_type, "message": message},
    }
    if request_id is not None:
        envelope["request_id"] = request_id
    return Reply(
        status=status, body=json.dumps(envelope).encode(), headers=headers or {}
    )


def text_message(
    text: str = "Done.",
    *,
    container: dict[str, Any] | None = None,
    stop: str = "end_turn",
) -> dict[str, Any]:
    """A final text message body."""
    return {
        "id": "msg_final",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": [{"type": "text", "text": text}],
        "container": container,
        "stop_reason": stop,
        "usage": {"input_tokens": 10, "output_tokens": 5},
    }


def stream_with_error(
    prefix_events: int = 3, error_type: str = "overloaded_error"
) -> bytes:
    """The first events of fixture 08, then a mid-stream ``error`` event."""
    frames = fixture_bytes("08").split(b"\n\n")[:prefix_events]
    payload = json.dumps(
        {"type": "error", "error": {"type": error_type, "message": "Overloaded"}}
    )
    return (
        b"\n\n".join(frames) + b"\n\nevent: error\ndata: " + payload.encode() + b"\n\n"
    )


def truncated_stream(events: int = 5) -> bytes:
    """The first events of fixture 08, ending cleanly without ``message_stop``."""
    return b"\n\n".join(fixture_bytes("08").split(b"\n\n")[:events]) + b"\n\n"


class Script:
    """A MockTransport handler playing scripted replies in order and keeping the requests."""

    def __init__(self, replies: list[Reply]) -> None:
        self.replies = list(replies)
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        assert self.replies, f"unexpected request #{len(self.requests)}"
        return self.replies.pop(0).response()

    @property
    def bodies(self) -> list[dict[str, Any]]:
        """The JSON bodies sent, in order."""
        return [json.loads(r.content) for r in self.requests]


def sales_registry(handler: Callable[..., Any] | None = None) -> ToolRegistry:
    """``query_sales`` (READ_ONLY, programmatic) and ``get_inventory`` (LOW, direct)."""

    def query_sales(sql: str) -> list[dict[str, Any]]:
        return [{"total": 1000.0 + len(sql)}]

    def get_inventory(sku: str, warehouse: str) -> dict[str, Any]:
        return {"sku": sku, "warehouse": warehouse, "on_hand": 12}

    registry = ToolRegistry()
    registry.register(
        ToolSpec(
            "query_sales",
            "Run read-only SQL on the sales DB; returns JSON rows.",
            parameters={
                "type": "object",
                "properties": {"sql": {"type": "string"}},
                "required": ["sql"],
            },
            severity=ToolSeverity.READ_ONLY,
        ),
        handler or query_sales,
    )
    registry.register(
        ToolSpec(
            "get_inventory",
            "Stock level of a SKU in a warehouse.",
            parameters={
                "type": "object",
                "properties": {
                    "sku": {"type": "string"},
                    "warehouse": {"type": "string"},
                },
            },
        ),
        get_inventory,
    )
    return registry


class Harness:
    """The test's client (sync or async, from ``mode``) over a :class:`Script`."""

    def __init__(self, mode: Any, tracer_provider: TracerProvider) -> None:
        self.mode = mode
        self.tracer_provider = tracer_provider
        self.sleeps: list[float] = []
        self.sink = MemorySink()
        self.script = Script([])
        self._clients: list[Any] = []

    def client(self, replies: list[Reply], **kwargs: Any) -> Any:
        """A client whose transport plays ``replies``."""
        self.script.replies.extend(replies)
        sleeps = self.sleeps

        def sleep(seconds: float) -> None:
            sleeps.append(seconds)

        async def asleep(seconds: float) -> None:
            sleeps.append(seconds)

        kwargs.setdefault("api_key", "sk-ant-test")
        kwargs.setdefault("base_url", "http://api.test")
        kwargs.setdefault("rng", random.Random(7))
        kwargs.setdefault("tracer_provider", self.tracer_provider)
        if kwargs.get("observe", True):
            kwargs.setdefault(
                "observer",
                Observer(
                    sinks=[self.sink],
                    prometheus=False,
                    tracer_provider=self.tracer_provider,
                ),
            )
        cls = AsyncPTCClient if self.mode.is_async else PTCClient
        client = cls(
            transport=httpx2.MockTransport(self.script),
            sleep=asleep if self.mode.is_async else sleep,
            **kwargs,
        )
        self._clients.append(client)
        return client

    def call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        """Call a client method (awaited on the test's loop in async mode)."""
        return self.mode.run(method, *args, **kwargs)

    def raises(self, method: Any, *args: Any, **kwargs: Any) -> BaseException:
        """Call a client method and return what it raised."""
        exc: BaseException = self.mode.raises(method, *args, **kwargs)
        return exc

    def close(self) -> None:
        for client in self._clients:
            self.mode.close(client)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return self.script.bodies

    @property
    def requests(self) -> list[httpx2.Request]:
        return self.script.requests
