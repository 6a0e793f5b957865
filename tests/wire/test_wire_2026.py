"""The 2026 wire: every code-execution variant, callers, usage details, passing shapes.

JSON bodies and streams of the shapes real traffic shows (``ptc-wire-format.md`` §3-4,
``tests/real/corpus.py``): facts read the same from the msgspec path, the
reference path and the validated model, and nothing new is an error or an anomaly.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from real.corpus import SYNTHETIC, Recording, recordings

from ptc_observe.events import (
    CodeResult,
    Reply,
    ServerToolResult,
    ServerToolUse,
    TokenUsage,
    code_variant,
)
from ptc_observe.wire import replies as wire_replies
from ptc_observe.wire.accumulate import StreamAccumulator, accumulate, iter_events
from ptc_observe.wire.messages import (
    WireError,
    parse_error,
    parse_event,
    parse_message,
    parse_reply,
)

from .test_msgspec_paths import EDGES, assert_reply_paths_agree
from .test_reply import body_of, facts
from .wirecases import MSTOP, ev

BODIES = recordings() + recordings([SYNTHETIC])
REAL_JSON = [r for r in BODIES if not r.stream]
REAL_SSE = [r for r in BODIES if r.stream]
CALLED = {"type": "code_execution_20260120", "tool_id": "srvtoolu_code"}


def stream_reply(body: bytes) -> tuple[Reply, StreamAccumulator]:
    acc = StreamAccumulator()
    acc.feed(body)
    acc.close()
    message = acc.message
    assert message is not None
    return Reply.from_message(message), acc


def all_paths(body: bytes) -> Reply:
    """The reply, after checking msgspec, reference and model read the same facts."""
    reply = parse_reply(body)
    reference = wire_replies._parse_reply_reference(body)
    model = Reply.from_message(parse_message(body))
    assert facts(reply) == facts(reference) == facts(model)
    return reply


# --- code-execution results of every variant ---

RESULTS: list[tuple[str, Any, CodeResult]] = [
    (
        "code_execution_tool_result",
        {
            "type": "code_execution_result",
            "stdout": "4\n",
            "stderr": "",
            "return_code": 0,
            "content": [],
            "abort_reason": None,
        },
        CodeResult("s", True, 0, "code_execution", "code_execution_result"),
    ),
    (
        "code_execution_tool_result",
        {"type": "encrypted_code_execution_result", "return_code": 3},
        CodeResult("s", False, 3, "code_execution", "encrypted_code_execution_result"),
    ),
    (
        "code_execution_tool_result",
        {"type": "code_execution_result", "return_code": 0, "abort_reason": "x"},
        CodeResult("s", True, 0, "code_execution", "code_execution_result", None, "x"),
    ),
    (
        "bash_code_execution_tool_result",
        {"type": "bash_code_execution_result", "stdout": "", "return_code": 0},
        CodeResult("s", True, 0, "bash_code_execution", "bash_code_execution_result"),
    ),
    (
        "bash_code_execution_tool_result",
        {"type": "bash_code_execution_result", "stderr": "boom", "return_code": 127},
        CodeResult(
            "s", False, 127, "bash_code_execution", "bash_code_execution_result"
        ),
    ),
    (
        "bash_code_execution_tool_result",
        {
            "type": "bash_code_execution_tool_result_error",
            "error_code": "output_file_too_large",
        },
        CodeResult(
            "s",
            False,
            None,
            "bash_code_execution",
            "bash_code_execution_tool_result_error",
            "output_file_too_large",
        ),
    ),
    (
        "text_editor_code_execution_tool_result",
        {
            "type": "text_editor_code_execution_view_result",
            "file_type": "text",
            "content": "line\n",
            "num_lines": 1,
        },
        CodeResult(
            "s",
            True,
            None,
            "text_editor_code_execution",
            "text_editor_code_execution_view_result",
        ),
    ),
    (
        "text_editor_code_execution_tool_result",
        {"type": "text_editor_code_execution_create_result", "is_file_update": False},
        CodeResult(
            "s",
            True,
            None,
            "text_editor_code_execution",
            "text_editor_code_execution_create_result",
        ),
    ),
    (
        "text_editor_code_execution_tool_result",
        {"type": "text_editor_code_execution_str_replace_result", "lines": ["a"]},
        CodeResult(
            "s",
            True,
            None,
            "text_editor_code_execution",
            "text_editor_code_execution_str_replace_result",
        ),
    ),
    (
        "text_editor_code_execution_tool_result",
        {
            "type": "text_editor_code_execution_tool_result_error",
            "error_code": "file_not_found",
        },
        CodeResult(
            "s",
            False,
            None,
            "text_editor_code_execution",
            "text_editor_code_execution_tool_result_error",
            "file_not_found",
        ),
    ),
    (
        "bash_code_execution_tool_result",
        None,
        CodeResult("s", False, None, "bash_code_execution"),
    ),
    (
        "text_editor_code_execution_tool_result",
        "not an object",
        CodeResult("s", False, None, "text_editor_code_execution"),
    ),
    (
        "bash_code_execution_tool_result",
        {"return_code": 0},
        CodeResult("s", False, 0, "bash_code_execution"),
    ),
]


@pytest.mark.parametrize(("kind", "content", "expected"), RESULTS)
def test_every_code_execution_variant_is_a_code_result(
    kind: str, content: Any, expected: CodeResult
) -> None:
    """Variant, outcome (type ending in _error, non-zero return code) and details."""
    block = {"type": kind, "tool_use_id": "s", "content": content}
    reply = all_paths(body_of(content=[block]))
    assert reply.code_results == (expected,)
    assert reply.server_results == ()
    start = ev(
        "message_start",
        {"type": "message_start", "message": {"id": "m", "content": [], "usage": {}}},
    )
    stop = ev("content_block_stop", {"type": "content_block_stop", "index": 0})
    cb = ev(
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": block},
    )
    streamed, acc = stream_reply(start + cb + stop + MSTOP)
    assert streamed.code_results == (expected,) and acc.anomalies == 0


def test_the_variant_is_the_tool_name_of_the_result() -> None:
    assert code_variant("code_execution_tool_result") == "code_execution"
    assert code_variant("bash_code_execution_tool_result") == "bash_code_execution"
    assert code_variant("web_fetch_tool_result") is None
    assert CodeResult("s", False).outcome == "error"


# --- callers on server tools and their results ---


def test_server_tools_carry_their_caller() -> None:
    """Code made the web_fetch: its use and its result name the code execution."""
    content = [
        {
            "type": "server_tool_use",
            "id": "srvtoolu_code",
            "name": "code_execution",
            "input": {"code": "..."},
            "caller": {"type": "direct"},
        },
        {
            "type": "server_tool_use",
            "id": "srvtoolu_fetch",
            "name": "web_fetch",
            "input": {"url": "https://example.com"},
            "caller": CALLED,
        },
        {
            "type": "web_fetch_tool_result",
            "tool_use_id": "srvtoolu_fetch",
            "content": {"type": "web_fetch_result", "url": "https://example.com"},
            "caller": CALLED,
        },
        {
            "type": "web_search_tool_result",
            "tool_use_id": "srvtoolu_search",
            "content": {"type": "web_search_tool_result_error", "error_code": "x"},
        },
        {"type": "server_tool_use", "id": "srvtoolu_b", "name": "bash_code_execution"},
        {
            "type": "mcp_tool_result",
            "tool_use_id": "mcptoolu_1",
            "is_error": True,
            "content": [{"type": "text", "text": "no"}],
        },
    ]
    reply = all_paths(body_of(content=content))
    assert reply.server_tool_uses == (
        ServerToolUse("srvtoolu_code", "code_execution"),
        ServerToolUse("srvtoolu_fetch", "web_fetch", *CALLED.values()),
        ServerToolUse("srvtoolu_b", "bash_code_execution"),
    )
    assert [u.is_programmatic for u in reply.server_tool_uses] == [False, True, False]
    assert reply.server_tools == ("code_execution", "web_fetch", "bash_code_execution")
    assert reply.server_results == (
        ServerToolResult(
            "srvtoolu_fetch", "web_fetch_tool_result", False, *CALLED.values()
        ),
        ServerToolResult("srvtoolu_search", "web_search_tool_result", True),
        ServerToolResult("mcptoolu_1", "mcp_tool_result", True),
    )
    assert reply.server_results[0].is_programmatic


# --- usage ---


def test_usage_details_are_facts() -> None:
    """Reasoning tokens, the cache-write TTL split and the server tool requests."""
    usage = {
        "input_tokens": 10,
        "output_tokens": 300,
        "cache_creation_input_tokens": 120,
        "cache_read_input_tokens": 7,
        "cache_creation": {
            "ephemeral_5m_input_tokens": 100,
            "ephemeral_1h_input_tokens": 20,
        },
        "output_tokens_details": {"thinking_tokens": 250},
        "server_tool_use": {
            "web_search_requests": 2,
            "web_fetch_requests": 1,
            "code_execution_requests": None,
            "tool_search_requests": 0,
            "note": "x",
        },
        "service_tier": "standard",
        "inference_geo": "global",
        "iterations": [{"type": "compaction", "input_tokens": 9000}],
    }
    reply = all_paths(body_of(usage=usage))
    assert reply.usage == TokenUsage(
        10,
        300,
        120,
        7,
        250,
        100,
        20,
        (("tool_search", 0), ("web_fetch", 1), ("web_search", 2)),
    )
    assert reply.usage.cache_write_by_ttl() == (100, 20, 0)


@pytest.mark.parametrize(
    ("total", "five", "hour", "split"),
    [
        (None, None, None, (0, 0, 0)),
        (50, None, None, (0, 0, 50)),
        (50, 30, None, (30, 0, 20)),
        (50, 40, 40, (40, 10, 0)),  # a split past the total is capped by it
        (None, 5, 5, (0, 0, 0)),
    ],
)
def test_the_ttl_split_always_sums_to_the_cache_writes(
    total: int | None, five: int | None, hour: int | None, split: tuple[int, ...]
) -> None:
    usage = TokenUsage(cache_creation_input_tokens=total)
    usage = TokenUsage(
        cache_creation_input_tokens=total,
        cache_write_5m_tokens=five,
        cache_write_1h_tokens=hour,
    )
    assert usage.cache_write_by_ttl() == split
    assert sum(split) == (total or 0)


@pytest.mark.parametrize(
    "usage",
    [
        None,
        {"input_tokens": None, "output_tokens": None},
        {
            "cache_creation": None,
            "output_tokens_details": None,
            "server_tool_use": None,
        },
        {"output_tokens_details": {"thinking_tokens": None}},
    ],
)
def test_null_usage_is_unknown_never_an_error(usage: Any) -> None:
    """A JSON reply whose usage (or any count) is null reads as unknown counts."""
    reply = all_paths(body_of(usage=usage))
    assert reply.usage.is_empty and reply.usage.reasoning_tokens is None


def start_with(usage: Any, **message: Any) -> bytes:
    return ev(
        "message_start",
        {
            "type": "message_start",
            "message": {"id": "m", "content": [], "usage": usage, **message},
        },
    )


def delta_with(usage: Any) -> bytes:
    return ev(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_details": None},
            "usage": usage,
        },
    )


def test_a_stream_with_null_usage_is_complete() -> None:
    """usage: null in message_start and message_delta: complete, no anomaly."""
    reply, acc = stream_reply(start_with(None) + delta_with(None) + MSTOP)
    assert acc.complete and acc.anomalies == 0
    assert reply.usage.is_empty and reply.stop_reason == "end_turn"


def test_compaction_usage_final_is_the_last_message_delta() -> None:
    """A compaction's message_delta raises input_tokens above message_start's."""
    compaction = {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "compaction", "content": None},
    }
    body = (
        start_with({"input_tokens": 1000, "output_tokens": 1})
        + ev("content_block_start", compaction)
        + ev(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "compaction_delta", "content": "Summary"},
            },
        )
        + ev("content_block_stop", {"type": "content_block_stop", "index": 0})
        + delta_with(
            {
                "input_tokens": 23000,
                "output_tokens": 1000,
                "output_tokens_details": {"thinking_tokens": 400},
                "cache_creation": {"ephemeral_5m_input_tokens": 3},
                "server_tool_use": {"web_fetch_requests": 2},
                "iterations": [
                    {"type": "compaction", "input_tokens": 180000},
                    {"type": "message", "input_tokens": 23000},
                ],
            }
        )
        + MSTOP
    )
    for capture in (False, True):
        acc = StreamAccumulator(capture_content=capture)
        acc.feed(body)
        acc.close()
        assert acc.complete and acc.anomalies == 0
        message = acc.message
        assert message is not None and message.content[0].type == "compaction"
        usage = Reply.from_message(message).usage
        assert (usage.input_tokens, usage.output_tokens) == (23000, 1000)
        assert usage.reasoning_tokens == 400 and usage.cache_write_5m_tokens == 3
        assert usage.server_tool_requests == (("web_fetch", 2),)
    assert accumulate(iter_events(body)).usage.input_tokens == 23000


def test_padded_data_lines_and_a_spaced_ping() -> None:
    """Trailing spaces after the JSON and {"type": "ping"} are ordinary events."""
    body = (
        start_with({"input_tokens": 5, "output_tokens": 1}).replace(
            b"}\n\n", b"}   \n\n"
        )
        + b'event: ping\ndata: {"type": "ping"}\n\n'
        + ev(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ).replace(b"}\n\n", b"}        \n\n")
        + b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":"hi"}}       \n\n'
        + b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0  }\n\n'
        + delta_with({"output_tokens": 9}).replace(b"}\n\n", b"}  \n\n")
        + MSTOP
    )
    for capture in (False, True):
        acc = StreamAccumulator(capture_content=capture)
        acc.feed(body)
        acc.close()
        assert acc.complete and acc.anomalies == 0 and acc.pings == 1
        assert acc.output_chunks == 1
        message = acc.message
        assert message is not None and message.usage.output_tokens == 9
        if capture:
            assert message.text == "hi"


# --- blocks that pass through ---

PASSING = [
    {"type": "compaction", "content": "Summary of the conversation"},
    {"type": "redacted_thinking", "data": "EmwKAhgB"},
    {"type": "thinking", "thinking": "hm", "signature": "sig"},
    {"type": "mcp_tool_use", "id": "mcptoolu_1", "name": "echo", "server_name": "e"},
    {"type": "mcp_tool_result", "tool_use_id": "mcptoolu_1", "is_error": False},
    {"type": "advisor_tool_result", "tool_use_id": "srvtoolu_a", "content": {}},
    {
        "type": "tool_search_tool_result",
        "tool_use_id": "srvtoolu_t",
        "content": {"type": "tool_search_tool_search_result", "tool_references": []},
    },
]


def test_new_blocks_pass_through_unharmed() -> None:
    """Every new block type is kept whole in the message, JSON and streamed."""
    body = body_of(content=PASSING, stop_details=None)
    reply = all_paths(body)
    dumped = reply.message.model_dump(mode="json", exclude_unset=True)["content"]
    assert dumped == PASSING
    assert [r.type for r in reply.server_results] == [
        "mcp_tool_result",
        "advisor_tool_result",
        "tool_search_tool_result",
    ]
    events = [start_with({"input_tokens": 1, "output_tokens": 1})]
    for index, block in enumerate(PASSING):
        events.append(
            ev(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": block},
            )
        )
        events.append(
            ev("content_block_stop", {"type": "content_block_stop", "index": index})
        )
    streamed, acc = stream_reply(b"".join([*events, MSTOP]))
    assert acc.complete and acc.anomalies == 0
    assert (
        streamed.message.model_dump(mode="json", exclude_unset=True)["content"]
        == PASSING
    )
    assert facts(streamed)[5:] == facts(reply)[5:]


def test_error_bodies_give_their_request_id() -> None:
    body = json.dumps(
        {
            "type": "error",
            "error": {"type": "overloaded_error", "message": "Overloaded"},
            "request_id": "req_011CX",
        }
    ).encode()
    error = parse_error(body)
    assert error is not None and error.request_id == "req_011CX"
    assert error.type == "overloaded_error"
    event = ev(
        "error",
        {"type": "error", "error": {"type": "api_error"}, "request_id": "req_2"},
    )
    acc = StreamAccumulator()
    acc.feed(start_with({}) + event)
    acc.close()
    assert acc.error is not None and acc.error.request_id == "req_2"


# --- the real recordings ---


@pytest.mark.parametrize("recording", REAL_JSON, ids=lambda r: r.name)
def test_real_json_bodies_read_the_same_on_every_path(recording: Recording) -> None:
    body = recording.body
    assert_reply_paths_agree(body)
    for edge in EDGES:
        assert_reply_paths_agree(edge(body))
    if recording.status == 200:
        all_paths(body)


@pytest.mark.parametrize("recording", REAL_SSE, ids=lambda r: r.name)
def test_real_streams_have_no_anomaly(recording: Recording) -> None:
    """Every stream is clean (complete, or failed by its error event), however cut."""
    body = recording.body
    for capture in (False, True):
        for size in (len(body), 7, 1):
            acc = StreamAccumulator(capture_content=capture)
            for at in range(0, len(body), size):
                acc.feed(body[at : at + size])
            acc.close()
            assert acc.anomalies == 0
            failed = b"event: error\n" in body  # a stream that ends in an error event
            assert (acc.error is not None) == failed
            assert acc.complete or failed
    if acc.error is None:
        assert accumulate(iter_events(body)) == acc.message


@pytest.mark.parametrize(
    "fields",
    [
        {"usage": {"output_tokens_details": "x"}},
        {"usage": {"output_tokens_details": {"thinking_tokens": "5"}}},
        {"usage": {"cache_creation": {"ephemeral_1h_input_tokens": 2.0}}},
        {"usage": {"server_tool_use": {"web_fetch_requests": True}}},
        {"usage": {"server_tool_use": []}},
        {"content": [{"type": "web_fetch_tool_result", "tool_use_id": 1}]},
        {"content": [{"type": "web_fetch_tool_result", "tool_use_id": None}]},
        {
            "content": [
                {"type": "web_fetch_tool_result", "tool_use_id": "s", "caller": 1}
            ]
        },
        {"content": [{"type": "mcp_tool_result", "tool_use_id": "s", "caller": {}}]},
        {"content": [{"type": "code_execution_tool_result", "tool_use_id": "s"}]},
        {
            "content": [
                {
                    "type": "code_execution_tool_result",
                    "tool_use_id": "s",
                    "content": [],
                }
            ]
        },
        {
            "content": [
                {
                    "type": "code_execution_tool_result",
                    "tool_use_id": "s",
                    "content": {"type": "code_execution_result", "error_code": 4},
                }
            ]
        },
        {"content": [{"type": "bash_code_execution_tool_result", "tool_use_id": "s"}]},
        {"content": [{"type": "server_tool_use", "id": "s", "name": "n", "caller": 1}]},
        {"content": [{"type": "text", "text": "t", "caller": {"type": "code_x"}}]},
        {"content": [{"type": "novel_tool_result", "content": {"type": "x_error"}}]},
    ],
)
def test_odd_new_facts_take_the_model_path_and_agree(fields: dict[str, Any]) -> None:
    """Unusual values in the new facts: the model decides, on every path alike."""
    body = body_of(**fields)
    assert_reply_paths_agree(body)
    try:
        parse_message(body)
    except ValueError:
        return
    all_paths(body)


def test_the_first_error_event_is_the_error() -> None:
    """A second error event changes nothing: the first one failed the exchange."""
    first = ev("error", {"type": "error", "error": {"type": "overloaded_error"}})
    second = ev(
        "error",
        {"type": "error", "error": {"type": "api_error"}, "request_id": "req_2"},
    )
    acc = StreamAccumulator()
    acc.feed(start_with({}) + first + second)
    acc.close()
    assert acc.error is not None
    assert (acc.error.type, acc.error.request_id) == ("overloaded_error", None)


def test_slow_path_refusals_are_wire_errors() -> None:
    """What pydantic's JSON parser refuses (a lone surrogate) takes json.loads; the
    model's refusal then is a WireError."""
    envelope = b'{"type": "error", "error": {"type": "api_error"}, "x": "\\ud800"}'
    with pytest.raises(WireError, match="error envelope"):
        parse_message(envelope)
    with pytest.raises(WireError, match="invalid 'message_start' event"):
        parse_event("message_start", '{"message": 5, "x": "\\ud800"}')
    ping = parse_event("ping", '{"type": "ping", "x": "\\ud800"}')
    assert ping.type == "ping"
