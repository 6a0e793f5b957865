"""The PTC client: a small Messages API client and tool loop, observed by default.

Sync::

    registry = ToolRegistry()
    registry.register(ToolSpec("query_sales", "Run read-only SQL; returns JSON rows.",
                               severity=ToolSeverity.READ_ONLY), query_sales)
    with PTCClient(tools=registry) as client:
        result = client.run("Compare Q2 revenue by region.")
        print(result.text, result.summary.tool_calls)

Async: the same with :class:`AsyncPTCClient`, ``async with`` and ``await``.

Every request goes through the observer's transport (a default :class:`Observer`
unless one is passed, or ``observe=False``); ``run()`` adds a ``ptc.run`` span with an
exact ``execute_tool`` span per handler call, and the HTTP exchanges of the run become
children of the run span. The loop itself lives in :mod:`ptc_observe.client._loop` as a
generator of actions; the two clients below only perform them.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Generator
from typing import Any

import anyio
import httpx2

from ..models import Message
from ._base import BaseClient, default_observer
from ._execute import ExecutionSettings, execute_async, execute_sync
from ._loop import RetryPolicy, Send, Sleep, retrying
from ._protocol import (
    MESSAGES_PATH,
    MessagesInput,
    ToolsInput,
    encode,
    error_from_response,
    message_from_body,
)
from ._results import RunResult, RunSummary, ToolExecution
from ._streams import (
    AsyncMessageStream,
    EventCallback,
    MessageStream,
    aconsume,
    consume,
    lower_headers,
    transport_error,
)
from .errors import PTCError
from .tools import ToolRegistry

__all__ = [
    "AsyncMessageStream",
    "AsyncPTCClient",
    "EventCallback",
    "MessageStream",
    "PTCClient",
    "RetryPolicy",
    "RunResult",
    "RunSummary",
    "ToolExecution",
    "default_observer",
]


# ---------------------------------------------------------------------------- sync


class PTCClient(BaseClient):
    """Synchronous PTC client over httpx2 (arguments: see :class:`~ptc_observe.client._base.BaseClient`).

    Tool handlers run in threads (coroutine functions in their own event loop).
    """

    def _setup_http(self, transport: Any, sleep: Any) -> None:
        if transport is not None and not isinstance(transport, httpx2.BaseTransport):
            raise TypeError("PTCClient needs a sync httpx2 transport")
        inner = transport if transport is not None else httpx2.HTTPTransport()
        self._sleep: Callable[[float], None] = sleep or time.sleep
        self._http = httpx2.Client(
            base_url=self.config.base_url,
            transport=self.observer.transport(inner) if self.observer else inner,
            timeout=self._timeout,
        )

    def close(self) -> None:
        """Close the HTTP client."""
        self._http.close()

    def __enter__(self) -> PTCClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def complete(
        self,
        messages: MessagesInput,
        *,
        tools: ToolsInput = None,
        container_id: str | None = None,
        stream: bool = False,
        on_event: EventCallback | None = None,
        model: str | None = None,
        max_tokens: int | None = None,
        **params: Any,
    ) -> Message:
        """Send one Messages request (retried) and return the typed response.

        Args:
            messages: A prompt string or API messages.
            tools: A registry or a ``tools`` array; default: the client's registry.
            container_id: Reuse this container (default: the client's).
            stream: Receive the response as server-sent events; the result is the
                same complete message.
            on_event: Called with each stream event. After a retried stream failure
                it sees the new attempt's events from the start.
            model: Overrides the client's model.
            max_tokens: Overrides the client's ``max_tokens``.
            **params: More body fields (``system``, ``tool_choice``, …).

        Returns:
            The message: ``tool_calls`` with their callers, ``container``, ``usage``.

        Raises:
            APIStatusError: An API error (a subclass per error type), after retries.
            APIConnectionError: No response, after retries.
            IncompleteStreamError: A stream ended early, after retries.
        """
        body = self._body(
            messages, tools, container_id, stream, model, max_tokens, params
        )
        result: Message = self._perform(
            retrying(body, self.retry, self.rng), self._attempt(on_event)
        )
        return result

    def stream(
        self,
        messages: MessagesInput,
        *,
        tools: ToolsInput = None,
        container_id: str | None = None,
        model: str | None = None,
        max_tokens: int | None = None,
        **params: Any,
    ) -> MessageStream:
        """A streamed request: ``with client.stream(...) as s: for event in s: ...``.

        Opening retries rate limits and overloads; once events flow, failures raise.
        """
        body = self._body(
            messages, tools, container_id, True, model, max_tokens, params
        )
        return MessageStream(
            lambda: self._perform(
                retrying(body, self.retry, self.rng),
                lambda send: self._open(send.body, send.retries),
            )
        )

    def run(
        self,
        messages: MessagesInput,
        tools: ToolRegistry | None = None,
        *,
        container_id: str | None = None,
        stream: bool = False,
        on_event: EventCallback | None = None,
        max_rounds: int | None = None,
        model: str | None = None,
        max_tokens: int | None = None,
        **params: Any,
    ) -> RunResult:
        """Run the tool loop until the model finishes.

        Executes the calls the model asks for with the registry's handlers (the
        programmatic calls of one response in parallel), answers them following the
        resume rules, continues paused turns, retries rate limits and overloads, and
        starts the turn again in a fresh container when its container expired.

        Args:
            messages: A prompt string or API messages.
            tools: The registry (default: the client's).
            container_id: Start in this container (default: the client's).
            stream: Stream every response (``on_event`` sees the events).
            on_event: Called with each stream event.
            max_rounds: Overrides the client's round limit.
            model: Overrides the client's model.
            max_tokens: Overrides the client's ``max_tokens``.
            **params: More body fields for every request (``system``, …).

        Returns:
            The final message, the conversation, the executions and a summary.

        Raises:
            RunLimitExceeded: The rounds ran out (the partial result is attached).
            APIStatusError: An API error that retries and restarts did not cure.
        """
        body = self._run_body(stream, model, max_tokens, params)
        state, registry, loop = self._run_setup(
            messages, tools, container_id, max_rounds, body
        )
        with self._run_span(state, registry, model) as settings:
            result: RunResult = self._perform(loop, self._attempt(on_event), settings)
            return result

    def _perform(
        self,
        actions: Generator[Any, Any, Any],
        attempt: Callable[[Send], Any],
        settings: ExecutionSettings | None = None,
    ) -> Any:
        """Carry out the actions of a loop generator; return what it returns."""
        value: Any = None
        while True:
            try:
                action = actions.send(value)
            except StopIteration as stop:
                return stop.value
            if isinstance(action, Send):
                try:
                    value = attempt(action)
                except PTCError as exc:
                    value = exc
            elif isinstance(action, Sleep):
                if self.on_retry is not None:
                    self.on_retry(action.error, action.seconds)
                self._sleep(action.seconds)
                value = None
            else:
                assert settings is not None
                value = execute_sync(action.calls, settings)

    def _attempt(self, on_event: EventCallback | None) -> Callable[[Send], Message]:
        def attempt(send: Send) -> Message:
            if not send.body.get("stream"):
                return self._post(send.body, send.retries)
            response = self._open(send.body, send.retries)
            try:
                return consume(response, on_event)
            finally:
                response.close()

        return attempt

    def _post(self, body: dict[str, Any], retries: int) -> Message:
        headers = self.config.headers(retry_count=retries)
        try:
            response = self._http.post(
                MESSAGES_PATH, content=encode(body), headers=headers
            )
        except httpx2.HTTPError as exc:
            raise transport_error(exc) from exc
        received = lower_headers(response.headers)
        if response.status_code >= 400:
            raise error_from_response(response.status_code, received, response.content)
        return message_from_body(response.content, received)

    def _open(self, body: dict[str, Any], retries: int) -> httpx2.Response:
        headers = self.config.headers(retry_count=retries, stream=True)
        request = self._http.build_request(
            "POST", MESSAGES_PATH, content=encode(body), headers=headers
        )
        try:
            response = self._http.send(request, stream=True)
            if response.status_code < 400:
                return response
            try:
                content = response.read()
            finally:
                response.close()
        except httpx2.HTTPError as exc:
            raise transport_error(exc) from exc
        received = lower_headers(response.headers)
        raise error_from_response(response.status_code, received, content)


# --------------------------------------------------------------------------- async


class AsyncPTCClient(BaseClient):
    """Asynchronous PTC client over httpx2 (arguments: see :class:`~ptc_observe.client._base.BaseClient`).

    Runs under asyncio or trio (through anyio). Coroutine handlers run as tasks, plain
    functions in worker threads.
    """

    def _setup_http(self, transport: Any, sleep: Any) -> None:
        if transport is not None and not isinstance(
            transport, httpx2.AsyncBaseTransport
        ):
            raise TypeError("AsyncPTCClient needs an async httpx2 transport")
        inner = transport if transport is not None else httpx2.AsyncHTTPTransport()
        self._sleep: Callable[[float], Awaitable[None]] = sleep or anyio.sleep
        self._http = httpx2.AsyncClient(
            base_url=self.config.base_url,
            transport=self.observer.async_transport(inner) if self.observer else inner,
            timeout=self._timeout,
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncPTCClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def complete(
        self,
        messages: MessagesInput,
        *,
        tools: ToolsInput = None,
        container_id: str | None = None,
        stream: bool = False,
        on_event: EventCallback | None = None,
        model: str | None = None,
        max_tokens: int | None = None,
        **params: Any,
    ) -> Message:
        """Send one Messages request (retried); see :meth:`PTCClient.complete`."""
        body = self._body(
            messages, tools, container_id, stream, model, max_tokens, params
        )
        result: Message = await self._perform(
            retrying(body, self.retry, self.rng), self._attempt(on_event)
        )
        return result

    def stream(
        self,
        messages: MessagesInput,
        *,
        tools: ToolsInput = None,
        container_id: str | None = None,
        model: str | None = None,
        max_tokens: int | None = None,
        **params: Any,
    ) -> AsyncMessageStream:
        """A streamed request: ``async with client.stream(...) as s: async for e in s``."""
        body = self._body(
            messages, tools, container_id, True, model, max_tokens, params
        )

        async def open_stream() -> httpx2.Response:
            response: httpx2.Response = await self._perform(
                retrying(body, self.retry, self.rng),
                lambda send: self._open(send.body, send.retries),
            )
            return response

        return AsyncMessageStream(open_stream)

    async def run(
        self,
        messages: MessagesInput,
        tools: ToolRegistry | None = None,
        *,
        container_id: str | None = None,
        stream: bool = False,
        on_event: EventCallback | None = None,
        max_rounds: int | None = None,
        model: str | None = None,
        max_tokens: int | None = None,
        **params: Any,
    ) -> RunResult:
        """Run the tool loop until the model finishes; see :meth:`PTCClient.run`."""
        body = self._run_body(stream, model, max_tokens, params)
        state, registry, loop = self._run_setup(
            messages, tools, container_id, max_rounds, body
        )
        with self._run_span(state, registry, model) as settings:
            result: RunResult = await self._perform(
                loop, self._attempt(on_event), settings
            )
            return result

    async def _perform(
        self,
        actions: Generator[Any, Any, Any],
        attempt: Callable[[Send], Awaitable[Any]],
        settings: ExecutionSettings | None = None,
    ) -> Any:
        """Carry out the actions of a loop generator; return what it returns."""
        value: Any = None
        while True:
            try:
                action = actions.send(value)
            except StopIteration as stop:
                return stop.value
            if isinstance(action, Send):
                try:
                    value = await attempt(action)
                except PTCError as exc:
                    value = exc
            elif isinstance(action, Sleep):
                if self.on_retry is not None:
                    self.on_retry(action.error, action.seconds)
                await self._sleep(action.seconds)
                value = None
            else:
                assert settings is not None
                value = await execute_async(action.calls, settings)

    def _attempt(
        self, on_event: EventCallback | None
    ) -> Callable[[Send], Awaitable[Message]]:
        async def attempt(send: Send) -> Message:
            if not send.body.get("stream"):
                return await self._post(send.body, send.retries)
            response = await self._open(send.body, send.retries)
            try:
                return await aconsume(response, on_event)
            finally:
                await response.aclose()

        return attempt

    async def _post(self, body: dict[str, Any], retries: int) -> Message:
        headers = self.config.headers(retry_count=retries)
        try:
            response = await self._http.post(
                MESSAGES_PATH, content=encode(body), headers=headers
            )
        except httpx2.HTTPError as exc:
            raise transport_error(exc) from exc
        received = lower_headers(response.headers)
        if response.status_code >= 400:
            raise error_from_response(response.status_code, received, response.content)
        return message_from_body(response.content, received)

    async def _open(self, body: dict[str, Any], retries: int) -> httpx2.Response:
        headers = self.config.headers(retry_count=retries, stream=True)
        request = self._http.build_request(
            "POST", MESSAGES_PATH, content=encode(body), headers=headers
        )
        try:
            response = await self._http.send(request, stream=True)
            if response.status_code < 400:
                return response
            try:
                content = await response.aread()
            finally:
                await response.aclose()
        except httpx2.HTTPError as exc:
            raise transport_error(exc) from exc
        received = lower_headers(response.headers)
        raise error_from_response(response.status_code, received, content)
