"""A resent conversation read from remembered run states equals the memoryless reading.

``parse_request`` remembers the run state after each request's messages (``wire/resends.py``)
and reads a later request of the conversation from its longest remembered prefix. The facts
must be exactly the reference path's, however the requests come: a first request, the same
request again (a retry), a run's next request, one that skips requests another process
served, several conversations interleaved, a cache that forgot (evicted or emptied) states.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from ptc_observe.events import RequestFacts
from ptc_observe.wire import resends
from ptc_observe.wire.messages import WireError, parse_request
from ptc_observe.wire.requests import _fast_request, _parse_request_reference

WHERE: dict[str, Any] = {
    "method": "POST",
    "path": "/v1/messages",
    "server_address": "api.anthropic.com",
    "server_port": 443,
    "headers": {},
}
CODE = "code_execution_20250825"

ids = st.sampled_from(["toolu_a", "toolu_b", "toolu_c", "srvtoolu_x", 7, None])
callers = st.one_of(
    st.none(),
    st.just({"type": "direct"}),
    st.builds(
        lambda t, i: {"type": t, "tool_id": i},
        st.sampled_from([CODE, "direct", 5]),
        st.sampled_from(["srvtoolu_x", "srvtoolu_y", "", None]),
    ),
    st.just("direct"),
)
tool_use = st.builds(
    lambda i, n, c: (
        {"type": "tool_use", "id": i, "name": n, "input": {}}
        | ({} if c is None else {"caller": c})
    ),
    ids,
    st.sampled_from(["query", "rollDie", 3]),
    callers,
)
other_block = st.sampled_from(
    [
        {"type": "text", "text": "t"},
        {"type": "server_tool_use", "id": "srvtoolu_x", "name": "code_execution"},
        {"type": "code_execution_tool_result", "tool_use_id": "srvtoolu_x"},
    ]
)
result = st.builds(
    lambda i, c, e: (
        {"type": "tool_result", "tool_use_id": i, "content": c}
        | ({} if e is None else {"is_error": e})
    ),
    ids,
    st.sampled_from(["4", "", "é" * 3, [{"type": "text", "text": "xy"}], None]),
    st.sampled_from([None, True, False]),
)
assistant = st.builds(
    lambda blocks: {"role": "assistant", "content": blocks},
    st.lists(st.one_of(tool_use, other_block), max_size=4),
) | st.just({"role": "assistant", "content": "plain"})
user = st.one_of(
    st.builds(
        lambda blocks: {"role": "user", "content": blocks},
        st.lists(result, min_size=1, max_size=3),
    ),
    st.just({"role": "user", "content": "again"}),
    st.just({"role": "user", "content": [{"type": "text", "text": "hi"}]}),
    st.just({"role": "user", "content": []}),
    st.just({"role": 5, "content": None}),
)
conversation = st.lists(st.one_of(assistant, user), min_size=1, max_size=14)


def facts(messages: list[dict[str, Any]], prompt: str = "go") -> RequestFacts:
    """The fast path's facts for a request, checked equal to the reference path's."""
    obj = {"model": "m", "messages": [{"role": "user", "content": prompt}, *messages]}
    body = json.dumps(obj).encode()
    assert _fast_request(body) is not None
    read = parse_request(body, **WHERE)
    assert read == _parse_request_reference(body, **WHERE)
    return read


@pytest.fixture(autouse=True)
def _forget() -> None:
    resends.STATES.clear()


@settings(max_examples=150, deadline=None)
@given(messages=conversation, order=st.randoms(use_true_random=False))
def test_every_order_of_a_conversations_requests_reads_the_same(
    messages: list[dict[str, Any]], order: Any
) -> None:
    """Each prefix as a request, in order, again, skipped ahead, out of order, forgotten."""
    resends.STATES.clear()
    sizes = list(range(len(messages) + 1))
    for size in sizes:  # the run in order: each request extends the last one
        facts(messages[:size])
        facts(messages[:size])  # a retry
    shuffled = sizes[:]
    order.shuffle(shuffled)
    for size in shuffled:
        if order.random() < 0.3:
            resends.STATES.clear()  # a process that never saw the earlier requests
        facts(messages[:size])


@settings(max_examples=60, deadline=None)
@given(
    runs=st.lists(conversation, min_size=2, max_size=4),
    size=st.integers(1, 6),
    steps=st.lists(st.integers(0, 3), min_size=1, max_size=40),
)
def test_interleaved_conversations_and_evictions_read_the_same(
    runs: list[list[dict[str, Any]]], size: int, steps: list[int]
) -> None:
    """Several conversations served in turn by one process whose memory holds only a few
    states (evicted oldest first): every request still reads as the reference does."""
    resends.STATES.clear()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(resends, "_STATES_SIZE", size)
        sent = [0] * len(runs)
        for step in steps:
            which = step % len(runs)
            sent[which] = min(sent[which] + 1 + step % 2, len(runs[which]))
            facts(runs[which][: sent[which]], prompt=f"run {which}")
            assert len(resends.STATES.states) <= size


def test_a_run_read_incrementally_matches_the_real_shapes() -> None:
    """A 30-round PTC run: every request, read from the remembered state, equals the
    reference; the memory then holds one state per request, none of their text."""
    messages: list[dict[str, Any]] = []
    for n in range(30):
        call = f"toolu_{n}"
        messages += [
            {
                "role": "assistant",
                "content": [
                    {"type": "server_tool_use", "id": f"srvtoolu_{n}", "name": "code"},
                    {
                        "type": "tool_use",
                        "id": call,
                        "name": "query",
                        "input": {"sql": "select 1"},
                        "caller": {"type": CODE, "tool_id": f"srvtoolu_{n}"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": call, "content": "x" * n}
                ],
            },
        ]
        read = facts(messages)
        assert read.run.programmatic_calls == n + 1 and read.run.round_trips == n + 1
        (sent,) = read.tool_results
        assert (sent.tool_name, sent.caller_tool_id) == ("query", f"srvtoolu_{n}")
    states = resends.STATES.states
    assert len(states) == 30  # one per request
    assert all(type(key) is bytes and len(key) == 32 for key in states)


def test_the_memory_is_bounded_in_entries_and_calls() -> None:
    """Past its entries or its calls the oldest states go; a state holding more calls
    than one may is not kept."""
    # Assistant messages in a row: their calls add up (each message stays within the
    # bracket bound the fast path reads).
    many = [
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": f"toolu_{m}_{i}", "name": "q"}
                for i in range(150)
            ],
        }
        for m in range(2)
    ]
    assert 150 < resends._STATE_CALLS < 300
    facts(many[:1])
    assert resends.STATES.calls == 150
    resends.STATES.clear()
    facts(many)
    assert resends.STATES.calls == 0
    assert all(
        len(state[4]) + len(state[5]) <= resends._STATE_CALLS
        for state in resends.STATES.states.values()
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(resends, "_STATES_CALLS", 10)
        for n in range(12):
            turn = {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": f"t{n}", "name": "q"}] * 3,
            }
            facts([turn], prompt=f"p{n}")
            assert resends.STATES.calls <= 10
            assert resends.STATES.calls == sum(
                len(s[4]) + len(s[5]) for s in resends.STATES.states.values()
            )
    for n in range(resends._STATES_SIZE + 10):
        resends.STATES.remember(n.to_bytes(32, "big"), resends._START)
    assert len(resends.STATES.states) == resends._STATES_SIZE


@pytest.mark.parametrize("depth", [190, 197, 198, 250, 5000])
def test_a_new_message_is_bounded_after_a_remembered_prefix(depth: int) -> None:
    """The messages a remembered prefix covers passed the nesting guard when first read;
    a new one is guarded before it is read: past from_json's limit, a WireError."""
    turn = {"role": "assistant", "content": [{"type": "tool_use", "id": "t"}]}
    answer = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t"}]}
    facts([turn, answer, turn])  # remembered: four messages
    assert len(resends.STATES.states) == 1
    deep = "[" * depth + "]" * depth
    last = {"role": "user", "content": [{"type": "tool_result", "content": "@"}]}
    obj = {"messages": [{"role": "user", "content": "go"}, turn, answer, turn, last]}
    body = json.dumps(obj).replace('"@"', deep).encode()
    outcomes = []
    for parse in (parse_request, _parse_request_reference):
        try:
            outcomes.append(repr(parse(body, **WHERE)))
        except Exception as exc:  # the type is the outcome compared
            outcomes.append(type(exc).__name__)
    assert outcomes[0] == outcomes[1]
    # body, messages, message, content, block: 5 levels above the arrays
    assert (outcomes[0] == "WireError") == (5 + depth > 201)


def test_a_raw_nul_in_a_message_is_refused_on_both_paths() -> None:
    """The remembered texts are joined by NULs: msgspec refuses a raw one inside a
    message (JSON escapes control characters), as the reference does."""
    facts([{"role": "assistant", "content": "a"}] * 3)
    body = b'{"messages":[{"role":"user","content":"go"},{"role":"assistant","content":"a\x00b"}]}'
    assert _fast_request(body) is None
    for parse in (parse_request, _parse_request_reference):
        with pytest.raises(WireError):
            parse(body, **WHERE)


def test_threads_sharing_the_memory_read_the_same() -> None:
    """Sync clients parse from many threads: states stored, found and evicted at once
    (a memory of a few states) still give every thread the reference's facts."""
    import threading

    turn = {
        "role": "assistant",
        "content": [
            {
                "type": "tool_use",
                "id": "t",
                "name": "q",
                "caller": {"type": CODE, "tool_id": "s"},
            }
        ],
    }
    answer = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t"}]}
    failures: list[BaseException] = []

    def run(which: int) -> None:
        try:
            messages: list[dict[str, Any]] = []
            for _ in range(12):
                messages += [turn, answer]
                read = facts(messages, prompt=f"thread {which}")
                assert read.run.programmatic_calls == len(messages) // 2
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(resends, "_STATES_SIZE", 3)
        threads = [threading.Thread(target=run, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []
    assert len(resends.STATES.states) <= 3
    assert resends.STATES.calls == sum(
        len(s[4]) + len(s[5]) for s in resends.STATES.states.values()
    )
