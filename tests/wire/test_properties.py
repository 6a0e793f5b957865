"""Hypothesis properties: any chunking gives the same result, and the fast path agrees
with the spec decoder plus full accumulation."""

from __future__ import annotations

import json

from hypothesis import given, settings, strategies as st

from ptc_observe.wire import MAX_EVENT_BYTES
from ptc_observe.wire.sse import _Framer, _parse_block

from .wirecases import (
    SSE_FIXTURES,
    decode,
    fast_facts,
    line_end_variants,
    read,
    reference_facts,
    split_at,
)

BODIES = {p.name: read(p) for p in SSE_FIXTURES}
FIXTURE_EVENTS = sorted(
    {
        block + b"\n\n"
        for body in BODIES.values()
        for block in body.replace(b"\r\n", b"\n").split(b"\n\n")
        if block
    }
)
DELTA_DATA = b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a"}}'


@st.composite
def chunked_fixture(draw: st.DrawFn) -> list[bytes]:
    """A fixture body, with LF, CRLF or CR line ends, cut at random places."""
    name = draw(st.sampled_from(sorted(BODIES)))
    body = line_end_variants(BODIES[name])[draw(st.sampled_from(["lf", "crlf", "cr"]))]
    cuts = draw(st.lists(st.integers(0, len(body)), max_size=60))
    return split_at(body, cuts)


@given(chunked_fixture())
@settings(max_examples=150, deadline=None)
def test_any_chunking_gives_the_same_events(chunks: list[bytes]) -> None:
    """The spec decoder gives the same events however the body is cut."""
    whole = decode([b"".join(chunks)])
    split = decode(chunks)
    assert split[0] == whole[0] and split[1].pending == whole[1].pending


@given(chunked_fixture())
@settings(max_examples=150, deadline=None)
def test_fast_path_agrees_with_the_spec_decoder(chunks: list[bytes]) -> None:
    """Default accumulator facts equal SSEDecoder + accumulate() of the fact events."""
    assert fast_facts(chunks) == reference_facts(chunks)


@given(chunked_fixture())
@settings(max_examples=100, deadline=None)
def test_capturing_accumulator_builds_the_full_message(chunks: list[bytes]) -> None:
    """With capture_content the message equals accumulate() over every event."""
    assert fast_facts(chunks, capture_content=True) == reference_facts(
        chunks, capture_content=True
    )


# --- synthetic streams: every kind of line, any line end, any cut ---

LINES = st.one_of(
    st.sampled_from(
        [
            b"",
            b":",
            b": comment",
            b"data",
            b"data:",
            b"data: x",
            b"data:  two spaces",
            DELTA_DATA,
            b"data: {not json",
            b"event",
            b"event:",
            b"event: ping",
            b"event: content_block_delta",
            b"event:content_block_delta",
            b"event: message_stop",
            b"event: brand_new",
            b"id: 7",
            b"retry: 10",
            b"\xef\xbb\xbfdata: after a late BOM",
            "data: caf\u00e9 \u2028 \U0001f642".encode(),
            b"data: \xff\xfe invalid utf-8",
        ]
    ),
    st.binary(max_size=12).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
)
UNITS = st.one_of(
    st.tuples(LINES, st.sampled_from([b"\n", b"\r", b"\r\n"])).map(b"".join),
    st.sampled_from(FIXTURE_EVENTS),
    st.just(b"event: content_block_delta\n" + DELTA_DATA + b"\n\n"),
    st.binary(max_size=6),
)


@st.composite
def synthetic(draw: st.DrawFn) -> tuple[list[bytes], int]:
    units = draw(st.lists(UNITS, max_size=40))
    body = (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + b"".join(units)
    cuts = draw(st.lists(st.integers(0, len(body)), max_size=30))
    bound = draw(st.sampled_from([MAX_EVENT_BYTES, 12, 40, 100, 300]))
    return split_at(body, cuts), bound


def framer_events(
    chunks: list[bytes], bound: int
) -> tuple[list[tuple[str, str]], bool, int]:
    framer = _Framer(bound)
    out = []
    for chunk in chunks:
        data, end = framer.feed(chunk)
        pos = 0
        while pos < end:
            nxt = data.find(b"\n\n", pos, end)
            if nxt < 0:
                break
            block, pos = data[pos:nxt], nxt + 2
            if len(block) > bound and framer.oversize(block):
                continue
            parsed = _parse_block(block) if block else None
            if parsed is not None:
                out.append(
                    (
                        parsed[0].decode("utf-8", "replace"),
                        parsed[1].decode("utf-8", "replace"),
                    )
                )
    pending = framer.flush()
    return out, pending, framer.dropped


@given(synthetic())
@settings(max_examples=200, deadline=None)
def test_framer_agrees_with_the_spec_decoder(case: tuple[list[bytes], int]) -> None:
    """The fast framer finds exactly the spec decoder's events, drops and end state."""
    chunks, bound = case
    events, decoder = decode(chunks, max_event_bytes=bound)
    assert framer_events(chunks, bound) == (
        [(e.event, e.data) for e in events],
        decoder.pending,
        decoder.dropped,
    )


@given(synthetic())
@settings(max_examples=150, deadline=None)
def test_accumulator_agrees_on_synthetic_streams(case: tuple[list[bytes], int]) -> None:
    """Counts, drops, first token and message agree with the reference on odd streams."""
    chunks, bound = case
    assert fast_facts(chunks, max_event_bytes=bound) == reference_facts(
        chunks, max_event_bytes=bound
    )


def test_synthetic_units_include_the_fixture_events() -> None:
    """The blocks reused above are mostly whole events with JSON payloads (the odd
    blocks of fixtures 12 and 14 are kept on purpose)."""
    whole = [decode([unit])[0] for unit in FIXTURE_EVENTS]
    events = [found[0] for found in whole if len(found) == 1]
    assert sum(_is_json_object(e.data) for e in events) > 40
    assert sum(not _is_json_object(e.data) for e in events) == 1  # 12's cut-off event


def _is_json_object(data: str) -> bool:
    try:
        return isinstance(json.loads(data), dict)
    except ValueError:
        return False
