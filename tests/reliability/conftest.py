"""Shared parts of the reliability suites.

* :class:`Telemetry`: fresh backends (Prometheus registry, in-memory spans and metrics, a
  :class:`~ptc_observe.testing.MemorySink`) and an :class:`~ptc_observe.Observer` feeding
  them, with readers for every output a leak or a lost exchange could hide in;
* :class:`Replies`: a scripted ``MockTransport`` handler for httpx2 whose bodies can fail,
  hang or be dropped at a chosen chunk;
* :class:`FaultServer`: a raw-socket HTTP server on 127.0.0.1 that misbehaves on purpose
  (closes before the status line, in the middle of the headers or of the body, stalls);
* :func:`sync_task` / :func:`async_task`: a programmatic tool-calling task run to its end
  with the official SDK (as an application would), for the emulator runs.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import (
    generate_latest as generate_openmetrics,
)

from ptc_observe import Observer
from ptc_observe.emulator import Scenario
from ptc_observe.testing import MemorySink

DATA = Path(__file__).parent.parent / "data" / "anthropic"
URL = "https://api.anthropic.com/v1/messages"
MODEL = "claude-sonnet-4-6"
BODY: dict[str, Any] = {
    "model": MODEL,
    "max_tokens": 1024,
    "messages": [{"role": "user", "content": "hi"}],
}
JSON_HEADERS = {"content-type": "application/json", "request-id": "req_rel_json"}
SSE_HEADERS = {"content-type": "text/event-stream", "request-id": "req_rel_sse"}
ENV_VARS = (
    "PTC_OBSERVE_DISABLED",
    "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
    "OTEL_SEMCONV_STABILITY_OPT_IN",
    "PROMETHEUS_MULTIPROC_DIR",
)


def fixture_bytes(name: str) -> bytes:
    """A recorded body from ``tests/data/anthropic``."""
    return (DATA / name).read_bytes()


def sse_events(data: bytes) -> list[bytes]:
    """An SSE body cut after each event (as a server flushes it)."""
    return [part + b"\n\n" for part in data.split(b"\n\n") if part]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts with the switches ptc_observe reads unset."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


# --- telemetry backends and the outputs they hold ---


class Telemetry:
    """Fresh backends and an observer that feeds them.

    Args:
        sinks: more sinks (after the built-in ones and the memory sink).
        **options: passed to :class:`~ptc_observe.Observer`.
    """

    def __init__(self, *sinks: Any, **options: Any) -> None:
        self.registry = CollectorRegistry()
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.sink = MemorySink()
        self.observer = Observer(
            [self.sink, *sinks],
            registry=self.registry,
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
            **options,
        )

    def close(self) -> None:
        """Shut the providers down."""
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()

    # Prometheus

    def samples(self, name: str, **labels: str) -> list[tuple[dict[str, str], float]]:
        """``(labels, value)`` of every sample called ``name`` whose labels include ``labels``."""
        return [
            (dict(s.labels), s.value)
            for metric in self.registry.collect()
            for s in metric.samples
            if s.name == name and labels.items() <= s.labels.items()
        ]

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples ``name`` with ``labels`` (0 when there are none)."""
        return sum(v for _, v in self.samples(name, **labels))

    def by_label(self, name: str, label: str, **labels: str) -> dict[str, float]:
        """Sample values of ``name`` summed by the value of ``label`` (zeros left out)."""
        out: dict[str, float] = {}
        for found, value in self.samples(name, **labels):
            out[found[label]] = out.get(found[label], 0.0) + value
        return {k: v for k, v in out.items() if v}

    def errors(self) -> dict[str, int]:
        """``ptc_telemetry_errors_total`` by stage (stages at zero left out)."""
        found = self.by_label("ptc_telemetry_errors_total", "stage")
        return {k: int(v) for k, v in found.items()}

    def exposition(self) -> str:
        """The registry in both exposition formats (classic text and OpenMetrics)."""
        classic: bytes = generate_latest(self.registry)
        openmetrics: bytes = generate_openmetrics(self.registry)
        return classic.decode() + openmetrics.decode()

    # OpenTelemetry

    def spans(self) -> tuple[ReadableSpan, ...]:
        """Finished spans."""
        return self.exporter.get_finished_spans()

    def metric_points(self) -> list[tuple[str, dict[str, Any], Any]]:
        """``(instrument name, attributes, data point)`` of every OTel metric point."""
        data = self.reader.get_metrics_data()
        if data is None:
            return []
        return [
            (metric.name, dict(point.attributes or {}), point)
            for rm in data.resource_metrics
            for sm in rm.scope_metrics
            for metric in sm.metrics
            for point in metric.data.data_points
        ]

    def otel_sum(self, name: str, **attributes: Any) -> float:
        """The summed ``sum`` (histograms) or ``value`` (counters) of instrument ``name``."""
        total = 0.0
        for found, attrs, point in self.metric_points():
            if found == name and attributes.items() <= attrs.items():
                value = getattr(point, "sum", None)
                total += value if value is not None else getattr(point, "value", 0)
        return total

    def otel_count(self, name: str, **attributes: Any) -> int:
        """The summed ``count`` of the histogram ``name``."""
        return sum(
            point.count
            for found, attrs, point in self.metric_points()
            if found == name and attributes.items() <= attrs.items()
        )


@pytest.fixture
def telemetry() -> Iterator[Any]:
    """Builds :class:`Telemetry` objects (``telemetry(*sinks, **options)``), shut down after."""
    made: list[Telemetry] = []

    def make(*sinks: Any, **options: Any) -> Telemetry:
        made.append(Telemetry(*sinks, **options))
        return made[-1]

    yield make
    for t in made:
        t.close()


# --- scripted replies through httpx2.MockTransport ---


class Body(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """A response body of given chunks that may fail or hang at a chunk index.

    Args:
        chunks: the body, as the server would send it.
        fail_at: raise ``fail_with`` instead of yielding chunk ``fail_at``
            (``len(chunks)``: after the last one).
        fail_with: the exception to raise.
        hang_at: async only: wait forever instead of yielding chunk ``hang_at``.
    """

    def __init__(
        self,
        chunks: list[bytes],
        fail_at: int | None = None,
        fail_with: BaseException | None = None,
        hang_at: int | None = None,
    ) -> None:
        self.chunks = chunks
        self.fail_at = fail_at
        self.fail_with = fail_with
        self.hang_at = hang_at
        self.pulled = 0
        self.closed = False

    def _check(self, i: int) -> None:
        if i == self.fail_at:
            assert self.fail_with is not None
            raise self.fail_with
        self.pulled = i + 1

    def __iter__(self) -> Iterator[bytes]:
        for i, chunk in enumerate(self.chunks):
            self._check(i)
            yield chunk
        self._check(len(self.chunks))

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for i, chunk in enumerate(self.chunks):
            if i == self.hang_at:
                await anyio.sleep_forever()
            self._check(i)
            yield chunk
        self._check(len(self.chunks))

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


@dataclass
class Reply:
    """One scripted reply (see :class:`Body` for the failure options)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: dict(JSON_HEADERS))
    chunks: list[bytes] = field(default_factory=list)
    raise_at_send: BaseException | None = None
    hang_at_send: bool = False
    fail_at: int | None = None
    fail_with: BaseException | None = None
    hang_at: int | None = None


class Replies:
    """A ``MockTransport`` handler for httpx2 answering queued :class:`Reply` objects.

    ``repeat`` answers the same reply to every request; requests and bodies are kept.
    """

    def __init__(self, *replies: Reply, repeat: Reply | None = None) -> None:
        self.queue: deque[Reply] = deque(replies)
        self.repeat = repeat
        self.requests: list[httpx2.Request] = []
        self.bodies: list[Body] = []

    def json(self, name: str, status: int = 200, **options: Any) -> Replies:
        """Queue a recorded JSON body (in two chunks)."""
        data = fixture_bytes(name)
        half = len(data) // 2
        self.queue.append(
            Reply(status, dict(JSON_HEADERS), [data[:half], data[half:]], **options)
        )
        return self

    def sse(self, name: str, **options: Any) -> Replies:
        """Queue a recorded SSE body (one event per chunk)."""
        chunks = sse_events(fixture_bytes(name))
        self.queue.append(Reply(200, dict(SSE_HEADERS), chunks, **options))
        return self

    def __call__(self, request: httpx2.Request) -> Any:
        self.requests.append(request)
        reply = self.queue.popleft() if self.queue else self.repeat
        assert reply is not None, f"no reply scripted for {request!r}"
        if reply.raise_at_send is not None:
            raise reply.raise_at_send
        if reply.hang_at_send:

            async def hang() -> httpx2.Response:
                await anyio.sleep_forever()
                raise AssertionError("unreachable")  # pragma: no cover

            return hang()
        body = Body(list(reply.chunks), reply.fail_at, reply.fail_with, reply.hang_at)
        self.bodies.append(body)
        return httpx2.Response(reply.status, headers=reply.headers, stream=body)

    def transport(self) -> httpx2.MockTransport:
        """A ``MockTransport`` (sync and async) answering from this script."""
        return httpx2.MockTransport(self)


# --- a misbehaving HTTP server on loopback ---


class FaultServer:
    """An HTTP/1.1 server on 127.0.0.1 that fails each request as planned.

    Plans (one per request, in order; the last one repeats): ``ok`` (a JSON message),
    ``ok_stream`` (an SSE stream), ``close_before_status``, ``close_mid_headers``,
    ``close_mid_body`` (half the announced body, then the connection closes),
    ``close_mid_stream`` (some SSE events of a chunked body, then it closes), ``stall``
    (no answer until the client gives up or the server stops).
    """

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.plans: deque[str] = deque()
        self.requests: list[bytes] = []
        self._last = "ok"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    def plan(self, *plans: str) -> FaultServer:
        """Queue how the next requests are answered."""
        self.plans.extend(plans)
        return self

    def close(self) -> None:
        """Stop accepting and wait for the handler threads (bounded)."""
        self._stop.set()
        self._accept.join(10)
        for t in self._threads:
            t.join(10)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:  # timeout: look at the stop flag again
                continue
            t = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            self._threads.append(t)
            t.start()

    def _read_request(self, conn: socket.socket) -> bytes | None:
        data = b""
        while b"\r\n\r\n" not in data:
            piece = conn.recv(65536)
            if not piece:
                return None
            data += piece
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            piece = conn.recv(65536)
            if not piece:
                return None
            body += piece
        return head + b"\r\n\r\n" + body

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(10)  # a stuck client cannot hold the thread forever
        try:
            request = self._read_request(conn)
            if request is None:
                return
            self.requests.append(request)
            plan = self.plans.popleft() if self.plans else self._last
            self._last = plan
            self._answer(conn, plan)
        except OSError:
            pass
        finally:
            conn.close()

    def _answer(self, conn: socket.socket, plan: str) -> None:
        message = fixture_bytes("01_direct_tool_use.json")
        stream = fixture_bytes("09_stream_plain_text.sse")
        if plan == "close_before_status":
            return
        if plan == "close_mid_headers":
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: applic")
            return
        if plan == "stall":
            self._stop.wait(10)
            return
        if plan in ("ok", "close_mid_body"):
            head = (
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                b"request-id: req_loopback\r\ncontent-length: %d\r\n\r\n" % len(message)
            )
            body = message if plan == "ok" else message[: len(message) // 2]
            conn.sendall(head + body)
            return
        events = sse_events(stream)
        if plan == "close_mid_stream":
            events = events[:4]
        conn.sendall(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"request-id: req_loopback\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        for event in events:
            conn.sendall(b"%x\r\n%s\r\n" % (len(event), event))
        if plan == "ok_stream":
            conn.sendall(b"0\r\n\r\n")


@pytest.fixture
def fault_server() -> Iterator[FaultServer]:
    """A :class:`FaultServer` on a free loopback port."""
    server = FaultServer()
    yield server
    server.close()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


# --- programmatic tool-calling tasks with the official SDK ---


def tool_results(scenario: Scenario, content: list[dict[str, Any]]) -> list[Any]:
    """``tool_result`` blocks answering every ``tool_use`` block of ``content``."""
    results = []
    for block in content:
        if block.get("type") != "tool_use":
            continue
        call = scenario.call_for(block["name"], block["input"])
        result: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": block["id"],
            "content": call.result if call is not None else "ok",
        }
        if call is not None and call.error:
            result["is_error"] = True
        results.append(result)
    return results


def task_params(
    scenario: Scenario, messages: list[Any], container: str | None
) -> dict[str, Any]:
    """The ``messages.create`` arguments of one turn of ``scenario``'s task."""
    params: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 2048,
        "messages": list(messages),
        "tools": scenario.tool_definitions(),
    }
    if container is not None:
        params["container"] = container
    return params


def _next_turn(
    scenario: Scenario, messages: list[Any], message: Any
) -> tuple[bool, str | None]:
    container = message.container.id if message.container is not None else None
    if message.stop_reason != "tool_use":
        return False, container
    content = [b.to_dict(mode="json") for b in message.content]
    messages.append({"role": "assistant", "content": content})
    messages.append({"role": "user", "content": tool_results(scenario, content)})
    return True, container


def sync_task(client: Any, scenario: Scenario, style: str, max_turns: int = 12) -> int:
    """Run ``scenario``'s task with a sync SDK client; the requests it made.

    Args:
        style: ``create`` (JSON), ``stream`` (``messages.stream``, events iterated)
            or ``final`` (``messages.stream``, only the final message read).

    The task stops at the first failed turn (the SDK raised): that is what an
    application without retries would do.
    """
    messages: list[Any] = [{"role": "user", "content": scenario.prompt}]
    container: str | None = None
    for turn in range(max_turns):
        params = task_params(scenario, messages, container)
        try:
            if style == "stream":
                with client.messages.stream(**params) as stream:
                    for _ in stream:
                        pass
                    message = stream.get_final_message()
            elif style == "final":
                with client.messages.stream(**params) as stream:
                    message = stream.get_final_message()
            else:
                message = client.messages.create(**params)
        except Exception:
            return turn + 1
        more, container = _next_turn(scenario, messages, message)
        if not more:
            return turn + 1
    return max_turns


async def async_task(
    client: Any, scenario: Scenario, style: str, max_turns: int = 12
) -> int:
    """:func:`sync_task` with an async SDK client."""
    messages: list[Any] = [{"role": "user", "content": scenario.prompt}]
    container: str | None = None
    for turn in range(max_turns):
        params = task_params(scenario, messages, container)
        try:
            if style in ("stream", "final"):
                async with client.messages.stream(**params) as stream:
                    if style == "stream":
                        async for _ in stream:
                            pass
                    message = await stream.get_final_message()
            else:
                message = await client.messages.create(**params)
        except Exception:
            return turn + 1
        more, container = _next_turn(scenario, messages, message)
        if not more:
            return turn + 1
    return max_turns


def dumps(value: Any) -> bytes:
    """Compact JSON bytes."""
    return json.dumps(value, separators=(",", ":")).encode()
