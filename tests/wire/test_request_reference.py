"""The fast request and rate-limit parsers agree with their plain definitions.

``parse_request`` and ``parse_rate_limits`` take shortcuts for speed (cached tool
declarations and beta lists keyed on raw values, ASCII text measured without encoding,
positional dataclass construction, ``int()`` without ``strip()``). The reference
functions below are the straightforward definitions of the same facts; hypothesis checks
that both give equal results on any request body and any header values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from hypothesis import given, settings, strategies as st

from ptc_observe.events import (
    RateLimit,
    RequestFacts,
    RunPosition,
    ToolDeclaration,
    ToolResultSent,
)
from ptc_observe.wire import parse_rate_limits, parse_request, requests as messages
from ptc_observe.wire._json import _loads
from ptc_observe.wire.headers import (
    RATE_LIMIT_HEADERS,
    RATE_LIMIT_RESOURCES,
    rate_limits_from,
)

# --- the plain definitions ---


def _ref_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _ref_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _ref_float(value: Any) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    return float(value) if ok else None


def _ref_strings(value: Any) -> tuple[str, ...]:
    return (
        tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()
    )


def _ref_tool(value: Any) -> ToolDeclaration | None:
    if not isinstance(value, dict):
        return None
    kind = _ref_str(value.get("type"))
    return ToolDeclaration(
        name=_ref_str(value.get("name")) or "",
        type=None if kind in (None, "custom") else kind,
        allowed_callers=_ref_strings(value.get("allowed_callers")),
    )


def _ref_utf8(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _ref_size(content: Any) -> int:
    if content is None:
        return 0
    if isinstance(content, str):
        return _ref_utf8(content)
    items = content if isinstance(content, list) else [content]
    size = 0
    for item in items:
        if (
            isinstance(content, list)
            and isinstance(item, dict)
            and item.get("type") == "text"
            and isinstance(item.get("text"), str)
        ):
            size += _ref_utf8(item["text"])
        else:
            size += _ref_utf8(
                json.dumps(item, ensure_ascii=False, separators=(",", ":"))
            )
    return size


def _ref_assistant(message: Any) -> bool:
    return isinstance(message, dict) and message.get("role") == "assistant"


def _ref_blocks(message: Any) -> list[Any]:
    content = message.get("content") if isinstance(message, dict) else None
    return content if isinstance(content, list) else []


def _ref_own_turn(message: Any) -> bool:
    """A user's own message: any message but the assistant's that is not only results."""
    blocks = _ref_blocks(message)
    only_results = bool(blocks) and all(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in blocks
    )
    return not _ref_assistant(message) and not only_results


def _ref_uses(message: Any) -> list[dict[str, Any]]:
    return [
        b
        for b in _ref_blocks(message)
        if isinstance(b, dict) and b.get("type") == "tool_use"
    ]


def _ref_call(block: dict[str, Any]) -> tuple[str, str, str | None]:
    name = block.get("name")
    name = name if isinstance(name, str) else ""
    caller = block.get("caller")
    if (
        isinstance(caller, dict)
        and isinstance(caller.get("type"), str)
        and caller["type"] != "direct"
        and isinstance(caller.get("tool_id"), str)
        and caller["tool_id"] != ""
    ):
        return name, caller["type"], caller["tool_id"]
    return name, "direct", None


def _ref_position(messages_: Any) -> RunPosition:
    """The run: the messages after the last user's own message."""
    if not isinstance(messages_, list) or not messages_:
        return RunPosition()
    start = 0
    for i, message in enumerate(messages_):
        if _ref_own_turn(message):
            start = i + 1
    run = messages_[start:]
    uses = [_ref_call(b) for m in run if _ref_assistant(m) for b in _ref_uses(m)]
    return RunPosition(
        messages=len(messages_),
        exchanges_before=sum(1 for m in run if _ref_assistant(m)),
        round_trips=sum(1 for m in run if not _ref_assistant(m)),
        programmatic_calls=sum(1 for u in uses if u[2] is not None),
        direct_calls=sum(1 for u in uses if u[2] is None),
    )


def _ref_calls(messages_: list[Any]) -> dict[str, tuple[str, str, str | None]]:
    """The tool_use calls of the assistant messages right before the last message."""
    asking: list[Any] = []
    i = len(messages_) - 2
    while i >= 0 and _ref_assistant(messages_[i]):
        asking.insert(0, messages_[i])
        i -= 1
    return {
        b["id"]: _ref_call(b)
        for m in asking
        for b in _ref_uses(m)
        if isinstance(b.get("id"), str)
    }


def _ref_results(messages_: Any) -> tuple[ToolResultSent, ...]:
    if not isinstance(messages_, list) or not messages_:
        return ()
    last = messages_[-1]
    content = last.get("content") if isinstance(last, dict) else None
    if not isinstance(content, list):
        return ()
    calls = _ref_calls(messages_)
    results = []
    for block in content:
        if not isinstance(block, dict) or block.get("type") != "tool_result":
            continue
        use_id = _ref_str(block.get("tool_use_id")) or ""
        name, caller_type, tool_id = calls.get(use_id, (None, None, None))
        results.append(
            ToolResultSent(
                tool_use_id=use_id,
                size_bytes=_ref_size(block.get("content")),
                is_error=block.get("is_error") is True,
                tool_name=name,
                caller_type=caller_type,
                caller_tool_id=tool_id,
            )
        )
    return tuple(results)


def reference_request(
    obj: dict[str, Any], body: bytes, headers: Mapping[str, str]
) -> RequestFacts:
    """The facts of a parsed request body, by definition."""
    tools = obj.get("tools")
    container = obj.get("container")
    if isinstance(container, dict):
        container = container.get("id")
    betas = headers.get("anthropic-beta") or ""
    retry = headers.get("x-stainless-retry-count")
    try:
        retry_count = max(0, int(retry)) if retry is not None else 0
    except ValueError:
        retry_count = 0
    return RequestFacts(
        method="POST",
        path="/v1/messages",
        server_address="api.anthropic.com",
        server_port=443,
        model=_ref_str(obj.get("model")),
        stream=obj.get("stream") is True,
        max_tokens=_ref_int(obj.get("max_tokens")),
        temperature=_ref_float(obj.get("temperature")),
        top_p=_ref_float(obj.get("top_p")),
        top_k=_ref_int(obj.get("top_k")),
        stop_sequences=_ref_strings(obj.get("stop_sequences")),
        tools=tuple(
            t for t in map(_ref_tool, tools if isinstance(tools, list) else ()) if t
        ),
        container_id=_ref_str(container),
        tool_results=_ref_results(obj.get("messages")),
        betas=tuple(b.strip() for b in betas.split(",") if b.strip()),
        retry_count=retry_count,
        stream_helper=headers.get("x-stainless-helper-method"),
        body_bytes=len(body),
        content=obj,
        run=_ref_position(obj.get("messages")),
    )


def _ref_header_int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def reference_rate_limits(headers: Mapping[str, str]) -> tuple[RateLimit, ...]:
    """The rate-limit triplets of a response, by definition."""
    found = []
    for resource, prefix in RATE_LIMIT_RESOURCES.items():
        limit = headers.get(f"{prefix}-limit")
        remaining = headers.get(f"{prefix}-remaining")
        reset = headers.get(f"{prefix}-reset")
        if limit is None and remaining is None and reset is None:
            continue
        found.append(
            RateLimit(
                resource=resource,
                limit=_ref_header_int(limit),
                remaining=_ref_header_int(remaining),
                reset=reset.strip() if reset is not None else None,
            )
        )
    return tuple(found)


# --- strategies ---

# Text with non-ASCII, control characters and lone surrogates (JSON "\ud800" escapes).
_text = st.text(st.characters(blacklist_categories=()), max_size=12)
_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=False),
    st.sampled_from(["", "custom", "text", "tool_result", "code_execution_20260120"]),
    _text,
)
_json = st.recursive(
    _scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(["type", "text", "id", "x"]), inner, max_size=3
        ),
    ),
    max_leaves=8,
)
_tool = st.one_of(
    _json,
    st.fixed_dictionaries(
        {},
        optional={
            "name": st.one_of(st.sampled_from(["q", "code_execution"]), _scalar),
            "type": st.one_of(
                st.sampled_from(["custom", "code_execution_20260120"]), _json
            ),
            "allowed_callers": st.one_of(
                st.lists(
                    st.one_of(
                        st.sampled_from(["direct", "code_execution_20260120"]), _json
                    ),
                    max_size=3,
                ),
                _json,
            ),
        },
    ),
)
_text_block = st.fixed_dictionaries(
    {"text": st.one_of(_text, _text, _json)},
    optional={
        "type": st.sampled_from(["text", "text", "image"]),
    },
)
_result = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["tool_result", "tool_result", "text"]),
        "content": st.one_of(
            _text,
            st.lists(st.one_of(_text_block, _text_block, _json), max_size=3),
            st.lists(_text_block, min_size=1, max_size=3),
            _json,
            st.none(),
        ),
    },
    optional={
        "tool_use_id": st.one_of(st.sampled_from(["toolu_1", "toolu_2"]), _scalar),
        "is_error": st.one_of(st.booleans(), _scalar),
    },
)
# The calls the results answer: tool_use blocks with every kind of caller.
_caller = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "type": st.one_of(
                st.sampled_from(["direct", "code_execution_20260120"]), _scalar
            ),
            "tool_id": st.one_of(st.sampled_from(["srvtoolu_1", ""]), _scalar),
        },
    ),
    _json,
)
_use = st.fixed_dictionaries(
    {"type": st.sampled_from(["tool_use", "tool_use", "server_tool_use", "text"])},
    optional={
        "id": st.one_of(st.sampled_from(["toolu_1", "toolu_2"]), _scalar),
        "name": st.one_of(st.sampled_from(["q", "r"]), _scalar),
        "caller": _caller,
        "input": _json,
    },
)
_assistant = st.fixed_dictionaries(
    {"role": st.just("assistant")},
    optional={
        "content": st.one_of(
            st.lists(st.one_of(_use, _use, _json), max_size=3), _text, _json
        )
    },
)
_message = st.one_of(
    _json,
    _assistant,
    _assistant,
    st.fixed_dictionaries(
        {"role": st.just("user")},
        optional={
            "content": st.one_of(
                _text, st.lists(st.one_of(_result, _json), max_size=4), _json
            )
        },
    ),
)
# Mostly what matters: a history, then a user message of tool results.
_conversation = st.tuples(
    st.lists(_message, max_size=5),
    st.lists(st.one_of(_result, _result, _json), max_size=4),
).map(lambda parts: [*parts[0], {"role": "user", "content": parts[1]}])
_request = st.fixed_dictionaries(
    {
        "messages": st.one_of(
            _conversation, _conversation, st.lists(_message, max_size=3), _json
        )
    },
    optional={
        "model": _scalar,
        "stream": _scalar,
        "max_tokens": _scalar,
        "temperature": _scalar,
        "top_p": _scalar,
        "top_k": _scalar,
        "stop_sequences": st.one_of(st.lists(_scalar, max_size=3), _scalar),
        "tools": st.one_of(st.lists(_tool, max_size=4), _json),
        "container": st.one_of(
            _scalar, st.fixed_dictionaries({}, optional={"id": _scalar})
        ),
    },
)
_header_value = st.one_of(
    st.sampled_from(
        ["0", "2", "-1", " 7 ", "\xa012\x85", "1_000", "x", "", "a, b,,c ", "١٢"]
    ),
    st.text(st.characters(max_codepoint=255), max_size=8),
)
_request_headers = st.fixed_dictionaries(
    {},
    optional={
        "anthropic-beta": _header_value,
        "x-stainless-retry-count": _header_value,
        "x-stainless-helper-method": _header_value,
    },
)


@settings(max_examples=400, deadline=None)
@given(obj=_request, headers=_request_headers)
def test_parse_request_agrees_with_the_definition(
    obj: dict[str, Any], headers: dict[str, str]
) -> None:
    """Any request body and headers: the fast parser gives the defined facts."""
    body = json.dumps(obj).encode("utf-8", "surrogatepass")
    facts = parse_request(
        body,
        method="POST",
        path="/v1/messages",
        server_address="api.anthropic.com",
        server_port=443,
        headers=headers,
        capture_content=True,
    )
    # Parsed again: a lone surrogate makes the parser fall back to json.loads, and
    # the reference must see what the parser saw.
    parsed = _loads(body)
    assert facts == reference_request(parsed, body, headers)
    # Same request again: now served from the declaration and beta caches.
    again = parse_request(
        body,
        method="POST",
        path="/v1/messages",
        server_address="api.anthropic.com",
        server_port=443,
        headers=headers,
        capture_content=True,
    )
    assert again == facts


_rate_header_names = [
    f"{prefix}-{part}"
    for prefix in RATE_LIMIT_RESOURCES.values()
    for part in ("limit", "remaining", "reset")
]


@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(
        st.one_of(
            st.sampled_from(_rate_header_names),
            st.sampled_from(["request-id", "retry-after"]),
        ),
        _header_value,
    )
)
def test_parse_rate_limits_agrees_with_the_definition(headers: dict[str, str]) -> None:
    """Any header values, whitespace and odd digits included: the defined triplets."""
    assert parse_rate_limits(headers) == reference_rate_limits(headers)


@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(_rate_header_names),
        st.one_of(_header_value, st.sampled_from(["\x1c5", "5\x1f", " 5\xa0"])),
    )
)
def test_rate_limits_from_raw_bytes_read_as_latin_1_text(
    headers: dict[str, str],
) -> None:
    """The transport's way (the raw bytes of each value, latin-1 as sent) gives the
    defined triplets of the text, the first time and from the cache."""
    latin = {k: v for k, v in headers.items() if max(v, default="a") <= "\xff"}
    raw = tuple(
        None if latin.get(name) is None else latin[name].encode("latin-1")
        for name in RATE_LIMIT_HEADERS
    )
    expected = reference_rate_limits(latin)
    assert rate_limits_from(raw) == expected
    assert rate_limits_from(raw) == expected


def test_request_facts_field_order_is_the_one_parse_request_passes() -> None:
    """parse_request builds RequestFacts positionally: a reordered field must fail here."""
    assert [f.name for f in fields(RequestFacts)] == [
        "method",
        "path",
        "server_address",
        "server_port",
        "model",
        "stream",
        "max_tokens",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "tools",
        "container_id",
        "tool_results",
        "betas",
        "retry_count",
        "stream_helper",
        "body_bytes",
        "content",
        "run",
        "output_type",
        "reasoning_level",
        "url",
    ]
    assert [f.name for f in fields(RateLimit)] == [
        "resource",
        "limit",
        "remaining",
        "reset",
    ]
    assert [f.name for f in fields(ToolResultSent)] == [
        "tool_use_id",
        "size_bytes",
        "is_error",
        "tool_name",
        "caller_type",
        "caller_tool_id",
    ]
    assert [f.name for f in fields(RunPosition)] == [
        "messages",
        "exchanges_before",
        "round_trips",
        "programmatic_calls",
        "direct_calls",
    ]
    assert [f.name for f in fields(ToolDeclaration)] == [
        "name",
        "type",
        "allowed_callers",
        "description",
    ]


def test_numerically_equal_raw_values_share_one_declaration_correctly() -> None:
    """1, 1.0 and True are equal dict keys; each still gives the declaration it defines."""
    for raw in (1, 1.0, True, None, "q"):
        tool = {"name": raw, "type": raw, "allowed_callers": [raw, "direct"]}
        expected = _ref_tool(tool)
        assert messages._tool(tool) == expected
        assert messages._tool(tool) == expected  # cached


def test_unhashable_allowed_callers_are_read_without_the_cache() -> None:
    """A list or object inside allowed_callers cannot key the cache; strings still count."""
    tool = {"name": "q", "allowed_callers": ["direct", {"a": 1}, [2]]}
    assert messages._tool(tool) == ToolDeclaration("q", None, ("direct",))


def test_caches_stay_bounded() -> None:
    """Many distinct tools and beta lists never grow the caches past their bounds."""
    for i in range(1000):
        messages._tool({"name": f"tool-{i}"})
        messages._betas(f"beta-{i}")
    assert len(messages._TOOLS) <= messages._TOOLS_SIZE
    assert len(messages._BETAS) <= messages._BETAS_SIZE


_any_json = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),  # NaN and the infinities included: json.dumps writes them
        st.text(st.characters(blacklist_categories=())),
        st.sampled_from(
            ['"', "\\", "\x00\x1f\x7f", "\b\f\n\r\t", "\u2028é€😀", "\ud800"]
        ),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=4), inner, max_size=4),
    ),
    max_leaves=12,
)


@settings(max_examples=500, deadline=None)
@given(_any_json)
def test_counted_json_size_is_the_serialised_size(value: Any) -> None:
    """A non-text result is counted, not serialised: the same size json.dumps gives."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    assert messages._json_len(value) == len(text.encode("utf-8", "surrogatepass"))


def test_counting_too_deep_falls_back_to_json_dumps(monkeypatch: Any) -> None:
    """When counting runs out of stack, json.dumps decides (it may manage, or raise)."""

    def too_deep(value: Any) -> int:
        raise RecursionError

    monkeypatch.setattr(messages, "_counted_json_len", too_deep)
    assert messages._json_len({"a": [1, "é"]}) == len('{"a":[1,"é"]}'.encode())
