"""The observing transport with plain httpx and httpx2 clients, mock and real HTTP."""

from __future__ import annotations

import gc
import gzip
import json
import traceback
import tracemalloc
from types import ModuleType
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from ptc_observe import Observer, Outcome
from ptc_observe.observer.transport import transport_classes
from ptc_observe.testing import MemorySink

LIBS = [pytest.param(httpx2, id="httpx2"), pytest.param(httpx, id="httpx")]
JSON_FIXTURES = [
    "01_direct_tool_use.json",
    "02_ptc_turn1_response.json",
    "03_ptc_resume_response.json",
    "04_ptc_final_response.json",
    "05_ptc_multiple_calls_response.json",
    "06_error_429_rate_limit.json",
    "07_error_529_overloaded.json",
]
SSE_FIXTURES = [
    "08_stream_ptc_turn1.sse",
    "09_stream_plain_text.sse",
    "10_stream_ptc_resume_prepopulated.sse",
]
URL = "https://api.anthropic.com/v1/messages"
BODY = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 1024,
    "messages": [{"role": "user", "content": "hi"}],
}


def post(
    mode: Any, client: Any, *, stream: bool = False, **kw: Any
) -> tuple[Any, list[bytes]]:
    """POST BODY, read the raw (still encoded) chunks; returns the response and chunks."""
    kw.setdefault("json", {**BODY, "stream": stream})
    kw.setdefault("url", URL)
    if not mode.is_async:
        with client.stream("POST", **kw) as response:
            return response, list(response.iter_raw())

    async def run() -> tuple[Any, list[bytes]]:
        async with client.stream("POST", **kw) as response:
            return response, [c async for c in response.aiter_raw()]

    result: tuple[Any, list[bytes]] = mode.run(run)
    return result


def exchange_of(sink: MemorySink) -> Any:
    assert len(sink.exchanges) == 1, sink.exchanges
    return sink.exchanges[0]


class TestPassThrough:
    @pytest.mark.parametrize("lib", LIBS)
    @pytest.mark.parametrize("name", JSON_FIXTURES + SSE_FIXTURES)
    def test_bytes_status_and_headers_are_unchanged(
        self,
        mode: Any,
        lib: ModuleType,
        name: str,
        make_script: Any,
        observer: Observer,
        sink: MemorySink,
        fixtures: Any,
    ) -> None:
        """The client sees the same status, headers and chunks with and without the transport."""
        results = []
        for observed in (False, True):
            script = make_script(lib).fixture(name)
            inner = script.transport()
            transport = mode.observing(observer, inner) if observed else inner
            client = mode.http_client(lib, transport=transport)
            response, chunks = post(mode, client, stream=name.endswith(".sse"))
            mode.close(client)
            results.append(
                (response.status_code, response.headers.multi_items(), chunks)
            )
            assert script.streams[0].closed
        assert results[0] == results[1]
        assert b"".join(results[1][2]) == fixtures.bytes(name)
        ex = exchange_of(sink)
        assert ex.status_code == results[0][0]
        assert ex.streamed is name.endswith(".sse")
        assert ex.outcome is (Outcome.ERROR if name[:2] in ("06", "07") else Outcome.OK)

    @pytest.mark.parametrize("lib", LIBS)
    def test_gzip_passes_byte_for_byte_and_is_parsed(
        self,
        mode: Any,
        lib: ModuleType,
        make_script: Any,
        observer: Observer,
        sink: MemorySink,
        fixtures: Any,
    ) -> None:
        """A gzip body reaches the client compressed, exactly; the record is parsed from a copy."""
        script = make_script(lib).fixture("02_ptc_turn1_response.json", gzip=True)
        client = mode.http_client(
            lib, transport=mode.observing(observer, script.transport())
        )
        response, chunks = post(mode, client)
        mode.close(client)
        assert b"".join(chunks) == b"".join(script.streams[0].chunks)
        assert gzip.decompress(b"".join(chunks)) == fixtures.bytes(
            "02_ptc_turn1_response.json"
        )
        assert response.headers["content-encoding"] == "gzip"
        ex = exchange_of(sink)
        assert ex.outcome is Outcome.OK
        assert ex.message.id == "msg_011CZq7S3aVbN6uPq1WcE8Dk"
        assert ex.response_bytes == len(b"".join(chunks))

    @pytest.mark.parametrize("lib", LIBS)
    @pytest.mark.parametrize(
        ("method", "path"),
        [
            pytest.param("POST", "/v1/messages/count_tokens", id="count_tokens"),
            pytest.param("POST", "/v1/messages/batches", id="batches"),
            pytest.param("GET", "/v1/models", id="models"),
            pytest.param("GET", "/v1/messages", id="get-messages"),
        ],
    )
    def test_other_requests_are_not_touched(
        self,
        mode: Any,
        lib: ModuleType,
        method: str,
        path: str,
        make_script: Any,
        observer: Observer,
        sink: MemorySink,
    ) -> None:
        """Anything but POST …/v1/messages goes straight through: same stream object, no record."""
        script = make_script(lib).add(
            200, {"content-type": "application/json"}, [b"{}"]
        )
        transport = mode.observing(observer, script.transport())
        request = lib.Request(method, "https://api.anthropic.com" + path, json={})
        if mode.is_async:
            response = mode.run(transport.handle_async_request, request)
        else:
            response = transport.handle_request(request)
        assert response.stream is script.streams[0]
        assert sink.exchanges == []

    @pytest.mark.parametrize("lib", LIBS)
    def test_any_base_path_and_beta_query_are_observed(
        self,
        mode: Any,
        lib: ModuleType,
        make_script: Any,
        observer: Observer,
        sink: MemorySink,
    ) -> None:
        """A proxy base path and ?beta=true (anthropic 0.x beta calls) are Messages calls."""
        script = make_script(lib).fixture("01_direct_tool_use.json")
        client = mode.http_client(
            lib, transport=mode.observing(observer, script.transport())
        )
        post(
            mode, client, url="http://127.0.0.1:9/proxy/anthropic/v1/messages?beta=true"
        )
        mode.close(client)
        ex = exchange_of(sink)
        assert (ex.request.path, ex.request.server_address, ex.request.server_port) == (
            "/proxy/anthropic/v1/messages",
            "127.0.0.1",
            9,
        )

    @pytest.mark.parametrize("lib", LIBS)
    def test_request_is_forwarded_untouched(
        self,
        mode: Any,
        lib: ModuleType,
        make_script: Any,
        observer: Observer,
        sink: MemorySink,
    ) -> None:
        """The inner transport gets the very request, traceparent and key included; no key is recorded."""
        script = make_script(lib).fixture("01_direct_tool_use.json")
        client = mode.http_client(
            lib, transport=mode.observing(observer, script.transport())
        )
        headers = {
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "tracestate": "vendor=1",
            "x-api-key": "sk-ant-secret-1",
            "authorization": "Bearer sk-ant-secret-2",
        }
        post(mode, client, headers=headers)
        mode.close(client)
        (request,) = script.requests
        for key, value in headers.items():
            assert request.headers[key] == value
        assert json.loads(request.content) == {**BODY, "stream": False}
        text = repr(exchange_of(sink))
        assert "sk-ant-secret" not in text

    @pytest.mark.parametrize("lib", LIBS)
    def test_disabled_by_environment(
        self,
        mode: Any,
        lib: ModuleType,
        make_script: Any,
        observer: Observer,
        sink: MemorySink,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """PTC_OBSERVE_DISABLED=1 passes requests straight through, checked per request."""
        script = make_script(lib).fixture("01_direct_tool_use.json", repeat=True)
        transport = mode.observing(observer, script.transport())
        client = mode.http_client(lib, transport=transport)
        monkeypatch.setenv("PTC_OBSERVE_DISABLED", "1")
        post(mode, client)
        assert sink.exchanges == []
        monkeypatch.setenv("PTC_OBSERVE_DISABLED", "0")
        post(mode, client)
        mode.close(client)
        assert len(sink.exchanges) == 1

    def test_preread_response(
        self,
        mode: Any,
        make_script: Any,
        observer: Observer,
        sink: MemorySink,
        fixtures: Any,
    ) -> None:
        """A response built with content= (already read by httpx) is recorded at once."""
        script = make_script(httpx2).fixture("09_stream_plain_text.sse", preread=True)
        client = mode.http_client(
            httpx2, transport=mode.observing(observer, script.transport())
        )
        response = mode.run(client.post, URL, json={**BODY, "stream": True})
        mode.close(client)
        assert response.content == fixtures.bytes("09_stream_plain_text.sse")
        ex = exchange_of(sink)
        assert ex.outcome is Outcome.OK and ex.output_chunks == 7

    def test_parent_context_is_captured_at_send(
        self, make_script: Any, observer: Observer, sink: MemorySink
    ) -> None:
        """The OpenTelemetry context current at send is kept for the tracer."""
        provider = TracerProvider()
        script = make_script(httpx2).fixture("01_direct_tool_use.json")
        with httpx2.Client(transport=observer.transport(script.transport())) as client:
            with provider.get_tracer("t").start_as_current_span("parent") as span:
                client.post(URL, json=BODY)
        ex = exchange_of(sink)
        parent = trace.get_current_span(ex.parent_context).get_span_context()
        assert parent.span_id == span.get_span_context().span_id
        provider.shutdown()


class TestLifecycle:
    @pytest.mark.parametrize("lib", LIBS)
    def test_stream_is_lazy(
        self,
        mode: Any,
        lib: ModuleType,
        make_script: Any,
        observer: Observer,
        sink: MemorySink,
    ) -> None:
        """No read-ahead: each inner chunk is pulled only after the client got the previous one."""
        script = make_script(lib).fixture("08_stream_ptc_turn1.sse")
        client = mode.http_client(
            lib, transport=mode.observing(observer, script.transport())
        )
        received: list[bytes] = []

        def consume(chunk: bytes) -> None:
            received.append(chunk)
            script.streams[0].consumed += 1

        if mode.is_async:

            async def run() -> None:
                async with client.stream("POST", URL, json=BODY) as response:
                    async for chunk in response.aiter_raw():
                        consume(chunk)

            mode.run(run)
        else:
            with client.stream("POST", URL, json=BODY) as response:
                for chunk in response.iter_raw():
                    consume(chunk)
        mode.close(client)
        stream = script.streams[0]
        assert len(stream.gaps) == len(stream.chunks) - 1 > 20
        assert set(stream.gaps) == {0}
        assert received == stream.chunks  # same chunk boundaries, same order
        assert exchange_of(sink).outcome is Outcome.OK

    def test_memory_stays_flat_on_long_streams(
        self, observer: Observer, sink: MemorySink, make_script: Any
    ) -> None:
        """A stream of many megabytes goes through in bounded memory (content capture off)."""
        start = b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[],"usage":{"input_tokens":1,"output_tokens":1}}}\n\nevent: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n'
        delta = (
            b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"'
            + b"x" * 400
            + b'"}}\n\n'
        )
        end = b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n'
        n = 20_000  # about 9 MB
        script = make_script(httpx2).add(
            200, {"content-type": "text/event-stream"}, [start, *[delta] * n, end]
        )
        with httpx2.Client(transport=observer.transport(script.transport())) as client:
            tracemalloc.start()
            try:
                with client.stream("POST", URL, json=BODY) as response:
                    total = sum(len(c) for c in response.iter_raw())
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
        assert total > 8_000_000
        assert peak < 1_000_000
        ex = exchange_of(sink)
        assert ex.outcome is Outcome.OK and ex.output_chunks == n

    @pytest.mark.parametrize("lib", LIBS)
    def test_early_close(
        self,
        mode: Any,
        lib: ModuleType,
        make_script: Any,
        observer: Observer,
        sink: MemorySink,
    ) -> None:
        """Closing after a few chunks finishes the exchange as closed early and closes the inner body."""
        script = make_script(lib).fixture("08_stream_ptc_turn1.sse")
        client = mode.http_client(
            lib, transport=mode.observing(observer, script.transport())
        )
        request = client.build_request("POST", URL, json=BODY)
        response = mode.run(client.send, request, stream=True)
        iterator = response.aiter_raw() if mode.is_async else response.iter_raw()
        mode.take(iterator, 3)
        assert sink.exchanges == []
        mode.close(response)
        mode.close(client)
        ex = exchange_of(sink)
        assert ex.outcome is Outcome.CLOSED_EARLY and ex.closed_early
        assert (
            ex.message is not None and ex.message.id == "msg_011CZq9Qa7Vd3Lx8Hs2KtN5c"
        )
        assert script.streams[0].closed

    @pytest.mark.parametrize("lib", LIBS)
    def test_exception_at_send_reaches_the_caller_unchanged(
        self,
        mode: Any,
        lib: ModuleType,
        make_script: Any,
        observer: Observer,
        sink: MemorySink,
    ) -> None:
        """The inner transport's exception object reaches the caller, with its traceback."""
        error = lib.ConnectError("connection refused")
        script = make_script(lib).add(raise_at_send=error)
        client = mode.http_client(
            lib, transport=mode.observing(observer, script.transport())
        )
        raised = mode.raises(client.post, URL, json=BODY)
        mode.close(client)
        assert raised is error
        frames = [f.name for f in traceback.extract_tb(raised.__traceback__)]
        assert "__call__" in frames  # raised inside the mock handler
        ex = exchange_of(sink)
        assert (ex.outcome, ex.error_type, ex.status_code) == (
            Outcome.ERROR,
            "ConnectError",
            None,
        )
        assert ex.request.model == "claude-sonnet-4-6"

    @pytest.mark.parametrize("lib", LIBS)
    def test_exception_mid_stream(
        self,
        mode: Any,
        lib: ModuleType,
        make_script: Any,
        observer: Observer,
        sink: MemorySink,
    ) -> None:
        """A read error mid-stream reaches the caller unchanged; the record keeps the partial message."""
        error = lib.RemoteProtocolError("peer closed connection")
        script = make_script(lib).fixture(
            "08_stream_ptc_turn1.sse", fail_after=5, fail_with=error
        )
        client = mode.http_client(
            lib, transport=mode.observing(observer, script.transport())
        )
        with pytest.raises(lib.RemoteProtocolError) as info:
            post(mode, client, stream=True)
        raised = info.value
        mode.close(client)
        assert raised is error
        ex = exchange_of(sink)
        assert (ex.outcome, ex.error_type, ex.closed_early) == (
            Outcome.ERROR,
            "RemoteProtocolError",
            False,
        )
        assert (
            ex.message is not None and ex.message.id == "msg_011CZq9Qa7Vd3Lx8Hs2KtN5c"
        )
        assert ex.status_code == 200

    @pytest.mark.parametrize("lib", LIBS)
    def test_dropped_response_finishes_as_closed_early(
        self,
        mode: Any,
        lib: ModuleType,
        make_script: Any,
        observer: Observer,
        sink: MemorySink,
    ) -> None:
        """A response dropped unclosed (garbage collected) still finishes, as closed early."""
        script = make_script(lib).fixture("09_stream_plain_text.sse")
        client = mode.http_client(
            lib, transport=mode.observing(observer, script.transport())
        )

        def drop() -> None:
            response = client.send(
                client.build_request("POST", URL, json=BODY), stream=True
            )
            next(response.iter_raw())
            del response

        async def adrop() -> None:
            response = await client.send(
                client.build_request("POST", URL, json=BODY), stream=True
            )
            await response.aiter_raw().__anext__()
            del response
            for _ in range(100):  # the event loop finalizes the body's async generator
                gc.collect()
                await anyio.sleep(0.001)
                if sink.exchanges:
                    break

        mode.run(adrop if mode.is_async else drop)
        gc.collect()
        ex = exchange_of(sink)
        assert ex.outcome is Outcome.CLOSED_EARLY and ex.closed_early
        mode.close(client)

    def test_cancelled_task_mid_stream(
        self, make_script: Any, observer: Observer, sink: MemorySink
    ) -> None:
        """Cancelling the task reading a stream: closed early, the inner body closed."""
        script = make_script(httpx2).fixture("08_stream_ptc_turn1.sse", hang_after=4)

        async def main() -> None:
            async with httpx2.AsyncClient(
                transport=observer.async_transport(script.transport())
            ) as client:
                got = anyio.Event()
                with anyio.move_on_after(30):  # bound: the test must not hang
                    async with anyio.create_task_group() as tg:

                        async def read() -> None:
                            async with client.stream(
                                "POST", URL, json=BODY
                            ) as response:
                                async for _ in response.aiter_raw():
                                    if script.streams[0].pulled == 4:
                                        got.set()

                        tg.start_soon(read)
                        await got.wait()
                        tg.cancel_scope.cancel()

        anyio.run(main)
        ex = exchange_of(sink)
        assert (
            ex.outcome is Outcome.CLOSED_EARLY
            and ex.closed_early
            and ex.error_type is None
        )
        assert script.streams[0].closed

    @pytest.mark.parametrize("lib", LIBS)
    def test_truncated_stream_is_incomplete(
        self,
        mode: Any,
        lib: ModuleType,
        make_script: Any,
        observer: Observer,
        sink: MemorySink,
        fixtures: Any,
    ) -> None:
        """A stream that ends cleanly without message_stop is incomplete; the client sees the same bytes."""
        data = fixtures.bytes("09_stream_plain_text.sse")
        cut = data[: data.index(b"event: message_delta") + 30]
        script = make_script(lib).add(200, {"content-type": "text/event-stream"}, [cut])
        client = mode.http_client(
            lib, transport=mode.observing(observer, script.transport())
        )
        _, chunks = post(mode, client, stream=True)
        mode.close(client)
        assert b"".join(chunks) == cut
        ex = exchange_of(sink)
        assert ex.outcome is Outcome.INCOMPLETE and not ex.complete

    @pytest.mark.parametrize("lib", LIBS)
    def test_dropped_unread_response(
        self,
        mode: Any,
        lib: ModuleType,
        make_script: Any,
        observer: Observer,
        sink: MemorySink,
    ) -> None:
        """A streamed response dropped before any read finishes when it is collected."""
        script = make_script(lib).fixture("09_stream_plain_text.sse")
        transport = mode.observing(observer, script.transport())
        request = lib.Request("POST", URL, json=BODY)
        if mode.is_async:
            response = mode.run(transport.handle_async_request, request)
        else:
            response = transport.handle_request(request)
        assert sink.exchanges == []
        del response
        gc.collect()
        ex = exchange_of(sink)
        assert ex.outcome is Outcome.CLOSED_EARLY and ex.response_bytes == 0

    @pytest.mark.parametrize("lib", LIBS)
    def test_streamed_request_body(
        self,
        mode: Any,
        lib: ModuleType,
        make_script: Any,
        observer: Observer,
        sink: MemorySink,
    ) -> None:
        """A request body given as an iterator is read once; the inner gets the same bytes."""
        script = make_script(lib).fixture("01_direct_tool_use.json")
        transport = mode.observing(observer, script.transport())
        payload = json.dumps(BODY).encode()
        parts = [payload[:10], payload[10:]]
        if mode.is_async:

            async def agen() -> Any:
                for part in parts:
                    yield part

            request = lib.Request("POST", URL, content=agen())
            response = mode.run(transport.handle_async_request, request)
            mode.run(response.aread)
        else:
            request = lib.Request("POST", URL, content=iter(parts))
            response = transport.handle_request(request)
            response.read()
        assert script.requests[0].content == payload
        ex = exchange_of(sink)
        assert ex.request.model == "claude-sonnet-4-6"
        assert ex.request.body_bytes == len(payload)


class TestConstruction:
    def test_default_inner_is_httpx2(self, observer: Observer) -> None:
        """With no inner transport the observer wraps httpx2's own HTTP transports."""
        sync, asyn = observer.transport(), observer.async_transport()
        assert isinstance(sync.inner, httpx2.HTTPTransport)
        assert isinstance(asyn.inner, httpx2.AsyncHTTPTransport)
        assert isinstance(sync, httpx2.BaseTransport)
        assert isinstance(asyn, httpx2.AsyncBaseTransport)
        sync.close()
        anyio.run(asyn.aclose)

    def test_library_follows_the_inner_transport(self, observer: Observer) -> None:
        """An httpx inner gives an httpx transport (and httpx's Client accepts it)."""
        transport = observer.transport(httpx.HTTPTransport())
        assert isinstance(transport, httpx.BaseTransport)
        assert not isinstance(transport, httpx2.BaseTransport)
        with httpx.Client(transport=transport):
            pass
        assert type(transport) is transport_classes(httpx)[0]
        assert type(observer.transport(httpx.HTTPTransport())) is type(
            transport
        )  # cached

    @pytest.mark.parametrize(
        ("method", "inner"),
        [
            pytest.param(
                "transport", httpx2.AsyncHTTPTransport, id="async-inner-for-sync"
            ),
            pytest.param(
                "async_transport", httpx.HTTPTransport, id="sync-inner-for-async"
            ),
            pytest.param("transport", object, id="not-a-transport"),
        ],
    )
    def test_wrong_inner_is_a_type_error(
        self, observer: Observer, method: str, inner: Any
    ) -> None:
        """An inner transport of the wrong kind is refused with a clear message."""
        with pytest.raises(TypeError, match="transport"):
            getattr(observer, method)(inner())

    def test_close_and_context_manager_reach_the_inner(
        self, observer: Observer
    ) -> None:
        """close / __enter__ / __exit__ are forwarded to the inner transport."""
        calls: list[str] = []

        class Inner(httpx2.BaseTransport):
            def __enter__(self) -> Any:
                calls.append("enter")
                return self

            def __exit__(self, *args: Any) -> None:
                calls.append("exit")

            def close(self) -> None:
                calls.append("close")

        transport = observer.transport(Inner())
        with transport as entered:
            assert entered is transport
        transport.close()
        assert calls == ["enter", "exit", "close"]

    def test_async_close_reaches_the_inner(self, observer: Observer) -> None:
        """aclose / __aenter__ / __aexit__ are forwarded to the inner transport."""
        calls: list[str] = []

        class Inner(httpx2.AsyncBaseTransport):
            async def __aenter__(self) -> Any:
                calls.append("enter")
                return self

            async def __aexit__(self, *args: Any) -> None:
                calls.append("exit")

            async def aclose(self) -> None:
                calls.append("close")

        transport = observer.async_transport(Inner())

        async def run() -> None:
            async with transport as entered:
                assert entered is transport
            await transport.aclose()

        anyio.run(run)
        assert calls == ["enter", "exit", "close"]


class TestLoopback:
    @pytest.mark.parametrize("lib", LIBS)
    @pytest.mark.parametrize(
        "name", ["02_ptc_turn1_response.json", "08_stream_ptc_turn1.sse"]
    )
    def test_gzip_over_real_http(
        self,
        mode: Any,
        lib: ModuleType,
        name: str,
        http_server: Any,
        observer: Observer,
        sink: MemorySink,
        fixtures: Any,
    ) -> None:
        """Over a real socket, gzip bodies reach the client byte for byte and are parsed."""
        data = fixtures.bytes(name)
        packed = gzip.compress(data)
        ctype = "text/event-stream" if name.endswith(".sse") else "application/json"
        headers = {
            "content-type": ctype,
            "content-encoding": "gzip",
            "request-id": "req_loop",
        }
        chunks = [packed[i : i + 97] for i in range(0, len(packed), 97)]
        raw_results = []
        for observed in (False, True):
            http_server.replies.append((200, headers, chunks))
            inner = (lib.AsyncHTTPTransport if mode.is_async else lib.HTTPTransport)()
            transport = mode.observing(observer, inner) if observed else inner
            client = mode.http_client(lib, transport=transport)
            response, raw = post(mode, client, url=http_server.url + "/v1/messages")
            mode.close(client)
            raw_results.append(
                (
                    response.status_code,
                    response.headers["content-encoding"],
                    b"".join(raw),
                )
            )
        assert raw_results[0] == raw_results[1] == (200, "gzip", packed)
        ex = exchange_of(sink)
        assert ex.outcome is Outcome.OK and ex.request_id == "req_loop"
        assert ex.response_bytes == len(packed)
        assert ex.message is not None
        assert (
            ex.message.id
            == {
                "02_ptc_turn1_response.json": "msg_011CZq7S3aVbN6uPq1WcE8Dk",
                "08_stream_ptc_turn1.sse": "msg_011CZq9Qa7Vd3Lx8Hs2KtN5c",
            }[name]
        )
        assert ex.request.server_address == "127.0.0.1"


@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.parametrize(
    "pairs",
    [
        [("Anthropic-Beta", "a, b"), ("anthropic-beta", "c"), ("X-Other", "x")],
        [("x-stainless-retry-count", "2"), ("X-Stainless-Helper-Method", "stream")],
        [("anthropic-beta", "caf\u00e9".encode())],  # non-ASCII: Headers decides
        [("accept", "application/json")],
        # a name sent twice in the same case, and once in another
        [("anthropic-beta", "a"), ("Anthropic-Beta", "b"), ("anthropic-beta", "c")],
        [("anthropic-beta", "a"), ("anthropic-beta", "caf\u00e9".encode())],
    ],
)
def test_request_headers_read_as_headers_get_reads_them(
    lib: ModuleType, pairs: list[tuple[str, Any]]
) -> None:
    """The plain dict of request headers gives what Headers.get gives for each name read."""
    from ptc_observe.observer.transport import _request_headers

    headers = lib.Headers(pairs)
    for _ in range(2):  # the second time with the plan cached for these names
        picked = _request_headers(headers)
        for name in (
            "anthropic-beta",
            "x-stainless-retry-count",
            "x-stainless-helper-method",
        ):
            assert picked.get(name) == headers.get(name)


@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.parametrize(
    "pairs",
    [
        [("Content-Type", "text/event-stream"), ("Request-Id", "r")],
        [("content-type", "application/json"), ("request-id", "r")],
        # the last of a name wins, whatever its case, as in a lower-cased dict
        [("Request-Id", "a"), ("x-other", "x"), ("request-id", "b")],
        [("request-id", "a"), ("Request-ID", "b"), ("request-id", "c")],
        [("request-id", "a"), ("request-id", "b"), ("REQUEST-ID", "c")],
        [("retry-after", "1"), ("Anthropic-RateLimit-Tokens-Limit", "9")],
        [],
    ],
)
def test_response_values_read_as_a_lower_cased_dict_reads_them(
    lib: ModuleType, pairs: list[tuple[str, str]]
) -> None:
    """The values the transport reads are those of a dict of lower-cased raw headers
    (the last value of a repeated name), also on the second response with the same
    names (the cached plan)."""
    from ptc_observe.observer.transport import _response_values
    from ptc_observe.wire.headers import RESPONSE_HEADERS

    headers = lib.Headers(pairs)
    lowered = {k.lower().decode(): v for k, v in headers.raw}
    expected = tuple(lowered.get(name) for name in RESPONSE_HEADERS)
    assert _response_values(headers) == expected
    assert _response_values(lib.Headers(pairs)) == expected
