"""Reading streamed responses: the helpers of the clients and the stream objects.

:class:`MessageStream` (sync) and :class:`AsyncMessageStream` (async) are what
``client.stream(...)`` returns: context managers that open the request (with retries)
on entry, yield :mod:`~ptc_observe.models` stream events, and give the complete
message at the end. ``consume``/``aconsume`` read a whole stream for ``complete()``
and ``run()``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import httpx2

from ..models import ContentBlockDeltaEvent, Message, StreamEvent
from ._protocol import StreamReader
from .errors import APIConnectionError, APITimeoutError, PTCError

__all__ = [
    "AsyncMessageStream",
    "EventCallback",
    "MessageStream",
    "aconsume",
    "consume",
    "lower_headers",
    "transport_error",
]

EventCallback = Callable[[StreamEvent], None]
"""Receives each stream event as it arrives (``on_event=``)."""


def transport_error(exc: httpx2.HTTPError) -> PTCError:
    """The client error for an httpx2 failure (no response, or a broken body)."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, httpx2.TimeoutException):
        return APITimeoutError(text)
    if isinstance(exc, httpx2.TransportError):
        return APIConnectionError(text)
    # Decoding errors and the like: sending again gives the same bytes.
    return APIConnectionError(text, retryable=False)


def lower_headers(headers: httpx2.Headers) -> dict[str, str]:
    """Response headers as a dict with lower-case names."""
    return {k.lower(): v for k, v in headers.items()}


def _text(event: StreamEvent) -> str | None:
    if (
        isinstance(event, ContentBlockDeltaEvent)
        and event.delta.get("type") == "text_delta"
    ):
        return str(event.delta.get("text", ""))
    return None


def consume(response: httpx2.Response, on_event: EventCallback | None) -> Message:
    """Read a whole stream; call ``on_event`` per event; return the message.

    Raises:
        APIStatusError: An ``error`` event.
        IncompleteStreamError: No ``message_stop``.
        APIConnectionError: The connection broke.
    """
    reader = StreamReader(response.status_code, lower_headers(response.headers))
    try:
        for chunk in response.iter_bytes():
            for event in reader.feed(chunk):
                if on_event is not None:
                    on_event(event)
    except httpx2.HTTPError as exc:
        raise transport_error(exc) from exc
    tail, message = reader.close()
    for event in tail:
        if on_event is not None:
            on_event(event)
    return message


async def aconsume(
    response: httpx2.Response, on_event: EventCallback | None
) -> Message:
    """Async twin of :func:`consume`."""
    reader = StreamReader(response.status_code, lower_headers(response.headers))
    try:
        async for chunk in response.aiter_bytes():
            for event in reader.feed(chunk):
                if on_event is not None:
                    on_event(event)
    except httpx2.HTTPError as exc:
        raise transport_error(exc) from exc
    tail, message = reader.close()
    for event in tail:
        if on_event is not None:
            on_event(event)
    return message


class MessageStream:
    """A streamed response: iterate its events, then take the final message.

    ::

        with client.stream("Hi") as stream:
            for text in stream.text_stream:
                print(text, end="")
            message = stream.final_message()

    Args:
        open_response: Sends the request (retrying failures before the first byte).
    """

    def __init__(self, open_response: Callable[[], httpx2.Response]) -> None:
        self._open = open_response
        self._response: httpx2.Response | None = None
        self._reader: StreamReader | None = None
        self._message: Message | None = None

    def __enter__(self) -> MessageStream:
        self._response = self._open()
        self._reader = StreamReader(
            self._response.status_code, lower_headers(self._response.headers)
        )
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the response (also when it was not read to the end)."""
        if self._response is not None:
            self._response.close()

    def __iter__(self) -> Iterator[StreamEvent]:
        if self._response is None or self._reader is None:
            raise RuntimeError("use the stream in a with block")
        if self._message is not None:
            return
        try:
            for chunk in self._response.iter_bytes():
                yield from self._reader.feed(chunk)
        except httpx2.HTTPError as exc:
            raise transport_error(exc) from exc
        tail, self._message = self._reader.close()
        yield from tail

    @property
    def text_stream(self) -> Iterator[str]:
        """The text deltas as they arrive."""
        for event in self:
            text = _text(event)
            if text is not None:
                yield text

    def final_message(self) -> Message:
        """Read the rest of the stream and return the complete message."""
        for _ in self:
            pass
        if self._message is None:  # pragma: no cover - __iter__ sets it or raises
            raise RuntimeError("the stream did not finish")
        return self._message


class AsyncMessageStream:
    """Async twin of :class:`MessageStream` (``async with`` / ``async for``).

    Args:
        open_response: Sends the request (retrying failures before the first byte).
    """

    def __init__(self, open_response: Callable[[], Awaitable[httpx2.Response]]) -> None:
        self._open = open_response
        self._response: httpx2.Response | None = None
        self._reader: StreamReader | None = None
        self._message: Message | None = None

    async def __aenter__(self) -> AsyncMessageStream:
        self._response = await self._open()
        self._reader = StreamReader(
            self._response.status_code, lower_headers(self._response.headers)
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the response (also when it was not read to the end)."""
        if self._response is not None:
            await self._response.aclose()

    async def __aiter__(self) -> AsyncIterator[StreamEvent]:
        if self._response is None or self._reader is None:
            raise RuntimeError("use the stream in an async with block")
        if self._message is not None:
            return
        try:
            async for chunk in self._response.aiter_bytes():
                for event in self._reader.feed(chunk):
                    yield event
        except httpx2.HTTPError as exc:
            raise transport_error(exc) from exc
        tail, self._message = self._reader.close()
        for event in tail:
            yield event

    async def text_stream(self) -> AsyncIterator[str]:
        """The text deltas as they arrive."""
        async for event in self:
            text = _text(event)
            if text is not None:
                yield text

    async def final_message(self) -> Message:
        """Read the rest of the stream and return the complete message."""
        async for _ in self:
            pass
        if self._message is None:  # pragma: no cover - __aiter__ sets it or raises
            raise RuntimeError("the stream did not finish")
        return self._message
