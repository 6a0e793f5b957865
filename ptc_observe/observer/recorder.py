"""The per-exchange recorder: bytes and lifecycle in, one :class:`~.events.Exchange` out.

One :class:`ExchangeRecorder` follows one HTTP exchange with ``POST /v1/messages``. It is
sans-IO: the transport tells it what happened (headers arrived, a chunk went by, the body
ended, the client closed, an exception flew) and it never touches the HTTP library.

Work is pushed to the end of the exchange on purpose. Nothing is parsed before the
request is sent; a JSON response body is parsed once the client has read all of it; an
SSE body goes through the wire :class:`~.wire.accumulate.StreamAccumulator` chunk by
chunk, so memory stays flat however long the stream runs. When the exchange finishes
(exactly once, whichever way it ends) the recorder builds the frozen record and hands it
to its hooks (the observer's pipeline).

No method of the recorder raises: a failure inside parsing is reported to the hooks as a
telemetry error of its stage, and the exchange is still recorded with what is known.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Protocol

from ..events import Exchange, Outcome, RateLimit, Reply, RequestFacts, Timings
from ..models import APIError
from ..wire.accumulate import BATCH_BYTES, StreamAccumulator
from ..wire.decoding import ContentDecoder
from ..wire.headers import (
    RESPONSE_HEADERS,
    HeaderValue,
    rate_limits_from,
    retry_after_from,
)
from ..wire.messages import WireError, parse_error, parse_reply, parse_request

__all__ = ["ExchangeRecorder", "RecorderHooks", "next_exchange_id"]

_perf_counter = time.perf_counter

# Process-wide, increasing exchange ids. ``next()`` on a count is atomic under the GIL.
_ids = itertools.count(1)
next_exchange_id: Callable[[], int] = _ids.__next__
"""The next process-unique exchange id."""

_STREAM_ANOMALY = WireError("a malformed, oversized or out-of-place SSE event")

# How an SSE body starts (a field name and its colon, or a comment line); a JSON body
# starts with a bracket, so the two never share a first byte.
_SSE_STARTS = (b"event:", b"data:", b"id:", b"retry:", b":")
_BOM = b"\xef\xbb\xbf"
# A body whose very first byte is one of these is JSON, not SSE: one set lookup decides
# the common case without stripping or matching field names.
_JSON_FIRST = frozenset((b"{", b"["))
# Where the values of RESPONSE_HEADERS sit in the tuple on_header_values takes.
_CONTENT_TYPE, _CONTENT_ENCODING, _REQUEST_ID, _RETRY_AFTER_MS, _RETRY_AFTER = range(5)
_RATE_LIMITS = 5


def _body_start(data: bytes) -> bytes:
    """``data`` without a leading byte-order mark and whitespace."""
    data = data.lstrip()
    if data.startswith(_BOM):
        data = data[3:].lstrip()
    return data


def _is_sse_start(head: bytes) -> bool | None:
    """Whether a body starting with ``head`` is an event stream (``None``: too short)."""
    for start in _SSE_STARTS:
        if head.startswith(start):
            return True
        if start.startswith(head):  # head is empty or a prefix of a field name
            return None
    return False


class _RedactionFailed(Exception):
    """The redaction hook raised (the message names the exception type only)."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"the redaction hook raised {kind}; content dropped")


OTHER_ERROR = "_OTHER"
"""``error.type`` when nothing better is known (the semantic conventions' fallback)."""


class RecorderHooks(Protocol):
    """What a recorder needs from its observer."""

    @property
    def capture_content(self) -> bool:
        """Keep the request body and streamed text (off by default: privacy)."""
        ...

    @property
    def redact(self) -> Callable[[Any], Any] | None:
        """Applied to captured request content before anyone sees it."""
        ...

    def finish(self, exchange: Exchange) -> None:
        """Receive the finished record (never raises)."""
        ...

    def telemetry_error(self, stage: str, exc: BaseException) -> None:
        """Count and log a failure inside telemetry (never raises)."""
        ...


class ExchangeRecorder:
    """Follows one Messages API exchange and builds its :class:`~.events.Exchange`.

    Args:
        hooks: the observer: receives the record and telemetry errors.
        request_body: the request body bytes (a reference; parsed only at finish).
        method: the HTTP method.
        server_address: host of the URL.
        server_port: port of the URL (the transport gives the scheme's default when
            the URL names none).
        path: path of the URL (no query).
        headers: request headers, looked up by lower-case name.
        sent: ``time.perf_counter()`` just before the request went to the inner transport.
        sent_unix_ns: ``time.time_ns()`` at the same moment.
        parent_context: the OpenTelemetry context current at send.
        url: the request URL for ``url.full`` (credentials and query values removed).
    """

    __slots__ = (
        "_abandoned",
        "_acc",
        "_body",
        "_ctx",
        "_decoder",
        "_ended",
        "_exc_type",
        "_headers",
        "_headers_at",
        "_hooks",
        "_id",
        "_method",
        "_nbytes",
        "_once",
        "_parts",
        "_path",
        "_pending",
        "_pending_bytes",
        "_request_headers",
        "_sent",
        "_sent_ns",
        "_server_address",
        "_server_port",
        "_sse",
        "_status",
        "_streamed",
        "_sniff",
        "_url",
    )

    def __init__(
        self,
        hooks: RecorderHooks,
        request_body: bytes | None,
        method: str,
        server_address: str,
        server_port: int | None,
        path: str,
        headers: Mapping[str, str],
        *,
        sent: float,
        sent_unix_ns: int,
        parent_context: Any = None,
        url: str | None = None,
    ) -> None:
        self._hooks = hooks
        self._url = url
        # The first bytes of a 2xx body not labelled an event stream, while they may
        # still turn out to be one (None: not sniffing).
        self._sniff: bytes | None = None
        self._id = next_exchange_id()
        self._body = request_body
        self._method = method
        self._server_address = server_address
        self._server_port = server_port
        self._path = path
        self._request_headers = headers
        self._sent = sent
        self._sent_ns = sent_unix_ns
        self._ctx = parent_context
        self._status: int | None = None
        self._headers: tuple[HeaderValue, ...] | None = None
        self._headers_at: float | None = None
        self._streamed = False
        self._acc: StreamAccumulator | None = None
        self._sse: StreamAccumulator | None = None  # _acc while it is still fed
        self._decoder: ContentDecoder | None = None
        self._parts: list[bytes] | None = None
        self._nbytes = 0
        # After the first token, identity-coded SSE chunks are gathered here (by
        # on_chunk or by the transport) and fed to the accumulator in batches: one
        # call per ~16 KB instead of one per chunk.
        self._pending: list[bytes] | None = None
        self._pending_bytes = 0
        self._ended = False
        self._abandoned = False
        self._exc_type: str | None = None
        # Popping the one item is atomic: whichever thread pops it finishes the exchange.
        self._once: list[bool] = [True]

    @property
    def finished(self) -> bool:
        """True once the record has been built and handed over."""
        return not self._once

    @property
    def exchange_id(self) -> int:
        """The id the record will carry."""
        return self._id

    # --- events from the transport ---

    def on_headers(self, status_code: int, headers: Mapping[str, str]) -> None:
        """The response status and headers arrived.

        Args:
            status_code: HTTP status.
            headers: response headers with lower-case names.
        """
        self.on_header_values(status_code, tuple(map(headers.get, RESPONSE_HEADERS)))

    def on_header_values(
        self, status_code: int, values: tuple[HeaderValue, ...]
    ) -> None:
        """The response status and headers arrived, as the values the recorder reads.

        Args:
            status_code: HTTP status.
            values: the value of each name of
                :data:`~ptc_observe.wire.headers.RESPONSE_HEADERS`, in that order: text,
                or the raw bytes received (read as latin-1; only those read are decoded),
                ``None`` where absent.
        """
        self._headers_at = _perf_counter()
        self._status = status_code
        self._headers = values
        ctype = values[_CONTENT_TYPE]
        if ctype is None:
            self._streamed = False
        elif isinstance(ctype, bytes):
            self._streamed = b"text/event-stream" in ctype.lower()
        else:
            self._streamed = "text/event-stream" in ctype.lower()
        encoding = values[_CONTENT_ENCODING]
        if encoding is not None and isinstance(encoding, bytes):
            encoding = encoding.decode("latin-1")
        if encoding is not None and encoding.strip().lower() not in ("", "identity"):
            try:
                self._decoder = ContentDecoder(encoding)
            except Exception as exc:
                # An unknown coding (or brotli/zstd not installed): nothing to parse.
                self._hooks.telemetry_error("decode", exc)
                return
        try:
            if self._streamed:
                self._acc = self._sse = StreamAccumulator(
                    capture_content=self._hooks.capture_content, clock=_perf_counter
                )
            else:
                self._parts = []
                if 200 <= status_code < 300:
                    # The header is missing or wrong: the first bytes decide (those
                    # of a content-encoded body once decoded, at the end).
                    self._sniff = b""
        except Exception as exc:
            self._hooks.telemetry_error(
                "stream_parse" if self._streamed else "response_parse", exc
            )
            self._acc = self._sse = None
            self._parts = None

    def on_chunk(self, chunk: bytes) -> list[bytes] | None:
        """A chunk of the body went to the client (as received, content-encoded).

        Returns:
            ``None`` while each chunk needs looking at. Once a stream's first token has
            arrived (nothing per chunk matters after that but its bytes), a list the
            caller may append the following chunks to instead of calling this method
            for each one (a call per chunk costs more than the rest of the per-event
            work); it must then pass that list to :meth:`on_batch` whenever the bytes
            appended since the last call reach :data:`~.wire.accumulate.BATCH_BYTES`.
        """
        pending = self._pending
        if pending is not None:  # a caller that does not gather the chunks itself
            pending.append(chunk)
            self._pending_bytes += len(chunk)
            if self._pending_bytes >= BATCH_BYTES:
                self.on_batch(pending)
            return pending
        self._nbytes += len(chunk)
        acc = self._sse
        if acc is not None:
            self._feed(chunk)
            if self._sse is None:  # the stream failed: no longer parsed
                return None
            if self._decoder is None and acc.first_token_at is not None:
                # first_token_at is set: later chunks need no clock reading, so
                # they can wait and be scanned together. Not content-encoded ones:
                # 16 KB of those can inflate a thousandfold, so each is decoded as it
                # comes (the accumulator batches the decoded bytes itself).
                self._pending = pending = []
                return pending
        elif self._parts is not None:
            self._parts.append(chunk)
            sniff = self._sniff
            if sniff is not None and self._decoder is None:
                if not sniff and chunk[:1] in _JSON_FIRST:
                    self._sniff = None  # JSON from its first byte: the common case
                else:
                    self._sniff_chunk(chunk)
        return None

    def _sniff_chunk(self, chunk: bytes) -> None:
        """Look at the body's first bytes; an SSE stream is switched to the accumulator."""
        head = _body_start(self._sniff + chunk if self._sniff else chunk)
        verdict = _is_sse_start(head)
        if verdict is None:  # too short to tell yet
            self._sniff = head
            return
        self._sniff = None
        if verdict:
            parts = self._parts or []
            self._parts = None
            self._start_stream()
            self._feed(b"".join(parts))

    def _start_stream(self) -> None:
        """Parse the body as a stream from now on (a stream found by its bytes)."""
        self._streamed = True
        try:
            self._acc = self._sse = StreamAccumulator(
                capture_content=self._hooks.capture_content, clock=_perf_counter
            )
        except Exception as exc:  # pragma: no cover - defensive
            self._hooks.telemetry_error("stream_parse", exc)
            self._acc = self._sse = None

    def on_batch(self, pending: list[bytes]) -> None:
        """Feed the chunks gathered in ``pending`` (see :meth:`on_chunk`) and empty it.

        One join, one decode and one accumulator scan per batch instead of per chunk.
        The list is emptied even when the stream is no longer parsed (it failed, or
        the exchange finished), so that a caller gathering into it stays bounded.
        """
        if not pending:
            return
        try:
            data = b"".join(pending)
        except TypeError:  # not bytes-like: fed one by one, the accumulator counts it
            items = pending[:]
            pending.clear()
            self._pending_bytes = 0
            for item in items:
                self._nbytes += len(item)
                self._feed(item)
            return
        pending.clear()
        self._pending_bytes = 0
        self._nbytes += len(data)
        self._feed(data)

    def _feed(self, data: bytes) -> None:
        acc = self._sse
        if acc is None:  # the stream failed, or the exchange has finished
            return
        decoder = self._decoder
        try:
            if decoder is not None:
                data = decoder.decode(data)
            acc.feed(data)
        except Exception as exc:
            self._stream_failed(exc)

    def on_body(self, body: bytes) -> None:
        """The whole body at once, already content-decoded; then finish.

        For responses the HTTP library had read before the transport saw them (an
        ``httpx.Response(content=...)`` from a mock transport).
        """
        self._decoder = None
        self.on_chunk(body)
        self.on_end()

    def on_end(self) -> None:
        """The client read the body to its end: finish the exchange."""
        self._ended = True
        pending = self._pending
        if pending:  # the gathered chunks (a JSON body gathers none)
            self.on_batch(pending)
        acc, decoder = self._sse, self._decoder
        if acc is not None and decoder is not None:
            # The decoder may hold the last bytes (a deflate body shorter than its header).
            try:
                acc.feed(decoder.flush())
            except Exception as exc:
                self._stream_failed(exc)
        self._finish()

    def on_close(self) -> None:
        """The client closed the response; finishes it if still open (closed early)."""
        if self._once:
            self._finish()

    def on_error(self, exc: BaseException) -> None:
        """An exception ended the exchange (at send, or while the body was read).

        ``Exception`` subclasses are failures (``error.type`` is the class name);
        anything else (``CancelledError``, ``GeneratorExit``, ``KeyboardInterrupt``)
        means the caller gave up on the response, which counts as closed early.
        """
        if not self._once:
            return
        if isinstance(exc, Exception):
            self._exc_type = type(exc).__name__
        else:
            self._abandoned = True
        self._finish()

    # --- internals ---

    def _stream_failed(self, exc: Exception) -> None:
        # Corrupt compressed data (the client will fail on it too) or a parser bug:
        # stop feeding this stream; the record keeps what was seen so far.
        stage = "decode" if isinstance(exc, WireError) else "stream_parse"
        self._hooks.telemetry_error(stage, exc)
        self._sse = None
        self._decoder = None

    def _finish(self) -> None:
        try:
            self._once.pop()
        except IndexError:
            return
        finished = _perf_counter()
        hooks = self._hooks
        pending = self._pending
        if pending:
            self.on_batch(pending)
        try:
            exchange = self._build(finished)
        except Exception as exc:  # pragma: no cover - _build guards each stage itself
            hooks.telemetry_error("response_parse", exc)
            return
        finally:
            # Release what a response object kept alive by the application would hold.
            self._body = None
            self._parts = None
            self._acc = self._sse = None
            self._decoder = None
            self._pending = None
        try:
            hooks.finish(exchange)
        except (
            Exception
        ) as exc:  # pragma: no cover - the observer's finish never raises
            hooks.telemetry_error("sink", exc)

    def _request_facts(self) -> RequestFacts:
        hooks = self._hooks
        body = self._body
        try:
            if body is None:
                raise WireError("request body not available")
            facts = parse_request(
                body,
                method=self._method,
                path=self._path,
                server_address=self._server_address,
                server_port=self._server_port,
                headers=self._request_headers,
                capture_content=hooks.capture_content,
                url=self._url,
            )
        except Exception as exc:
            hooks.telemetry_error("request_parse", exc)
            return RequestFacts(
                method=self._method,
                path=self._path,
                server_address=self._server_address,
                server_port=self._server_port,
                body_bytes=0 if body is None else len(body),
                url=self._url,
            )
        redact = hooks.redact
        if redact is not None and facts.content is not None:
            try:
                facts = replace(facts, content=redact(facts.content))
            except Exception as exc:
                # Report the type only: the hook's message may quote the content.
                hooks.telemetry_error(
                    "request_parse", _RedactionFailed(type(exc).__name__)
                )
                facts = replace(facts, content=None)
        return facts

    def _json_body(self) -> bytes | None:
        parts = self._parts
        if parts is None or not self._ended:
            return None
        body = b"".join(parts)
        decoder = self._decoder
        if decoder is not None:
            try:
                body = decoder.decode(body) + decoder.flush()
            except Exception as exc:
                self._hooks.telemetry_error("decode", exc)
                return None
        return body

    def _build(self, finished: float) -> Exchange:
        hooks = self._hooks
        request = self._request_facts()
        status = self._status
        headers = self._headers
        reply: Reply | None = None
        api_error: APIError | None = None
        complete = False
        first_token: float | None = None
        sse_events = output_chunks = 0

        acc = self._acc
        body: bytes | None = None
        if (
            acc is None
            and not self._streamed
            and status is not None
            and 200 <= status < 300
        ):
            # The whole body of a 2xx response: content-encoded ones (and bodies too
            # short to tell from their first chunks) are sniffed here.
            body = self._json_body()
            if (
                body is not None
                and self._sniff is not None
                and body[:1] not in _JSON_FIRST
                and _is_sse_start(_body_start(body[:64]))
            ):
                self._decoder = None  # the body is decoded already
                self._start_stream()
                self._feed(body)
                acc = self._acc
        if acc is not None:
            try:
                acc.close()
                message = acc.message
                if message is not None:
                    reply = Reply.from_message(message)
                complete = acc.complete
                api_error = acc.error
                first_token = acc.first_token_at
                sse_events = acc.events
                output_chunks = acc.output_chunks
                anomalies = acc.anomalies
            except Exception as exc:
                hooks.telemetry_error("stream_parse", exc)
            else:
                # Malformed, oversized or out-of-place events: each one is counted.
                for _ in range(anomalies):
                    hooks.telemetry_error("stream_parse", _STREAM_ANOMALY)
        elif status is not None and not self._streamed:
            if body is None and not 200 <= status < 300:
                body = self._json_body()
            if body is not None:
                try:
                    if 200 <= status < 300:
                        try:
                            reply = parse_reply(body)
                            complete = True
                        except WireError:
                            # A truncated body is an incomplete exchange; an error
                            # envelope with a 2xx status is an error.
                            api_error = parse_error(body)
                    elif status >= 400:
                        api_error = parse_error(body)
                except Exception as exc:
                    hooks.telemetry_error("response_parse", exc)

        request_id: str | None = None
        rate_limits: tuple[RateLimit, ...] = ()
        retry_after: float | None = None
        if headers is not None:
            try:
                found = headers[_REQUEST_ID]
                if found is not None:
                    request_id = (
                        found.decode("latin-1") if isinstance(found, bytes) else found
                    )
                rate_limits = rate_limits_from(headers[_RATE_LIMITS:])
                ms, seconds = headers[_RETRY_AFTER_MS], headers[_RETRY_AFTER]
                if ms is not None or seconds is not None:
                    retry_after = retry_after_from(ms, seconds)
            except Exception as exc:
                hooks.telemetry_error("response_parse", exc)

        if request_id is None and api_error is not None:
            request_id = api_error.request_id  # the error body's own, if it has one
        closed_early = not self._ended and (self._abandoned or self._exc_type is None)
        failed = (
            self._exc_type is not None
            or api_error is not None
            or (status is not None and status >= 400)
        )
        if failed:
            outcome = Outcome.ERROR
        elif closed_early and not complete:
            outcome = Outcome.CLOSED_EARLY
        elif complete:
            outcome = Outcome.OK
            closed_early = False
        else:
            outcome = Outcome.INCOMPLETE

        error_type: str | None = None
        if failed:
            if api_error is not None:
                error_type = api_error.type or OTHER_ERROR
            elif status is not None and status >= 400:
                error_type = str(status)
            else:
                error_type = self._exc_type or OTHER_ERROR

        return Exchange(
            id=self._id,
            request=request,
            timings=Timings(
                self._sent, finished, self._sent_ns, self._headers_at, first_token
            ),
            outcome=outcome,
            streamed=self._streamed,
            complete=complete,
            closed_early=closed_early,
            status_code=status,
            reply=reply,
            error_type=error_type,
            error_message=api_error.message if api_error is not None else None,
            request_id=request_id,
            rate_limits=rate_limits,
            retry_after=retry_after,
            sse_events=sse_events,
            output_chunks=output_chunks,
            response_bytes=self._nbytes,
            parent_context=self._ctx,
        )
