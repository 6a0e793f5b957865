"""ExchangeRecorder: lifecycle events and bytes in, one Exchange out (sans-IO)."""

from __future__ import annotations

import asyncio
import gzip
import json
from typing import Any

import pytest

from ptc_observe.events import Exchange, Outcome
from ptc_observe.models import ToolUseBlock
from ptc_observe.observer.recorder import ExchangeRecorder

MODEL = "claude-sonnet-4-6"
TOOLS = [
    {"type": "code_execution_20260120", "name": "code_execution"},
    {
        "name": "query_sales",
        "description": "Run read-only SQL.",
        "input_schema": {"type": "object", "properties": {"sql": {"type": "string"}}},
        "allowed_callers": ["code_execution_20260120"],
    },
]
RATE_HEADERS = {
    "anthropic-ratelimit-requests-limit": "4000",
    "anthropic-ratelimit-requests-remaining": "3999",
    "anthropic-ratelimit-requests-reset": "2026-08-21T09:14:08Z",
}


class Hooks:
    """Stands in for the observer: keeps records and telemetry errors."""

    def __init__(self, capture_content: bool = False, redact: Any = None) -> None:
        self.capture_content = capture_content
        self.redact = redact
        self.finished: list[Exchange] = []
        self.errors: list[tuple[str, BaseException]] = []

    def finish(self, exchange: Exchange) -> None:
        self.finished.append(exchange)

    def telemetry_error(self, stage: str, exc: BaseException) -> None:
        self.errors.append((stage, exc))

    @property
    def stages(self) -> list[str]:
        return [stage for stage, _ in self.errors]

    @property
    def one(self) -> Exchange:
        assert len(self.finished) == 1, self.finished
        return self.finished[0]


def request_body(**fields: Any) -> bytes:
    body: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": "Compare Q2 revenue."}],
        "tools": TOOLS,
    }
    body.update(fields)
    return json.dumps(body).encode()


RESUME_MESSAGES = [
    {"role": "user", "content": "Compare Q2 revenue."},
    {"role": "assistant", "content": [{"type": "text", "text": "..."}]},
    {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": "toolu_01Fk2YwHs9PqLm4Rt7VbZc3N",
                "content": '[{"total": 412850.5}]',
            },
            {
                "type": "tool_result",
                "tool_use_id": "toolu_02",
                "content": [{"type": "text", "text": "réseau"}],
                "is_error": True,
            },
        ],
    },
]


def recorder(
    hooks: Hooks,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    sent: float = 100.0,
) -> ExchangeRecorder:
    return ExchangeRecorder(
        hooks,
        request_body() if body is None else body,
        "POST",
        "api.anthropic.com",
        None,
        "/v1/messages",
        headers if headers is not None else {"x-stainless-retry-count": "0"},
        sent=sent,
        sent_unix_ns=1_700_000_000_000_000_000,
        parent_context="ctx",
    )


def json_headers(**extra: str) -> dict[str, str]:
    return {"content-type": "application/json", "request-id": "req_1", **extra}


SSE_HEADERS = {
    "content-type": "text/event-stream; charset=utf-8",
    "request-id": "req_2",
}


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


class TestJSON:
    def test_complete_body_gives_the_message_and_request_facts(
        self, fixtures: Any
    ) -> None:
        """A 2xx JSON body read to the end is parsed into the message, with every fact."""
        hooks = Hooks()
        headers = {
            "x-stainless-retry-count": "2",
            "anthropic-beta": "a-1, b-2",
            "authorization": "Bearer sk-ant-secret",
            "x-api-key": "sk-ant-secret",
        }
        body = request_body(
            container="container_011CZq7TfRmB3vKx9NwPd2Lh", messages=RESUME_MESSAGES
        )
        rec = recorder(hooks, body, headers)
        rec.on_headers(200, json_headers(**RATE_HEADERS, **{"retry-after": "3"}))
        data = fixtures.bytes("02_ptc_turn1_response.json")
        for chunk in split(data, 700):
            rec.on_chunk(chunk)
        assert hooks.finished == []  # nothing is built before the body has ended
        rec.on_end()
        ex = hooks.one
        assert ex.outcome is Outcome.OK and ex.complete and not ex.closed_early
        assert not ex.streamed and ex.status_code == 200 and ex.error_type is None
        assert (
            ex.message is not None and ex.message.id == "msg_011CZq7S3aVbN6uPq1WcE8Dk"
        )
        assert ex.message.container is not None
        assert ex.message.container.id == "container_011CZq7TfRmB3vKx9NwPd2Lh"
        calls = ex.tool_calls
        assert [(c.name, c.caller.type, c.caller.tool_id) for c in calls] == [
            (
                "query_sales",
                "code_execution_20260120",
                "srvtoolu_01HqJ7mVtX2cR9bW4nYk5eLs",
            )
        ]
        assert ex.message.usage.input_tokens == 1874
        assert ex.message.usage.output_tokens == 246
        assert ex.response_bytes == len(data)
        assert ex.request_id == "req_1"
        assert ex.retry_after == 3.0
        assert [(r.resource, r.limit, r.remaining) for r in ex.rate_limits] == [
            ("requests", 4000, 3999)
        ]
        req = ex.request
        assert (req.model, req.max_tokens, req.stream) == (MODEL, 4096, False)
        assert req.retry_count == 2 and req.betas == ("a-1", "b-2")
        assert req.container_id == "container_011CZq7TfRmB3vKx9NwPd2Lh"
        assert [
            (t.tool_use_id, t.size_bytes, t.is_error) for t in req.tool_results
        ] == [
            ("toolu_01Fk2YwHs9PqLm4Rt7VbZc3N", len('[{"total": 412850.5}]'), False),
            ("toolu_02", len("réseau".encode()), True),
        ]
        assert [(t.name, t.allowed_callers) for t in req.tools] == [
            ("code_execution", ()),
            ("query_sales", ("code_execution_20260120",)),
        ]
        assert req.body_bytes == len(body) and req.content is None
        assert (req.server_address, req.server_port, req.path) == (
            "api.anthropic.com",
            None,
            "/v1/messages",
        )
        t = ex.timings
        assert t.sent == 100.0 and t.sent_unix_ns == 1_700_000_000_000_000_000
        assert t.sent < t.headers <= t.finished  # type: ignore[operator]
        assert t.first_token is None
        assert ex.parent_context == "ctx"
        assert "sk-ant-secret" not in repr(ex)
        assert hooks.errors == []

    def test_truncated_2xx_body_is_incomplete(self, fixtures: Any) -> None:
        """A 2xx JSON body cut short parses to nothing: incomplete, not an error."""
        hooks = Hooks()
        rec = recorder(hooks)
        rec.on_headers(200, json_headers())
        rec.on_chunk(fixtures.bytes("01_direct_tool_use.json")[:300])
        rec.on_end()
        ex = hooks.one
        assert ex.outcome is Outcome.INCOMPLETE and not ex.complete
        assert ex.message is None and ex.error_type is None
        assert hooks.errors == []

    @pytest.mark.parametrize(
        ("name", "status", "error_type", "retry_after"),
        [
            pytest.param(
                "06_error_429_rate_limit.json", 429, "rate_limit_error", 17.0, id="429"
            ),
            pytest.param(
                "07_error_529_overloaded.json", 529, "overloaded_error", None, id="529"
            ),
        ],
    )
    def test_error_body_gives_the_api_error_type(
        self, fixtures: Any, name: Any, status: Any, error_type: Any, retry_after: Any
    ) -> None:
        """An error status with an error envelope: outcome error, the API's error type."""
        hooks = Hooks()
        rec = recorder(hooks)
        extra = {"retry-after": "17"} if retry_after else {}
        rec.on_headers(status, json_headers(**extra))
        rec.on_chunk(fixtures.bytes(name))
        rec.on_end()
        ex = hooks.one
        assert ex.outcome is Outcome.ERROR and ex.status_code == status
        assert ex.error_type == error_type
        assert ex.error_message == fixtures.json(name)["error"]["message"]
        assert ex.retry_after == retry_after
        assert ex.message is None

    def test_error_status_without_envelope_gives_the_status(self) -> None:
        """A proxy's HTML 502 has no API error type: the status code is the error type."""
        hooks = Hooks()
        rec = recorder(hooks)
        rec.on_headers(502, {"content-type": "text/html"})
        rec.on_chunk(b"<html>Bad gateway</html>")
        rec.on_end()
        assert (hooks.one.outcome, hooks.one.error_type) == (Outcome.ERROR, "502")

    def test_error_envelope_with_2xx_is_an_error(self) -> None:
        """A 200 whose body is an error envelope is still a failed exchange."""
        hooks = Hooks()
        rec = recorder(hooks)
        rec.on_headers(200, json_headers())
        rec.on_chunk(b'{"type":"error","error":{"type":"api_error","message":"boom"}}')
        rec.on_end()
        assert (hooks.one.outcome, hooks.one.error_type) == (Outcome.ERROR, "api_error")

    def test_gzip_body_is_decoded_for_parsing(self, fixtures: Any) -> None:
        """A gzip body is decoded (a copy) before parsing; response_bytes counts it as sent."""
        hooks = Hooks()
        data = gzip.compress(fixtures.bytes("05_ptc_multiple_calls_response.json"))
        rec = recorder(hooks)
        rec.on_headers(200, json_headers(**{"content-encoding": "gzip"}))
        for chunk in split(data, 100):
            rec.on_chunk(chunk)
        rec.on_end()
        ex = hooks.one
        assert ex.outcome is Outcome.OK and ex.response_bytes == len(data)
        assert [c.id for c in ex.tool_calls] == [
            "toolu_01Ee4Vq8Bn2Xk6Rw9Lt3HcPa",
            "toolu_01Gm7Ts1Jd5Yq3Np8Wz6KbRe",
            "toolu_01Cr3Hx6Lk9Vb2Ft5Qm8NwZs",
        ]

    def test_unknown_encoding_is_a_decode_error(self, fixtures: Any) -> None:
        """A coding we cannot decode is reported; the exchange is still recorded."""
        hooks = Hooks()
        rec = recorder(hooks)
        rec.on_headers(200, json_headers(**{"content-encoding": "x-unheard-of"}))
        rec.on_chunk(b"\x00\x01")
        rec.on_end()
        assert hooks.stages == ["decode"]
        assert hooks.one.status_code == 200 and hooks.one.message is None

    def test_body_already_read(self, fixtures: Any) -> None:
        """on_body takes a whole decoded body (responses built with content=) and finishes."""
        hooks = Hooks()
        rec = recorder(hooks)
        rec.on_headers(200, json_headers(**{"content-encoding": "gzip"}))
        rec.on_body(fixtures.bytes("04_ptc_final_response.json"))
        ex = hooks.one
        assert ex.outcome is Outcome.OK
        assert ex.message is not None and ex.message.stop_reason == "end_turn"
        assert ex.message.container is None


class TestStream:
    @pytest.mark.parametrize("size", [1, 7, 64, 100_000])
    def test_any_split_gives_the_same_record(self, fixtures: Any, size: Any) -> None:
        """The SSE body in chunks of any size: message, counts and first-token time."""
        hooks = Hooks()
        rec = recorder(hooks, request_body(stream=True))
        rec.on_headers(200, SSE_HEADERS)
        data = fixtures.bytes("08_stream_ptc_turn1.sse")
        for chunk in split(data, size):
            rec.on_chunk(chunk)
        rec.on_end()
        ex = hooks.one
        assert ex.outcome is Outcome.OK and ex.streamed and ex.complete
        assert ex.request.stream
        msg = ex.message
        assert msg is not None and msg.id == "msg_011CZq9Qa7Vd3Lx8Hs2KtN5c"
        assert msg.stop_reason == "tool_use"
        assert msg.container is not None
        assert msg.container.id == "container_011CZq9Q8sHb4Nw6Tx2KcLm7"
        assert msg.usage.output_tokens == 246 and msg.usage.input_tokens == 1874
        tool = [b for b in msg.content if isinstance(b, ToolUseBlock)]
        assert [(b.id, b.caller.type if b.caller else None) for b in tool] == [
            ("toolu_01Jr5Kc2Wq9Tm6Bx3Lv8HnPd", "code_execution_20260120")
        ]
        assert ex.output_chunks == 17  # 4 text deltas + 13 input_json deltas
        assert ex.sse_events == 27
        assert ex.response_bytes == len(data)
        t = ex.timings
        assert t.first_token is not None
        assert t.sent < t.headers <= t.first_token <= t.finished  # type: ignore[operator]

    @pytest.mark.parametrize("end", ["end", "close", "error"])
    def test_long_stream_in_small_chunks_counts_every_event(self, end: str) -> None:
        """Chunks gathered after the first token (past several batches) all count."""
        frame = "event: {0}\ndata: {1}\n\n".format
        start = {
            "type": "message_start",
            "message": {"id": "msg_1", "content": [], "usage": {"input_tokens": 3}},
        }
        block = {"type": "content_block_start", "index": 0}
        block["content_block"] = {"type": "text", "text": ""}
        head = [frame("message_start", json.dumps(start))]
        head.append(frame("content_block_start", json.dumps(block)))
        delta = {"type": "content_block_delta", "index": 0}
        deltas = [
            frame("content_block_delta", json.dumps({**delta, "delta": d}))
            for d in ({"type": "text_delta", "text": f"w{i} "} for i in range(1000))
        ]
        chunks = [c.encode() for c in head + deltas]
        assert sum(map(len, chunks)) > 3 * 16 * 1024
        hooks = Hooks()
        rec = recorder(hooks, request_body(stream=True))
        rec.on_headers(200, SSE_HEADERS)
        for chunk in chunks:
            rec.on_chunk(chunk)
        if end == "end":
            rec.on_end()
        elif end == "close":
            rec.on_close()
        else:
            rec.on_error(ConnectionError("reset"))
        ex = hooks.one
        assert ex.output_chunks == 1000 and ex.sse_events == 1002
        assert ex.response_bytes == sum(map(len, chunks))
        assert ex.timings.first_token is not None
        assert not hooks.errors

    def test_prepopulated_message_start(self, fixtures: Any) -> None:
        """A continuation whose message_start carries the whole message."""
        hooks = Hooks()
        rec = recorder(hooks)
        rec.on_headers(200, SSE_HEADERS)
        rec.on_chunk(fixtures.bytes("10_stream_ptc_resume_prepopulated.sse"))
        rec.on_end()
        ex = hooks.one
        assert ex.outcome is Outcome.OK
        assert [c.id for c in ex.tool_calls] == ["toolu_01Qs8Ln4Vc2Yk7Hd5Rw3MtBx"]
        assert ex.message is not None and ex.message.usage.output_tokens == 0

    def test_stream_without_message_stop_is_incomplete(self, fixtures: Any) -> None:
        """A body that ends before message_stop: incomplete, with the partial message."""
        hooks = Hooks()
        rec = recorder(hooks)
        rec.on_headers(200, SSE_HEADERS)
        data = fixtures.bytes("09_stream_plain_text.sse")
        rec.on_chunk(data[: data.index(b"event: message_delta")])
        rec.on_end()
        ex = hooks.one
        assert ex.outcome is Outcome.INCOMPLETE and not ex.complete
        assert ex.error_type is None
        assert (
            ex.message is not None and ex.message.id == "msg_011CZqA2Rt6Wm3Hx9Kb5NcLv"
        )
        assert ex.message.stop_reason is None

    def test_error_event_fails_the_exchange(self, fixtures: Any) -> None:
        """An error event after HTTP 200: outcome error with the event's error type."""
        hooks = Hooks()
        rec = recorder(hooks)
        rec.on_headers(200, SSE_HEADERS)
        data = fixtures.bytes("09_stream_plain_text.sse")
        cut = data[: data.index(b"event: content_block_stop")]
        rec.on_chunk(cut)
        rec.on_chunk(
            b'event: error\ndata: {"type":"error","error":'
            b'{"type":"overloaded_error","message":"Overloaded"}}\n\n'
        )
        rec.on_end()
        ex = hooks.one
        assert ex.outcome is Outcome.ERROR and ex.status_code == 200
        assert (ex.error_type, ex.error_message) == ("overloaded_error", "Overloaded")
        assert ex.message is not None  # the partial message is kept

    def test_gzip_stream(self, fixtures: Any) -> None:
        """A gzip-encoded stream is decoded incrementally."""
        hooks = Hooks()
        rec = recorder(hooks)
        rec.on_headers(200, {**SSE_HEADERS, "content-encoding": "gzip"})
        data = gzip.compress(fixtures.bytes("09_stream_plain_text.sse"))
        for chunk in split(data, 50):
            rec.on_chunk(chunk)
        rec.on_end()
        ex = hooks.one
        assert ex.outcome is Outcome.OK and ex.output_chunks == 7
        assert ex.response_bytes == len(data)

    def test_corrupt_gzip_stream(self, fixtures: Any) -> None:
        """Corrupt compressed data stops parsing and is reported as a decode error."""
        hooks = Hooks()
        rec = recorder(hooks)
        rec.on_headers(200, {**SSE_HEADERS, "content-encoding": "gzip"})
        rec.on_chunk(b"this is not gzip at all")
        rec.on_chunk(b"more")
        rec.on_end()
        assert hooks.stages == ["decode"]
        assert hooks.one.outcome is Outcome.INCOMPLETE

    def test_capture_content_keeps_text_and_redacts_request(
        self, fixtures: Any
    ) -> None:
        """With capture on, streamed text is accumulated and request content is redacted."""
        hooks = Hooks(capture_content=True, redact=lambda body: {"redacted": True})
        rec = recorder(hooks)
        rec.on_headers(200, SSE_HEADERS)
        rec.on_chunk(fixtures.bytes("09_stream_plain_text.sse"))
        rec.on_end()
        ex = hooks.one
        assert ex.message is not None
        assert ex.message.text.startswith("Programmatic tool calling lets Claude")
        assert ex.request.content == {"redacted": True}

    def test_failing_redact_drops_content(self) -> None:
        """A redaction hook that raises drops the content (never leaks it) and is counted."""

        def bad(body: Any) -> Any:
            raise RuntimeError("no")

        hooks = Hooks(capture_content=True, redact=bad)
        rec = recorder(hooks)
        rec.on_headers(200, json_headers())
        rec.on_end()
        assert hooks.one.request.content is None
        assert hooks.stages == ["request_parse"]


class TestLifecycle:
    def test_finishes_exactly_once(self, fixtures: Any) -> None:
        """End, close and error after the end do not record the exchange again."""
        hooks = Hooks()
        rec = recorder(hooks)
        rec.on_headers(200, json_headers())
        rec.on_chunk(fixtures.bytes("01_direct_tool_use.json"))
        rec.on_end()
        rec.on_close()
        rec.on_error(RuntimeError("late"))
        rec.on_end()
        assert len(hooks.finished) == 1 and rec.finished
        assert hooks.one.outcome is Outcome.OK

    def test_close_before_the_end_is_closed_early(self, fixtures: Any) -> None:
        """The client closed a stream half way: closed_early, with the partial message."""
        hooks = Hooks()
        rec = recorder(hooks)
        rec.on_headers(200, SSE_HEADERS)
        data = fixtures.bytes("08_stream_ptc_turn1.sse")
        rec.on_chunk(data[: len(data) // 2])
        rec.on_close()
        ex = hooks.one
        assert ex.outcome is Outcome.CLOSED_EARLY and ex.closed_early
        assert ex.error_type is None
        assert (
            ex.message is not None and ex.message.id == "msg_011CZq9Qa7Vd3Lx8Hs2KtN5c"
        )

    def test_close_after_message_stop_is_ok(self, fixtures: Any) -> None:
        """Closing after message_stop but before the end of the body loses nothing."""
        hooks = Hooks()
        rec = recorder(hooks)
        rec.on_headers(200, SSE_HEADERS)
        rec.on_chunk(fixtures.bytes("09_stream_plain_text.sse"))
        rec.on_close()
        assert hooks.one.outcome is Outcome.OK and not hooks.one.closed_early

    def test_error_status_closed_unread(self) -> None:
        """A 529 closed without reading its body: an error typed by its status."""
        hooks = Hooks()
        rec = recorder(hooks)
        rec.on_headers(529, json_headers())
        rec.on_close()
        ex = hooks.one
        assert (ex.outcome, ex.error_type, ex.closed_early) == (
            Outcome.ERROR,
            "529",
            True,
        )

    def test_exception_before_the_response(self) -> None:
        """An exception at send: error typed by the exception class, no status."""
        hooks = Hooks()
        rec = recorder(hooks)
        rec.on_error(ConnectionRefusedError("refused"))
        ex = hooks.one
        assert ex.outcome is Outcome.ERROR and ex.error_type == "ConnectionRefusedError"
        assert ex.status_code is None and ex.timings.headers is None
        assert ex.error_message is None  # never an exception's text
        assert ex.request.model == MODEL

    def test_exception_mid_stream(self, fixtures: Any) -> None:
        """An exception while the body streams: error, partial message kept."""
        hooks = Hooks()
        rec = recorder(hooks)
        rec.on_headers(200, SSE_HEADERS)
        rec.on_chunk(fixtures.bytes("08_stream_ptc_turn1.sse")[:2000])
        rec.on_error(TimeoutError())
        ex = hooks.one
        assert (ex.outcome, ex.error_type, ex.closed_early) == (
            Outcome.ERROR,
            "TimeoutError",
            False,
        )
        assert ex.message is not None

    @pytest.mark.parametrize(
        "exc",
        [
            pytest.param(asyncio.CancelledError(), id="cancelled"),
            pytest.param(GeneratorExit(), id="generator-exit"),
            pytest.param(KeyboardInterrupt(), id="keyboard-interrupt"),
        ],
    )
    def test_abandoned_by_the_caller_is_closed_early(
        self, fixtures: Any, exc: Any
    ) -> None:
        """Cancellation and the like are the caller giving up, not a failure."""
        hooks = Hooks()
        rec = recorder(hooks)
        rec.on_headers(200, SSE_HEADERS)
        rec.on_chunk(fixtures.bytes("09_stream_plain_text.sse")[:500])
        rec.on_error(exc)
        ex = hooks.one
        assert (ex.outcome, ex.closed_early, ex.error_type) == (
            Outcome.CLOSED_EARLY,
            True,
            None,
        )

    def test_unparseable_request_body(self) -> None:
        """A request body that is not JSON is counted; the record keeps what is known."""
        hooks = Hooks()
        rec = recorder(hooks, body=b"not json")
        rec.on_headers(200, json_headers())
        rec.on_end()
        ex = hooks.one
        assert hooks.stages == ["request_parse"]
        assert ex.request.model is None and ex.request.body_bytes == 8
        assert ex.request.path == "/v1/messages"

    def test_exchange_ids_increase(self) -> None:
        """Each recorder gets a larger id than the one before."""
        hooks = Hooks()
        first, second = recorder(hooks), recorder(hooks)
        assert second.exchange_id > first.exchange_id
        second.on_close()
        first.on_close()
        assert [ex.id for ex in hooks.finished] == [
            second.exchange_id,
            first.exchange_id,
        ]

    def test_unknown_caller_type_is_kept(self) -> None:
        """A caller version nobody has seen yet is recorded as it came."""
        hooks = Hooks()
        rec = recorder(hooks)
        rec.on_headers(200, json_headers())
        body = {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": MODEL,
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "query_sales",
                    "input": {},
                    "caller": {
                        "type": "code_execution_20991231",
                        "tool_id": "srvtoolu_9",
                    },
                },
                {"type": "brand_new_block", "payload": 1},
            ],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 1, "output_tokens": 2},
        }
        rec.on_chunk(json.dumps(body).encode())
        rec.on_end()
        ex = hooks.one
        assert ex.outcome is Outcome.OK
        (call,) = ex.tool_calls
        assert (call.caller.type, call.caller.tool_id, call.is_programmatic) == (
            "code_execution_20991231",
            "srvtoolu_9",
            True,
        )


class TestContainedFailures:
    """A bug in a parser is counted as a telemetry error and never reaches the caller."""

    @staticmethod
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("parser bug")

    @pytest.mark.parametrize(
        ("target", "stage"),
        [
            pytest.param("parse_request", "request_parse", id="request"),
            pytest.param("parse_reply", "response_parse", id="message"),
            pytest.param("rate_limits_from", "response_parse", id="rate-limits"),
        ],
    )
    def test_json_parsers(
        self, target: str, stage: str, fixtures: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """parse_request / parse_reply / rate_limits_from failing: one error, one record."""
        monkeypatch.setattr(f"ptc_observe.observer.recorder.{target}", self.boom)
        hooks = Hooks()
        rec = recorder(hooks)
        rec.on_headers(200, json_headers())
        rec.on_chunk(fixtures.bytes("01_direct_tool_use.json"))
        rec.on_end()
        assert hooks.stages == [stage]
        assert hooks.one.status_code == 200

    @pytest.mark.parametrize("method", ["__init__", "feed", "close"])
    def test_stream_accumulator(
        self, method: str, fixtures: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The stream accumulator failing (it should not) is a stream_parse error."""
        monkeypatch.setattr(
            f"ptc_observe.observer.recorder.StreamAccumulator.{method}", self.boom
        )
        hooks = Hooks()
        rec = recorder(hooks)
        rec.on_headers(200, SSE_HEADERS)
        rec.on_chunk(fixtures.bytes("09_stream_plain_text.sse"))
        rec.on_end()
        assert hooks.stages == ["stream_parse"]
        assert hooks.one.streamed and hooks.one.message is None

    def test_no_request_body(self) -> None:
        """Without a request body the request facts are minimal, and that is reported."""
        hooks = Hooks()
        rec = ExchangeRecorder(
            hooks, None, "POST", "h", 8080, "/v1/messages", {}, sent=1.0, sent_unix_ns=0
        )
        rec.on_headers(200, json_headers())
        rec.on_end()
        assert hooks.stages == ["request_parse"]
        assert (hooks.one.request.server_port, hooks.one.request.body_bytes) == (
            8080,
            0,
        )

    def test_corrupt_gzip_json(self) -> None:
        """A JSON body that is not the gzip it claims: a decode error, no message."""
        hooks = Hooks()
        rec = recorder(hooks)
        rec.on_headers(200, json_headers(**{"content-encoding": "gzip"}))
        rec.on_chunk(b"plain text, not gzip")
        rec.on_end()
        assert hooks.stages == ["decode"]
        assert hooks.one.outcome is Outcome.INCOMPLETE and hooks.one.message is None

    def test_redirect_status_is_incomplete(self) -> None:
        """A 3xx is neither a message nor an API error: incomplete."""
        hooks = Hooks()
        rec = recorder(hooks)
        rec.on_headers(307, {"location": "/elsewhere"})
        rec.on_end()
        assert (hooks.one.outcome, hooks.one.error_type) == (Outcome.INCOMPLETE, None)
