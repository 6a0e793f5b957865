"""Response bodies, error bodies, SSE payloads and response headers."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from ptc_observe.events import RateLimit
from ptc_observe.models import (
    CodeExecutionToolResultBlock,
    MessageDeltaEvent,
    MessageStartEvent,
    PingEvent,
    ServerToolUseBlock,
    TextBlock,
    UnknownEvent,
)
from ptc_observe.wire import (
    RATE_LIMIT_RESOURCES,
    WireError,
    parse_error,
    parse_event,
    parse_message,
    parse_rate_limits,
    parse_retry_after,
)

from .wirecases import read


class TestParseMessage:
    def test_direct_tool_use(self) -> None:
        """Fixture 01: a direct call, null container."""
        m = parse_message(read("01_direct_tool_use.json"))
        assert m.id == "msg_011CZq6pW2dGh7sLx4RrTe9N" and m.stop_reason == "tool_use"
        assert m.container is None and not m.is_programmatic_pause
        [call] = m.tool_calls
        assert (call.id, call.name, call.caller.type) == (
            "toolu_01Tb5RzQm8KcVw3hN2xJp7Ly",
            "get_inventory",
            "direct",
        )
        assert call.input == {"sku": "LMP-2290", "warehouse": "reno"}
        assert (m.usage.input_tokens, m.usage.output_tokens) == (912, 71)

    def test_ptc_turn1(self) -> None:
        """Fixture 02: text, server tool use, programmatic call, container."""
        m = parse_message(read("02_ptc_turn1_response.json"))
        assert [type(b) for b in m.content][:2] == [TextBlock, ServerToolUseBlock]
        [call] = m.tool_calls
        assert call.caller.type == "code_execution_20260120"
        assert (
            call.caller.tool_id
            == "srvtoolu_01HqJ7mVtX2cR9bW4nYk5eLs"
            == m.server_tool_calls[0].id
        )
        assert (
            m.container is not None
            and m.container.id == "container_011CZq7TfRmB3vKx9NwPd2Lh"
        )
        assert m.container.expires_at == datetime(
            2026, 8, 21, 9, 18, 37, 318204, tzinfo=timezone.utc
        )
        assert m.is_programmatic_pause and m.usage.total_input_tokens == 1874

    def test_ptc_resume(self) -> None:
        """Fixture 03: only the next call, zero usage, later expires_at."""
        m = parse_message(read("03_ptc_resume_response.json"))
        assert [c.id for c in m.tool_calls] == ["toolu_01Wn6DcJ3xRv8Hq2Lt5MpYk9"]
        assert (m.usage.input_tokens, m.usage.output_tokens) == (0, 0)
        assert (
            m.usage.server_tool_use is not None
            and m.usage.server_tool_use.web_search_requests == 0
        )
        assert m.container is not None
        assert m.container.expires_at == datetime(
            2026, 8, 21, 9, 18, 41, 77952, tzinfo=timezone.utc
        )

    def test_ptc_final(self) -> None:
        """Fixture 04: code result pointing back at turn 1, no container key."""
        m = parse_message(read("04_ptc_final_response.json"))
        [result] = m.code_execution_results
        assert isinstance(result, CodeExecutionToolResultBlock)
        assert result.tool_use_id == "srvtoolu_01HqJ7mVtX2cR9bW4nYk5eLs"
        assert result.content is not None and result.content.succeeded
        assert m.container is None and m.stop_reason == "end_turn"
        assert m.text.startswith("Central led Q2")

    def test_multiple_programmatic_calls(self) -> None:
        """Fixture 05: three programmatic calls from one code execution."""
        m = parse_message(read("05_ptc_multiple_calls_response.json"))
        assert [c.id for c in m.tool_calls] == [
            "toolu_01Ee4Vq8Bn2Xk6Rw9Lt3HcPa",
            "toolu_01Gm7Ts1Jd5Yq3Np8Wz6KbRe",
            "toolu_01Cr3Hx6Lk9Vb2Ft5Qm8NwZs",
        ]
        assert {c.caller.tool_id for c in m.tool_calls} == {
            "srvtoolu_01Ax9LqW3eRt6YbN2mKc8VhZ"
        }

    @pytest.mark.parametrize(
        "body",
        [
            read("06_error_429_rate_limit.json"),
            b"nope",
            b"[]",
            b'{"content": "not a list"}',
            b'{"content": [{"type": "tool_use", "id": "t", "name": "n", "caller": {"type": "code_execution_20260120"}}]}',
            b'{"content": [{"type": []}]}',
        ],
        ids=[
            "error-envelope",
            "text",
            "array",
            "bad-content",
            "caller-without-tool-id",
            "list-type",
        ],
    )
    def test_invalid_bodies_raise_wire_error(self, body: bytes) -> None:
        """Errors, non-objects and invalid messages raise WireError."""
        with pytest.raises(WireError):
            parse_message(body)


class TestParseError:
    def test_rate_limit(self) -> None:
        """Fixture 06: rate_limit_error with its message."""
        error = parse_error(read("06_error_429_rate_limit.json"))
        assert error is not None and error.type == "rate_limit_error"
        assert error.message.startswith(
            "This request would exceed your organization's rate limit"
        )

    def test_overloaded(self) -> None:
        """Fixture 07: overloaded_error."""
        error = parse_error(read("07_error_529_overloaded.json"))
        assert error is not None and (error.type, error.message) == (
            "overloaded_error",
            "Overloaded",
        )

    def test_envelope_without_type_is_accepted(self) -> None:
        """An ``error`` object without the outer ``type`` is still an error body."""
        error = parse_error(
            b'{"error": {"type": "api_error", "message": "Internal server error"}}'
        )
        assert error is not None and error.type == "api_error"

    @pytest.mark.parametrize(
        "body",
        [
            b"<html>502 Bad Gateway</html>",
            b"",
            b"[]",
            read("02_ptc_turn1_response.json"),
            b'{"type": "message", "error": {"type": "x"}}',
            b'{"type": "error", "error": "Overloaded"}',
            b'{"type": "error", "error": {"type": 5}}',
        ],
        ids=[
            "html",
            "empty",
            "array",
            "message",
            "message-type",
            "string-error",
            "bad-type",
        ],
    )
    def test_other_bodies_give_none(self, body: bytes) -> None:
        """Bodies that are not an error envelope give None, never an exception."""
        assert parse_error(body) is None


class TestParseEvent:
    def test_known_event(self) -> None:
        """The event name selects the model."""
        event = parse_event(
            "message_delta",
            b'{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":5}}',
        )
        assert isinstance(event, MessageDeltaEvent) and event.usage.output_tokens == 5

    def test_bytes_name_and_missing_type(self) -> None:
        """Names may be bytes; a payload without ``type`` takes the model's."""
        assert isinstance(parse_event(b"ping", "{}"), PingEvent)

    def test_unknown_event_keeps_its_fields(self) -> None:
        """Unknown names give an UnknownEvent named after the event, fields kept."""
        event = parse_event("content_block_annotation", '{"type":"other","index":0}')
        assert (
            isinstance(event, UnknownEvent) and event.type == "content_block_annotation"
        )
        assert event.model_extra == {"index": 0}

    @pytest.mark.parametrize(
        ("name", "data"),
        [
            ("message_start", '{"type":"message_delta"}'),
            ("message_start", "{}"),
            ("ping", "[]"),
            ("ping", "{"),
            ("new_thing", "42"),
            ("message_start", '{"message":' * 5000 + "{}" + "}" * 5000),
        ],
        ids=[
            "type-mismatch",
            "missing-message",
            "array",
            "truncated",
            "unknown-non-object",
            "deep",
        ],
    )
    def test_invalid_payloads_raise_wire_error(self, name: str, data: str) -> None:
        """Payloads that do not fit their event raise WireError."""
        with pytest.raises(WireError):
            parse_event(name, data)

    def test_errors_without_details_are_named_by_class(self) -> None:
        """The summary of a non-validation failure is its class name."""
        from ptc_observe.wire._json import _summary

        assert _summary(RecursionError("deep")) == "RecursionError"

    def test_message_start_of_a_fixture(self) -> None:
        """The first event of fixture 08 parses into the message skeleton."""
        line = read("08_stream_ptc_turn1.sse").split(b"\n")[1]
        event = parse_event("message_start", line.removeprefix(b"data: "))
        assert isinstance(event, MessageStartEvent)
        assert (
            event.message.id == "msg_011CZq9Qa7Vd3Lx8Hs2KtN5c"
            and event.message.content == []
        )


RATE_HEADERS = {
    "anthropic-ratelimit-requests-limit": "4000",
    "anthropic-ratelimit-requests-remaining": "3999",
    "anthropic-ratelimit-requests-reset": "2026-08-21T09:14:08Z",
    "anthropic-ratelimit-input-tokens-limit": "2000000",
    "anthropic-ratelimit-input-tokens-remaining": "0",
    "anthropic-ratelimit-input-tokens-reset": "2026-08-21T09:14:08Z",
    "anthropic-ratelimit-output-tokens-remaining": " 400000 ",
    "anthropic-ratelimit-tokens-limit": "lots",
    "anthropic-priority-input-tokens-limit": "1000",
}


class TestHeaders:
    def test_rate_limits(self) -> None:
        """Each resource present gives one triplet; bad numbers read as None."""
        assert parse_rate_limits(RATE_HEADERS) == (
            RateLimit("requests", 4000, 3999, "2026-08-21T09:14:08Z"),
            RateLimit("tokens", None, None, None),
            RateLimit("input_tokens", 2000000, 0, "2026-08-21T09:14:08Z"),
            RateLimit("output_tokens", None, 400000, None),
            RateLimit("priority_input_tokens", 1000, None, None),
        )
        assert parse_rate_limits({}) == ()
        assert set(RATE_LIMIT_RESOURCES) >= {
            "requests",
            "tokens",
            "input_tokens",
            "output_tokens",
        }

    @pytest.mark.parametrize(
        ("headers", "expected"),
        [
            ({"retry-after": "17"}, 17.0),
            ({"retry-after": "1.5"}, 1.5),
            ({"retry-after-ms": "250", "retry-after": "17"}, 0.25),
            ({"retry-after-ms": "soon", "retry-after": "3"}, 3.0),
            ({"retry-after": "Fri, 21 Aug 2026 09:14:38 GMT"}, 30.0),
            ({"retry-after": "Fri, 21 Aug 2026 09:14:38 -0000"}, 30.0),
            ({"retry-after": "Fri, 21 Aug 2026 09:00:00 GMT"}, 0.0),
            ({"retry-after": "-1"}, None),
            ({"retry-after": "inf"}, None),
            ({"retry-after": "nan"}, None),
            ({"retry-after": "tomorrow"}, None),
            ({"retry-after": ""}, None),
            ({}, None),
        ],
    )
    def test_retry_after(self, headers: dict[str, str], expected: float | None) -> None:
        """retry-after-ms wins; seconds or an HTTP date; nonsense gives None."""
        now = datetime(2026, 8, 21, 9, 14, 8, tzinfo=timezone.utc).timestamp()
        assert parse_retry_after(headers, now=now) == expected

    def test_retry_after_date_uses_the_clock_by_default(self) -> None:
        """Without ``now``, an HTTP date in the past gives 0 seconds."""
        assert (
            parse_retry_after({"retry-after": "Thu, 01 Jan 2015 00:00:00 GMT"}) == 0.0
        )
