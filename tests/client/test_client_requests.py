"""complete() and stream(): what the client sends, what it returns, and its errors."""

from __future__ import annotations

import random
from typing import Any

import anyio
import httpx2
import pytest

from ptc_observe import AsyncPTCClient, PTCClient
from ptc_observe.client import RetryPolicy
from ptc_observe.client.errors import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    IncompleteStreamError,
    OverloadedError,
    PTCError,
    RateLimitError,
)
from ptc_observe.client.tools import CODE_EXECUTION_20250825, CODE_EXECUTION_20260521
from ptc_observe.models import ContainerInfo

from .helpers import (
    Harness,
    Reply,
    error,
    fixture_json,
    ok,
    sales_registry,
    sse,
    stream_with_error,
    truncated_stream,
)


class TestRequest:
    def test_headers_and_body_defaults(self, harness: Harness) -> None:
        """Key as x-api-key, anthropic-version 2023-06-01, no beta header, max_tokens 4096, JSON body."""
        client = harness.client([ok("01")])
        harness.call(client.complete, "How many LMP-2290 in Reno?")
        request = harness.requests[0]
        assert request.method == "POST"
        assert str(request.url) == "http://api.test/v1/messages"
        assert request.headers["x-api-key"] == "sk-ant-test"
        assert request.headers["anthropic-version"] == "2023-06-01"
        assert request.headers["content-type"] == "application/json"
        assert "anthropic-beta" not in request.headers
        assert "authorization" not in request.headers
        assert harness.bodies[0] == {
            "model": "claude-sonnet-4-6",
            "max_tokens": 4096,
            "messages": [{"role": "user", "content": "How many LMP-2290 in Reno?"}],
        }

    def test_registry_tools_with_ptc(self, harness: Harness) -> None:
        """With a registry, the tools array declares code execution and the READ_ONLY tool's code caller."""
        client = harness.client([ok("02")], tools=sales_registry())
        harness.call(client.complete, "Q2?")
        tools = harness.bodies[0]["tools"]
        assert tools[0] == {"type": "code_execution_20260120", "name": "code_execution"}
        assert tools[1]["name"] == "query_sales"
        assert tools[1]["allowed_callers"] == ["code_execution_20260120"]
        assert "allowed_callers" not in tools[2]

    def test_ptc_opt_out(self, harness: Harness) -> None:
        """ptc=False: no code execution tool, no programmatic callers."""
        client = harness.client([ok("01")], tools=sales_registry(), ptc=False)
        harness.call(client.complete, "Q2?")
        tools = harness.bodies[0]["tools"]
        assert [t["name"] for t in tools] == ["query_sales", "get_inventory"]
        assert all("allowed_callers" not in t for t in tools)

    def test_beta_header_only_for_the_beta_era_version(self, harness: Harness) -> None:
        """code_execution_20250825 sends anthropic-beta advanced-tool-use-2025-11-20 and matching callers."""
        beta = harness.client(
            [ok("02")],
            tools=sales_registry(),
            code_execution_version=CODE_EXECUTION_20250825,
        )
        harness.call(beta.complete, "Q2?")
        assert (
            harness.requests[0].headers["anthropic-beta"]
            == "advanced-tool-use-2025-11-20"
        )
        assert harness.bodies[0]["tools"][0]["type"] == CODE_EXECUTION_20250825
        assert harness.bodies[0]["tools"][1]["allowed_callers"] == [
            CODE_EXECUTION_20250825
        ]

        newer = harness.client(
            [ok("02")],
            tools=sales_registry(),
            code_execution_version=CODE_EXECUTION_20260521,
        )
        harness.call(newer.complete, "Q2?")
        assert "anthropic-beta" not in harness.requests[1].headers
        assert harness.bodies[1]["tools"][0]["type"] == CODE_EXECUTION_20260521

    def test_overrides(self, harness: Harness) -> None:
        """anthropic_version, default headers, model, max_tokens, container and extra params are sent."""
        client = harness.client(
            [ok("02"), ok("02")],
            anthropic_version="2026-10-21",
            default_headers={"X-Team": "sales"},
            model="claude-opus-4-7",
            max_tokens=1000,
            container_id="container_default",
        )
        harness.call(client.complete, "Q2?", system="Be brief.", max_tokens=50)
        harness.call(client.complete, "Q2?", container_id="container_other", model="m")
        first, second = harness.bodies
        assert harness.requests[0].headers["anthropic-version"] == "2026-10-21"
        assert harness.requests[0].headers["x-team"] == "sales"
        assert first["model"] == "claude-opus-4-7" and first["max_tokens"] == 50
        assert (
            first["system"] == "Be brief." and first["container"] == "container_default"
        )
        assert second["container"] == "container_other" and second["model"] == "m"
        assert second["max_tokens"] == 1000

    def test_raw_tools_array_and_message_list(self, harness: Harness) -> None:
        """A ready tools array and a list of messages are sent as given."""
        client = harness.client([ok("01")])
        tools = [{"name": "t", "description": "d", "input_schema": {"type": "object"}}]
        messages = [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
        harness.call(client.complete, messages, tools=tools)
        assert harness.bodies[0]["tools"] == tools
        assert harness.bodies[0]["messages"] == messages


class TestConfiguration:
    @pytest.mark.parametrize("cls", [PTCClient, AsyncPTCClient])
    def test_environment(self, cls: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        """API key and base URL come from ANTHROPIC_API_KEY / ANTHROPIC_BASE_URL; the default URL is the API's."""
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-env")
        client = cls(observe=False)
        assert client.config.api_key == "sk-env"
        assert client.base_url == "https://api.anthropic.com"
        monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://localhost:8080/")
        assert cls(observe=False).base_url == "http://localhost:8080"
        assert (
            cls("sk-arg", base_url="http://x", observe=False).config.api_key == "sk-arg"
        )

    @pytest.mark.parametrize("cls", [PTCClient, AsyncPTCClient])
    def test_missing_key(self, cls: Any) -> None:
        """No key anywhere: a clear PTCError at construction."""
        with pytest.raises(PTCError, match="ANTHROPIC_API_KEY"):
            cls(observe=False)

    def test_wrong_transport_kind(self) -> None:
        """A sync client refuses an async-only transport and vice versa."""
        with pytest.raises(TypeError):
            PTCClient("k", transport=httpx2.AsyncHTTPTransport(), observe=False)
        with pytest.raises(TypeError):
            AsyncPTCClient("k", transport=httpx2.HTTPTransport(), observe=False)

    def test_unknown_code_execution_version(self) -> None:
        """An unsupported code execution version fails at construction."""
        with pytest.raises(ValueError, match="unsupported"):
            PTCClient(
                "k", code_execution_version="code_execution_20250522", observe=False
            )

    def test_observe_false_has_no_observer(self, harness: Harness) -> None:
        """observe=False: requests bypass the observer (nothing reaches its sinks)."""
        client = harness.client([ok("01")], observe=False)
        harness.call(client.complete, "hi")
        assert client.observer is None
        assert harness.sink.exchanges == []

    def test_default_observer(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without observer=, clients share the process-wide default observer; with a tracer provider they get their own."""
        from opentelemetry.sdk.trace import TracerProvider

        from ptc_observe.client import default_observer

        first, second = PTCClient("k"), AsyncPTCClient("k")
        assert first.observer is default_observer() is second.observer
        own = PTCClient("k", tracer_provider=TracerProvider())
        assert own.observer is not None and own.observer is not first.observer
        first.close()
        own.close()
        anyio.run(second.aclose)

    def test_observed_by_default(self, harness: Harness) -> None:
        """The observer given sees every exchange."""
        client = harness.client([ok("02")])
        harness.call(client.complete, "Q2?")
        (exchange,) = harness.sink.exchanges
        assert exchange.ok and exchange.status_code == 200
        assert exchange.container is not None
        assert exchange.container.id == "container_011CZq7TfRmB3vKx9NwPd2Lh"


class TestResponse:
    def test_programmatic_response(self, harness: Harness) -> None:
        """complete() returns the typed message: tool calls with their caller, and the container."""
        client = harness.client([ok("02")])
        message = harness.call(client.complete, "Q2?")
        (call,) = message.tool_calls
        assert call.name == "query_sales"
        assert call.is_programmatic
        assert call.caller.type == "code_execution_20260120"
        assert call.caller.tool_id == "srvtoolu_01HqJ7mVtX2cR9bW4nYk5eLs"
        assert isinstance(message.container, ContainerInfo)
        assert message.container.id == "container_011CZq7TfRmB3vKx9NwPd2Lh"
        assert message.is_programmatic_pause
        assert message.usage.input_tokens == 1874

    def test_direct_response(self, harness: Harness) -> None:
        """A direct tool_use reads as caller direct, with no container."""
        client = harness.client([ok("01")])
        message = harness.call(client.complete, "stock?")
        assert [c.caller.type for c in message.tool_calls] == ["direct"]
        assert message.container is None

    def test_streamed_complete_equals_the_events(self, harness: Harness) -> None:
        """complete(stream=True) sends stream: true, calls on_event per event and returns the accumulated message."""
        events: list[Any] = []
        client = harness.client([sse("08")])
        message = harness.call(
            client.complete, "Q2?", stream=True, on_event=events.append
        )
        assert harness.bodies[0]["stream"] is True
        assert harness.requests[0].headers["accept"] == "text/event-stream"
        assert events[0].type == "message_start" and events[-1].type == "message_stop"
        assert "ping" in [e.type for e in events]
        assert (
            message.text == "I'll total Q2 revenue for each region with a short script."
        )
        code = message.server_tool_calls[0].input["code"]
        assert "query_sales" in code
        (call,) = message.tool_calls
        assert call.is_programmatic
        assert message.container is not None
        assert message.stop_reason == "tool_use"

    def test_prepopulated_continuation_stream(self, harness: Harness) -> None:
        """A continuation whose message_start carries the whole message is read completely."""
        client = harness.client([sse("10")])
        message = harness.call(client.complete, "Q2?", stream=True)
        assert message.stop_reason == "tool_use"
        assert message.tool_calls[0].id == "toolu_01Qs8Ln4Vc2Yk7Hd5Rw3MtBx"
        assert message.container is not None


class TestErrors:
    @pytest.mark.parametrize(
        "status, error_type, cls",
        [
            pytest.param(400, "invalid_request_error", BadRequestError, id="400"),
            pytest.param(401, "authentication_error", AuthenticationError, id="401"),
            pytest.param(429, "rate_limit_error", RateLimitError, id="429"),
            pytest.param(529, "overloaded_error", OverloadedError, id="529"),
        ],
    )
    def test_typed_error(
        self, harness: Harness, status: int, error_type: str, cls: type[APIStatusError]
    ) -> None:
        """An error response raises the class of its type, carrying status, type, message, request id, retry-after."""
        client = harness.client(
            [error(status, error_type, "nope", headers={"retry-after": "100"})],
            retry=RetryPolicy(max_retries=0),
        )
        exc = harness.raises(client.complete, "hi")
        assert type(exc) is cls
        assert isinstance(exc, APIStatusError)
        assert (exc.status_code, exc.type, exc.message) == (status, error_type, "nope")
        assert exc.request_id == "req_err"
        assert exc.retry_after == 100.0
        assert not exc.in_stream

    def test_fixture_429_body(self, harness: Harness) -> None:
        """The recorded 429 body and headers give a RateLimitError with its message and request id."""
        body = fixture_json("06")
        reply = ok(body)
        reply.status, reply.headers = 429, {"retry-after": "90"}
        client = harness.client([reply])
        exc = harness.raises(client.complete, "hi")
        assert isinstance(exc, RateLimitError)
        assert exc.request_id == "req_011CZq9Fv2Lk8Tw5Nb3Xq7Hs"
        assert exc.message.startswith("This request would exceed")
        assert exc.retry_after == 90.0

    def test_error_without_body_uses_the_status(self, harness: Harness) -> None:
        """A 503 from a proxy with an HTML body: an APIStatusError with the status and the request-id header."""
        reply = ok({})
        reply.status, reply.body, reply.headers = (
            503,
            b"<html>bad gateway</html>",
            {"content-type": "text/html"},
        )
        client = harness.client([reply, reply, reply])
        exc = harness.raises(client.complete, "hi")
        assert type(exc) is APIStatusError
        assert isinstance(exc, APIStatusError)
        assert exc.status_code == 503 and "bad gateway" in exc.message
        assert exc.request_id == "req_011CZqA7Nd3Wk8Hs2Lq5TxVb"
        assert harness.sleeps and len(harness.sleeps) == 2  # 503 is retried

    def test_mid_stream_error(self, harness: Harness) -> None:
        """An error event after HTTP 200 raises the class of its type, marked in_stream, status 200."""
        client = harness.client([sse(stream_with_error(3))] * 3)
        exc = harness.raises(client.complete, "hi", stream=True)
        assert isinstance(exc, OverloadedError)
        assert exc.in_stream and exc.status_code == 200
        assert len(harness.requests) == 3

    def test_truncated_stream(self, harness: Harness) -> None:
        """A stream that ends without message_stop raises IncompleteStreamError (after retries)."""
        client = harness.client([sse(truncated_stream())] * 3)
        exc = harness.raises(client.complete, "hi", stream=True)
        assert isinstance(exc, IncompleteStreamError)

    def test_dropped_connection(self, harness: Harness) -> None:
        """A connection that drops mid-body raises APIConnectionError (after retries)."""
        client = harness.client([sse(truncated_stream(), broken=True)] * 3)
        exc = harness.raises(client.complete, "hi", stream=True)
        assert isinstance(exc, APIConnectionError)
        assert "RemoteProtocolError" in str(exc)

    def test_connect_error(self, harness: Harness) -> None:
        """No connection: APIConnectionError after the retries."""
        client = harness.client([Reply(raises=httpx2.ConnectError("refused"))] * 3)
        exc = harness.raises(client.complete, "hi")
        assert isinstance(exc, APIConnectionError)
        assert len(harness.requests) == 3


class TestRetries:
    def test_rate_limit_honours_retry_after(self, harness: Harness) -> None:
        """A 429 with retry-after 17 waits 17 s, then the retry (x-stainless-retry-count 1) succeeds."""
        client = harness.client(
            [
                error(
                    429, "rate_limit_error", "slow down", headers={"retry-after": "17"}
                ),
                ok("01"),
            ]
        )
        message = harness.call(client.complete, "hi")
        assert message.id == "msg_011CZq6pW2dGh7sLx4RrTe9N"
        assert harness.sleeps == [17.0]
        assert [r.headers["x-stainless-retry-count"] for r in harness.requests] == [
            "0",
            "1",
        ]
        assert harness.bodies[0] == harness.bodies[1]

    def test_overload_backs_off_with_injected_jitter(self, harness: Harness) -> None:
        """529s without retry-after wait 0.5 s then 1 s, times the injected RNG's jitter (0.75..1)."""
        client = harness.client(
            [error(529, "overloaded_error", "Overloaded")] * 2 + [ok("01")],
            rng=random.Random(3),
        )
        harness.call(client.complete, "hi")
        rng = random.Random(3)
        expected = [
            0.5 * (0.75 + 0.25 * rng.random()),
            1.0 * (0.75 + 0.25 * rng.random()),
        ]
        assert harness.sleeps == pytest.approx(expected)

    def test_retries_are_bounded(self, harness: Harness) -> None:
        """After max_retries the last error is raised."""
        client = harness.client(
            [error(500, "api_error", "boom")] * 5, retry=RetryPolicy(max_retries=4)
        )
        exc = harness.raises(client.complete, "hi")
        assert isinstance(exc, APIStatusError) and exc.status_code == 500
        assert len(harness.requests) == 5 and len(harness.sleeps) == 4

    def test_on_retry_sees_each_retry(self, harness: Harness) -> None:
        """on_retry is called with the error and the delay before every retry."""
        seen: list[tuple[str, float]] = []
        client = harness.client(
            [
                error(429, "rate_limit_error", "slow", headers={"retry-after": "3"}),
                error(529, "overloaded_error", "Overloaded"),
                ok("01"),
            ],
            on_retry=lambda exc, delay: seen.append((type(exc).__name__, delay)),
        )
        harness.call(client.complete, "hi")
        assert [name for name, _ in seen] == ["RateLimitError", "OverloadedError"]
        assert [delay for _, delay in seen] == harness.sleeps
        assert seen[0][1] == 3.0

    def test_too_long_retry_after_is_not_waited(self, harness: Harness) -> None:
        """retry-after beyond max_retry_after: raised at once with retry_after for the caller."""
        client = harness.client(
            [error(429, "rate_limit_error", "later", headers={"retry-after": "3600"})]
        )
        exc = harness.raises(client.complete, "hi")
        assert isinstance(exc, RateLimitError) and exc.retry_after == 3600.0
        assert harness.sleeps == []

    def test_client_errors_are_not_retried(self, harness: Harness) -> None:
        """400 is raised at once."""
        client = harness.client([error(400, "invalid_request_error", "bad")])
        harness.raises(client.complete, "hi")
        assert len(harness.requests) == 1 and harness.sleeps == []

    def test_x_should_retry_false_wins(self, harness: Harness) -> None:
        """x-should-retry: false stops retries of a 529."""
        client = harness.client(
            [error(529, "overloaded_error", "no", headers={"x-should-retry": "false"})]
        )
        harness.raises(client.complete, "hi")
        assert len(harness.requests) == 1

    def test_stream_errors_are_retried(self, harness: Harness) -> None:
        """A mid-stream overload, a cut stream and a dropped connection are each retried; the last attempt succeeds."""
        events: list[Any] = []
        client = harness.client(
            [
                sse(stream_with_error()),
                sse(truncated_stream()),
                sse(truncated_stream(), broken=True),
                sse("09"),
            ],
            retry=RetryPolicy(max_retries=3),
        )
        message = harness.call(
            client.complete, "hi", stream=True, on_event=events.append
        )
        assert message.text.startswith("Programmatic tool calling lets")
        assert len(harness.requests) == 4 and len(harness.sleeps) == 3
        assert events[-1].type == "message_stop"


class TestStream:
    def test_stream_context_manager(self, harness: Harness) -> None:
        """client.stream(): iterate events, text_stream, final_message."""
        client = harness.client([sse("09"), sse("09")])

        def run_sync() -> tuple[list[str], str]:
            with client.stream("hi") as stream:
                texts = list(stream.text_stream)
                return texts, stream.final_message().text

        async def run_async() -> tuple[list[str], str]:
            async with client.stream("hi") as stream:
                texts = [t async for t in stream.text_stream()]
                return texts, (await stream.final_message()).text

        texts, final = harness.call(run_async if harness.mode.is_async else run_sync)
        assert "".join(texts) == final
        assert final.startswith("Programmatic tool calling lets")

        def events_sync() -> list[str]:
            with client.stream("hi") as stream:
                return [e.type for e in stream]

        async def events_async() -> list[str]:
            async with client.stream("hi") as stream:
                return [e.type async for e in stream]

        kinds = harness.call(events_async if harness.mode.is_async else events_sync)
        assert kinds[0] == "message_start" and kinds[-1] == "message_stop"

    def test_stream_open_retries(self, harness: Harness) -> None:
        """Opening a stream retries a 529 before any event."""
        client = harness.client(
            [error(529, "overloaded_error", "Overloaded"), sse("09")]
        )

        def run_sync() -> str:
            with client.stream("hi") as stream:
                return str(stream.final_message().text)

        async def run_async() -> str:
            async with client.stream("hi") as stream:
                return str((await stream.final_message()).text)

        assert harness.call(run_async if harness.mode.is_async else run_sync)
        assert len(harness.sleeps) == 1

    def test_stream_error_after_events_raises(self, harness: Harness) -> None:
        """Once events flow, a mid-stream error raises from the iteration."""
        client = harness.client([sse(stream_with_error(3))])

        def run_sync() -> None:
            with client.stream("hi") as stream:
                list(stream)

        async def run_async() -> None:
            async with client.stream("hi") as stream:
                [e async for e in stream]

        exc = harness.raises(run_async if harness.mode.is_async else run_sync)
        assert isinstance(exc, OverloadedError) and exc.in_stream
