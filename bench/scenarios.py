"""The timed operations: one Messages exchange through the SDK or a raw HTTP client.

A scenario builds, for one configuration, a client on the in-process mock transport and returns
an operation that performs one complete exchange (body read to the end, response closed).
"""

from __future__ import annotations

import types
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx
import httpx2

from . import workloads
from .configs import Config
from .mock import mock_transport

__all__ = ["SCENARIOS", "Scenario"]

SyncOp = Callable[[], object]
AsyncOp = Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class Scenario:
    """One kind of exchange.

    Attributes:
        name: id used on the command line and in the JSON.
        label: what the table prints.
        sdk: goes through the ``anthropic`` SDK (else a raw client of ``lib``).
        lib: ``httpx2`` or ``httpx``.
        is_async: async client.
        streamed: SSE response (the per-event cost is computed for these).
        helper: the ``messages.stream()`` helper (``get_final_message()``).
        long_stream: also timed on the ~2,000-event stream, in the same rounds as the
            ~200-event one, for the marginal cost per event (see ``bench/timing.py``).
    """

    name: str
    label: str
    sdk: bool
    lib: types.ModuleType
    is_async: bool
    streamed: bool
    helper: bool = False
    long_stream: bool = False

    @property
    def events(self) -> int:
        """SSE events in one response (0 for JSON)."""
        return workloads.SSE_EVENTS if self.streamed else 0

    @property
    def long_events(self) -> int:
        """SSE events in one response of the long workload (0 when it is not timed)."""
        return workloads.LONG_SSE_EVENTS if self.long_stream else 0

    def applies(self, config: Config) -> bool:
        """Whether ``config`` can run this scenario (SDK-level observers need the SDK)."""
        return self.sdk or not config.sdk_only

    def build_sync(
        self,
        config: Config,
        *,
        stream_chunks: Callable[[], Iterable[bytes]] | None = None,
    ) -> SyncOp:
        """A client for ``config`` and the operation that runs one exchange with it."""
        transport = config.wrap(
            self.lib, mock_transport(self.lib, stream_chunks=stream_chunks), False
        )
        if self.sdk:
            client = anthropic.Anthropic(
                api_key="sk-bench-not-a-key",
                base_url=workloads.BASE_URL,
                max_retries=0,
                http_client=httpx2.Client(transport=transport),
                **config.sdk_kwargs(),
            )
            return _sdk_sync_op(client, self.streamed, self.helper)
        raw = self.lib.Client(transport=transport, base_url=workloads.BASE_URL)
        return _raw_sync_op(raw, self.streamed)

    def build_async(
        self,
        config: Config,
        *,
        stream_chunks: Callable[[], Iterable[bytes]] | None = None,
    ) -> AsyncOp:
        """The async twin of :meth:`build_sync`."""
        transport = config.wrap(
            self.lib, mock_transport(self.lib, stream_chunks=stream_chunks), True
        )
        if self.sdk:
            client = anthropic.AsyncAnthropic(
                api_key="sk-bench-not-a-key",
                base_url=workloads.BASE_URL,
                max_retries=0,
                http_client=httpx2.AsyncClient(transport=transport),
                **config.sdk_kwargs(),
            )
            return _sdk_async_op(client, self.streamed, self.helper)
        raw = self.lib.AsyncClient(transport=transport, base_url=workloads.BASE_URL)
        return _raw_async_op(raw, self.streamed)


def _sdk_sync_op(client: anthropic.Anthropic, streamed: bool, helper: bool) -> SyncOp:
    request: dict[str, Any] = workloads.REQUEST
    if helper:

        def helper_op() -> object:
            with client.messages.stream(**request) as stream:
                return stream.get_final_message()

        return helper_op
    if streamed:

        def stream_op() -> object:
            # Iterate the returned object itself, not what ``with`` yields: OpenLLMetry wraps the
            # stream in a proxy whose ``__enter__`` hands back the unwrapped stream (no span then).
            events = 0
            stream = client.messages.create(stream=True, **request)
            try:
                for _ in stream:
                    events += 1
            finally:
                stream.close()
            return events

        return stream_op
    return lambda: client.messages.create(**request)


def _sdk_async_op(
    client: anthropic.AsyncAnthropic, streamed: bool, helper: bool
) -> AsyncOp:
    request: dict[str, Any] = workloads.REQUEST
    if helper:

        async def helper_op() -> object:
            async with client.messages.stream(**request) as stream:
                return await stream.get_final_message()

        return helper_op
    if streamed:

        async def stream_op() -> object:
            events = 0
            stream = await client.messages.create(stream=True, **request)
            try:
                async for _ in stream:
                    events += 1
            finally:
                await stream.close()
            return events

        return stream_op

    async def create_op() -> object:
        return await client.messages.create(**request)

    return create_op


def _raw_sync_op(client: Any, streamed: bool) -> SyncOp:
    headers = workloads.REQUEST_HEADERS
    path = workloads.MESSAGES_PATH
    if streamed:
        body = workloads.STREAM_REQUEST_BODY

        def stream_op() -> object:
            n = 0
            with client.stream("POST", path, content=body, headers=headers) as response:
                for chunk in response.iter_bytes():
                    n += len(chunk)
            return n

        return stream_op
    body = workloads.REQUEST_BODY
    return lambda: client.post(path, content=body, headers=headers).json()


def _raw_async_op(client: Any, streamed: bool) -> AsyncOp:
    headers = workloads.REQUEST_HEADERS
    path = workloads.MESSAGES_PATH
    if streamed:
        body = workloads.STREAM_REQUEST_BODY

        async def stream_op() -> object:
            n = 0
            async with client.stream(
                "POST", path, content=body, headers=headers
            ) as response:
                async for chunk in response.aiter_bytes():
                    n += len(chunk)
            return n

        return stream_op
    body = workloads.REQUEST_BODY

    async def create_op() -> object:
        response = await client.post(path, content=body, headers=headers)
        return response.json()

    return create_op


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("sdk_create_sync", "SDK create, sync", True, httpx2, False, False),
    Scenario("sdk_create_async", "SDK create, async", True, httpx2, True, False),
    Scenario(
        "sdk_stream_sync",
        "SDK create(stream=True), sync",
        True,
        httpx2,
        False,
        True,
        long_stream=True,
    ),
    Scenario(
        "sdk_stream_async",
        "SDK create(stream=True), async",
        True,
        httpx2,
        True,
        True,
        long_stream=True,
    ),
    Scenario(
        "sdk_helper_sync",
        "SDK messages.stream(), sync",
        True,
        httpx2,
        False,
        True,
        helper=True,
    ),
    Scenario(
        "sdk_helper_async",
        "SDK messages.stream(), async",
        True,
        httpx2,
        True,
        True,
        helper=True,
    ),
    Scenario(
        "httpx2_create_sync", "raw httpx2 POST, sync", False, httpx2, False, False
    ),
    Scenario(
        "httpx2_create_async", "raw httpx2 POST, async", False, httpx2, True, False
    ),
    Scenario(
        "httpx2_stream_sync",
        "raw httpx2 stream, sync",
        False,
        httpx2,
        False,
        True,
        long_stream=True,
    ),
    Scenario("httpx_create_sync", "raw httpx POST, sync", False, httpx, False, False),
    Scenario("httpx_create_async", "raw httpx POST, async", False, httpx, True, False),
    Scenario(
        "httpx_stream_sync",
        "raw httpx stream, sync",
        False,
        httpx,
        False,
        True,
        long_stream=True,
    ),
)
