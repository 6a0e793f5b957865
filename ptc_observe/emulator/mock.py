"""In-process serving through ``MockTransport``, chunk by chunk, for httpx and httpx2.

``MockTransport`` calls its handler for sync and async clients alike, so there
are two handlers: the sync one returns a response whose body is a generator
that sleeps with :func:`time.sleep` between SSE events; the async one is a
coroutine whose body is an async generator sleeping with :func:`anyio.sleep`
(asyncio or trio). A cut stream raises the library's ``RemoteProtocolError``
from the body iterator, which is what a dropped connection looks like to a
client (``ptc-wire-format.md`` §4.5)::

    import anthropic, httpx2
    from ptc_observe.emulator import Emulator

    emulator = Emulator(seed=1)
    client = anthropic.Anthropic(api_key="test", http_client=httpx2.Client(transport=emulator.mock_transport(httpx2)))
    aclient = anthropic.AsyncAnthropic(
        api_key="test", http_client=httpx2.AsyncClient(transport=emulator.async_mock_transport(httpx2))
    )
"""

from __future__ import annotations

import importlib
import time
from collections.abc import AsyncIterator, Iterator
from types import ModuleType
from typing import Any

import anyio

from .responses import EmulatorResponse, RequestHandler

_CUT = "peer closed connection without sending complete message body (incomplete chunked read)"


def _module(httpx_module: ModuleType | None) -> ModuleType:
    # httpx2 is what anthropic >= 1.0 uses; plain httpx works the same way.
    return (
        httpx_module if httpx_module is not None else importlib.import_module("httpx2")
    )


def _target(request: Any) -> str:
    raw = request.url.raw_path
    return raw.decode("ascii") if isinstance(raw, bytes) else str(raw)


class SyncMockHandler:
    """Handler for ``MockTransport`` used by a sync client.

    Args:
        emulator: the emulator to serve.
        httpx_module: ``httpx`` or ``httpx2`` (default ``httpx2``).
    """

    def __init__(
        self, emulator: RequestHandler, httpx_module: ModuleType | None = None
    ) -> None:
        self.emulator = emulator
        self.httpx = _module(httpx_module)

    def __call__(self, request: Any) -> Any:
        """Answer ``request`` (already read by ``MockTransport``)."""
        answer = self.emulator.handle(
            request.method,
            _target(request),
            request.headers.multi_items(),
            request.content,
        )
        if answer.delay:
            time.sleep(answer.delay)
        headers = answer.headers
        if not answer.streaming and answer.end == "complete":
            return self.httpx.Response(
                answer.status, headers=headers, content=answer.body
            )
        if not answer.streaming:  # a dropped body still announces its full length
            headers = [*headers, ("content-length", str(len(answer.body)))]
        return self.httpx.Response(
            answer.status, headers=headers, content=self._chunks(answer, request)
        )

    def _chunks(self, answer: EmulatorResponse, request: Any) -> Iterator[bytes]:
        for delay, data in answer.chunks():
            if delay:
                time.sleep(delay)
            yield data
        if answer.end == "drop":
            raise self.httpx.RemoteProtocolError(_CUT, request=request)


class AsyncMockHandler:
    """Handler for ``MockTransport`` used by an async client (asyncio or trio).

    Args:
        emulator: the emulator to serve.
        httpx_module: ``httpx`` or ``httpx2`` (default ``httpx2``).
    """

    def __init__(
        self, emulator: RequestHandler, httpx_module: ModuleType | None = None
    ) -> None:
        self.emulator = emulator
        self.httpx = _module(httpx_module)

    async def __call__(self, request: Any) -> Any:
        """Answer ``request`` (already read by ``MockTransport``)."""
        answer = self.emulator.handle(
            request.method,
            _target(request),
            request.headers.multi_items(),
            request.content,
        )
        if answer.delay:
            await anyio.sleep(answer.delay)
        headers = answer.headers
        if not answer.streaming and answer.end == "complete":
            return self.httpx.Response(
                answer.status, headers=headers, content=answer.body
            )
        if not answer.streaming:  # a dropped body still announces its full length
            headers = [*headers, ("content-length", str(len(answer.body)))]
        return self.httpx.Response(
            answer.status, headers=headers, content=self._chunks(answer, request)
        )

    async def _chunks(
        self, answer: EmulatorResponse, request: Any
    ) -> AsyncIterator[bytes]:
        for delay, data in answer.chunks():
            await anyio.sleep(
                delay
            )  # sleep(0) still yields, so concurrent streams interleave
            yield data
        if answer.end == "drop":
            raise self.httpx.RemoteProtocolError(_CUT, request=request)


def mock_transport(
    emulator: RequestHandler, httpx_module: ModuleType | None = None
) -> Any:
    """``httpx_module.MockTransport`` serving ``emulator`` to a sync client."""
    module = _module(httpx_module)
    return module.MockTransport(SyncMockHandler(emulator, module))


def async_mock_transport(
    emulator: RequestHandler, httpx_module: ModuleType | None = None
) -> Any:
    """``httpx_module.MockTransport`` serving ``emulator`` to an async client."""
    module = _module(httpx_module)
    return module.MockTransport(AsyncMockHandler(emulator, module))
