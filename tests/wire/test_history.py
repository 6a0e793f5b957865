"""What a request's own history says: the calls its results answer, and its run position.

Built on the real recorded PTC run (``ptc_dice_stream_0*.sse``: code execution calling the
client tool ``rollDie``, each continuation one programmatic call) and the real container
reuse requests, with the requests an application sends to answer them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ptc_observe.events import RUN_START, RequestFacts, RunPosition
from ptc_observe.wire import accumulate, iter_events
from ptc_observe.wire.messages import parse_request
from ptc_observe.wire.requests import _fast_request, _parse_request_reference

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
WHERE: dict[str, Any] = {
    "method": "POST",
    "path": "/v1/messages",
    "server_address": "api.anthropic.com",
    "server_port": 443,
    "headers": {},
}
PROMPT = {"role": "user", "content": "Roll the dice for both players and compare."}


def both(obj: dict[str, Any]) -> RequestFacts:
    """The facts of ``obj`` by the msgspec path, checked equal to the reference path."""
    body = json.dumps(obj).encode()
    assert _fast_request(body) is not None  # the fast path read it
    facts = parse_request(body, **WHERE)
    assert facts == _parse_request_reference(body, **WHERE)
    return facts


def dice_run() -> list[dict[str, Any]]:
    """The assistant messages of the recorded run's four responses, as the app resends them."""
    turns = []
    for n in range(1, 5):
        body = (REAL / f"ptc_dice_stream_0{n}.sse").read_bytes()
        message = accumulate(iter_events(body))
        content = [b.model_dump(exclude_none=True) for b in message.content]
        turns.append({"role": "assistant", "content": content})
    return turns


def answer(assistant: dict[str, Any], text: str = "4") -> dict[str, Any]:
    """The user message answering every tool_use of ``assistant``."""
    return {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": b["id"], "content": text}
            for b in assistant["content"]
            if b["type"] == "tool_use"
        ],
    }


def test_each_request_of_the_real_run_knows_its_calls_and_position() -> None:
    """Request k answers the kth programmatic rollDie call: caller, tool, size, position."""
    turns = dice_run()
    messages: list[dict[str, Any]] = [PROMPT]
    first = both({"model": "claude-sonnet-4-5", "messages": messages})
    assert first.run == RunPosition(messages=1) and first.run.starts_run
    assert first.tool_results == ()
    for k, turn in enumerate(turns, start=1):
        messages = [*messages, turn, answer(turn, "6" * k)]
        facts = both({"model": "claude-sonnet-4-5", "messages": messages})
        (result,) = facts.tool_results
        use = next(b for b in turn["content"] if b["type"] == "tool_use")
        assert (result.tool_use_id, result.tool_name) == (use["id"], "rollDie")
        assert result.caller_type == "code_execution_20250825"
        assert result.caller_tool_id == use["caller"]["tool_id"]
        assert result.is_programmatic and result.caller == "programmatic"
        assert result.size_bytes == k
        assert facts.run == RunPosition(
            messages=1 + 2 * k,
            exchanges_before=k,
            round_trips=k,
            programmatic_calls=k,
            direct_calls=0,
        )
        assert not facts.run.starts_run and facts.run.tool_calls == k


def test_the_users_next_turn_starts_a_new_run() -> None:
    """After the final answer the user's own message resets the position to a start."""
    turns = dice_run()
    messages: list[dict[str, Any]] = [PROMPT]
    for turn in turns:
        messages += [turn, answer(turn)]
    messages += [
        {"role": "assistant", "content": [{"type": "text", "text": "Player 2 wins."}]},
        {"role": "user", "content": [{"type": "text", "text": "Again?"}]},
    ]
    facts = both({"messages": messages})
    assert facts.run == RunPosition(messages=len(messages)) and facts.run.starts_run


def test_real_container_reuse_request_starts_a_run() -> None:
    """The recorded second request (container named, a new user turn): a run start."""
    obj = json.loads((REAL / "codeexec_container_reuse_2.request.json").read_text())
    facts = both(obj)
    assert facts.container_id == "container_011Caqgq9X3d68B2So2LZGmk"
    assert facts.run == RunPosition(messages=3) and facts.tool_results == ()


def test_direct_calls_and_a_result_without_its_call() -> None:
    """Direct callers (absent or ``direct``); a result whose call is not in the request."""
    assistant = {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Looking."},
            {"type": "tool_use", "id": "toolu_a", "name": "lookup", "input": {}},
            {
                "type": "tool_use",
                "id": "toolu_b",
                "name": "price",
                "input": {},
                "caller": {"type": "direct"},
            },
        ],
    }
    results = {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "toolu_a", "content": "abc"},
            {"type": "tool_result", "tool_use_id": "toolu_b", "is_error": True},
            {"type": "tool_result", "tool_use_id": "toolu_zz", "content": "x"},
        ],
    }
    facts = both({"messages": [PROMPT, assistant, results]})
    a, b, unknown = facts.tool_results
    assert (a.tool_name, a.caller_type, a.caller_tool_id, a.caller) == (
        "lookup",
        "direct",
        None,
        "direct",
    )
    assert (b.tool_name, b.is_error, b.caller) == ("price", True, "direct")
    assert (unknown.tool_name, unknown.caller_type, unknown.caller) == (
        None,
        None,
        "direct",
    )
    assert not unknown.is_programmatic
    assert facts.run == RunPosition(3, 1, 1, 0, 2)


def test_results_with_text_are_the_users_turn_but_still_know_their_calls() -> None:
    """Results followed by the user's words: a new run, the calls still resolved."""
    assistant = {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "toolu_a", "name": "q", "input": {}}],
    }
    last = {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "toolu_a", "content": "ok"},
            {"type": "text", "text": "and hurry"},
        ],
    }
    facts = both({"messages": [PROMPT, assistant, last]})
    assert facts.run.starts_run and facts.tool_results[0].tool_name == "q"


def test_a_paused_turn_continued_counts_its_exchanges() -> None:
    """The request ends with the model's paused message: one more exchange, no round trip."""
    turns = dice_run()
    paused = {"role": "assistant", "content": [{"type": "text", "text": "..."}]}
    messages = [PROMPT, turns[0], answer(turns[0]), paused]
    facts = both({"messages": messages})
    assert facts.run == RunPosition(4, 2, 1, 1, 0)
    # The calls answered are those of the assistant messages right before the last one,
    # consecutive ones included; a repeated id keeps the latest block.
    again = {
        "role": "assistant",
        "content": [
            {"type": "tool_use", "id": "toolu_a", "name": "old", "input": {}},
            {"type": "tool_use", "id": "toolu_a", "name": "new", "input": {}},
        ],
    }
    result = {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_a", "content": ""}],
    }
    facts = both({"messages": [PROMPT, paused, again, result]})
    assert facts.tool_results[0].tool_name == "new"
    assert facts.run == RunPosition(4, 2, 1, 0, 2)


@pytest.mark.parametrize(
    "caller",
    [
        {"type": "code_execution_20260120"},
        {"type": "code_execution_20260120", "tool_id": ""},
        {"type": 7, "tool_id": "srvtoolu_1"},
        "code_execution_20260120",
    ],
)
def test_a_caller_without_its_code_execution_reads_as_direct(caller: Any) -> None:
    """As CallerInfo says: programmatic needs a non-direct type and a tool id."""
    assistant = {
        "role": "assistant",
        "content": [
            {"type": "tool_use", "id": "t", "name": "q", "input": {}, "caller": caller}
        ],
    }
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t"}]}
    facts = both({"messages": [PROMPT, assistant, result]})
    assert facts.tool_results[0].caller_type == "direct"
    assert facts.run.direct_calls == 1


def test_a_caller_that_is_a_list_is_read_by_the_reference_as_direct() -> None:
    """The msgspec path reads a caller object or scalar; a list leaves the body to the
    reference path, which reads it as a direct caller."""
    assistant = {
        "role": "assistant",
        "content": [
            {"type": "tool_use", "id": "t", "name": "q", "input": {}, "caller": [1]}
        ],
    }
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t"}]}
    body = json.dumps({"messages": [PROMPT, assistant, result]}).encode()
    assert _fast_request(body) is None
    facts = parse_request(body, **WHERE)
    assert facts == _parse_request_reference(body, **WHERE)
    assert facts.tool_results[0].caller_type == "direct"
    assert facts.run.direct_calls == 1


def test_the_scan_stops_at_the_users_own_turn() -> None:
    """A message before the run changes nothing; inside it, one without blocks counts."""
    odd = {"role": "assistant", "content": 12}  # a content that holds no blocks
    turn = dice_run()[0]
    messages = [odd, PROMPT, turn, answer(turn)]
    facts = both({"messages": messages})
    assert facts.run == RunPosition(4, 1, 1, 1, 0)
    # Inside the run the same message is an exchange with no calls, on both paths.
    inside = [PROMPT, odd, turn, answer(turn)]
    assert both({"messages": inside}).run == RunPosition(4, 2, 1, 1, 0)


def test_a_block_that_is_not_an_object_leaves_the_body_to_the_reference() -> None:
    """A content list item that is not an object, in a message the history reads: the
    reference path reads the body (as a block of no type). Before the user's own turn
    the message is never read, and both paths give the same facts."""
    turn = dice_run()[0]
    for odd in (
        {"role": "user", "content": [7]},
        {"role": "assistant", "content": ["x"]},
    ):
        for messages in ([odd, PROMPT, turn, answer(turn)], [PROMPT, turn, odd]):
            body = json.dumps({"messages": messages}).encode()
            assert (_fast_request(body) is None) == (messages[-1] is odd)
            facts = parse_request(body, **WHERE)
            assert facts == _parse_request_reference(body, **WHERE)
    # A user message holding one is the user's own turn: the run starts after it.
    last = {"role": "user", "content": [7]}
    own = json.dumps({"messages": [PROMPT, turn, last]}).encode()
    assert parse_request(own, **WHERE).run == RunPosition(3)


def test_no_messages_is_the_start_position() -> None:
    """An empty or missing history: the start position, no results."""
    empty: list[dict[str, Any]] = [{}, {"messages": []}, {"messages": None}]
    for obj in empty:
        assert both(obj).run is RUN_START
    facts = parse_request(b'{"messages": {"role": "user"}}', **WHERE)
    assert facts.run is RUN_START


def test_positions_are_shared_and_their_cache_bounded() -> None:
    """Equal positions are one object; the cache is emptied when full, never grows past."""
    from ptc_observe.wire import history

    for n in range(history._POSITIONS_SIZE + 5):
        position = both({"messages": [PROMPT] * (n + 1)}).run
        assert position == RunPosition(messages=n + 1)
        assert len(history._POSITIONS) <= history._POSITIONS_SIZE
    assert both({"messages": [PROMPT] * 3}).run is both({"messages": [PROMPT] * 3}).run


def test_a_long_body_without_messages_reads_on_the_fast_path() -> None:
    """Past the small-body size, a request with no messages at all: the start position."""
    body = json.dumps({"model": "m", "system": "x" * 40_000}).encode()
    assert _fast_request(body) is not None
    facts = parse_request(body, **WHERE)
    assert facts == _parse_request_reference(body, **WHERE)
    assert facts.run is RUN_START and facts.tool_results == ()


def test_a_non_string_key_is_measured_as_json_dumps_writes_it() -> None:
    """Content handed over as Python objects may have non-string keys: json.dumps decides."""
    from ptc_observe.wire import requests

    value = {1: "a", "b": [None, True]}
    assert requests._json_len(value) == len(json.dumps(value, separators=(",", ":")))
