"""The official SDK through the observing transport: same results, right records.

Written against the SDK line that is installed: anthropic >= 1 runs on httpx2 (the main
environment, 2.x), anthropic 0.x on httpx (``scripts/sdk0-compat`` runs this directory
in ``.venv-sdk0`` with the last 0.x release).
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import httpx2
import pytest

from ptc_observe import Observer, Outcome
from ptc_observe.testing import MemorySink

SDK_MAJOR = int(anthropic.__version__.split(".")[0])
LIB: Any = httpx if SDK_MAJOR == 0 else httpx2
"""The HTTP library of the installed SDK line."""

MODEL = "claude-sonnet-4-6"
PARAMS: dict[str, Any] = {
    "model": MODEL,
    "max_tokens": 1024,
    "messages": [{"role": "user", "content": "Compare Q2 revenue."}],
    "tools": [
        {"type": "code_execution_20260120", "name": "code_execution"},
        {
            "name": "query_sales",
            "description": "Run read-only SQL.",
            "input_schema": {
                "type": "object",
                "properties": {"sql": {"type": "string"}},
            },
            "allowed_callers": ["code_execution_20260120"],
        },
    ],
}
CE = "code_execution_20260120"
SRV_02 = "srvtoolu_01HqJ7mVtX2cR9bW4nYk5eLs"
SRV_05 = "srvtoolu_01Ax9LqW3eRt6YbN2mKc8VhZ"
SRV_08 = "srvtoolu_01Pd6Wq2Nx8Hk4Rt7Lb3VmYs"
C_02 = "container_011CZq7TfRmB3vKx9NwPd2Lh"
C_08 = "container_011CZq9Q8sHb4Nw6Tx2KcLm7"

# fixture -> (message id, container id, [(tool_use id, caller type, caller tool id)],
#             input tokens, output tokens, stop reason, output chunks)
EXPECTED: dict[str, tuple[Any, ...]] = {
    "01_direct_tool_use.json": (
        "msg_011CZq6pW2dGh7sLx4RrTe9N",
        None,
        [("toolu_01Tb5RzQm8KcVw3hN2xJp7Ly", "direct", None)],
        912,
        71,
        "tool_use",
        0,
    ),
    "02_ptc_turn1_response.json": (
        "msg_011CZq7S3aVbN6uPq1WcE8Dk",
        C_02,
        [("toolu_01Fk2YwHs9PqLm4Rt7VbZc3N", CE, SRV_02)],
        1874,
        246,
        "tool_use",
        0,
    ),
    "03_ptc_resume_response.json": (
        "msg_011CZq7VhN4kTr2Bm9XsLq5W",
        C_02,
        [("toolu_01Wn6DcJ3xRv8Hq2Lt5MpYk9", CE, SRV_02)],
        0,
        0,
        "tool_use",
        0,
    ),
    "04_ptc_final_response.json": (
        "msg_011CZq7Yx5Gm8Pd3Ks6NvHt2",
        None,
        [],
        2311,
        58,
        "end_turn",
        0,
    ),
    "05_ptc_multiple_calls_response.json": (
        "msg_011CZq8B1sFq7Wn4Xe2RcJm6",
        "container_011CZq8AqT5nVm2Wc9Lx4RhB",
        [
            ("toolu_01Ee4Vq8Bn2Xk6Rw9Lt3HcPa", CE, SRV_05),
            ("toolu_01Gm7Ts1Jd5Yq3Np8Wz6KbRe", CE, SRV_05),
            ("toolu_01Cr3Hx6Lk9Vb2Ft5Qm8NwZs", CE, SRV_05),
        ],
        1890,
        301,
        "tool_use",
        0,
    ),
    "08_stream_ptc_turn1.sse": (
        "msg_011CZq9Qa7Vd3Lx8Hs2KtN5c",
        C_08,
        [("toolu_01Jr5Kc2Wq9Tm6Bx3Lv8HnPd", CE, SRV_08)],
        1874,
        246,
        "tool_use",
        17,
    ),
    "09_stream_plain_text.sse": (
        "msg_011CZqA2Rt6Wm3Hx9Kb5NcLv",
        None,
        [],
        24,
        27,
        "end_turn",
        7,
    ),
    "10_stream_ptc_resume_prepopulated.sse": (
        "msg_011CZq9Wk3Bn7Tr5Xc2HmQs8",
        C_08,
        [("toolu_01Qs8Ln4Vc2Yk7Hd5Rw3MtBx", CE, SRV_08)],
        0,
        0,
        "tool_use",
        0,
    ),
}
JSON_OK = [n for n in EXPECTED if n.endswith(".json")]
SSE = [n for n in EXPECTED if n.endswith(".sse")]


def sdk_client(mode: Any, script: Any, observer: Observer | None, **kw: Any) -> Any:
    inner = script.transport()
    transport = mode.observing(observer, inner) if observer is not None else inner
    return mode.anthropic(anthropic, mode.http_client(LIB, transport=transport), **kw)


def check_record(ex: Any, name: str, *, streamed: bool) -> None:
    msg_id, container, calls, tokens_in, tokens_out, stop, chunks = EXPECTED[name]
    assert ex.outcome is Outcome.OK and ex.complete and not ex.closed_early
    assert ex.streamed is streamed and ex.status_code == 200 and ex.error_type is None
    assert ex.message.id == msg_id and ex.model == MODEL
    assert (ex.message.container.id if ex.message.container else None) == container
    assert [(c.id, c.caller.type, c.caller.tool_id) for c in ex.tool_calls] == calls
    assert (ex.message.usage.input_tokens, ex.message.usage.output_tokens) == (
        tokens_in,
        tokens_out,
    )
    assert ex.message.stop_reason == stop and ex.output_chunks == chunks
    assert ex.request.model == MODEL and ex.request.retry_count == 0
    assert [(t.name, t.allowed_callers) for t in ex.request.tools] == [
        ("code_execution", ()),
        ("query_sales", (CE,)),
    ]
    t = ex.timings
    assert t.sent < t.headers <= t.finished
    if streamed:
        assert t.headers <= t.first_token <= t.finished
    assert ex.request_id is not None and ex.request_id.startswith("req_")


def dump(items: list[Any]) -> list[Any]:
    return [item.model_dump() for item in items]


class TestSameResults:
    @pytest.mark.parametrize("name", JSON_OK)
    def test_create(
        self,
        mode: Any,
        name: str,
        make_script: Any,
        observer: Observer,
        sink: MemorySink,
    ) -> None:
        """messages.create gives the same parsed message, body and headers; the record is right."""
        results = []
        for obs in (None, observer):
            script = make_script(LIB).fixture(name)
            client = sdk_client(mode, script, obs)
            raw = mode.run(client.messages.with_raw_response.create, **PARAMS)
            results.append(
                (
                    mode.run(raw.parse).model_dump()
                    if mode.is_async
                    else raw.parse().model_dump(),
                    raw.http_response.content,
                    raw.http_response.headers.multi_items(),
                )
            )
            mode.close(client)
        assert results[0] == results[1]
        (ex,) = sink.exchanges
        check_record(ex, name, streamed=False)
        assert ex.request.stream is False and ex.request.stream_helper is None

    @pytest.mark.parametrize("name", SSE)
    def test_create_stream(
        self,
        mode: Any,
        name: str,
        make_script: Any,
        observer: Observer,
        sink: MemorySink,
    ) -> None:
        """create(stream=True) yields the same events; the record is right."""
        results = []
        for obs in (None, observer):
            script = make_script(LIB).fixture(name)
            client = sdk_client(mode, script, obs)
            stream = mode.run(client.messages.create, stream=True, **PARAMS)
            results.append(dump(mode.collect(stream)))
            mode.close(client)
        assert results[0] == results[1] and results[0]
        (ex,) = sink.exchanges
        check_record(ex, name, streamed=True)
        assert ex.request.stream is True

    @pytest.mark.parametrize("name", SSE)
    def test_stream_helper(
        self,
        mode: Any,
        name: str,
        make_script: Any,
        observer: Observer,
        sink: MemorySink,
    ) -> None:
        """messages.stream() gives the same events and final message; the record is right."""
        results = []
        for obs in (None, observer):
            script = make_script(LIB).fixture(name)
            client = sdk_client(mode, script, obs)
            events, final = mode.stream_helper(client.messages.stream(**PARAMS))
            results.append((dump(events), final.model_dump()))
            mode.close(client)
        assert results[0] == results[1]
        (ex,) = sink.exchanges
        check_record(ex, name, streamed=True)
        assert ex.request.stream_helper == "stream"

    @pytest.mark.parametrize(
        ("name", "status", "error_type"),
        [
            pytest.param(
                "06_error_429_rate_limit.json", 429, "rate_limit_error", id="429"
            ),
            pytest.param(
                "07_error_529_overloaded.json", 529, "overloaded_error", id="529"
            ),
        ],
    )
    def test_error_status(
        self,
        mode: Any,
        name: str,
        status: int,
        error_type: str,
        make_script: Any,
        observer: Observer,
        sink: MemorySink,
    ) -> None:
        """An error status raises the same SDK error; the record has the API's error type."""
        results = []
        for obs in (None, observer):
            script = make_script(LIB).fixture(name, headers={"retry-after": "17"})
            client = sdk_client(mode, script, obs, max_retries=0)
            exc: Any = mode.raises(client.messages.create, **PARAMS)
            results.append((type(exc), exc.status_code, exc.body))
            mode.close(client)
        assert results[0] == results[1]
        assert results[0][1] == status
        (ex,) = sink.exchanges
        assert (ex.outcome, ex.status_code, ex.error_type) == (
            Outcome.ERROR,
            status,
            error_type,
        )
        assert ex.retry_after == 17.0

    def test_unknown_caller_type(
        self,
        mode: Any,
        make_script: Any,
        observer: Observer,
        sink: MemorySink,
        fixtures: Any,
    ) -> None:
        """A caller version nobody knows yet goes through unchanged and is recorded as is."""
        body = fixtures.json("02_ptc_turn1_response.json")
        body["content"][2]["caller"]["type"] = "code_execution_20991231"
        data = json.dumps(body).encode()
        results = []
        for obs in (None, observer):
            script = make_script(LIB).add(
                200, {"content-type": "application/json"}, [data]
            )
            client = sdk_client(mode, script, obs)
            message = mode.run(client.messages.create, **PARAMS)
            # The SDK's own types know only the callers of its day (it warns on dump).
            results.append(message.model_dump(warnings=False))
            mode.close(client)
        assert results[0] == results[1]
        (ex,) = sink.exchanges
        assert [(c.caller.type, c.is_programmatic) for c in ex.tool_calls] == [
            ("code_execution_20991231", True)
        ]


class TestRecords:
    def test_retries_give_one_record_per_attempt(
        self, mode: Any, make_script: Any, observer: Observer, sink: MemorySink
    ) -> None:
        """A 429 then a 200: two records, retry counts 0 and 1."""
        script = make_script(LIB)
        script.fixture("06_error_429_rate_limit.json", headers={"retry-after-ms": "1"})
        script.fixture("02_ptc_turn1_response.json")
        client = sdk_client(mode, script, observer, max_retries=2)
        message = mode.run(client.messages.create, **PARAMS)
        mode.close(client)
        assert message.id == "msg_011CZq7S3aVbN6uPq1WcE8Dk"
        first, second = sink.exchanges
        assert (first.request.retry_count, first.outcome, first.error_type) == (
            0,
            Outcome.ERROR,
            "rate_limit_error",
        )
        assert (second.request.retry_count, second.outcome) == (1, Outcome.OK)
        assert first.retry_after == 0.001 and second.id > first.id

    def test_ptc_round_trip_is_correlated(
        self, mode: Any, make_script: Any, observer: Observer, sink: MemorySink
    ) -> None:
        """Turn 1 then the resume request: tool results and container reuse are linked."""
        script = make_script(LIB)
        script.fixture("02_ptc_turn1_response.json")
        script.fixture("03_ptc_resume_response.json")
        client = sdk_client(mode, script, observer)
        turn1 = mode.run(client.messages.create, **PARAMS)
        result = '[{"total": 412850.5}]'
        resume = {
            **PARAMS,
            "messages": [
                *PARAMS["messages"],
                {
                    "role": "assistant",
                    "content": [b.model_dump() for b in turn1.content],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "toolu_01Fk2YwHs9PqLm4Rt7VbZc3N",
                            "content": result,
                        }
                    ],
                },
            ],
            "extra_body": {"container": turn1.container.id},
        }
        mode.run(client.messages.create, **resume)
        mode.close(client)
        first, second = sink.exchanges
        assert second.request.container_id == C_02
        assert [(t.tool_use_id, t.size_bytes) for t in second.request.tool_results] == [
            ("toolu_01Fk2YwHs9PqLm4Rt7VbZc3N", len(result))
        ]
        (turnaround,) = second.tool_turnarounds
        assert (turnaround.tool_name, turnaround.caller, turnaround.asked_by) == (
            "query_sales",
            "programmatic",
            first.id,
        )
        assert second.answers == (first.id,)
        assert first.container is not None and first.container.created
        assert second.container is not None and second.container.reused

    def test_error_event_mid_stream(
        self,
        mode: Any,
        make_script: Any,
        observer: Observer,
        sink: MemorySink,
        fixtures: Any,
    ) -> None:
        """An error event after HTTP 200: the SDK raises, the record is an error of that type."""
        data = fixtures.bytes("09_stream_plain_text.sse")
        cut = data[: data.index(b"event: content_block_stop")]
        error = (
            b'event: error\ndata: {"type":"error","error":'
            b'{"type":"overloaded_error","message":"Overloaded"}}\n\n'
        )
        script = make_script(LIB).add(
            200, {"content-type": "text/event-stream"}, [cut, error]
        )
        client = sdk_client(mode, script, observer)
        stream = mode.run(client.messages.create, stream=True, **PARAMS)
        with pytest.raises(anthropic.APIStatusError):
            mode.collect(stream)
        mode.close(client)
        (ex,) = sink.exchanges
        assert (ex.outcome, ex.status_code, ex.error_type, ex.error_message) == (
            Outcome.ERROR,
            200,
            "overloaded_error",
            "Overloaded",
        )

    def test_truncated_stream(
        self,
        mode: Any,
        make_script: Any,
        observer: Observer,
        sink: MemorySink,
        fixtures: Any,
    ) -> None:
        """A stream that stops before message_stop: the SDK is silent, the record says incomplete."""
        data = fixtures.bytes("08_stream_ptc_turn1.sse")
        cut = data[: data.index(b"event: message_delta")]
        script = make_script(LIB).add(200, {"content-type": "text/event-stream"}, [cut])
        client = sdk_client(mode, script, observer)
        stream = mode.run(client.messages.create, stream=True, **PARAMS)
        events = mode.collect(stream)
        mode.close(client)
        assert events[-1].type == "content_block_stop"
        (ex,) = sink.exchanges
        assert ex.outcome is Outcome.INCOMPLETE and not ex.complete
        assert ex.message is not None and ex.message.stop_reason is None
        assert len(ex.tool_calls) == 1

    def test_stream_closed_early(
        self, mode: Any, make_script: Any, observer: Observer, sink: MemorySink
    ) -> None:
        """Closing the SDK stream after a few events: one record, closed early."""
        script = make_script(LIB).fixture("08_stream_ptc_turn1.sse")
        client = sdk_client(mode, script, observer)
        stream = mode.run(client.messages.create, stream=True, **PARAMS)
        assert [e.type for e in mode.take(stream, 2)] == [
            "message_start",
            "content_block_start",
        ]
        mode.close(stream)
        mode.close(client)
        (ex,) = sink.exchanges
        assert ex.outcome is Outcome.CLOSED_EARLY and ex.closed_early
        assert script.streams[0].closed

    def test_connect_error(
        self, mode: Any, make_script: Any, observer: Observer, sink: MemorySink
    ) -> None:
        """A connection error at send: the SDK's usual error, a record typed by the exception."""
        error = LIB.ConnectError("refused")
        script = make_script(LIB).add(raise_at_send=error)
        client = sdk_client(mode, script, observer, max_retries=0)
        exc = mode.raises(client.messages.create, **PARAMS)
        mode.close(client)
        assert isinstance(exc, anthropic.APIConnectionError) and exc.__cause__ is error
        (ex,) = sink.exchanges
        assert (ex.outcome, ex.error_type) == (Outcome.ERROR, "ConnectError")

    def test_failing_sink_does_not_reach_the_caller(
        self, mode: Any, make_script: Any, sink: MemorySink
    ) -> None:
        """A sink that raises is counted; the call and the other sinks are unaffected."""

        class Broken:
            def on_exchange(self, exchange: Any) -> None:
                raise RuntimeError("sink down")

        observer = Observer(
            sinks=[Broken(), sink], prometheus=False, opentelemetry=False
        )
        script = make_script(LIB).fixture("08_stream_ptc_turn1.sse")
        client = sdk_client(mode, script, observer)
        events, final = mode.stream_helper(client.messages.stream(**PARAMS))
        mode.close(client)
        assert final.id == "msg_011CZq9Qa7Vd3Lx8Hs2KtN5c"
        assert len(sink.exchanges) == 1
        assert observer.telemetry_errors == {"sink": 1}


class TestRealHTTP:
    @pytest.mark.parametrize(
        "name", ["02_ptc_turn1_response.json", "08_stream_ptc_turn1.sse"]
    )
    def test_over_loopback(
        self,
        mode: Any,
        name: str,
        http_server: Any,
        observer: Observer,
        sink: MemorySink,
        fixtures: Any,
    ) -> None:
        """The SDK over a real socket, through the library's own HTTP transport."""
        data = fixtures.bytes(name)
        sse = name.endswith(".sse")
        ctype = "text/event-stream" if sse else "application/json"
        chunks = data.split(b"\n\n") if sse else [data]
        if sse:
            chunks = [c + b"\n\n" for c in chunks if c]
        http_server.replies.append(
            (200, {"content-type": ctype, "request-id": "req_x"}, chunks)
        )
        inner = (LIB.AsyncHTTPTransport if mode.is_async else LIB.HTTPTransport)()
        client = mode.anthropic(
            anthropic,
            mode.http_client(LIB, transport=mode.observing(observer, inner)),
            base_url=http_server.url,
        )
        if sse:
            events, final = mode.stream_helper(client.messages.stream(**PARAMS))
            assert final.id == EXPECTED[name][0]
        else:
            assert mode.run(client.messages.create, **PARAMS).id == EXPECTED[name][0]
        mode.close(client)
        ((path, headers, body),) = http_server.requests
        assert json.loads(body)["model"] == MODEL
        (ex,) = sink.exchanges
        check_record(ex, name, streamed=sse)
        assert ex.request.server_address == "127.0.0.1"
        assert ex.request.server_port == http_server.server_address[1]
