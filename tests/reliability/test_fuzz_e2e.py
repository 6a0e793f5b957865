"""Fuzzing end to end: hostile bodies through MockTransport, the observing transport, a client.

``tests/wire/test_fuzz.py`` fuzzes the wire layer on its own. Here the same kinds of input
(random bytes, random splits, truncations, malformed JSON, huge fields, deep nesting,
invalid UTF-8, corrupt compression) travel the whole way an application's traffic does:
an httpx2 client (sync or async) reads them through ``Observer.transport()`` from a
``MockTransport``. For every input:

* the client gets exactly the bytes the server sent, in the same chunks;
* nothing raises into the client, nothing hangs;
* exactly one exchange is recorded;
* every anomaly is counted in ``ptc_telemetry_errors_total{stage}`` of a fresh registry,
  and nothing else is: the expected count is what the wire layer finds in the same
  bytes (``StreamAccumulator.anomalies`` for streams, ``parse_request`` for requests,
  the content decoder for compressed bodies).
"""

from __future__ import annotations

import gzip
import json
import os
import threading
import tracemalloc
import zlib
from collections.abc import Callable
from typing import Any

import anyio
import httpx2
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ptc_observe import Outcome
from ptc_observe.wire import (
    ContentDecoder,
    StreamAccumulator,
    WireError,
    parse_error,
    parse_reply,
    parse_request,
)

from .conftest import (
    BODY,
    SSE_HEADERS,
    URL,
    Replies,
    Reply,
    Telemetry,
    dumps,
    fixture_bytes,
)

SSE_FIXTURES = [
    fixture_bytes(n)
    for n in (
        "08_stream_ptc_turn1.sse",
        "09_stream_plain_text.sse",
        "10_stream_ptc_resume_prepopulated.sse",
    )
]
JSON_FIXTURES = [
    fixture_bytes(n)
    for n in (
        "01_direct_tool_use.json",
        "02_ptc_turn1_response.json",
        "05_ptc_multiple_calls_response.json",
        "06_error_429_rate_limit.json",
    )
]
EVENT_NAMES = [
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
    "ping",
    "error",
    "brand_new_event",
]
KEYS = st.sampled_from(
    ["type", "message", "content", "index", "content_block", "delta", "usage"]
    + ["error", "id", "caller", "input", "container", "stop_reason", "text"]
)
SHAPED = st.recursive(
    st.none()
    | st.integers(-2, 3)
    | st.sampled_from(["tool_use", "text", "message", "text_delta", "", "\ud7ff"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=5)
    ),
    max_leaves=20,
)
PAYLOADS = st.one_of(
    SHAPED.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=80).map(lambda b: b.replace(b"\n", b"").replace(b"\r", b"")),
    st.integers(1, 5000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(1, 5000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
)
SYNTHETIC = st.lists(
    st.tuples(st.sampled_from(EVENT_NAMES), PAYLOADS), max_size=12
).map(
    lambda evs: b"".join(b"event: %s\ndata: %s\n\n" % (n.encode(), p) for n, p in evs)
)
MUTATION = st.tuples(
    st.sampled_from(["delete", "insert", "flip", "truncate"]),
    st.integers(0, 10_000),
    st.binary(min_size=1, max_size=12),
)


def mutate(body: bytes, mutations: list[tuple[str, int, bytes]]) -> bytes:
    """Apply byte-level mutations (delete a range, insert, flip a byte, cut the end)."""
    for kind, at, data in mutations:
        at %= len(body) + 1
        if kind == "delete":
            body = body[:at] + body[at + len(data) * 7 :]
        elif kind == "insert":
            body = body[:at] + data + body[at:]
        elif kind == "flip" and at < len(body):
            body = body[:at] + bytes([body[at] ^ data[0]]) + body[at + 1 :]
        elif kind == "truncate":
            body = body[:at]
    return body


def mutated(fixtures: list[bytes]) -> st.SearchStrategy[bytes]:
    """A recorded body with up to four byte-level mutations."""
    return st.tuples(st.sampled_from(fixtures), st.lists(MUTATION, max_size=4)).map(
        lambda t: mutate(*t)
    )


SSE_BODIES = st.one_of(st.binary(max_size=1500), SYNTHETIC, mutated(SSE_FIXTURES))
JSON_BODIES = st.one_of(
    st.binary(max_size=600),
    mutated(JSON_FIXTURES),
    st.sampled_from(JSON_FIXTURES),
    SHAPED.map(lambda v: json.dumps(v).encode()),
    st.integers(1, 50_000).map(lambda n: b"[" * n + b"]" * n),
)
CUTS = st.lists(st.integers(0, 20_000), max_size=8)
FUZZ = settings(
    # PTC_FUZZ_EXAMPLES raises the number of inputs per test for a longer campaign.
    max_examples=int(os.environ.get("PTC_FUZZ_EXAMPLES", "120")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` cut at the given offsets (taken modulo its length)."""
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:], strict=False)]


def exchange(
    tel: Telemetry, reply: Reply, asynchronous: bool, request: bytes | None = None
) -> tuple[Replies, list[bytes]]:
    """POST ``request`` through ``tel``'s observer to a script answering ``reply``.

    Returns:
        The script (with the request the server got) and the raw chunks the client read.
    """
    replies = Replies(reply)
    content = dumps(BODY) if request is None else request
    headers = {"content-type": "application/json", "x-api-key": "sk-ant-fuzz"}
    if not asynchronous:
        transport = tel.observer.transport(replies.transport())
        with httpx2.Client(transport=transport) as client:
            with client.stream("POST", URL, content=content, headers=headers) as r:
                return replies, list(r.iter_raw())

    async def run() -> list[bytes]:
        transport = tel.observer.async_transport(replies.transport())
        async with httpx2.AsyncClient(transport=transport) as client:
            async with client.stream(
                "POST", URL, content=content, headers=headers
            ) as r:
                return [c async for c in r.aiter_raw()]

    return replies, anyio.run(run)


def reference(body: bytes) -> StreamAccumulator:
    """The wire layer's own reading of a whole (decoded) SSE body."""
    acc = StreamAccumulator()
    acc.feed(body)
    acc.close()
    return acc


def stream_outcome(acc: StreamAccumulator) -> Outcome:
    """The outcome a stream read to its end must get."""
    if acc.error is not None:
        return Outcome.ERROR
    return Outcome.OK if acc.complete else Outcome.INCOMPLETE


def bounded(fn: Callable[[], Any], seconds: float = 120.0) -> Any:
    """Run ``fn`` in a thread; fail if it is still running after ``seconds`` (a hang)."""
    result: list[Any] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(fn())
        except BaseException as exc:  # re-raised in the test's thread
            error.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s: a hang"
    if error:
        raise error[0]
    return result[0] if result else None


class TestStreams:
    @given(
        body=SSE_BODIES,
        cuts=CUTS,
        compressed=st.booleans(),
        asynchronous=st.booleans(),
    )
    @FUZZ
    def test_sse_bodies(
        self, body: bytes, cuts: list[int], compressed: bool, asynchronous: bool
    ) -> None:
        """Any SSE body, any split, gzip or not: exact bytes, one record, anomalies counted."""
        wire = gzip.compress(body) if compressed else body
        chunks = split_at(wire, cuts)
        headers = dict(SSE_HEADERS)
        if compressed:
            headers["content-encoding"] = "gzip"
        tel = Telemetry()
        try:
            _, got = exchange(tel, Reply(200, headers, chunks), asynchronous)
            assert got == [c for c in chunks if c]
            ref = reference(body)
            expected = {"stream_parse": ref.anomalies} if ref.anomalies else {}
            assert tel.errors() == expected
            assert dict(tel.observer.telemetry_errors) == expected
            (ex,) = tel.sink.exchanges
            assert ex.outcome is stream_outcome(ref)
            assert ex.response_bytes == len(wire)
            assert ex.sse_events == ref.events
        finally:
            tel.close()

    @given(
        body=st.binary(min_size=1, max_size=800),
        cuts=CUTS,
        coding=st.sampled_from(["gzip", "deflate"]),
    )
    @FUZZ
    def test_corrupt_compression(
        self, body: bytes, cuts: list[int], coding: str
    ) -> None:
        """Random bytes announced as gzip/deflate reach the client as sent; one decode error."""
        try:
            decoder = ContentDecoder(coding)
            decoded = decoder.decode(body) + decoder.flush()
        except WireError:
            decoded = None
        chunks = split_at(body, cuts)
        headers = {**SSE_HEADERS, "content-encoding": coding}
        tel = Telemetry()
        try:
            _, got = exchange(tel, Reply(200, headers, chunks), False)
            assert b"".join(got) == body
            (ex,) = tel.sink.exchanges
            errors = tel.errors()
            if decoded is None:
                assert errors.pop("decode") == 1
                assert ex.outcome is Outcome.INCOMPLETE
            anomalies = reference(decoded).anomalies if decoded is not None else 0
            # A body that fails to decode midway may have yielded bytes before the failure.
            assert errors.keys() <= {"stream_parse"}
            if decoded is not None:
                assert errors == ({"stream_parse": anomalies} if anomalies else {})
        finally:
            tel.close()


class TestJsonBodies:
    @given(
        body=JSON_BODIES,
        status=st.sampled_from([200, 201, 400, 429, 500, 529]),
        cuts=CUTS,
        asynchronous=st.booleans(),
    )
    @FUZZ
    def test_json_bodies(
        self, body: bytes, status: int, cuts: list[int], asynchronous: bool
    ) -> None:
        """Any JSON response body and status: exact bytes, one record, outcome as documented.

        A 2xx body that is not a message ends the exchange as ``incomplete`` (the
        recorder's rule: it cannot tell a cut body from a garbled one); an error status
        is an error typed by its envelope, else by the status code.
        """
        chunks = split_at(body, cuts)
        tel = Telemetry()
        try:
            reply = Reply(status, {"content-type": "application/json"}, chunks)
            _, got = exchange(tel, reply, asynchronous)
            assert b"".join(got) == body
            assert tel.errors() == {}
            (ex,) = tel.sink.exchanges
            envelope = parse_error(body)
            if status >= 400:
                assert ex.outcome is Outcome.ERROR
                assert ex.error_type == (
                    (envelope.type or "_OTHER") if envelope else str(status)
                )
            else:
                try:
                    parse_reply(body)
                    parsed = True
                except WireError:
                    parsed = False
                if parsed:
                    assert ex.outcome is Outcome.OK
                elif envelope is not None:
                    assert ex.outcome is Outcome.ERROR
                else:
                    assert ex.outcome is Outcome.INCOMPLETE
                    assert tel.value("ptc_exchanges_total", outcome="incomplete") == 1
        finally:
            tel.close()


class TestRequests:
    @given(
        request=st.one_of(
            st.binary(max_size=600),
            mutated([dumps(BODY), fixture_bytes("01_direct_tool_use.json")]),
            SHAPED.map(lambda v: json.dumps(v).encode()),
            st.integers(1, 50_000).map(lambda n: b"[" * n + b"]" * n),
        ),
        asynchronous=st.booleans(),
    )
    @FUZZ
    def test_request_bodies(self, request: bytes, asynchronous: bool) -> None:
        """Any request body reaches the server byte for byte; a body the parser refuses is
        one request_parse error, and the exchange is still recorded."""
        try:
            parse_request(
                request,
                method="POST",
                path="/v1/messages",
                server_address="api.anthropic.com",
                server_port=None,
                headers={},
            )
            expected = {}
        except WireError:
            expected = {"request_parse": 1}
        chunks = [fixture_bytes("01_direct_tool_use.json")]
        tel = Telemetry()
        try:
            replies, got = exchange(
                tel, Reply(200, {"content-type": "application/json"}, chunks),
                asynchronous, request=request,
            )  # fmt: skip
            assert replies.requests[0].content == request
            assert b"".join(got) == chunks[0]
            assert tel.errors() == expected
            (ex,) = tel.sink.exchanges
            assert ex.outcome is Outcome.OK and ex.request.body_bytes == len(request)
        finally:
            tel.close()


HEADER_NAMES = st.sampled_from(
    ["retry-after", "retry-after-ms", "request-id", "anthropic-organization-id"]
    + [
        f"anthropic-ratelimit-{resource}-{field}"
        for resource in ("requests", "tokens", "input-tokens", "output-tokens")
        for field in ("limit", "remaining", "reset")
    ]
)
HEADER_VALUES = st.one_of(
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["", " ", "1e309", "-0", "Wed, 21 Oct 2015 07:28:00 GMT", "NaN"]),
)
CONTENT_TYPES = st.sampled_from(
    ["application/json", "text/event-stream", "TEXT/EVENT-STREAM; charset=utf-8",
     "text/event-streamx", "text/html", "", "application/json; text/event-stream"]
)  # fmt: skip


class TestHeaders:
    @given(
        headers=st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=8),
        content_type=CONTENT_TYPES,
        sse=st.booleans(),
    )
    @FUZZ
    def test_response_headers(
        self, headers: dict[str, str], content_type: str, sse: bool
    ) -> None:
        """Any rate-limit, retry and id header values, any content type for either kind
        of body: the client sees the same headers and bytes, nothing is counted but the
        anomalies of a body read as a stream (an SSE body is one whatever its header)."""
        body = SSE_FIXTURES[1] if sse else JSON_FIXTURES[0]
        sent = {**headers, "content-type": content_type}
        tel = Telemetry()
        try:
            replies = Replies(Reply(200, sent, [body]))
            transport = tel.observer.transport(replies.transport())
            with httpx2.Client(transport=transport) as client:
                with client.stream("POST", URL, content=dumps(BODY)) as r:
                    got = b"".join(r.iter_raw())
                    seen = dict(r.headers.multi_items())
            assert got == body and seen == sent
            (ex,) = tel.sink.exchanges
            # A stream is a stream by its header or, without the header, by its
            # first bytes (an SSE body under any content type).
            streamed = "text/event-stream" in content_type.lower() or sse
            assert ex.streamed is streamed
            anomalies = reference(body).anomalies if streamed else 0
            assert tel.errors() == ({"stream_parse": anomalies} if anomalies else {})
            for limit in ex.rate_limits:
                assert limit.limit is None or isinstance(limit.limit, int)
                assert limit.remaining is None or isinstance(limit.remaining, int)
            assert ex.retry_after is None or ex.retry_after >= 0
        finally:
            tel.close()


START = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_f",'
    b'"type":"message","role":"assistant","model":"m","content":[],'
    b'"usage":{"input_tokens":3,"output_tokens":1}}}\n\n'
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
    b'"content_block":{"type":"text","text":""}}\n\n'
)
STOP = (
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
    b'event: message_delta\ndata: {"type":"message_delta","delta":'
    b'{"stop_reason":"end_turn"},"usage":{"output_tokens":9}}\n\n'
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
)


def delta(text: bytes) -> bytes:
    """A ``text_delta`` event."""
    return (
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":"' + text + b'"}}\n\n'
    )


def peak_while(fn: Callable[[], Any]) -> tuple[Any, int]:
    """``fn()`` and the tracemalloc peak of the allocations made while it ran."""
    tracemalloc.start()
    try:
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


def read_stream(tel: Telemetry, chunks: list[bytes]) -> int:
    """Stream ``chunks`` through ``tel``'s observer; the bytes the client read."""
    replies = Replies(Reply(200, dict(SSE_HEADERS), chunks))
    with httpx2.Client(transport=tel.observer.transport(replies.transport())) as c:
        with c.stream("POST", URL, content=dumps(BODY)) as r:
            return sum(len(chunk) for chunk in r.iter_raw())


class TestHostileStreams:
    """Targeted inputs too large for random generation; each under a hang watchdog."""

    def test_huge_field(self, telemetry: Any) -> None:
        """One 24 MiB text delta (over the 16 MiB event bound) in 64 KiB chunks: passed
        through whole, dropped by the observer as one anomaly, memory bounded by the
        event bound, not by the body."""
        tel = telemetry()
        huge = delta(b"\xc3\xa9" * (12 * 1024 * 1024))
        body = START + huge + STOP
        chunks = [body[i : i + 65536] for i in range(0, len(body), 65536)]
        total, peak = bounded(lambda: peak_while(lambda: read_stream(tel, chunks)))
        assert total == len(body)
        assert tel.errors() == {"stream_parse": 1}
        (ex,) = tel.sink.exchanges
        assert ex.outcome is Outcome.OK and ex.output_chunks == 0
        assert peak < 40 * 1024 * 1024, peak

    def test_deep_nesting(self, telemetry: Any) -> None:
        """A message_start nested 200,000 levels deep: one anomaly, no RecursionError."""
        tel = telemetry()
        deep = b'{"type":"message_start","message":' + b"[" * 200_000 + b"]" * 200_000
        body = b"event: message_start\ndata: " + deep + b"}\n\n" + STOP
        total = bounded(lambda: read_stream(tel, [body[:1000], body[1000:]]))
        assert total == len(body)
        # The message_start is malformed; the events after it have no message to go to.
        assert tel.errors() == {"stream_parse": reference(body).anomalies}
        assert tel.errors()["stream_parse"] >= 1

    def test_many_malformed_events_in_flat_memory(self, telemetry: Any) -> None:
        """10,000 malformed events between valid ones: each counted once, memory flat."""
        tel = telemetry()
        bad = b"event: message_delta\ndata: {not json \xff\xfe}\n\n"
        n = 10_000
        chunks = [START, *[bad * 100] * (n // 100), delta(b"hi"), STOP]
        total, peak = bounded(lambda: peak_while(lambda: read_stream(tel, chunks)))
        assert total == sum(len(c) for c in chunks)
        assert tel.errors() == {"stream_parse": n}
        (ex,) = tel.sink.exchanges
        assert ex.outcome is Outcome.OK and ex.sse_events == n + 6
        assert peak < 2 * 1024 * 1024, peak

    def test_invalid_utf8_everywhere(self, telemetry: Any) -> None:
        """Invalid UTF-8 in event names, field names and payloads: bytes pass, counted."""
        tel = telemetry()
        body = (
            START
            + b"event: \xff\xfe\ndata: {}\n\n"
            + b"\xc3(: \x80\n\n"
            + b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"\xed\xa0\x80"}}\n\n'
            + delta(b"\xf0\x28\x8c\x28")
            + STOP
        )
        total = bounded(
            lambda: read_stream(tel, [body[i : i + 7] for i in range(0, len(body), 7)])
        )
        assert total == len(body)
        assert tel.errors() == (
            {"stream_parse": reference(body).anomalies}
            if reference(body).anomalies
            else {}
        )
        (ex,) = tel.sink.exchanges
        assert ex.outcome is Outcome.OK

    def test_zip_bomb_is_bounded(self, telemetry: Any) -> None:
        """A deflate body that inflates about 1,000-fold: the client gets the compressed
        bytes; the observer decodes its copy chunk by chunk, so memory follows the
        inflated size of one chunk (about 1 MB here), not of the body (60 MB)."""
        tel = telemetry()
        inner = START + delta(b"z" * 1000) * 60_000 + STOP  # about 60 MB inflated
        packed = zlib.compress(inner, 9)
        chunks = [packed[i : i + 1024] for i in range(0, len(packed), 1024)]
        headers = {**SSE_HEADERS, "content-encoding": "deflate"}
        replies = Replies(Reply(200, headers, chunks))

        def run() -> int:
            transport = tel.observer.transport(replies.transport())
            with httpx2.Client(transport=transport) as c:
                with c.stream("POST", URL, content=dumps(BODY)) as r:
                    return sum(len(chunk) for chunk in r.iter_raw())

        total, peak = bounded(lambda: peak_while(run))
        assert total == len(packed) and len(inner) > 50 * len(packed)
        (ex,) = tel.sink.exchanges
        assert ex.outcome is Outcome.OK and ex.output_chunks == 60_000
        assert tel.errors() == {}
        assert peak < len(inner) // 8, peak


@pytest.mark.parametrize("status", [200, 500])
def test_empty_and_headerless_bodies(telemetry: Any, status: int) -> None:
    """An empty body with no content type at all: passes, recorded once, no error counted."""
    tel = telemetry()
    _, got = exchange(tel, Reply(status, {}, []), False)
    assert got == []
    (ex,) = tel.sink.exchanges
    assert ex.outcome is (Outcome.INCOMPLETE if status == 200 else Outcome.ERROR)
    assert tel.errors() == {}
