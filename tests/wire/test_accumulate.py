"""The stream accumulator and accumulate(): facts of every fixture, PTC shapes, failures."""

from __future__ import annotations

import json
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest

from ptc_observe.models import (
    CodeExecutionToolResultBlock,
    ContentBlockDeltaEvent,
    MessageStartEvent,
    ServerToolUseBlock,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
)
from ptc_observe.wire import (
    BATCH_BYTES,
    ContentDecoder,
    StreamAccumulator,
    StreamError,
    WireError,
    accumulate,
    iter_events,
)

from .wirecases import COMPLETE_STREAMS, SSE_FIXTURES, decode, read, split_at


def utc(y: int, mo: int, d: int, h: int, mi: int, s: int, us: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, us, tzinfo=timezone.utc)


def run(body: bytes | list[Any], **kwargs: Any) -> StreamAccumulator:
    acc = StreamAccumulator(**kwargs)
    for chunk in [body] if isinstance(body, bytes) else body:
        acc.feed(chunk)
    acc.close()
    return acc


def ev(name: str, obj: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(obj)}\n\n".encode()


START = ev(
    "message_start",
    {
        "type": "message_start",
        "message": {
            "id": "msg_x",
            "model": "claude-sonnet-4-6",
            "content": [],
            "usage": {
                "input_tokens": 10,
                "output_tokens": 1,
                "cache_read_input_tokens": 5,
            },
        },
    },
)
TEXT0 = ev(
    "content_block_start",
    {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    },
)
STOP0 = ev("content_block_stop", {"type": "content_block_stop", "index": 0})
MSTOP = ev("message_stop", {"type": "message_stop"})


def delta(index: int, d: dict[str, Any]) -> bytes:
    return ev(
        "content_block_delta",
        {"type": "content_block_delta", "index": index, "delta": d},
    )


def text(index: int, t: str) -> bytes:
    return delta(index, {"type": "text_delta", "text": t})


class TestFixtureFacts:
    def test_ptc_turn1(self) -> None:
        """08: container from message_delta, programmatic call whole in content_block_start."""
        acc = run(read("08_stream_ptc_turn1.sse"))
        m = acc.message
        assert (
            m is not None and acc.complete and acc.error is None and not acc.truncated
        )
        assert (m.id, m.model, m.stop_reason) == (
            "msg_011CZq9Qa7Vd3Lx8Hs2KtN5c",
            "claude-sonnet-4-6",
            "tool_use",
        )
        assert (
            m.container is not None
            and m.container.id == "container_011CZq9Q8sHb4Nw6Tx2KcLm7"
        )
        assert m.container.expires_at == utc(2026, 8, 21, 9, 40, 15, 902417)
        assert [b.type for b in m.content] == ["text", "server_tool_use", "tool_use"]
        [call] = m.tool_calls
        assert (call.id, call.name, call.caller.type, call.caller.tool_id) == (
            "toolu_01Jr5Kc2Wq9Tm6Bx3Lv8HnPd",
            "query_sales",
            "code_execution_20260120",
            "srvtoolu_01Pd6Wq2Nx8Hk4Rt7Lb3VmYs",
        )
        assert call.input == {
            "sql": "SELECT SUM(amount) AS total FROM sales WHERE region = 'West' AND quarter = 'Q2'"
        }
        assert m.server_tool_calls[0].id == "srvtoolu_01Pd6Wq2Nx8Hk4Rt7Lb3VmYs"
        assert (
            m.server_tool_calls[0].input == {}
        )  # streamed input is not kept by default
        assert m.text == ""
        u = m.usage
        assert (u.input_tokens, u.output_tokens, u.cache_read_input_tokens) == (
            1874,
            246,
            0,
        )
        assert (u.service_tier, u.inference_geo) == (
            "standard",
            "global",
        )  # from message_start
        assert (
            u.server_tool_use is not None and u.server_tool_use.web_fetch_requests == 0
        )
        assert (
            acc.events,
            acc.output_chunks,
            acc.pings,
            acc.unknown_events,
            acc.anomalies,
        ) == (27, 17, 1, 0, 0)
        assert m.is_programmatic_pause

    def test_ptc_turn1_with_content(self) -> None:
        """08 with capture_content: the code input is rebuilt from the JSON deltas."""
        m = run(read("08_stream_ptc_turn1.sse"), capture_content=True).message
        assert (
            m is not None
            and m.text == "I'll total Q2 revenue for each region with a short script."
        )
        code = m.server_tool_calls[0].input["code"]
        assert code.startswith(
            'import json\n\ntotals = {}\nfor region in ["West", "East", "Central"]:'
        )
        assert code.endswith('print(f"Highest: {best}")\n')

    def test_plain_text(self) -> None:
        """09: cumulative usage replaces the message_start numbers."""
        acc = run(read("09_stream_plain_text.sse"), capture_content=True)
        m = acc.message
        assert (
            m is not None
            and m.id == "msg_011CZqA2Rt6Wm3Hx9Kb5NcLv"
            and m.stop_reason == "end_turn"
        )
        assert m.text == (
            "Programmatic tool calling lets Claude call your tools from code running in a sandbox,"
            " so intermediate results stay out of the context window."
        )
        assert (m.usage.input_tokens, m.usage.output_tokens) == (24, 27)
        assert m.container is None and m.tool_calls == []
        assert (acc.events, acc.output_chunks) == (13, 7)

    def test_prefilled_continuation(self) -> None:
        """10: the whole message in message_start, then message_stop."""
        acc = run(read("10_stream_ptc_resume_prepopulated.sse"))
        m = acc.message
        assert m is not None and acc.complete and m.stop_reason == "tool_use"
        assert (
            m.container is not None
            and m.container.id == "container_011CZq9Q8sHb4Nw6Tx2KcLm7"
        )
        assert m.container.expires_at == utc(2026, 8, 21, 9, 40, 19, 551830)
        [call] = m.tool_calls
        assert (
            call.id == "toolu_01Qs8Ln4Vc2Yk7Hd5Rw3MtBx"
            and call.caller.tool_id == "srvtoolu_01Pd6Wq2Nx8Hk4Rt7Lb3VmYs"
        )
        assert call.input["sql"].endswith("region = 'East' AND quarter = 'Q2'")
        assert (m.usage.input_tokens, m.usage.output_tokens) == (0, 0)
        assert (acc.events, acc.output_chunks) == (2, 0)
        assert acc.first_token_at is not None  # content came with message_start

    def test_mid_stream_error(self) -> None:
        """11: an error event after HTTP 200 fails the exchange; the partial text is kept."""
        acc = run(read("11_stream_mid_stream_error.sse"), capture_content=True)
        assert acc.error is not None and (acc.error.type, acc.error.message) == (
            "overloaded_error",
            "Overloaded",
        )
        assert not acc.complete and not acc.truncated
        m = acc.message
        assert m is not None and m.id == "msg_011CZqB4Lm8Rt2Xw6Hn3VdKp"
        assert m.text == "Checking the warehouse totals" and m.stop_reason is None
        assert (m.usage.input_tokens, m.usage.cache_read_input_tokens) == (1290, 1024)
        assert (acc.events, acc.output_chunks, acc.pings) == (6, 2, 1)

    def test_truncated(self) -> None:
        """12: a body cut inside an event is incomplete, never a successful turn."""
        acc = run(read("12_stream_truncated.sse"), capture_content=True)
        assert not acc.complete and acc.truncated and acc.error is None
        m = acc.message
        assert (
            m is not None
            and m.id == "msg_011CZqB9Tp4Wk7Nc2Rx5HsLm"
            and m.stop_reason is None
        )
        assert [b.type for b in m.content] == ["text", "server_tool_use"]
        assert m.server_tool_calls[0].input == {}  # its JSON never finished
        assert (acc.events, acc.output_chunks) == (8, 4)

    def test_crlf(self) -> None:
        """13: CRLF framing gives the facts of 09."""
        crlf = run(read("13_stream_plain_text_crlf.sse"), capture_content=True)
        lf = run(read("09_stream_plain_text.sse"), capture_content=True)
        assert crlf.message == lf.message and crlf.events == lf.events == 13

    def test_unusual_framing(self) -> None:
        """14: BOM, comments, split data lines, unknown and data-less events."""
        acc = run(read("14_stream_unusual_framing.sse"), capture_content=True)
        m = acc.message
        assert m is not None and acc.complete and m.id == "msg_011CZqC3Hv6Nd9Lt2Wq8XkRb"
        assert (
            m.text
            == "Line\u2028separator, paragraph\u2029separator and NEL\u0085stay inside JSON. Done."
        )
        assert (m.usage.input_tokens, m.usage.output_tokens) == (37, 19)
        assert (acc.events, acc.output_chunks, acc.pings, acc.unknown_events) == (
            9,
            2,
            0,
            2,
        )
        assert acc.anomalies == 0

    def test_direct_tool_use_streamed(self) -> None:
        """15: a direct call whose input arrives as input_json_delta."""
        default = run(read("15_stream_direct_tool_use.sse"))
        full = run(read("15_stream_direct_tool_use.sse"), capture_content=True)
        for acc in (default, full):
            assert acc.message is not None
            [call] = acc.message.tool_calls
            assert (call.id, call.name, call.caller.type, call.caller.tool_id) == (
                "toolu_01Hx7Pq3Vn8Kd2Ws5Rt9LmBc",
                "get_inventory",
                "direct",
                None,
            )
        assert default.message is not None and default.message.tool_calls[0].input == {}
        assert full.message is not None and full.message.tool_calls[0].input == {
            "sku": "LMP-2290",
            "warehouse": "reno",
        }
        assert (
            not full.message.is_programmatic_pause
            and full.message.stop_reason == "tool_use"
        )
        assert (full.events, full.output_chunks, full.pings) == (14, 6, 1)

    def test_thinking(self) -> None:
        """16: thinking and signature deltas; thinking tokens kept from message_delta."""
        m = run(read("16_stream_thinking.sse"), capture_content=True).message
        assert m is not None
        thinking, answer = m.content
        assert isinstance(thinking, ThinkingBlock) and isinstance(answer, TextBlock)
        assert (
            thinking.thinking
            == "The user wants 17 × 23. 17 × 20 = 340, 17 × 3 = 51, so 391."
        )
        assert thinking.signature == "EqQBCkgIBhABGAIiQL7hZ2s0dGhpbmtpbmctc2lnbmF0dXJl"
        assert answer.text == "17 × 23 = 391."
        assert (m.usage.input_tokens, m.usage.output_tokens) == (51, 88)
        assert m.usage.model_extra == {"output_tokens_details": {"thinking_tokens": 61}}

    def test_ptc_final(self) -> None:
        """17: the code result arrives whole; container from message_delta."""
        acc = run(read("17_stream_ptc_final.sse"))
        m = acc.message
        assert m is not None and m.stop_reason == "end_turn" and acc.complete
        [result] = m.code_execution_results
        assert isinstance(result, CodeExecutionToolResultBlock)
        assert result.tool_use_id == "srvtoolu_01Pd6Wq2Nx8Hk4Rt7Lb3VmYs"
        assert result.content is not None and result.content.stdout is not None
        assert result.content.stdout.endswith("Highest: Central\n")
        assert m.container is not None and m.container.expires_at == utc(
            2026, 8, 21, 9, 40, 26, 114208
        )
        assert (m.usage.input_tokens, m.usage.output_tokens) == (2311, 58)

    @pytest.mark.parametrize("path", SSE_FIXTURES, ids=lambda p: p.name)
    def test_every_split_point_gives_the_same_facts(self, path: Path) -> None:
        """Cutting a fixture anywhere in two (or bytewise) changes no fact."""
        body = read(path)
        whole = run(body)
        expected = (
            whole.message,
            whole.complete,
            whole.error,
            whole.events,
            whole.output_chunks,
            whole.truncated,
        )
        for cut in range(1, len(body), 3):
            acc = run(split_at(body, [cut]))
            assert (
                acc.message,
                acc.complete,
                acc.error,
                acc.events,
                acc.output_chunks,
                acc.truncated,
            ) == expected
        acc = run([body[i : i + 1] for i in range(len(body))])
        assert (
            acc.message,
            acc.complete,
            acc.error,
            acc.events,
            acc.output_chunks,
            acc.truncated,
        ) == expected


def sdk_final_message(body: bytes) -> anthropic.types.Message:
    """The official SDK's own accumulation of a streamed body."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            200, headers={"content-type": "text/event-stream"}, content=body
        )

    client = anthropic.Anthropic(
        api_key="sk-test",
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
        max_retries=0,
    )
    with client.messages.stream(
        model="claude-sonnet-4-6",
        max_tokens=64,
        messages=[{"role": "user", "content": "hi"}],
    ) as stream:
        return stream.get_final_message()


@pytest.mark.parametrize("path", COMPLETE_STREAMS, ids=lambda p: p.name)
class TestAgainstTheSDK:
    def test_same_message_as_the_official_sdk(self, path: Path) -> None:
        """accumulate() and the capturing accumulator build the SDK's final message."""
        body = read(path)
        expected = sdk_final_message(body).model_dump(mode="json", exclude_none=True)
        assert (
            accumulate(iter_events(body)).model_dump(mode="json", exclude_none=True)
            == expected
        )
        captured = run(body, capture_content=True).message
        assert (
            captured is not None
            and captured.model_dump(mode="json", exclude_none=True) == expected
        )


class TestUsage:
    def test_message_delta_usage_replaces_never_adds(self) -> None:
        """Cumulative usage: non-null fields replace, null and absent ones keep."""
        body = (
            START
            + ev(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": None},
                    "usage": {"output_tokens": 20},
                },
            )
            + ev(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn"},
                    "usage": {
                        "output_tokens": 30,
                        "input_tokens": None,
                        "cache_creation_input_tokens": 2,
                    },
                },
            )
            + MSTOP
        )
        m = run(body).message
        assert m is not None and m.stop_reason == "end_turn"
        assert (m.usage.input_tokens, m.usage.output_tokens) == (10, 30)
        assert (
            m.usage.cache_read_input_tokens,
            m.usage.cache_creation_input_tokens,
        ) == (5, 2)

    def test_null_container_does_not_erase_a_known_one(self) -> None:
        """A later null container leaves the one already known."""
        container = {"id": "container_1", "expires_at": "2026-08-21T09:40:15Z"}
        body = (
            START
            + ev(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"container": container},
                    "usage": {},
                },
            )
            + ev(
                "message_delta",
                {"type": "message_delta", "delta": {"container": None}, "usage": {}},
            )
            + MSTOP
        )
        m = run(body).message
        assert (
            m is not None
            and m.container is not None
            and m.container.id == "container_1"
        )


class TestFirstToken:
    def test_clock_read_once_at_the_chunk_with_the_first_content(self) -> None:
        """first_token_at is the clock at the chunk carrying the first content event."""
        readings: list[float] = []
        now = [0.0]

        def clock() -> float:
            readings.append(now[0])
            return now[0]

        acc = StreamAccumulator(clock=clock)
        for t, chunk in [
            (1.0, START),
            (2.0, ev("ping", {"type": "ping"})),
            (3.0, TEXT0[:10]),
            (4.0, TEXT0[10:]),
            (5.0, text(0, "a")),
        ]:
            now[0] = t
            acc.feed(chunk)
        assert acc.first_token_at == 4.0 and readings == [4.0]

    def test_no_content_no_first_token(self) -> None:
        """A stream without content events has no first-token time."""
        acc = run(START + MSTOP)
        assert acc.first_token_at is None and acc.complete

    def test_delta_alone_counts_as_content(self) -> None:
        """A content_block_delta is a content event even without a start."""
        assert run(START + text(0, "x"), clock=lambda: 7.0).first_token_at == 7.0


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


class TestCompressedStream:
    @pytest.mark.parametrize("step", [1, 13, 512, 1_000_000])
    def test_gzip_body_through_the_content_decoder(self, step: int) -> None:
        """The gzip fixture, decoded chunk by chunk, gives the facts of the plain body."""
        body = read("08_stream_ptc_turn1.sse.gz")
        decoder = ContentDecoder("gzip")
        acc = StreamAccumulator()
        for i in range(0, len(body), step):
            acc.feed(decoder.decode(body[i : i + step]))
        acc.feed(decoder.flush())
        acc.close()
        plain = run(read("08_stream_ptc_turn1.sse"))
        assert acc.message == plain.message and acc.events == 27 and acc.complete

    def test_gzip_json_body(self) -> None:
        """A gzip JSON body decodes to fixture 02."""
        decoder = ContentDecoder("gzip")
        data = decoder.decode(read("02_ptc_turn1_response.json.gz")) + decoder.flush()
        assert data == read("02_ptc_turn1_response.json")


def test_server_tool_use_block_type() -> None:
    """The server tool block of fixture 08 is typed as such (not an unknown block)."""
    m = run(read("08_stream_ptc_turn1.sse")).message
    assert m is not None and isinstance(m.content[1], ServerToolUseBlock)
