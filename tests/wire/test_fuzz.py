"""Fuzzing: random bytes, splits, truncations, bad JSON, huge and deep inputs.

Nothing may raise out of the stream accumulator, the parsers raise only WireError, and
memory stays bounded.
"""

from __future__ import annotations

import json
import tracemalloc
import zlib

import pytest
from hypothesis import given, settings, strategies as st

from ptc_observe.events import RequestFacts
from ptc_observe.models import APIError, Message
from ptc_observe.wire import (
    ContentDecoder,
    StreamAccumulator,
    WireError,
    parse_error,
    parse_event,
    parse_message,
    parse_rate_limits,
    parse_request,
    parse_retry_after,
)

from .wirecases import SSE_FIXTURES, decode, fast_facts, read, reference_facts, split_at

BODIES = [read(p) for p in SSE_FIXTURES]
EVENT_NAMES = [
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
    "ping",
    "error",
    "surprise",
]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
KEYS = st.sampled_from(
    [
        "type",
        "message",
        "content",
        "index",
        "content_block",
        "delta",
        "usage",
        "error",
        "id",
        "caller",
        "input",
        "container",
        "stop_reason",
    ]
)
# JSON objects built from the keys the parsers look at, so that they get past the
# first checks and reach the deeper code.
SHAPED = st.recursive(
    st.none()
    | st.integers(-2, 3)
    | st.sampled_from(
        ["tool_use", "text", "message", "direct", "error", "2026-08-21T09:40:15Z", ""]
    ),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=5)
    ),
    max_leaves=25,
)
PAYLOADS = st.one_of(
    JSON.map(lambda v: json.dumps(v).encode()),
    SHAPED.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=60).map(lambda b: b.replace(b"\n", b" ").replace(b"\r", b" ")),
    st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(1, 3000).map(lambda n: b'{"a":' * n + b"0" + b"}" * n),
)


def event_bytes(name: str, payload: bytes) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + payload + b"\n\n"


STREAMS = st.lists(st.tuples(st.sampled_from(EVENT_NAMES), PAYLOADS), max_size=15).map(
    lambda events: b"".join(event_bytes(n, p) for n, p in events)
)


def exercise(acc: StreamAccumulator) -> None:
    """Read every fact (each read scans pending bytes) and check the types."""
    assert isinstance(acc.events, int) and isinstance(acc.output_chunks, int)
    assert isinstance(acc.anomalies, int) and isinstance(acc.complete, bool)
    assert acc.error is None or isinstance(acc.error, APIError)
    assert acc.message is None or isinstance(acc.message, Message)


@pytest.mark.parametrize("capture", [False, True])
@given(body=st.binary(max_size=400), cuts=st.lists(st.integers(0, 400), max_size=10))
@settings(max_examples=100, deadline=None)
def test_random_bytes_never_raise(capture: bool, body: bytes, cuts: list[int]) -> None:
    """Arbitrary bytes, arbitrarily cut: no exception from the decoder or accumulator."""
    chunks = split_at(body, cuts)
    events, _ = decode(chunks)
    assert all(isinstance(e.data, str) for e in events)
    acc = StreamAccumulator(capture_content=capture)
    for chunk in chunks:
        acc.feed(chunk)
    exercise(acc)
    acc.close()
    exercise(acc)


@pytest.mark.parametrize("capture", [False, True])
@given(body=STREAMS, cuts=st.lists(st.integers(0, 5000), max_size=8))
@settings(max_examples=60, deadline=None)
def test_malformed_payloads_are_counted_not_raised(
    capture: bool, body: bytes, cuts: list[int]
) -> None:
    """Events with bad, odd, deep or random JSON never raise and agree with the reference."""
    chunks = split_at(body, cuts)
    assert fast_facts(chunks, capture_content=capture) == reference_facts(
        chunks, capture_content=capture
    )
    acc = StreamAccumulator(capture_content=capture)
    for chunk in chunks:
        acc.feed(chunk)
    acc.close()
    exercise(acc)


@given(index=st.integers(0, len(BODIES) - 1), data=st.data())
@settings(max_examples=100, deadline=None)
def test_truncations(index: int, data: st.DataObject) -> None:
    """A body cut anywhere is complete only if message_stop's blank line arrived."""
    body = BODIES[index]
    end = data.draw(st.integers(0, len(body)))
    cut = body[:end]
    facts = fast_facts([cut])
    assert facts == reference_facts([cut])
    # A lone CR ends a line too: "\r\n\r" already holds the blank line.
    lf = cut.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    stop = lf.find(b"event: message_stop")
    assert facts["complete"] == (stop >= 0 and lf.find(b"\n\n", stop) >= 0)


@given(name=st.sampled_from(EVENT_NAMES), payload=PAYLOADS)
@settings(max_examples=100, deadline=None)
def test_parse_event_raises_only_wire_error(name: str, payload: bytes) -> None:
    """parse_event gives a model or raises WireError."""
    try:
        parse_event(name, payload)
    except WireError:
        pass


@given(
    body=st.one_of(
        PAYLOADS,
        st.dictionaries(
            st.sampled_from(
                [
                    "model",
                    "stream",
                    "max_tokens",
                    "tools",
                    "container",
                    "messages",
                    "temperature",
                    "top_k",
                    "stop_sequences",
                ]
            ),
            SHAPED,
            max_size=6,
        ).map(lambda d: json.dumps(d).encode()),
    ),
    beta=st.text(max_size=30),
    retries=st.text(max_size=5),
)
@settings(max_examples=100, deadline=None)
def test_parse_request_raises_only_wire_error(
    body: bytes, beta: str, retries: str
) -> None:
    """parse_request gives facts or raises WireError, whatever the body and headers."""
    headers = {"anthropic-beta": beta, "x-stainless-retry-count": retries}
    try:
        facts = parse_request(
            body,
            method="POST",
            path="/v1/messages",
            server_address="h",
            server_port=None,
            headers=headers,
        )
    except WireError:
        return
    assert isinstance(facts, RequestFacts) and facts.retry_count >= 0


@given(body=PAYLOADS)
@settings(max_examples=100, deadline=None)
def test_response_parsers(body: bytes) -> None:
    """parse_message raises only WireError; parse_error never raises."""
    try:
        assert isinstance(parse_message(body), Message)
    except WireError:
        pass
    assert parse_error(body) is None or isinstance(parse_error(body), APIError)


@given(
    values=st.dictionaries(
        st.sampled_from(
            [
                "retry-after",
                "retry-after-ms",
                "anthropic-ratelimit-tokens-limit",
                "anthropic-ratelimit-tokens-reset",
            ]
        ),
        st.text(max_size=40),
    )
)
@settings(max_examples=100, deadline=None)
def test_header_parsers_never_raise(values: dict[str, str]) -> None:
    """Rate-limit and retry-after parsing accept any header text."""
    seconds = parse_retry_after(values, now=0.0)
    assert seconds is None or seconds >= 0
    assert isinstance(parse_rate_limits(values), tuple)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
@given(body=st.binary(max_size=300), cuts=st.lists(st.integers(0, 300), max_size=5))
@settings(max_examples=60, deadline=None)
def test_content_decoder_raises_only_wire_error(
    encoding: str, body: bytes, cuts: list[int]
) -> None:
    """Random bytes under any coding decode or raise WireError."""
    pytest.importorskip({"br": "brotli", "zstd": "zstandard"}.get(encoding, "zlib"))
    decoder = ContentDecoder(encoding, max_output=4096)
    try:
        for chunk in split_at(body, cuts):
            assert len(decoder.decode(chunk)) <= 4096
        decoder.flush()
    except WireError:
        pass


class TestHugeAndDeep:
    def test_huge_text_field(self) -> None:
        """A 4 MB text delta is counted (default) or kept (capture) without trouble."""
        huge = "é" * (2 * 1024 * 1024)
        body = (
            event_bytes(
                "message_start",
                b'{"type":"message_start","message":{"id":"m","content":[]}}',
            )
            + event_bytes(
                "content_block_start",
                b'{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',
            )
            + event_bytes(
                "content_block_delta",
                json.dumps(
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": huge},
                    },
                    ensure_ascii=False,
                ).encode(),
            )
            + event_bytes("message_stop", b"{}")
        )
        for capture in (False, True):
            acc = StreamAccumulator(capture_content=capture)
            for i in range(0, len(body), 65536):
                acc.feed(body[i : i + 65536])
            acc.close()
            assert acc.complete and acc.output_chunks == 1 and acc.anomalies == 0
            assert acc.message is not None and acc.message.text == (
                huge if capture else ""
            )

    def test_deep_nesting_in_a_fact_event(self) -> None:
        """JSON nested 100 000 deep is an anomaly (RecursionError caught), not a crash."""
        deep = b"[" * 100_000 + b"]" * 100_000
        body = event_bytes("message_start", deep) + event_bytes(
            "message_delta", b'{"usage": {"output_tokens": ' + deep + b"}}"
        )
        acc = StreamAccumulator()
        acc.feed(body)
        acc.close()
        assert acc.anomalies == 2 and acc.message is None

    def test_deep_nesting_in_bodies(self) -> None:
        """Deep request and response bodies raise WireError (or give None)."""
        deep = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
        for parse in (parse_message,):
            with pytest.raises(WireError):
                parse(deep)
        with pytest.raises(WireError):
            parse_request(
                deep,
                method="POST",
                path="/",
                server_address="h",
                server_port=None,
                headers={},
            )
        assert parse_error(deep) is None

    def test_deep_tool_result_content(self) -> None:
        """A tool result too deep to re-serialise raises WireError, not RecursionError."""
        inner = b"[" * 5000 + b'"x"' + b"]" * 5000
        raw = (
            b'{"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": ['
            + inner
            + b"]}]}]}"
        )
        try:
            facts = parse_request(
                raw,
                method="POST",
                path="/",
                server_address="h",
                server_port=None,
                headers={},
            )
        except WireError:
            return
        assert facts.tool_results[0].tool_use_id == "t"

    def test_decompression_bomb_stays_bounded(self) -> None:
        """A 64 MiB gzip bomb fed in one chunk raises before using its size in memory."""
        bomb = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
        body = bomb.compress(b"\0" * (64 * 1024 * 1024)) + bomb.flush()
        decoder = ContentDecoder("gzip", max_output=1024 * 1024)
        tracemalloc.start()
        try:
            with pytest.raises(WireError):
                decoder.decode(body)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 4 * 1024 * 1024
