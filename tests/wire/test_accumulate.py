"""The stream accumulator and accumulate(): facts of every fixture, the SDK's own result,
cumulative usage, first-token time, compressed bodies."""

from __future__ import annotations

from pathlib import Path

import anthropic
import httpx2
import pytest

from ptc_observe.models import (
    CodeExecutionToolResultBlock,
    ServerToolUseBlock,
    TextBlock,
    ThinkingBlock,
)
from ptc_observe.wire import (
    ContentDecoder,
    StreamAccumulator,
    accumulate,
    iter_events,
)

from .wirecases import (
    COMPLETE_STREAMS,
    MSTOP,
    SSE_FIXTURES,
    START,
    TEXT0,
    ev,
    read,
    run,
    split_at,
    text,
    utc,
)


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
        details = m.usage.output_tokens_details
        assert details is not None and details.thinking_tokens == 61

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
