"""The transport's gathering path: after the first token the stream shell appends chunks
to the recorder's list and hands them over per ~16 KB. Whatever way the stream ends
(read to the end, closed, failed) the record must count exactly the chunks the client got."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import httpx
import httpx2
import pytest

from ptc_observe import Observer, Outcome
from ptc_observe.testing import MemorySink
from ptc_observe.wire.accumulate import BATCH_BYTES

LIBS = [pytest.param(httpx2, id="httpx2"), pytest.param(httpx, id="httpx")]
URL = "https://api.anthropic.com/v1/messages"
BODY = {"model": "m", "max_tokens": 8, "messages": [], "stream": True}
SSE = {"content-type": "text/event-stream"}
START = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1",'
    b'"type":"message","role":"assistant","model":"m","content":[],'
    b'"usage":{"input_tokens":1,"output_tokens":1}}}\n\n'
)
BLOCK = (
    b"event: content_block_start\n"
    b'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n'
)
END = (
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},'
    b'"usage":{"output_tokens":9}}\n\n'
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
)


def delta(i: int) -> bytes:
    return (
        b"event: content_block_delta\n"
        b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"'
        + b"%08d" % i
        + b'"}}\n\n'
    )


N = 3 * BATCH_BYTES // len(delta(0))  # three batches and a bit
CHUNKS = [START, BLOCK, *(delta(i) for i in range(N)), END]


def read(mode: Any, client: Any, n: int | None) -> list[bytes]:
    """Read ``n`` raw chunks (all when None), then close the response."""
    if not mode.is_async:
        with client.stream("POST", URL, json=BODY) as response:
            it = response.iter_raw()
            return list(it) if n is None else [next(it) for _ in range(n)]

    async def run() -> list[bytes]:
        async with client.stream("POST", URL, json=BODY) as response:
            it = response.aiter_raw()
            if n is None:
                return [c async for c in it]
            return [await it.__anext__() for _ in range(n)]

    got: list[bytes] = mode.run(run)
    return got


@pytest.mark.parametrize("lib", LIBS)
def test_whole_stream_in_batches(
    mode: Any, lib: ModuleType, make_script: Any, observer: Observer, sink: MemorySink
) -> None:
    """Every chunk passes unchanged and every event is counted once."""
    script = make_script(lib).add(200, SSE, CHUNKS)
    client = mode.http_client(
        lib, transport=mode.observing(observer, script.transport())
    )
    got = read(mode, client, None)
    mode.close(client)
    assert got == CHUNKS
    (ex,) = sink.exchanges
    assert (ex.outcome, ex.sse_events, ex.output_chunks) == (Outcome.OK, N + 5, N)
    assert ex.response_bytes == sum(map(len, CHUNKS))
    assert ex.timings.first_token is not None


@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.parametrize("taken", [3, 2 + BATCH_BYTES // len(delta(0)), N])
def test_closed_mid_batch_counts_what_the_client_got(
    mode: Any,
    lib: ModuleType,
    make_script: Any,
    observer: Observer,
    sink: MemorySink,
    taken: int,
) -> None:
    """Closed after ``taken`` chunks (inside a batch, at its edge, near the end)."""
    script = make_script(lib).add(200, SSE, CHUNKS)
    client = mode.http_client(
        lib, transport=mode.observing(observer, script.transport())
    )
    got = read(mode, client, taken)
    mode.close(client)
    assert got == CHUNKS[:taken]
    (ex,) = sink.exchanges
    assert ex.outcome is Outcome.CLOSED_EARLY
    assert (ex.sse_events, ex.output_chunks) == (taken, taken - 2)
    assert ex.response_bytes == sum(map(len, got))
    assert script.streams[0].pulled == taken  # nothing read ahead of the client


@pytest.mark.parametrize("lib", LIBS)
def test_error_mid_batch_keeps_the_events_before_it(
    mode: Any, lib: ModuleType, make_script: Any, observer: Observer, sink: MemorySink
) -> None:
    """A read error inside a batch: the caller gets it, the record counts the chunks before."""
    error = lib.ReadError("connection reset")
    fail_at = 2 + BATCH_BYTES // len(delta(0)) + 7
    script = make_script(lib).add(200, SSE, CHUNKS, fail_after=fail_at, fail_with=error)
    client = mode.http_client(
        lib, transport=mode.observing(observer, script.transport())
    )
    with pytest.raises(lib.ReadError):
        read(mode, client, None)
    mode.close(client)
    (ex,) = sink.exchanges
    assert (ex.outcome, ex.error_type) == (Outcome.ERROR, "ReadError")
    assert (ex.sse_events, ex.output_chunks) == (fail_at, fail_at - 2)
    assert ex.response_bytes == sum(map(len, CHUNKS[:fail_at]))
