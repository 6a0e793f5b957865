"""The naive observing transport: the yardstick the issue sets for ptc_observe.

What a team writes in an afternoon: tee the response body; at its end ``json.loads`` the whole
JSON body, or, for a stream, ``json.loads`` every ``data:`` line as it passes; then bump four
prometheus-client metrics (requests, duration, input and output tokens). No spans, no PTC facts,
no content decoding. It is kept honest: it never buffers a stream (each event is parsed as its
line completes) and it observes without altering what the client reads.

Given a tracer, it also ends each exchange with one OpenTelemetry ``chat {model}`` span carrying
the GenAI attributes a JSON parse yields (operation, provider, models, response id, finish
reason, token usage, server, status): the least any observer that records metrics *and* spans
has to do, so the floor under the issue's "metrics + spans" configuration. With
``extra_attributes`` the span also carries constant attributes: ``naive_ptc_span`` gives it the
17 more that ptc_observe's chat span carries on the benchmark's workload (27 in all), which
prices the documented span alone, with every fact free.
"""

from __future__ import annotations

import json
import time
import types
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from opentelemetry.trace import SpanKind, Tracer
from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["NaiveMetrics", "naive_async_transport", "naive_transport"]


class NaiveMetrics:
    """The four metrics the naive transport bumps, in their own registry."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        tracer: Tracer | None = None,
        extra_attributes: Mapping[str, Any] | None = None,
    ) -> None:
        self.registry = registry or CollectorRegistry()
        self.tracer = tracer
        """When set, each exchange also ends with one GenAI span."""
        self.extra_attributes = dict(extra_attributes or {})
        """Constant attributes the span carries besides the ten a JSON parse yields."""
        self.requests = Counter(
            "naive_requests",
            "Messages API requests.",
            ["model", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "naive_request_duration_seconds",
            "Request duration.",
            ["model"],
            registry=self.registry,
        )
        self.input_tokens = Counter(
            "naive_input_tokens", "Input tokens.", ["model"], registry=self.registry
        )
        self.output_tokens = Counter(
            "naive_output_tokens", "Output tokens.", ["model"], registry=self.registry
        )


class _Tally:
    """Per-exchange state: the body so far (JSON) or the unfinished line (SSE), and the usage."""

    __slots__ = (
        "buf",
        "input_tokens",
        "metrics",
        "model",
        "output_tokens",
        "response_id",
        "sse",
        "started",
        "started_ns",
        "status",
        "stop_reason",
    )

    def __init__(self, metrics: NaiveMetrics, status: int, content_type: str) -> None:
        self.metrics = metrics
        self.status = status
        self.sse = content_type.startswith("text/event-stream")
        self.buf = b""
        self.model = ""
        self.response_id = ""
        self.stop_reason = ""
        self.input_tokens = 0
        self.output_tokens = 0
        self.started = time.perf_counter()
        self.started_ns = time.time_ns()

    def feed(self, chunk: bytes) -> None:
        if not self.sse:
            self.buf += chunk
            return
        lines = (self.buf + chunk).split(b"\n")
        self.buf = lines.pop()
        for line in lines:
            if line.startswith(b"data:"):
                self._event(json.loads(line[5:]))

    def _event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "message_start":
            message = event["message"]
            self.model = message.get("model", "")
            self.response_id = message.get("id", "")
            self.input_tokens = message.get("usage", {}).get("input_tokens", 0)
        elif kind == "message_delta":
            self.stop_reason = event.get("delta", {}).get("stop_reason") or ""
            usage = event.get("usage", {})
            self.output_tokens = usage.get("output_tokens", self.output_tokens)
            self.input_tokens = usage.get("input_tokens", self.input_tokens)

    def finish(self) -> None:
        if not self.sse and self.buf:
            body = json.loads(self.buf)
            self.model = body.get("model", "")
            self.response_id = body.get("id", "")
            self.stop_reason = body.get("stop_reason") or ""
            usage = body.get("usage", {})
            self.input_tokens = usage.get("input_tokens", 0)
            self.output_tokens = usage.get("output_tokens", 0)
        m = self.metrics
        m.requests.labels(self.model, str(self.status)).inc()
        m.duration.labels(self.model).observe(time.perf_counter() - self.started)
        m.input_tokens.labels(self.model).inc(self.input_tokens)
        m.output_tokens.labels(self.model).inc(self.output_tokens)
        if m.tracer is not None:
            self._span(m.tracer)

    def _span(self, tracer: Tracer) -> None:
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "anthropic",
            "gen_ai.request.model": self.model,
            "gen_ai.response.model": self.model,
            "gen_ai.response.id": self.response_id,
            "gen_ai.response.finish_reasons": [self.stop_reason],
            "gen_ai.usage.input_tokens": self.input_tokens,
            "gen_ai.usage.output_tokens": self.output_tokens,
            "server.address": "api.anthropic.com",
            "http.response.status_code": self.status,
        }
        if self.metrics.extra_attributes:
            attrs.update(self.metrics.extra_attributes)
        span = tracer.start_span(
            f"chat {self.model}",
            kind=SpanKind.CLIENT,
            attributes=attrs,
            start_time=self.started_ns,
        )
        span.end()


_CLASSES: dict[tuple[str, bool], type[Any]] = {}


def _classes(lib: types.ModuleType, is_async: bool) -> type[Any]:
    key = (lib.__name__, is_async)
    if key in _CLASSES:
        return _CLASSES[key]

    class SyncTee(lib.SyncByteStream):  # type: ignore[misc,name-defined]
        def __init__(self, inner: Any, tally: _Tally) -> None:
            self._inner, self._tally = inner, tally

        def __iter__(self) -> Iterator[bytes]:
            for chunk in self._inner:
                self._tally.feed(chunk)
                yield chunk

        def close(self) -> None:
            try:
                self._inner.close()
            finally:
                self._tally.finish()

    class AsyncTee(lib.AsyncByteStream):  # type: ignore[misc,name-defined]
        def __init__(self, inner: Any, tally: _Tally) -> None:
            self._inner, self._tally = inner, tally

        async def __aiter__(self) -> AsyncIterator[bytes]:
            async for chunk in self._inner:
                self._tally.feed(chunk)
                yield chunk

        async def aclose(self) -> None:
            try:
                await self._inner.aclose()
            finally:
                self._tally.finish()

    class NaiveTransport(lib.BaseTransport):  # type: ignore[misc,name-defined]
        def __init__(self, inner: Any, metrics: NaiveMetrics) -> None:
            self._inner, self._metrics = inner, metrics

        def handle_request(self, request: Any) -> Any:
            response = self._inner.handle_request(request)
            tally = _Tally(
                self._metrics,
                response.status_code,
                response.headers.get("content-type", ""),
            )
            return lib.Response(
                response.status_code,
                headers=response.headers,
                stream=SyncTee(response.stream, tally),
                extensions=response.extensions,
            )

        def close(self) -> None:
            self._inner.close()

    class AsyncNaiveTransport(lib.AsyncBaseTransport):  # type: ignore[misc,name-defined]
        def __init__(self, inner: Any, metrics: NaiveMetrics) -> None:
            self._inner, self._metrics = inner, metrics

        async def handle_async_request(self, request: Any) -> Any:
            response = await self._inner.handle_async_request(request)
            tally = _Tally(
                self._metrics,
                response.status_code,
                response.headers.get("content-type", ""),
            )
            return lib.Response(
                response.status_code,
                headers=response.headers,
                stream=AsyncTee(response.stream, tally),
                extensions=response.extensions,
            )

        async def aclose(self) -> None:
            await self._inner.aclose()

    _CLASSES[(lib.__name__, False)] = NaiveTransport
    _CLASSES[(lib.__name__, True)] = AsyncNaiveTransport
    return _CLASSES[key]


def naive_transport(lib: types.ModuleType, inner: Any, metrics: NaiveMetrics) -> Any:
    """Wrap the sync ``inner`` transport of ``lib`` (httpx or httpx2) in the naive observer."""
    return _classes(lib, False)(inner, metrics)


def naive_async_transport(
    lib: types.ModuleType, inner: Any, metrics: NaiveMetrics
) -> Any:
    """Wrap the async ``inner`` transport of ``lib`` (httpx or httpx2) in the naive observer."""
    return _classes(lib, True)(inner, metrics)
