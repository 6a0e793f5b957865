"""Shared fixtures: recorded bodies, fresh telemetry backends, and sync/async modes."""

from __future__ import annotations

import functools
import gzip as gzip_lib
import http.server
import json
import threading
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import anyio.from_thread
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from prometheus_client import CollectorRegistry

from ptc_observe import Observer
from ptc_observe.testing import MemorySink

DATA_DIR = Path(__file__).parent / "data" / "anthropic"


class Fixtures:
    """The recorded Messages API bodies in ``tests/data/anthropic``."""

    dir = DATA_DIR

    def path(self, name: str) -> Path:
        """Path of a fixture file; ``name`` may omit the extension."""
        matches = sorted(DATA_DIR.glob(f"{name}*")) if "." not in name else []
        return matches[0] if matches else DATA_DIR / name

    def bytes(self, name: str) -> bytes:
        """Raw bytes of a fixture."""
        return self.path(name).read_bytes()

    def json(self, name: str) -> Any:
        """A JSON fixture, parsed."""
        return json.loads(self.bytes(name))

    def names(self, suffix: str) -> list[str]:
        """File names with ``suffix`` (``.json`` or ``.sse``), sorted."""
        return sorted(p.name for p in DATA_DIR.glob(f"*{suffix}"))


@pytest.fixture(scope="session")
def fixtures() -> Fixtures:
    """Access to the recorded bodies."""
    return Fixtures()


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio (the SDK's default)."""
    return "asyncio"


# --- telemetry backends, fresh per test ---


@pytest.fixture
def prom_registry() -> CollectorRegistry:
    """An empty Prometheus registry (never the global one)."""
    return CollectorRegistry()


@pytest.fixture
def span_exporter() -> InMemorySpanExporter:
    """Keeps the finished spans of ``tracer_provider``."""
    return InMemorySpanExporter()


@pytest.fixture
def tracer_provider(span_exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    """A tracer provider exporting synchronously to ``span_exporter``."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    yield provider
    provider.shutdown()


@pytest.fixture
def metric_reader() -> InMemoryMetricReader:
    """Reads the metrics of ``meter_provider`` on demand."""
    return InMemoryMetricReader()


@pytest.fixture
def meter_provider(metric_reader: InMemoryMetricReader) -> Iterator[MeterProvider]:
    """A meter provider read by ``metric_reader``."""
    provider = MeterProvider(metric_readers=[metric_reader])
    yield provider
    provider.shutdown()


# --- one test body, sync and async ---


class Mode:
    """Runs SDK or httpx calls either directly (sync) or on an event loop (async).

    In async mode every call runs on one event loop in a background thread, kept for
    the whole test, so connection pools and clients stay bound to one loop.
    """

    def __init__(self, name: str, portal: Any = None) -> None:
        self.name = name
        self.is_async = name == "async"
        self._portal = portal

    def __repr__(self) -> str:
        return f"<Mode {self.name}>"

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``fn``; in async mode ``fn`` is a coroutine function, awaited on the loop."""
        if not self.is_async:
            return fn(*args, **kwargs)
        return self._portal.call(functools.partial(fn, *args, **kwargs))

    def collect(self, stream: Iterable[Any] | AsyncIterable[Any]) -> list[Any]:
        """Iterate a (sync or async) stream to its end."""
        if not self.is_async:
            return list(stream)  # type: ignore[arg-type]

        async def collect() -> list[Any]:
            return [item async for item in stream]  # type: ignore[union-attr]

        return self._portal.call(collect)  # type: ignore[no-any-return]

    def take(self, stream: Any, n: int) -> list[Any]:
        """Read the first ``n`` items of a (sync or async) stream, leaving it open."""
        if not self.is_async:
            it = iter(stream)
            return [next(it) for _ in range(n)]

        async def take() -> list[Any]:
            it = stream.__aiter__()
            return [await it.__anext__() for _ in range(n)]

        return self._portal.call(take)  # type: ignore[no-any-return]

    def close(self, closable: Any) -> None:
        """``close()`` it, or ``await aclose()``/``close()`` in async mode."""
        if not self.is_async:
            closable.close()
            return
        aclose = getattr(closable, "aclose", None) or closable.close
        self._portal.call(aclose)

    def stream_helper(self, manager: Any) -> tuple[list[Any], Any]:
        """Run the SDK's ``messages.stream(...)`` manager: its events and final message."""
        if not self.is_async:
            with manager as stream:
                events = list(stream)
                return events, stream.get_final_message()

        async def run() -> tuple[list[Any], Any]:
            async with manager as stream:
                events = [event async for event in stream]
                return events, await stream.get_final_message()

        return self._portal.call(run)  # type: ignore[no-any-return]

    def raises(
        self, fn: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> BaseException:
        """Call like :meth:`run` and return the exception it raised (fails if none)."""
        try:
            self.run(fn, *args, **kwargs)
        except BaseException as exc:
            return exc
        raise AssertionError(f"{fn!r} raised nothing")

    # Builders of clients for this mode.

    def observing(self, observer: Any, inner: Any = None) -> Any:
        """``observer.transport(inner)`` or ``observer.async_transport(inner)``."""
        if self.is_async:
            return observer.async_transport(inner)
        return observer.transport(inner)

    def http_client(self, lib: Any, **kwargs: Any) -> Any:
        """``lib.Client(**kwargs)`` or ``lib.AsyncClient(**kwargs)`` (httpx or httpx2)."""
        return (lib.AsyncClient if self.is_async else lib.Client)(**kwargs)

    def anthropic(self, sdk: Any, http_client: Any, **kwargs: Any) -> Any:
        """``sdk.Anthropic`` or ``sdk.AsyncAnthropic`` on ``http_client`` (test key, local URL)."""
        cls = sdk.AsyncAnthropic if self.is_async else sdk.Anthropic
        kwargs.setdefault("api_key", "sk-ant-test-key")
        kwargs.setdefault("base_url", "http://api.test")
        return cls(http_client=http_client, **kwargs)


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> Iterator[Mode]:
    """Runs the test body once with sync clients and once with async ones."""
    if request.param == "sync":
        yield Mode("sync")
        return
    with anyio.from_thread.start_blocking_portal("asyncio") as portal:
        yield Mode("async", portal)


# --- scripted Messages API replies for httpx / httpx2 mock transports ---

JSON_HEADERS = {
    "content-type": "application/json",
    "request-id": "req_011CZqA7Nd3Wk8Hs2Lq5TxVb",
    "anthropic-ratelimit-requests-limit": "4000",
    "anthropic-ratelimit-requests-remaining": "3999",
    "anthropic-ratelimit-requests-reset": "2026-08-21T09:14:08Z",
}
SSE_HEADERS = {
    "content-type": "text/event-stream; charset=utf-8",
    "request-id": "req_011CZqA7Nd3Wk8Hs2Lq5TxVc",
}


def sse_chunks(data: bytes) -> list[bytes]:
    """An SSE body cut after each event, as a server flushes it."""
    parts = data.split(b"\n\n")
    chunks = [part + b"\n\n" for part in parts[:-1] if part]
    return chunks + ([parts[-1]] if parts[-1] else [])


@functools.cache
def _chunk_stream_class(lib: ModuleType) -> type:
    class ChunkStream(lib.SyncByteStream, lib.AsyncByteStream):  # type: ignore[name-defined,misc]
        """A response body that yields given chunks, optionally failing or hanging.

        ``gaps`` records, before each chunk after the first, how many chunks the
        client had not yet consumed (tests increment ``consumed``): all zeros means
        the chunk was pulled only after the client had the previous one.
        """

        def __init__(
            self,
            chunks: list[bytes],
            fail_after: int | None = None,
            fail_with: BaseException | None = None,
            hang_after: int | None = None,
        ) -> None:
            self.chunks = chunks
            self.fail_after = fail_after
            self.fail_with = fail_with
            self.hang_after = hang_after
            self.pulled = 0
            self.consumed = 0
            self.gaps: list[int] = []
            self.closed = False

        def _next(self, i: int) -> None:
            if i == self.fail_after:
                assert self.fail_with is not None
                raise self.fail_with
            if i:
                self.gaps.append(i - self.consumed)
            self.pulled = i + 1

        def __iter__(self) -> Iterator[bytes]:
            for i, chunk in enumerate(self.chunks):
                self._next(i)
                yield chunk
            if self.fail_after == len(self.chunks):
                self._next(len(self.chunks))

        async def __aiter__(self) -> AsyncIterator[bytes]:
            for i, chunk in enumerate(self.chunks):
                if i == self.hang_after:
                    await anyio.sleep_forever()
                self._next(i)
                yield chunk
            if self.fail_after == len(self.chunks):
                self._next(len(self.chunks))

        def close(self) -> None:
            self.closed = True

        async def aclose(self) -> None:
            self.closed = True

    return ChunkStream


class Script:
    """A mock-transport handler answering queued replies, for httpx or httpx2.

    Every request is kept in ``requests`` and every body stream made in ``streams``.
    """

    def __init__(self, lib: ModuleType) -> None:
        self.lib = lib
        self.replies: deque[dict[str, Any]] = deque()
        self.requests: list[Any] = []
        self.streams: list[Any] = []
        self.default: dict[str, Any] | None = None

    def add(
        self,
        status: int = 200,
        headers: dict[str, str] | None = None,
        chunks: list[bytes] | None = None,
        *,
        raise_at_send: BaseException | None = None,
        fail_after: int | None = None,
        fail_with: BaseException | None = None,
        hang_after: int | None = None,
        preread: bool = False,
        repeat: bool = False,
    ) -> Script:
        """Queue one reply (``repeat``: answer it to every later request too)."""
        reply = dict(
            status=status,
            headers=headers or {},
            chunks=chunks or [],
            raise_at_send=raise_at_send,
            fail_after=fail_after,
            fail_with=fail_with,
            hang_after=hang_after,
            preread=preread,
        )
        if repeat:
            self.default = reply
        else:
            self.replies.append(reply)
        return self

    def fixture(
        self,
        name: str,
        *,
        status: int | None = None,
        gzip: bool = False,
        headers: dict[str, str] | None = None,
        **options: Any,
    ) -> Script:
        """Queue a recorded body: JSON in two chunks, SSE one event per chunk."""
        data = (DATA_DIR / name).read_bytes()
        sse = name.endswith(".sse")
        base = dict(SSE_HEADERS if sse else JSON_HEADERS)
        if status is None:
            status = {"06": 429, "07": 529}.get(name[:2], 200)
        if gzip:
            data = gzip_lib.compress(data)
            base["content-encoding"] = "gzip"
            chunks = [data[i : i + 64] for i in range(0, len(data), 64)]
        elif sse:
            chunks = sse_chunks(data)
        else:
            chunks = [data[: len(data) // 2], data[len(data) // 2 :]]
        base.update(headers or {})
        return self.add(status, base, chunks, **options)

    def __call__(self, request: Any) -> Any:
        self.requests.append(request)
        if self.replies:
            reply = self.replies.popleft()
        elif self.default is not None:
            reply = self.default
        else:
            raise AssertionError(f"no reply scripted for {request!r}")
        if reply["raise_at_send"] is not None:
            raise reply["raise_at_send"]
        if reply["preread"]:
            return self.lib.Response(
                reply["status"],
                headers=reply["headers"],
                content=b"".join(reply["chunks"]),
            )
        stream = _chunk_stream_class(self.lib)(
            list(reply["chunks"]),
            fail_after=reply["fail_after"],
            fail_with=reply["fail_with"],
            hang_after=reply["hang_after"],
        )
        self.streams.append(stream)
        return self.lib.Response(
            reply["status"], headers=reply["headers"], stream=stream
        )

    def transport(self) -> Any:
        """A ``MockTransport`` (sync and async) of the library answering with this script."""
        return self.lib.MockTransport(self)


@pytest.fixture
def make_script() -> Callable[[ModuleType], Script]:
    """Builds a :class:`Script` for an HTTP library module (httpx or httpx2)."""
    return Script


# --- a real HTTP server over loopback ---


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # a stuck client cannot hold a server thread forever

    def do_POST(self) -> None:
        server: Any = self.server
        length = int(self.headers.get("content-length") or 0)
        server.requests.append((self.path, dict(self.headers), self.rfile.read(length)))
        status, headers, chunks = server.replies.pop(0)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for chunk in chunks:  # one flushed HTTP chunk per body chunk
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[Any]:
    """A threaded HTTP/1.1 server on 127.0.0.1 answering queued (status, headers, chunks)."""
    httpd: Any = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.replies = []
    httpd.requests = []
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}
    )
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(10)


@pytest.fixture
def sink() -> MemorySink:
    """Keeps every exchange an observer finishes."""
    return MemorySink()


@pytest.fixture
def observer(sink: MemorySink) -> Observer:
    """An observer that feeds only ``sink`` (no Prometheus, no OpenTelemetry)."""
    return Observer(sinks=[sink], prometheus=False, opentelemetry=False)
