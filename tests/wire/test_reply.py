"""parse_reply: the facts of a JSON response without building the model, and the model on demand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st
from pydantic import ValidationError

from ptc_observe.events import CodeResult, Reply, ToolUse
from ptc_observe.models import Message
from ptc_observe.wire import replies as wire_replies
from ptc_observe.wire.messages import WireError, parse_message, parse_reply

DATA = Path(__file__).parent.parent / "data" / "anthropic"
JSON_FIXTURES = sorted(p.name for p in DATA.glob("*.json") if "request" not in p.name)


def facts(reply: Reply) -> tuple[Any, ...]:
    """Every fact of a reply (not the lazily built message)."""
    return (
        reply.id,
        reply.model,
        reply.stop_reason,
        reply.usage,
        reply.container,
        reply.tool_uses,
        reply.server_tool_uses,
        reply.code_results,
        reply.server_results,
    )


def messages_of_fixtures() -> list[str]:
    names = []
    for name in JSON_FIXTURES:
        body = (DATA / name).read_bytes()
        try:
            parse_message(body)
        except WireError:
            continue
        names.append(name)
    return names


MESSAGE_FIXTURES = messages_of_fixtures()


def test_fixtures_hold_messages() -> None:
    """The fixture set this module leans on has PTC messages in it."""
    assert "02_ptc_turn1_response.json" in MESSAGE_FIXTURES
    assert len(MESSAGE_FIXTURES) >= 5


@pytest.mark.parametrize("name", MESSAGE_FIXTURES)
def test_facts_equal_those_of_the_validated_message(name: str) -> None:
    """Read from the dict or from the model, every fact is the same; so is the model."""
    body = (DATA / name).read_bytes()
    reply = parse_reply(body)
    reference = Reply.from_message(parse_message(body))
    assert facts(reply) == facts(reference)
    assert reply.message == reference.message


def test_ptc_turn_facts() -> None:
    """A PTC turn: the programmatic call with its caller, the code execution's id."""
    reply = parse_reply((DATA / "02_ptc_turn1_response.json").read_bytes())
    assert reply.stop_reason == "tool_use"
    assert reply.container is not None
    assert reply.server_tools == ("code_execution",)
    (use,) = reply.tool_uses
    assert isinstance(use, ToolUse) and use.is_programmatic
    assert use.caller_type.startswith("code_execution_")
    assert use.caller_tool_id is not None and use.caller_tool_id.startswith("srvtoolu_")


def test_the_model_is_built_on_first_access_only() -> None:
    """No pydantic model until asked; then it is kept and the dict is let go."""
    reply = parse_reply((DATA / "02_ptc_turn1_response.json").read_bytes())
    assert reply._message is None and reply._source is not None
    first = reply.message
    assert isinstance(first, Message)
    assert reply.message is first and reply._source is None


def body_of(**fields: Any) -> bytes:
    message: dict[str, Any] = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 3, "output_tokens": 4},
    }
    message.update(fields)
    return json.dumps(message).encode()


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param(
            {"content": [{"type": "tool_use", "id": "t", "name": "n", "input": []}]},
            id="input-not-an-object",
        ),
        pytest.param(
            {
                "content": [
                    {
                        "type": "tool_use",
                        "id": "t",
                        "name": "n",
                        "input": {},
                        "caller": {"type": "code_execution_20260120"},
                    }
                ]
            },
            id="programmatic-caller-without-tool-id",
        ),
        pytest.param({"usage": {"input_tokens": "many"}}, id="usage-not-a-number"),
        pytest.param({"container": {"id": "c"}}, id="container-without-expiry"),
        pytest.param({"model": 5}, id="model-not-a-string"),
        pytest.param({"content": "text"}, id="content-not-a-list"),
    ],
)
def test_bad_facts_are_refused_as_the_model_refuses_them(
    fields: dict[str, Any],
) -> None:
    """A fact in the wrong shape takes the full validation, which refuses it."""
    body = body_of(**fields)
    with pytest.raises(WireError):
        parse_message(body)
    with pytest.raises(WireError, match="invalid message"):
        parse_reply(body)


def test_unusual_but_valid_facts_take_the_model_path() -> None:
    """Lax values the model accepts (a numeric string) give the model's reading."""
    body = body_of(usage={"input_tokens": "7", "output_tokens": 1})
    reply = parse_reply(body)
    assert reply.usage.input_tokens == 7
    assert facts(reply) == facts(Reply.from_message(parse_message(body)))


def test_error_envelopes_and_non_objects() -> None:
    """What is not a message is a WireError, as parse_message says."""
    for body in (b'{"type": "error", "error": {"type": "x"}}', b"[1]", b"{", b""):
        with pytest.raises(WireError):
            parse_reply(body)


def test_an_invalid_part_outside_the_facts_shows_on_access() -> None:
    """Facts readable, a text block broken: the facts stand, the model raises."""
    body = body_of(content=[{"type": "text", "text": ["not", "text"]}])
    reply = parse_reply(body)
    assert reply.stop_reason == "end_turn" and reply.tool_uses == ()
    with pytest.raises(ValidationError):
        _ = reply.message


def test_code_results() -> None:
    """Success, a non-zero exit and an error result, as CodeExecutionResult judges them."""
    blocks = [
        {
            "type": "code_execution_tool_result",
            "tool_use_id": f"srvtoolu_{n}",
            "content": content,
        }
        for n, content in enumerate(
            [
                {"type": "code_execution_result", "return_code": 0, "stdout": "ok"},
                {"type": "code_execution_result", "return_code": 2},
                {"type": "code_execution_tool_result_error", "error_code": "x"},
                None,
            ]
        )
    ]
    body = body_of(content=blocks)
    reply = parse_reply(body)
    assert reply.code_results == (
        CodeResult("srvtoolu_0", True, 0, "code_execution", "code_execution_result"),
        CodeResult("srvtoolu_1", False, 2, "code_execution", "code_execution_result"),
        CodeResult(
            "srvtoolu_2",
            False,
            None,
            "code_execution",
            "code_execution_tool_result_error",
            "x",
        ),
        CodeResult("srvtoolu_3", False, None),
    )
    assert [r.outcome for r in reply.code_results] == ["success", *["error"] * 3]
    assert facts(reply) == facts(Reply.from_message(parse_message(body)))


def test_containers_are_shared_and_the_cache_is_bounded() -> None:
    """One ContainerInfo per (id, expiry) while cached; never more than the bound."""
    container = {"id": "container_a", "expires_at": "2026-11-24T03:00:00Z"}
    first = parse_reply(body_of(container=container)).container
    second = parse_reply(body_of(container=container)).container
    assert first is not None and first is second
    for n in range(wire_replies._CONTAINERS_MAX * 2):
        parse_reply(body_of(container={**container, "id": f"c{n}"}))
        assert len(wire_replies._CONTAINERS) <= wire_replies._CONTAINERS_MAX


CALLERS = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["direct", "code_execution_20260120", 3])},
        optional={"tool_id": st.sampled_from(["srvtoolu_1", "", None, 7])},
    ),
)
BLOCKS = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.just("tool_use"),
            "id": st.sampled_from(["toolu_1", 2]),
            "name": st.sampled_from(["query", None]),
        },
        optional={"input": st.sampled_from([{}, {"a": 1}, [], "x"]), "caller": CALLERS},
    ),
    st.fixed_dictionaries(
        {"type": st.just("server_tool_use"), "id": st.just("srvtoolu_1")},
        optional={"name": st.sampled_from(["code_execution", 1]), "caller": CALLERS},
    ),
    st.fixed_dictionaries(
        {"type": st.just("code_execution_tool_result")},
        optional={
            "tool_use_id": st.sampled_from(["srvtoolu_1", None]),
            "content": st.one_of(
                st.none(),
                st.just("x"),
                st.fixed_dictionaries(
                    {"type": st.sampled_from(["code_execution_result", "x_error"])},
                    optional={"return_code": st.sampled_from([0, 1, None, True, "0"])},
                ),
            ),
        },
    ),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(
                [
                    "bash_code_execution_tool_result",
                    "text_editor_code_execution_tool_result",
                    "web_fetch_tool_result",
                    "web_search_tool_result",
                    "mcp_tool_result",
                ]
            )
        },
        optional={
            "tool_use_id": st.sampled_from(["srvtoolu_2", None, 3]),
            "caller": CALLERS,
            "is_error": st.sampled_from([True, False, None, "yes"]),
            "content": st.one_of(
                st.sampled_from([None, "x", [], [{"type": "text"}]]),
                st.fixed_dictionaries(
                    {},
                    optional={
                        "type": st.sampled_from(
                            [
                                "bash_code_execution_result",
                                "text_editor_code_execution_view_result",
                                "text_editor_code_execution_tool_result_error",
                                "web_fetch_result",
                                "web_search_tool_result_error",
                                7,
                            ]
                        ),
                        "return_code": st.sampled_from([0, 2, None, True, "1", 1.0]),
                        "error_code": st.sampled_from(["unavailable", None, 5]),
                        "abort_reason": st.sampled_from([None, "timeout", {"a": 1}]),
                        "content": st.sampled_from([[], "file text"]),
                    },
                ),
            ),
        },
    ),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(
                ["text", 4, "novel", "compaction", "redacted_thinking", "mcp_tool_use"]
            )
        }
    ),
    st.sampled_from([None, 1, "block"]),
)
COUNTS = st.sampled_from([0, 5, None, "3", 2.0, True])
DETAILS = st.one_of(
    st.none(),
    st.just("x"),
    st.fixed_dictionaries({}, optional={"thinking_tokens": COUNTS}),
)
SPLITS: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.just([]),
    st.fixed_dictionaries(
        {},
        optional={
            "ephemeral_5m_input_tokens": COUNTS,
            "ephemeral_1h_input_tokens": COUNTS,
        },
    ),
)
SERVER_TOOL_USE = st.one_of(
    st.none(),
    st.just(1),
    st.dictionaries(
        st.sampled_from(
            [
                "web_search_requests",
                "web_fetch_requests",
                "code_execution_requests",
                "tool_search_requests",
                "_requests",
                "other",
            ]
        ),
        COUNTS,
        max_size=3,
    ),
)
MESSAGES = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["message", 1, None]),
        "id": st.sampled_from(["msg_1", 1, None]),
        "model": st.sampled_from(["claude", 1, None]),
        "stop_reason": st.sampled_from(["tool_use", 1, None]),
        "content": st.one_of(st.lists(BLOCKS, max_size=4), st.just("x")),
        "usage": st.one_of(
            st.none(),
            st.just("x"),
            st.fixed_dictionaries(
                {},
                optional={
                    "input_tokens": st.sampled_from([1, "2", None, 1.5, "x"]),
                    "output_tokens": st.sampled_from([1, None]),
                    "cache_creation_input_tokens": st.sampled_from([0, 9, None]),
                    "output_tokens_details": DETAILS,
                    "cache_creation": SPLITS,
                    "server_tool_use": SERVER_TOOL_USE,
                    "iterations": st.sampled_from([None, [{"type": "compaction"}]]),
                },
            ),
        ),
        "container": st.sampled_from(
            [
                None,
                "c",
                {"id": "c", "expires_at": "2026-11-24T03:00:00Z"},
                {"id": "c", "expires_at": "soon"},
                {"id": 1, "expires_at": "2026-11-24T03:00:00Z"},
            ]
        ),
    },
)


@given(message=MESSAGES)
@settings(max_examples=400, deadline=None)
def test_agrees_with_the_model(message: dict[str, Any]) -> None:
    """Whatever parse_message accepts, parse_reply reads the same facts and model from.

    What parse_reply refuses, parse_message refuses too; what only parse_message
    refuses is broken outside the facts, and ``Reply.message`` raises for it.
    """
    body = json.dumps(message).encode()
    try:
        reference = parse_message(body)
    except WireError:
        reference = None
    try:
        reply = parse_reply(body)
    except WireError:
        assert reference is None
        return
    if reference is not None:
        assert facts(reply) == facts(Reply.from_message(reference))
        assert reply.message == reference
    else:  # refused by the model for a part that is not a fact: it shows on access
        with pytest.raises(ValidationError):
            _ = reply.message
