"""The stream accumulator and accumulate() on broken, hostile or oversized streams."""

from __future__ import annotations

import tracemalloc
from typing import Any

import pytest

from ptc_observe.models import (
    ContentBlockDeltaEvent,
    MessageStartEvent,
    ToolUseBlock,
)
from ptc_observe.wire import (
    BATCH_BYTES,
    StreamAccumulator,
    StreamError,
    WireError,
    accumulate,
    iter_events,
)

from .wirecases import (
    MSTOP,
    START,
    STOP0,
    TEXT0,
    decode,
    delta,
    ev,
    read,
    run,
    text,
)


class TestRobustness:
    def test_feed_after_close_is_counted(self) -> None:
        """Bytes after close are an anomaly; close twice is harmless."""
        acc = run(read("09_stream_plain_text.sse"))
        acc.feed(b"event: ping\ndata: {}\n\n")
        acc.close()
        assert acc.anomalies == 1 and acc.events == 13

    @pytest.mark.parametrize("bad", ["text", None, 42, [b"x"]])
    def test_wrong_chunk_types_never_raise(self, bad: Any) -> None:
        """Non-bytes chunks are counted, before and after the first token."""
        acc = StreamAccumulator()
        acc.feed(bad)
        acc.feed(START + TEXT0)
        acc.feed(bad)
        acc.feed(text(0, "x") + MSTOP)
        acc.close()
        assert acc.anomalies == 2 and acc.complete and acc.output_chunks == 1

    def test_failing_clock_is_counted_not_raised(self) -> None:
        """Even a clock that raises cannot break the caller's stream."""

        def clock() -> float:
            raise RuntimeError("clock broke")

        acc = StreamAccumulator(clock=clock)
        acc.feed(START + TEXT0)
        assert acc.anomalies == 1 and acc.first_token_at is None

    def test_extra_blank_lines_at_a_chunk_end(self) -> None:
        """A chunk ending in three line feeds leaves no pending bytes."""
        acc = run(
            [START + b"\n", TEXT0 + b"\n", text(0, "a") + b"\n" + MSTOP + b"\n\n"]
        )
        assert (
            acc.events == 4
            and acc.complete
            and not acc.truncated
            and acc.anomalies == 0
        )

    def test_bytes_like_chunks_are_accepted(self) -> None:
        """bytearray and memoryview chunks work like bytes."""
        body = read("09_stream_plain_text.sse")
        acc = run(
            [bytearray(body[:100]), memoryview(body[100:2000]), bytearray(body[2000:])]
        )
        assert acc.complete and acc.events == 13 and acc.anomalies == 0

    def test_batched_chunks_are_scanned_before_any_answer(self) -> None:
        """After the first token, small chunks wait in a batch; every reader sees them."""
        acc = StreamAccumulator()
        acc.feed(START + TEXT0)
        for _ in range(5):
            acc.feed(text(0, "x"))
        assert acc.output_chunks == 5
        acc.feed(MSTOP)
        assert acc.complete and acc.events == 8
        for _ in range(BATCH_BYTES // 50):  # more than a batch: scanned on the way
            acc.feed(text(0, "y"))
        assert acc.output_chunks == 5 + BATCH_BYTES // 50

    def test_malformed_fact_event_is_counted_and_parsing_goes_on(self) -> None:
        """Bad JSON in message_delta is one anomaly; later events still count."""
        body = START + b"event: message_delta\ndata: {not json\n\n" + MSTOP
        acc = run(body)
        assert acc.anomalies == 1 and acc.complete and acc.message is not None
        assert acc.message.stop_reason is None

    def test_caller_without_tool_id_is_an_anomaly(self) -> None:
        """A programmatic caller must name its code execution; the block is dropped."""
        bad = ev(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {
                    "type": "tool_use",
                    "id": "t",
                    "name": "n",
                    "caller": {"type": "code_execution_20260120"},
                },
            },
        )
        acc = run(START + bad + MSTOP, clock=lambda: 1.0)
        assert (
            acc.anomalies == 1 and acc.message is not None and acc.message.content == []
        )
        assert acc.first_token_at == 1.0  # it still was a content event

    @pytest.mark.parametrize(
        ("body", "problem"),
        [
            (MSTOP + START, "message_stop before message_start"),
            (TEXT0 + START, "content_block_start before message_start"),
            (START + START, "a second message_start"),
            (START + TEXT0 + TEXT0, "content block 0 started twice"),
            (START + text(3, "x"), "delta for unknown content block 3"),
            (START + STOP0, "stop of unknown content block 0"),
            (
                START
                + TEXT0
                + delta(0, {"type": "input_json_delta", "partial_json": "{"}),
                "input_json_delta does not fit",
            ),
            (
                START + TEXT0 + delta(0, {"type": "signature_delta", "signature": "s"}),
                "signature_delta does not fit",
            ),
            (
                START + TEXT0 + delta(0, {"type": "thinking_delta", "thinking": "t"}),
                "thinking_delta does not fit",
            ),
            (
                START + TEXT0 + delta(0, {"type": "text_delta", "text": 5}),
                "text_delta does not fit",
            ),
        ],
    )
    def test_out_of_place_events_are_anomalies(self, body: bytes, problem: str) -> None:
        """Events that do not fit the stream are counted (and strict accumulate raises)."""
        assert run(body, capture_content=True).anomalies == 1
        with pytest.raises(WireError, match=problem):
            accumulate(iter_events(body + MSTOP))

    def test_tool_input_that_is_not_an_object(self) -> None:
        """A streamed tool input that is not a JSON object is an anomaly; input stays {}."""
        start = ev(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {
                    "type": "tool_use",
                    "id": "t",
                    "name": "n",
                    "input": {},
                },
            },
        )
        body = (
            START
            + start
            + delta(0, {"type": "input_json_delta", "partial_json": "[1, "})
            + STOP0
            + MSTOP
        )
        acc = run(body, capture_content=True)
        assert acc.anomalies == 1 and acc.message is not None
        assert (
            isinstance(acc.message.content[0], ToolUseBlock)
            and acc.message.content[0].input == {}
        )

    def test_blocks_out_of_order_are_still_kept(self) -> None:
        """A start whose index skips ahead is counted but its block is kept."""
        late = ev(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 2,
                "content_block": {"type": "text", "text": ""},
            },
        )
        acc = run(START + late + text(2, "hi") + MSTOP, capture_content=True)
        assert (
            acc.anomalies == 1 and acc.message is not None and acc.message.text == "hi"
        )

    def test_citations_and_new_delta_types(self) -> None:
        """citations_delta adds to the block's citations; unknown delta types are ignored."""
        citation = {"type": "char_location", "cited_text": "x"}
        body = (
            START
            + TEXT0
            + delta(0, {"type": "citations_delta", "citation": citation})
            + delta(0, {"type": "citations_delta", "citation": citation})
            + delta(0, {"type": "sparkle_delta", "sparkle": 1})
            + STOP0
            + MSTOP
        )
        acc = run(body, capture_content=True)
        assert acc.anomalies == 0 and acc.message is not None
        assert acc.message.content[0].model_extra == {"citations": [citation, citation]}

    def test_error_before_message_start(self) -> None:
        """An error as the only event: failed, no message."""
        acc = run(
            ev(
                "error",
                {
                    "type": "error",
                    "error": {"type": "api_error", "message": "Internal server error"},
                },
            )
        )
        assert (
            acc.error is not None
            and acc.error.type == "api_error"
            and acc.message is None
        )
        assert not acc.complete and acc.anomalies == 0


class TestBounds:
    @pytest.mark.parametrize("capture", [False, True])
    @pytest.mark.parametrize("step", [1, 64, 1_000_000])
    def test_oversized_events_are_dropped_and_counted(
        self, capture: bool, step: int
    ) -> None:
        """An event past the bound is dropped (in a run of deltas or alone), the rest kept."""
        big = text(0, "x" * 500)
        body = (
            START
            + TEXT0
            + text(0, "a")
            + big
            + text(0, "b")
            + b"event: odd\ndata: "
            + b"y" * 600
            + b"\n\n"
            + STOP0
            + MSTOP
        )
        chunks = [body[i : i + step] for i in range(0, len(body), step)]
        acc = run(chunks, max_event_bytes=400, capture_content=capture)
        assert (
            acc.anomalies == 2
            and acc.complete
            and acc.output_chunks == 2
            and acc.events == 6
        )
        if capture:
            assert acc.message is not None and acc.message.text == "ab"

    @pytest.mark.parametrize(
        "chunks",
        [
            pytest.param([b"\n", b"data: 1234", b"\n\n"], id="leading-blank-line"),
            pytest.param([b"data: 1234\n", b"\n"], id="trailing-line-feed"),
        ],
    )
    def test_bytes_outside_the_event_do_not_count(self, chunks: list[bytes]) -> None:
        """A pending event at the bound is kept when blank lines make the buffer longer."""
        acc = run(chunks, max_event_bytes=10)
        assert (acc.events, acc.anomalies) == (1, 0)
        assert decode(chunks, max_event_bytes=10)[0][0].data == "1234"

    def test_dropped_event_ending_across_chunks(self) -> None:
        """A dropped event whose blank line straddles two chunks ends there."""
        chunks = [b"data: 123456789012\n", b"\ndata: ok\n\n"]
        acc = run(chunks, max_event_bytes=10)
        assert (acc.events, acc.anomalies) == (1, 1)
        events, decoder = decode(chunks, max_event_bytes=10)
        assert [e.data for e in events] == ["ok"] and decoder.dropped == 1

    def test_endless_line_keeps_memory_flat(self) -> None:
        """A line that never ends is dropped once past the bound, not buffered."""
        acc = StreamAccumulator(max_event_bytes=256 * 1024)
        acc.feed(START + TEXT0)
        piece = b"data: " + b"z" * 65530
        tracemalloc.start()
        try:
            for _ in range(128):
                acc.feed(piece)
            acc.feed(b"\n\n" + text(0, "after") + MSTOP)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 2 * 1024 * 1024
        assert acc.anomalies == 1 and acc.complete and acc.output_chunks == 1

    def test_one_huge_chunk_costs_no_memory_in_proportion(self) -> None:
        """A 4 MB chunk of deltas fed at once is scanned without copies of its size."""
        body = text(0, "token") * (4 * 1024 * 1024 // len(text(0, "token")))
        acc = StreamAccumulator()
        acc.feed(START + TEXT0)
        tracemalloc.start()
        try:
            acc.feed(body)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 512 * 1024
        assert acc.output_chunks == body.count(b"content_block_delta\n")

    def test_ten_megabyte_stream_keeps_memory_flat(self) -> None:
        """A 10 MB stream in 64 KiB chunks uses far less memory than its size."""
        deltas = b"".join(text(0, f"token {i} ") for i in range(1000))
        repeats = 10 * 1024 * 1024 // len(deltas) + 1
        acc = StreamAccumulator()
        acc.feed(START + TEXT0)
        tracemalloc.start()
        try:
            for _ in range(repeats):
                for i in range(0, len(deltas), 65536):
                    acc.feed(deltas[i : i + 65536])
            acc.feed(STOP0 + MSTOP)
            acc.close()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert repeats * len(deltas) > 10 * 1024 * 1024
        assert peak < 1024 * 1024
        assert acc.complete and acc.output_chunks == 1000 * repeats


class TestAccumulate:
    def test_error_stream_raises_stream_error(self) -> None:
        """A stream with an error event raises StreamError carrying the API error."""
        with pytest.raises(StreamError) as caught:
            accumulate(iter_events(read("11_stream_mid_stream_error.sse")))
        assert caught.value.error.type == "overloaded_error"
        assert str(caught.value) == "overloaded_error: Overloaded"

    def test_incomplete_stream_raises(self) -> None:
        """Without message_stop the stream is incomplete."""
        with pytest.raises(WireError, match="without message_stop"):
            accumulate(iter_events(read("12_stream_truncated.sse")))

    def test_no_message_start_raises(self) -> None:
        """An empty stream has no message."""
        with pytest.raises(WireError, match="no message_start"):
            accumulate([])

    def test_partial_returns_what_arrived(self) -> None:
        """partial=True never raises for the stream's shape."""
        m = accumulate(
            iter_events(read("11_stream_mid_stream_error.sse")), partial=True
        )
        assert m.text == "Checking the warehouse totals"
        assert (
            accumulate(
                [{"type": "bogus_shape", "index": "x"}, {"type": "message_stop"}],
                partial=True,
            ).id
            == ""
        )
        junk: list[Any] = ["junk"]
        assert accumulate(junk, partial=True).content == []

    def test_dicts_and_sse_events(self) -> None:
        """Events may be JSON dicts or decoded SSE events."""
        body = read("09_stream_plain_text.sse")
        dicts = [e.json() for e in decode([body])[0]]
        assert (
            accumulate(dicts)
            == accumulate(decode([body])[0])
            == accumulate(iter_events(body))
        )

    @pytest.mark.parametrize(
        "item",
        [{"type": "content_block_delta", "index": "x"}, {"type": []}, "junk", 5],
        ids=["invalid-dict", "list-type", "string", "int"],
    )
    def test_invalid_items_raise(self, item: Any) -> None:
        """Items that are not events raise WireError."""
        with pytest.raises(WireError):
            accumulate([item])

    def test_caller_events_are_not_changed(self) -> None:
        """accumulate() works on copies: the caller's event models stay as they were."""
        events = iter_events(read("09_stream_plain_text.sse"))
        start = events[0]
        assert isinstance(start, MessageStartEvent)
        accumulate(events)
        assert start.message.content == [] and start.message.usage.output_tokens == 1

    def test_iter_events_types(self) -> None:
        """iter_events gives typed events in order."""
        events = iter_events(read("15_stream_direct_tool_use.sse"))
        assert len(events) == 14 and isinstance(events[2], ContentBlockDeltaEvent)
        assert events[2].delta == {
            "type": "text_delta",
            "text": "I'll look up the current",
        }
        assert isinstance(accumulate(events).content[1], ToolUseBlock)

    def test_iter_events_rejects_bad_payloads_and_huge_events(self) -> None:
        """A malformed payload or an event past 16 MiB raises WireError."""
        with pytest.raises(WireError):
            iter_events(b"event: ping\ndata: {\n\n")
        with pytest.raises(WireError, match="larger than"):
            iter_events(b"event: ping\ndata: " + b"x" * (16 * 1024 * 1024) + b"\n\n")


@pytest.mark.parametrize("capture", [False, True])
@pytest.mark.parametrize("early", [STOP0, text(0, "x")], ids=["stop", "delta"])
def test_block_stop_or_delta_before_message_start_passes(
    capture: bool, early: bytes
) -> None:
    """As in the SDK's stream helpers: nothing to lose, no anomaly, in either mode."""
    acc = run(early + START + MSTOP, capture_content=capture)
    assert acc.anomalies == 0 and acc.complete and acc.message is not None
