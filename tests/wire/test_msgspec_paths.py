"""The msgspec fast paths of parse_request and parse_reply equal their reference paths.

``parse_request`` and ``parse_reply`` first try msgspec, which skips what carries no
fact (the resent history, text, tool inputs), and fall back to the reference path (the
whole body parsed by ``pydantic_core.from_json``, kept as ``_parse_request_reference``
and ``_parse_reply_reference``) on any error or doubt. Every outcome must be the same:
equal facts, an equal message, or the same exception type. Hypothesis drives both with
shaped and arbitrary JSON and with the inputs where the parsers differ (duplicate keys,
huge integers, NaN, lone surrogates, bad UTF-8, BOM, trailing data, deep nesting).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st
from pydantic import ValidationError

from ptc_observe.events import Reply
from ptc_observe.wire import replies as wire_replies, requests as wire_requests
from ptc_observe.wire.messages import WireError, parse_reply, parse_request

from .test_fuzz import JSON, SHAPED
from .test_reply import MESSAGES, facts
from .test_request_reference import _request, _request_headers

DATA = Path(__file__).parent.parent / "data" / "anthropic"
WHERE: dict[str, Any] = {
    "method": "POST",
    "path": "/v1/messages",
    "server_address": "api.anthropic.com",
    "server_port": 443,
}
HOLE = "@@HOLE@@"


def request_outcome(
    parse: Any, body: bytes, headers: dict[str, str] | None = None
) -> str:
    """The facts (repr: NaN equals itself there) or the exception type of a parse."""
    try:
        return repr(parse(body, headers=headers or {}, **WHERE))
    except Exception as exc:  # the type is the outcome compared
        return type(exc).__name__


def reply_outcome(parse: Any, body: bytes) -> tuple[str, ...]:
    """The facts and the message (or the exception types) of a reply parse."""
    try:
        reply: Reply = parse(body)
    except Exception as exc:
        return (type(exc).__name__,)
    read = repr(facts(reply))
    try:
        message = repr(reply.message)
    except ValidationError:
        message = "ValidationError"
    return read, message


def assert_request_paths_agree(
    body: bytes, headers: dict[str, str] | None = None
) -> None:
    assert request_outcome(parse_request, body, headers) == request_outcome(
        wire_requests._parse_request_reference, body, headers
    )


def assert_reply_paths_agree(body: bytes) -> None:
    assert reply_outcome(parse_reply, body) == reply_outcome(
        wire_replies._parse_reply_reference, body
    )


# Byte strings spliced into a body where the two parsers could read differently.
SPLICES = [
    b"NaN",
    b"-Infinity",
    b"1e400",
    b"-0",
    b"0.30000000000000004441",
    b"123456789012345678901234567890",
    b"-9223372036854775809",
    b"18446744073709551616",
    b"9" * 3999,
    b"9" * 4301,
    b"9" * 5000,
    b"9" * 5000 + b".5",
    b"0." + b"1" * 5000,
    b'"\\ud800"',
    b'"\\udfff\\ud800"',
    b'"\\ud83d\\ude00"',
    b'"\xff"',
    b'"\xed\xa0\x80"',
    b'"\xc0\xaf"',
    b'"\x01"',
    b'"\\x"',
    b'"a\\/b"',
    b"[" * 198 + b"0" + b"]" * 198,
    b"[" * 199 + b"0" + b"]" * 199,
    b"[" * 200 + b'{"a":0}' + b"]" * 200,
    b"[" * 199 + b"]" * 199,
    b"[" * 200 + b"]" * 200,
    b"[" * 201 + b"]" * 201,
    b'{"a":' * 200 + b"0" + b"}" * 200,
    b"[" * 1200 + b"]" * 1200,
    b"[" * 50_000 + b"]" * 50_000,
    b'"v","model":"dup"',
    b'"v","model":7',
    b'"v","messages":[]',
    b'"v","tools":null',
    b'"v","content":[{"type":"tool_result","tool_use_id":"dup","content":"x"}]',
    b'"v","id":"msg_dup"',
    b'"v","usage":{"input_tokens":5,"input_tokens":6}',
    b' \t\r\n"v" ',
    b"[1,]",
    b"01",
    b"tru",
]
EDGES = [
    lambda b: b"\xef\xbb\xbf" + b,
    lambda b: b + b" \n\t\r ",
    lambda b: b + b"x",
    lambda b: b + b"\x00",
    lambda b: b" \n" + b,
    lambda b: b[:-1],
    lambda b: b + b"{}",
    lambda b: b.replace(b":", b" : "),
    lambda b: b,
]


def spliced(obj: Any, splice: bytes) -> bytes:
    """The JSON of ``obj`` with its holes replaced by ``splice``."""
    body = json.dumps(obj).encode("utf-8", "surrogatepass")
    return body.replace(json.dumps(HOLE).encode(), splice)


# A request with holes where the history, the last message, a tool input, a known field
# and an unknown field sit.
_hole_block = st.fixed_dictionaries(
    {"type": st.sampled_from(["tool_result", "text", "tool_use", HOLE])},
    optional={
        "tool_use_id": st.sampled_from(["toolu_1", HOLE]),
        "id": st.sampled_from(["toolu_1", HOLE]),
        "name": st.sampled_from(["q", HOLE]),
        "caller": st.sampled_from(
            [
                {"type": "direct"},
                {"type": "code_execution_20260120", "tool_id": "srvtoolu_1"},
                {"type": "code_execution_20260120", "tool_id": HOLE},
                {"type": HOLE, "tool_id": "srvtoolu_1"},
                HOLE,
            ]
        ),
        "content": st.sampled_from(["out", HOLE, [{"type": "text", "text": HOLE}]]),
        "input": st.sampled_from([{}, {"deep": HOLE}, HOLE]),
        "is_error": st.sampled_from([True, HOLE]),
    },
)
_hole_message = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", HOLE])},
    optional={"content": st.one_of(st.just(HOLE), st.lists(_hole_block, max_size=3))},
)
_hole_request = st.fixed_dictionaries(
    {"messages": st.lists(_hole_message, max_size=6)},
    optional={
        "model": st.sampled_from(["claude-sonnet-4-5", HOLE]),
        "max_tokens": st.sampled_from([1024, HOLE]),
        "temperature": st.sampled_from([0.5, 1, HOLE]),
        "stop_sequences": st.sampled_from([["x"], [HOLE], HOLE]),
        "tools": st.lists(
            st.fixed_dictionaries(
                {"name": st.sampled_from(["q", HOLE])},
                optional={
                    "input_schema": st.sampled_from([{"type": "object"}, HOLE]),
                    "allowed_callers": st.sampled_from([["direct"], [HOLE]]),
                },
            ),
            max_size=3,
        ),
        "container": st.sampled_from(["c_1", {"id": HOLE}, HOLE]),
        "system": st.sampled_from(["be brief", HOLE, [{"type": "text", "text": HOLE}]]),
        "metadata": st.just({"x": HOLE}),
    },
)


@settings(max_examples=500, deadline=None)
@given(obj=_request, headers=_request_headers, edge=st.sampled_from(EDGES))
def test_requests_agree_on_shaped_bodies(
    obj: dict[str, Any], headers: dict[str, str], edge: Any
) -> None:
    """Requests of every shape (wrong types included), whole or damaged at an edge."""
    for ensure_ascii in (True, False):
        body = json.dumps(obj, ensure_ascii=ensure_ascii).encode(
            "utf-8", "surrogatepass"
        )
        assert_request_paths_agree(edge(body), headers)


@settings(max_examples=500, deadline=None)
@given(obj=_hole_request, splice=st.sampled_from(SPLICES))
def test_requests_agree_with_odd_values_anywhere(
    obj: dict[str, Any], splice: bytes
) -> None:
    """A hard value in the history, the last message, a tool or a known field."""
    assert_request_paths_agree(spliced(obj, splice))


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(JSON, SHAPED), edge=st.sampled_from(EDGES))
def test_requests_agree_on_arbitrary_json(value: Any, edge: Any) -> None:
    """Any JSON value at all, as the body or as its messages."""
    for obj in (value, {"messages": value}, {"messages": [value]}, {"tools": value}):
        assert_request_paths_agree(
            edge(json.dumps(obj).encode("utf-8", "surrogatepass"))
        )


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=200))
def test_requests_agree_on_random_bytes(body: bytes) -> None:
    """Bytes that are mostly not JSON: the same error (or the same facts)."""
    assert_request_paths_agree(body)
    assert_request_paths_agree(b'{"messages":[' + body + b"]}")


def test_request_duplicate_keys_keep_the_last() -> None:
    """A repeated key reads as its last value on both paths, the fast one included."""
    body = b'{"model":"a","max_tokens":1,"model":"b","messages":[],"messages":[{"content":[{"type":"tool_result","tool_use_id":"t","content":"xy"}]}]}'
    assert wire_requests._fast_request(body) is not None
    facts = parse_request(body, headers={}, **WHERE)
    assert facts.model == "b" and facts.tool_results[0].size_bytes == 2
    assert_request_paths_agree(body)


@pytest.mark.parametrize("depth", [196, 197, 198, 199, 200, 201, 202, 1000, 50_000])
@pytest.mark.parametrize("where", ["history", "last", "tool", "unknown"])
def test_request_nesting_limit_is_the_reference_one(depth: int, where: str) -> None:
    """Past from_json's 201 levels a body is a WireError, wherever the nesting sits."""
    deep = "[" * depth + "]" * depth
    history = [{"role": "user", "content": "x " * 10_000}] * 2  # past _SMALL
    for messages in ([], history):
        obj: dict[str, Any] = {"model": "m", "messages": [*messages, {"content": []}]}
        if where == "history":
            obj["messages"].insert(0, {"role": "user", "content": HOLE})
        elif where == "last":
            obj["messages"][-1]["content"] = [{"type": "tool_result", "content": HOLE}]
        elif where == "tool":
            obj["tools"] = [{"name": "q", "input_schema": HOLE}]
        else:
            obj["thinking"] = {"x": HOLE}
        body = spliced(obj, deep.encode())
        assert_request_paths_agree(body)
        # levels above the nested arrays: body, messages, message (content, block)
        above = {"history": 3, "last": 5, "tool": 3, "unknown": 2}[where]
        outcome = request_outcome(parse_request, body)
        # from_json reads 201 levels of arrays around nothing
        assert (outcome == "WireError") == (above + depth > 201)


def test_request_fast_path_reads_real_bodies() -> None:
    """The fixtures' requests and a long conversation take the msgspec path."""
    bodies = [p.read_bytes() for p in sorted(DATA.glob("*request*.json"))]
    turn = [
        {"role": "assistant", "content": [{"type": "text", "text": "t " * 300}]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t", "content": "9" * 300}
            ],
        },
    ]
    bodies.append(json.dumps({"model": "m", "messages": turn * 200}).encode())
    for body in bodies:
        assert wire_requests._fast_request(body) is not None
        assert_request_paths_agree(body)


# --- replies ---


def reply_bodies() -> list[bytes]:
    return [
        p.read_bytes() for p in sorted(DATA.glob("*.json")) if "request" not in p.name
    ]


@pytest.mark.parametrize("body", reply_bodies())
def test_reply_fixtures_agree(body: bytes) -> None:
    """Every JSON fixture (messages and error envelopes) reads the same on both paths."""
    assert_reply_paths_agree(body)
    for edge in EDGES:
        assert_reply_paths_agree(edge(body))


def test_reply_fast_path_reads_real_messages() -> None:
    """The PTC fixtures take the msgspec path, and the message comes from the bytes."""
    body = (DATA / "02_ptc_turn1_response.json").read_bytes()
    reply = wire_replies._fast_reply(body)
    assert reply is not None and reply._source is body
    assert reply.message == wire_replies._parse_reply_reference(body).message


@settings(max_examples=500, deadline=None)
@given(message=MESSAGES, edge=st.sampled_from(EDGES))
def test_replies_agree_on_shaped_bodies(message: dict[str, Any], edge: Any) -> None:
    """Messages with facts of every type, valid or not, whole or damaged at an edge."""
    assert_reply_paths_agree(edge(json.dumps(message).encode()))


def _with_holes(message: dict[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    return {
        **message,
        "extra": HOLE,
        "content": [
            *(content if isinstance(content, list) else []),
            {"type": "text", "text": HOLE},
            {"type": "tool_use", "id": "t", "name": "n", "input": {"a": HOLE}},
        ],
    }


_hole_reply = MESSAGES.map(_with_holes)


@settings(max_examples=500, deadline=None)
@given(message=_hole_reply, splice=st.sampled_from(SPLICES))
def test_replies_agree_with_odd_values_anywhere(
    message: dict[str, Any], splice: bytes
) -> None:
    """A hard value in the text, a tool input, or an unknown field."""
    assert_reply_paths_agree(spliced(message, splice))


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(JSON, SHAPED), edge=st.sampled_from(EDGES))
def test_replies_agree_on_arbitrary_json(value: Any, edge: Any) -> None:
    """Any JSON value, as the body or as its content."""
    for obj in (value, {"content": value}, {"content": [value]}, {"usage": value}):
        assert_reply_paths_agree(edge(json.dumps(obj).encode("utf-8", "surrogatepass")))


@pytest.mark.parametrize("depth", [199, 200, 201, 202, 1000, 50_000])
def test_reply_nesting_limit_is_the_reference_one(depth: int) -> None:
    """A tool input nested past from_json's limit is a WireError on both paths."""
    message = json.loads((DATA / "02_ptc_turn1_response.json").read_bytes())
    message["content"].append(
        {"type": "tool_use", "id": "t", "name": "n", "input": HOLE}
    )
    body = spliced(message, ("[" * depth + "]" * depth).encode())
    assert_reply_paths_agree(body)
    # body -> content -> block -> input: three levels above the nested arrays
    assert (reply_outcome(parse_reply, body) == ("WireError",)) == (depth + 3 > 201)


def test_no_reply_value_is_kept_in_a_process_wide_cache() -> None:
    """msgspec caches short object keys only: a value read twice is two objects."""
    body = json.dumps(
        {"id": "msg_" + "x" * 8, "model": "m", "content": [], "stop_reason": "end_turn"}
    ).encode()
    first = parse_reply(body)
    second = parse_reply(body)
    assert first.id == second.id and first.id is not second.id


@pytest.mark.parametrize("field", ["temperature", "top_p"])
def test_a_number_past_the_float_range_is_a_wire_error(field: str) -> None:
    """float() of a 400-digit integer overflows: a WireError on both paths."""
    body = b'{"messages":[],"%s":%s}' % (field.encode(), b"9" * 400)
    for parse in (parse_request, wire_requests._parse_request_reference):
        with pytest.raises(WireError):
            parse(body, headers={}, **WHERE)


def test_a_tools_array_is_read_once_and_its_cache_bounded() -> None:
    """The declarations of one tools array are one tuple, read again from the cache; the
    cache never passes its bounds, and a long array is read but not kept."""
    tools = [
        {"type": "code_execution_20260120", "name": "code_execution"},
        {
            "name": "q",
            "allowed_callers": ["code_execution_20260120"],
            "input_schema": {},
        },
    ]
    body = json.dumps({"model": "m", "messages": [], "tools": tools}).encode()
    first = parse_request(body, headers={}, **WHERE)
    assert first.tools is parse_request(body, headers={}, **WHERE).tools
    assert_request_paths_agree(body)
    for n in range(wire_requests._TOOL_SETS_SIZE + 5):
        many = json.dumps({"tools": [{"name": f"t{n}"}]}).encode()
        assert parse_request(many, headers={}, **WHERE).tools[0].name == f"t{n}"
        assert len(wire_requests._TOOL_SETS) <= wire_requests._TOOL_SETS_SIZE
    wire_requests._TOOL_SETS.clear()
    schema = {"description": "d" * wire_requests._TOOL_SET_BYTES}
    long = json.dumps({"tools": [{"name": "big", "input_schema": schema}]}).encode()
    assert parse_request(long, headers={}, **WHERE).tools[0].name == "big"
    assert not wire_requests._TOOL_SETS
    # The same text with other values around it, or null: read by the same rules.
    for value in (None, [], [{"name": 1, "type": "custom"}], {"name": "x"}, [3]):
        assert_request_paths_agree(json.dumps({"tools": value}).encode())


def test_server_tool_counts_are_read_once_per_text_and_bounded() -> None:
    """usage.server_tool_use: one decode per distinct text, bounded; an odd count is
    never cached and lets the model decide, as on the reference path."""
    message = json.loads((DATA / "02_ptc_turn1_response.json").read_bytes())
    for n in range(wire_replies._REQUESTS_MAX + 5):
        message["usage"]["server_tool_use"] = {"web_search_requests": n}
        body = json.dumps(message).encode()
        reply = parse_reply(body)
        assert reply.usage.server_tool_requests == (("web_search", n),)
        assert len(wire_replies._REQUESTS) <= wire_replies._REQUESTS_MAX
    for odd in ({"web_fetch_requests": "2"}, [1], 5, {"x": "y" * 2000}):
        message["usage"]["server_tool_use"] = odd
        assert_reply_paths_agree(json.dumps(message).encode())
    assert all(len(key) <= wire_replies._REQUESTS_KEY for key in wire_replies._REQUESTS)


def test_a_large_tool_set_keeps_the_fast_path() -> None:
    """A tools array's brackets never count toward the body's bound (its nesting is read
    exactly, once): 40 schemas of ~10 brackets each still read on the msgspec path."""
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "array", "items": {"type": "integer"}},
            "b": {"type": "object", "properties": {"c": {"enum": ["x", "y"]}}},
        },
        "required": ["a"],
    }
    tools = [{"name": f"t{i}", "input_schema": schema} for i in range(40)]
    message = {"role": "user", "content": [{"type": "text", "text": "hi"}]}
    for messages in ([message], [message] * 300):  # short, and read part by part
        body = json.dumps({"model": "m", "messages": messages, "tools": tools}).encode()
        assert body.count(b"[") + body.count(b"{") > 200
        assert wire_requests._fast_request(body) is not None
        assert_request_paths_agree(body)
        assert len(parse_request(body, headers={}, **WHERE).tools) == 40


@pytest.mark.parametrize("depth", [1, 2, 199, 200, 201])
def test_a_tool_sets_nesting_is_exact(depth: int) -> None:
    """The nesting read once per tools array is the exact one, objects and arrays alike."""
    value: Any = "leaf"
    for level in range(depth - 1):
        value = [value, []] if level % 2 else {"k": value, "s": 1}
    tools = json.dumps([value]).encode()
    assert wire_requests._nesting(json.loads(tools)) == depth
    body = b'{"messages":[],"tools":' + tools + b"}"
    assert_request_paths_agree(body)
    # body -> the array's own levels: from_json reads up to 200 around a value
    assert (request_outcome(parse_request, body) == "WireError") == (depth + 1 > 200)
