"""Streams of Messages API events turned into the final message and its facts.

:class:`StreamAccumulator` is the observer's hot path. It reads the raw SSE bytes once
and, by default, parses only the few events that carry facts (``message_start``,
``content_block_start``, ``message_delta``, ``message_stop``, ``error``); text and
tool-input deltas and pings are counted from their ``event:`` line and never decoded or
kept, so memory stays flat however long the stream. Runs of ordinary
``content_block_delta`` events are skipped by one regular-expression match in C.

It understands the three PTC stream shapes (``ptc-wire-format.md`` §4.4): a continuation
delivered as one pre-filled ``message_start`` (content, container and stop reason) and
``message_stop``; a programmatic ``tool_use`` complete in ``content_block_start``; the
container in ``message_delta.delta.container``. ``message_delta.usage`` is cumulative:
its non-null fields replace those of ``message_start``, never add to them.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from ..models import (
    APIError,
    Message,
    MessageStartEvent,
    StreamEvent,
)
from ._builder import Builder
from .messages import StreamError, WireError, parse_event
from .sse import MAX_EVENT_BYTES, ServerSentEvent, SSEDecoder, _Framer, _parse_block

__all__ = ["BATCH_BYTES", "StreamAccumulator", "accumulate", "iter_events"]

BATCH_BYTES = 16 * 1024
"""Bytes of small chunks a :class:`StreamAccumulator` gathers before scanning them."""

# A run of canonical delta blocks ("event: content_block_delta\ndata: ...\n\n"); the
# framer has turned CR and CRLF into LF, and "." does not match "\n". At most 256 per
# match: the regex engine keeps backtracking state per repetition, so an unbounded run
# over one huge chunk would cost memory in proportion to it.
_RUN = re.compile(rb"(?:event: content_block_delta\ndata:.*\n\n){0,256}")
# The head of a canonical delta block, and the same after the blank line ending the
# block before it (see _all_deltas).
_DELTA = b"event: content_block_delta\ndata:"
_NEXT_DELTA = b"\n\n" + _DELTA
_FACTS = frozenset(
    {
        b"message_start",
        b"content_block_start",
        b"message_delta",
        b"message_stop",
        b"error",
    }
)
_EVENT: TypeAdapter[StreamEvent] = TypeAdapter(StreamEvent)


class StreamAccumulator:
    """Feeds on the raw (content-decoded) bytes of an SSE body; builds the message and facts.

    ``feed`` and ``close`` never raise: malformed events, oversized events and other
    surprises are counted in ``anomalies`` and parsing goes on.

    Until the first content event ``feed`` parses each chunk at once, so that
    ``first_token_at`` is the moment that chunk arrived. After it, chunks are gathered
    (up to :data:`BATCH_BYTES`) and scanned together, which spreads the cost of a call
    over many events; every attribute below scans what is pending before it answers,
    so readers always see the facts of all bytes fed so far.

    Args:
        capture_content: also parse ``content_block_delta`` and ``content_block_stop``
            events, so the message gets its text, thinking and streamed tool inputs.
            Off (the default), the message has every block and every fact but text and
            streamed ``input`` stay as ``content_block_start`` gave them.
        clock: read when the first content event arrives (``first_token_at``).
        max_event_bytes: events larger than this are dropped (and counted).

    Attributes:
        first_token_at: ``clock()`` when the first ``content_block_start`` or
            ``content_block_delta`` arrived, or a ``message_start`` that already
            carried content; ``None`` before.
    """

    def __init__(
        self,
        *,
        capture_content: bool = False,
        clock: Callable[[], float] = time.perf_counter,
        max_event_bytes: int = MAX_EVENT_BYTES,
    ) -> None:
        self._capture = capture_content
        self._clock = clock
        self._max = max_event_bytes
        self._framer = _Framer(max_event_bytes)
        self._builder = Builder()
        self._batch: list[bytes] | None = None  # gathering chunks after the first token
        self._batched = 0
        self._failures = 0
        self._closed = False
        self._truncated = False
        self._events = 0
        self._output_chunks = 0
        self._pings = 0
        self._unknown = 0
        self.first_token_at: float | None = None

    def feed(self, chunk: bytes) -> None:
        """Take the next bytes of the body (any split works). Never raises."""
        batch = self._batch
        if batch is not None:
            try:
                batch.append(chunk)
                self._batched += len(chunk)
                if self._batched < BATCH_BYTES:
                    return
            except Exception:  # not a sized object: _drain counts it
                pass
            self._drain()
        elif self._closed:
            self._failures += 1
        else:
            self._process(chunk)
            if self.first_token_at is not None:
                self._batch = []

    def close(self) -> None:
        """End of body: an unfinished last event is discarded. Never raises."""
        if self._closed:
            return
        self._drain()
        self._batch = None
        self._closed = True
        self._truncated = self._framer.flush()

    @property
    def message(self) -> Message | None:
        """The message: final after ``message_stop``, else what arrived so far."""
        self._drain()
        return self._builder.build()

    @property
    def complete(self) -> bool:
        """True once ``message_stop`` arrived (after a ``message_start``)."""
        self._drain()
        return self._builder.complete

    @property
    def error(self) -> APIError | None:
        """The first mid-stream ``error`` event's error: the exchange failed."""
        self._drain()
        return self._builder.error

    @property
    def events(self) -> int:
        """SSE events dispatched (pings and unknown events included)."""
        self._drain()
        return self._events

    @property
    def output_chunks(self) -> int:
        """``content_block_delta`` events."""
        self._drain()
        return self._output_chunks

    @property
    def pings(self) -> int:
        """``ping`` events."""
        self._drain()
        return self._pings

    @property
    def unknown_events(self) -> int:
        """Events of a type this version does not know."""
        self._drain()
        return self._unknown

    @property
    def anomalies(self) -> int:
        """Malformed, oversized or out-of-place events (and feeds after ``close``)."""
        self._drain()
        return self._failures + self._framer.dropped + self._builder.anomalies

    @property
    def truncated(self) -> bool:
        """``close`` found bytes of an unfinished event: the body ended early."""
        return self._truncated

    def _drain(self) -> None:
        batch = self._batch
        if not batch:
            return
        self._batch, self._batched = [], 0
        try:
            data = b"".join(batch)
        except TypeError:  # something other than bytes was fed: count it, keep the rest
            for item in batch:
                self._process(item)
            return
        self._process(data)

    def _process(self, chunk: bytes) -> None:
        if not isinstance(chunk, bytes):
            if not isinstance(chunk, (bytearray, memoryview)):
                self._failures += 1
                return
            chunk = bytes(chunk)
        try:
            data, end = self._framer.feed(chunk)
            if end:
                self._scan(data, end)
        except Exception:  # a bug must never reach the caller's stream
            self._failures += 1

    def _scan(self, data: bytes, end: int) -> None:
        pos = 0
        deltas = others = 0
        content = False
        run = None if self._capture else _RUN.match
        tried = False
        while pos < end:
            if run is not None and data.startswith(_DELTA, pos):
                # The per-event fast path. In a long text stream most batches are
                # nothing but deltas: two counting passes in C prove it for the whole
                # rest of the batch (~1.5 ns a byte, ~0.19 us per delta here, against
                # ~0.33 us for the regex and the count below). Tried once per scan,
                # and only when the last block is a delta too (one short rfind), so
                # that a batch mixing facts and deltas seldom pays a wasted pass.
                if not tried:
                    tried = True
                    found = _all_deltas(data, pos, end)
                    if found:
                        if end - pos > self._max:
                            found = self._checked_run(data, pos, end)
                        deltas += found
                        break
                stop = run(data, pos, end).end()  # type: ignore[union-attr]
                if stop > pos:
                    if stop - pos > self._max:
                        deltas += self._checked_run(data, pos, stop)
                    else:
                        # Each block of the run has exactly three LFs ("event" line,
                        # one "data" line, blank line): counting one byte is ~2x
                        # faster than counting the 33-byte prefix.
                        deltas += data.count(b"\n", pos, stop) // 3
                    pos = stop
                    continue
            nxt = data.find(b"\n\n", pos, end)
            if nxt < 0:
                break  # only a blank line is left
            block = data[pos:nxt]
            pos = nxt + 2
            if len(block) > self._max and self._framer.oversize(block):
                continue
            parsed = _parse_block(block) if block else None
            if parsed is None:
                continue
            name, payload = parsed
            if name == b"content_block_delta":
                deltas += 1
                if self._capture:
                    self._apply(name, payload)
                continue
            others += 1
            if name in _FACTS:
                content = self._apply(name, payload) or content
            elif name == b"ping":
                self._pings += 1
            elif name == b"content_block_stop":
                if self._capture:
                    self._apply(name, payload)
            else:
                self._unknown += 1
        self._events += deltas + others
        self._output_chunks += deltas
        if (deltas or content) and self.first_token_at is None:
            self.first_token_at = self._clock()

    def _quick_delta(self, payload: bytes) -> bool:
        # Capture mode parses every delta: skip model validation when the payload has
        # the plain shape (what validation would accept unchanged); anything else
        # takes the full path, so both give the same result.
        try:
            found = _plain_delta(json.loads(payload.decode("utf-8", "replace")))
        except (ValueError, RecursionError):
            return False
        if found is None:
            return False
        self._builder.delta(*found)
        return True

    def _checked_run(self, data: bytes, pos: int, stop: int) -> int:
        # A run longer than the bound may hold an oversized delta: check each block.
        count = 0
        while pos < stop:
            nxt = data.find(b"\n\n", pos, stop)
            if not self._framer.oversize(data[pos:nxt]):
                count += 1
            pos = nxt + 2
        return count

    def _apply(self, name: bytes, payload: bytes) -> bool:
        """Parse and apply one event; True when it is a content event."""
        if name == b"content_block_delta" and self._quick_delta(payload):
            return True
        try:
            event = parse_event(name, payload)
        except WireError:
            self._builder.anomaly(f"malformed {name!r} event")
            return name == b"content_block_start"
        self._builder.apply(event)
        if isinstance(event, MessageStartEvent):
            return bool(event.message.content)
        return name == b"content_block_start"


def _all_deltas(data: bytes, pos: int, end: int) -> int:
    """How many canonical delta blocks ``data[pos:end]`` is made of; 0 if not only those.

    The caller knows the region starts with ``_DELTA`` and the framer that it ends with a
    blank line. Cut it before each ``"\\n\\n" + _DELTA`` (which cannot overlap itself):
    every piece then starts with ``_DELTA`` (one LF) and ends with a blank line (two
    more), so with ``k`` pieces there are at least ``3k`` LFs, and exactly ``3k`` only
    when no piece holds another LF: each piece is then ``event: content_block_delta``, a
    single ``data:`` line and the blank line, the block the regex ``_RUN`` matches.
    """
    last = data.rfind(b"\n\n", pos, end - 2)
    if last >= 0 and not data.startswith(_DELTA, last + 2):
        return 0  # the last block is something else: the region is mixed
    blocks = data.count(_NEXT_DELTA, pos, end) + 1
    return blocks if data.count(b"\n", pos, end) == 3 * blocks else 0


def _plain_delta(obj: Any) -> tuple[int, dict[str, Any]] | None:
    """``(index, delta)`` of a delta payload that needs no validation, else None."""
    if (
        type(obj) is not dict
        or obj.get("type", "content_block_delta") != "content_block_delta"
    ):
        return None
    index, delta = obj.get("index"), obj.get("delta", {})
    if type(index) is not int or type(delta) is not dict:
        return None
    return index, delta


def _as_event(item: StreamEvent | dict[str, Any] | ServerSentEvent) -> StreamEvent:
    if isinstance(item, ServerSentEvent):
        return parse_event(item.event, item.data)
    if isinstance(item, dict):
        try:
            event: StreamEvent = _EVENT.validate_python(item)
            return event
        except (ValidationError, RecursionError, TypeError):
            raise WireError(
                f"invalid stream event of type {item.get('type')!r}"
            ) from None
    if isinstance(item, BaseModel):
        copied: StreamEvent = item.model_copy(deep=True)  # never change the caller's
        return copied
    raise WireError(f"not a stream event: {type(item).__name__}")


def accumulate(
    events: Iterable[StreamEvent | dict[str, Any] | ServerSentEvent],
    *,
    partial: bool = False,
) -> Message:
    """Build the final message from a whole stream of events, content included.

    Args:
        events: parsed events (models), their JSON dicts, or decoded SSE events.
        partial: return whatever arrived instead of raising for an incomplete or
            failed stream (an empty :class:`~ptc_observe.models.Message` when there
            was no ``message_start``); events that do not parse are skipped.

    Returns:
        The message, as the official SDKs accumulate it.

    Raises:
        StreamError: the stream carried an ``error`` event (not with ``partial``).
        WireError: an invalid event, no ``message_start``, an event out of place, or
            no ``message_stop`` (not with ``partial``).
    """
    builder = Builder()
    for item in events:
        try:
            event = _as_event(item)
        except WireError as exc:
            if not partial:
                raise
            builder.anomaly(str(exc))
            continue
        builder.apply(event)
    message = builder.build()
    if partial:
        return message if message is not None else Message()
    if builder.error is not None:
        raise StreamError(builder.error)
    if message is None:
        raise WireError("the stream has no message_start event")
    if builder.anomalies:
        raise WireError(builder.problem)
    if not builder.complete:
        raise WireError("the stream ended without message_stop")
    return message


def iter_events(body: bytes) -> list[StreamEvent]:
    """Decode a whole SSE body and parse every event.

    Raises:
        WireError: an event whose payload is not valid for its type, or one larger
            than the 16 MiB bound.
    """
    decoder = SSEDecoder()
    found = decoder.feed(body) + decoder.flush()
    if decoder.dropped:
        raise WireError(
            f"{decoder.dropped} event(s) larger than {MAX_EVENT_BYTES} bytes"
        )
    return [parse_event(e.event, e.data) for e in found]
