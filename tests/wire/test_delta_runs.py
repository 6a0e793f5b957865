"""The accumulator's whole-batch check for runs of text deltas (``_all_deltas``).

A batch made only of canonical ``content_block_delta`` blocks is counted by two counting
passes instead of block by block. These tests put near-canonical blocks (an extra line,
a renamed event, no data, a comment, CR line ends, an empty data line...) among many
canonical ones, anywhere in the batch, and check that the facts still equal the spec
decoder's plus full accumulation, however the body is fed.
"""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from ptc_observe.wire.accumulate import BATCH_BYTES, StreamAccumulator, _all_deltas

from .wirecases import fast_facts, reference_facts, split_at

START = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1",'
    b'"type":"message","role":"assistant","model":"m","content":[],'
    b'"usage":{"input_tokens":1,"output_tokens":1}}}\n\n'
    b"event: content_block_start\n"
    b'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n'
)
STOP = (
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},'
    b'"usage":{"output_tokens":9}}\n\n'
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
)
HEAD = b"event: content_block_delta\ndata: "


def delta(text: bytes) -> bytes:
    return (
        HEAD
        + b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"'
        + text
        + b'"}}\n\n'
    )


# Blocks that look like a delta but are not one canonical delta block.
NEAR_MISSES = [
    HEAD + b"{}\nid: 7\n\n",  # one more field line: still one delta event
    HEAD + b"{}\ndata: more\n\n",  # two data lines: one delta event
    HEAD + b"{}\nevent: ping\n\n",  # renamed by a later event line: a ping
    HEAD + b"{}\nevent: message_stop\n\n",  # renamed to a fact event
    b"event: content_block_delta\nid: 1\n\n",  # no data: not dispatched
    b"event: content_block_delta\n: comment\n\n",
    b"event: content_block_delta\ndata\n\n",  # "data" with no colon: empty data
    b"event: content_block_delta\ndata:\n\n",  # canonical, empty data
    b"event: content_block_delta\ndata: x\n\n\n\n",  # extra blank lines after it
    b"\n\n" + delta(b"after blank lines"),
    b"event: content_block_delta\r\ndata: crlf\r\n\r\n",
    b"event: content_block_delta\rdata: cr\r\r",
    b"event: content_block_deltaX\ndata: {}\n\n",  # another (unknown) event
    b"event: ping\ndata: {}\n\n",
    b": keep-alive\n\n",
]
TEXTS = st.binary(max_size=20).map(
    lambda b: b.replace(b"\n", b"").replace(b"\r", b"").replace(b'"', b"")
)


@st.composite
def delta_batches(draw: st.DrawFn) -> list[bytes]:
    """A stream whose middle is a long run of deltas with a few near misses in it."""
    blocks = [delta(draw(TEXTS)) for _ in range(draw(st.integers(1, 60)))]
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(blocks)))
        blocks.insert(at, draw(st.sampled_from(NEAR_MISSES)))
    body = START + b"".join(blocks) + STOP
    how = draw(st.sampled_from(["whole", "per block", "random"]))
    if how == "whole":
        return [body]
    if how == "per block":
        return [START, *blocks, STOP]
    cuts = draw(st.lists(st.integers(0, len(body)), max_size=20))
    return split_at(body, cuts)


@given(delta_batches())
@settings(max_examples=300, deadline=None)
def test_delta_runs_agree_with_the_reference(chunks: list[bytes]) -> None:
    """Counts, first token, message and anomalies equal the slow path's."""
    assert fast_facts(chunks) == reference_facts(chunks)


@given(delta_batches(), st.sampled_from([40, 100, 300]))
@settings(max_examples=150, deadline=None)
def test_delta_runs_agree_with_a_small_event_bound(
    chunks: list[bytes], bound: int
) -> None:
    """With a small bound some deltas are oversized: dropped and counted the same way."""
    assert fast_facts(chunks, max_event_bytes=bound) == reference_facts(
        chunks, max_event_bytes=bound
    )


def test_all_deltas_counts_only_pure_runs() -> None:
    """The check accepts exactly the canonical runs (line ends already LF, as the
    framer hands them over)."""
    run = delta(b"a") + delta(b"") + delta(b"c")
    assert _all_deltas(run, 0, len(run)) == 3
    canonical = {
        b"event: content_block_delta\ndata:\n\n",
        b"event: content_block_delta\r\ndata: crlf\r\n\r\n",
        b"event: content_block_delta\rdata: cr\r\r",
    }
    for odd in NEAR_MISSES:
        body = run + odd.replace(b"\r\n", b"\n").replace(b"\r", b"\n") + delta(b"z")
        expected = 5 if odd in canonical else 0
        assert _all_deltas(body, 0, len(body)) == expected, odd
        if odd not in canonical:
            # Wherever the odd block sits, and also as the first block of the region
            # after a canonical head (the caller checks the head itself).
            body = delta(b"a") + odd.replace(b"\r", b"\n") + run
            assert _all_deltas(body, 0, len(body)) == 0, odd


def test_long_text_stream_in_batches() -> None:
    """Many batches of pure deltas (the fast path) after a first token: exact counts."""
    n = 3 * BATCH_BYTES // 100
    acc = StreamAccumulator()
    acc.feed(START)
    assert acc.first_token_at is not None
    for i in range(n):
        acc.feed(delta(b"%06d" % i))
    acc.feed(STOP)
    acc.close()
    assert (acc.events, acc.output_chunks, acc.complete, acc.anomalies) == (
        n + 5,
        n,
        True,
        0,
    )
