"""A resent conversation read from where the last request of it left off.

Every Messages API request resends the whole conversation, and :func:`read_history` scans
back from its last message to the user's own turn: what a request of a long run costs
grows with the run, and the run's requests together cost its length squared. The facts
that scan reads are a fold from the oldest message: after each message, the exchanges,
round trips and calls by caller since the user's own turn (zero again at the next one), and
the calls of the assistant messages at the end (what a following message's results answer).
So the state after a request's messages is remembered, keyed by the SHA-256 of their exact
JSON texts joined by NUL bytes (an unambiguous encoding: JSON text never holds a NUL). The
next request of the run resends those messages byte for byte (the SDK
serialises the same dicts) and adds one or two: it hashes its messages (C, one pass), finds
the state of its longest remembered prefix among its last few message boundaries, and
decodes and folds only the messages after it. A request seen again (a retry) finds its own
state.

Memory is a cache only: a request whose prefix is not remembered (a process that never saw
the earlier requests, or one that forgot them) is read by the scan, with the same facts, and
then remembered. The cache is bounded in entries and in the calls its states hold; a
state holds no text of the conversation. A message is decoded only after its brackets bound
its nesting within the reference parser's limit (a remembered prefix passed that check when
it was read), so the guard of ``_json`` stays as strong.
"""

from __future__ import annotations

import threading
from hashlib import sha256
from itertools import accumulate

import msgspec

from ..events import RUN_START, RunPosition
from ._json import _DEPTH, _NOT_BRACKETS
from .history import (
    Call,
    HistoryBlock,
    HistoryMessage,
    _position,
    call_of,
    read_history,
)

__all__ = ["STATES", "Read", "read_resent_history"]

_TOOL_USE = "tool_use"
_TOOL_RESULT = "tool_result"
_ASSISTANT = "assistant"

_NO_CALLS: dict[str, Call] = {}  # shared: a state's calls are never changed in place

# A remembered state: the exchanges, round trips, programmatic and direct calls since the
# user's own turn, the calls of the assistant messages at the end, those of the
# assistant messages right before the last message (what its results answer), and the
# opening brackets of all the messages and the position of the request that ends there
# (0 and the start position in a step's result: the caller adds them).
_State = tuple[int, int, int, int, dict[str, Call], dict[str, Call], int, RunPosition]

_DECODE = msgspec.json.Decoder(HistoryMessage).decode

# How far back message boundaries are tried (newest first) when neither the whole
# request (a retry) nor two (a run's next request) or one message back is remembered.
_REACH = 8
# A request of this many messages or fewer (a run's first two) is read from the start
# when it is not remembered whole: no prefix is looked up.
_SHORT = 3
_STATES_SIZE = 1024
_STATES_CALLS = 8192  # calls held by all remembered states together
_STATE_CALLS = 256  # a state holding more is not remembered


class _States:
    """Remembered states by digest, oldest evicted first, bounded in entries and calls."""

    def __init__(self) -> None:
        self.states: dict[bytes, _State] = {}
        self.calls = 0
        self.lock = threading.Lock()

    def remember(self, key: bytes, state: _State) -> None:
        held = len(state[4]) + len(state[5])
        if held > _STATE_CALLS:
            return
        with self.lock:
            states = self.states
            if key in states:
                return
            while states and (
                len(states) >= _STATES_SIZE or self.calls + held > _STATES_CALLS
            ):
                old = states.pop(next(iter(states)))
                self.calls -= len(old[4]) + len(old[5])
            states[key] = state
            self.calls += held

    def clear(self) -> None:
        """Forget every state (tests: a process that never saw the earlier requests)."""
        with self.lock:
            self.states.clear()
            self.calls = 0


STATES = _States()


def _brackets(texts: bytes, count: int) -> int | None:
    """The opening brackets of ``count`` messages' texts joined by NULs, or ``None`` when
    one of them may nest too deeply.

    A message's opening brackets bound its nesting: inside the body and the messages
    array, the reference parser reads it when that leaves room. The NULs (never in
    JSON text) keep the messages apart through the one pass that keeps only brackets.
    """
    kept = texts.translate(None, _NOT_BRACKETS_NOR_NUL)
    brackets = len(kept) - (count - 1)
    if brackets + 2 > _DEPTH and max(map(len, kept.split(_NUL))) + 2 > _DEPTH:
        return None
    return brackets


# JSON text holds no raw control character: msgspec refuses one even in what it skips
# (tests/wire/test_resends.py), so a message's text never holds a NUL.
_NUL = b"\0"
_NOT_BRACKETS_NOR_NUL = _NOT_BRACKETS.replace(_NUL, b"")


def _step(state: _State, message: HistoryMessage) -> _State:
    """The state after one more message (read_history's rules, oldest first)."""
    exchanges, round_trips, programmatic, direct, calls = state[:5]
    blocks = message.content
    if message.role == _ASSISTANT:
        exchanges += 1
        if type(blocks) is list:
            added: dict[str, Call] | None = None
            for block in blocks:
                if block.type == _TOOL_USE:
                    call = call_of(block)
                    if call[2] is None:
                        direct += 1
                    else:
                        programmatic += 1
                    if type(block.id) is str:
                        if added is None:
                            added = dict(calls)
                        added[block.id] = call
            if added is not None:
                calls = added
        return (
            exchanges,
            round_trips,
            programmatic,
            direct,
            calls,
            state[4],
            0,
            RUN_START,
        )
    # A user message of tool results only is a round trip; any other is the user's own
    # turn: the run starts after it.
    if type(blocks) is list and blocks:
        for block in blocks:
            if block.type != _TOOL_RESULT:
                break
        else:
            return (
                exchanges,
                round_trips + 1,
                programmatic,
                direct,
                _NO_CALLS,
                calls,
                0,
                RUN_START,
            )
    return 0, 0, 0, 0, _NO_CALLS, calls, 0, RUN_START


_START: _State = (0, 0, 0, 0, _NO_CALLS, _NO_CALLS, 0, RUN_START)

Read = tuple[list[HistoryBlock] | None, dict[str, Call] | None, RunPosition, int]
"""The last message's ``tool_result`` blocks (``None``: it holds none), the calls they
answer (``None`` when there are none to answer), the run position and the messages'
opening brackets."""


def _results(last: HistoryMessage) -> list[HistoryBlock] | None:
    """The last message's ``tool_result`` blocks, or ``None``."""
    blocks = last.content
    found: list[HistoryBlock] | None = None
    if type(blocks) is list:
        for block in blocks:
            if block.type == _TOOL_RESULT:
                if found is None:
                    found = [block]
                else:
                    found.append(block)
    return found


def read_resent_history(raws: list[msgspec.Raw]) -> Read | None:
    """What a request's messages, as JSON texts, say: :func:`read_history`'s facts.

    Args:
        raws: the request's messages, oldest first (at least one).

    Returns:
        The last message's results, the calls they answer, the run position and the
        opening brackets of all the messages (the body's guard counts them out); or
        ``None`` when a message is nested too deeply to be read here (the reference
        parser decides).

    Raises:
        ValueError: a message msgspec cannot read as a message (msgspec's errors).
    """
    count = len(raws)
    joined = _NUL.join(raws)
    states = STATES.states
    # The whole request (a retry), two messages back (a run's next request: a reply and
    # its results) and one (a continued turn), in one pass; the other boundaries within
    # reach only when none of them is remembered.
    if count > _SHORT:
        one = len(joined) - len(raws[-1]) - 1
        two = one - len(raws[-2]) - 1
        view = memoryview(joined)
        digest = sha256(view[:two])
        back = digest.digest()
        digest.update(view[two:one])
        back_one = digest.digest()
        digest.update(view[one:])
        whole = digest.digest()
    else:
        whole = sha256(joined).digest()
    state = states.get(whole)
    if state is not None:
        # Seen whole before: every message passed the guard then.
        last = _DECODE(raws[-1])
        position = state[7]
    else:
        if count <= _SHORT:
            found, state = 0, _START
        else:
            found, state = count - 2, states.get(back)
            if state is None:
                found, state = count - 1, states.get(back_one)
                if state is None:
                    found, state = _reach(raws, joined, states)
        if state is None:
            return _scan(raws, joined, whole)
        new = raws[found:]
        if found == 0:
            brackets = _brackets(joined, count)
        else:
            start = sum(map(len, raws[:found])) + found  # after found texts and NULs
            brackets = _brackets(joined[start:], count - found)
        if brackets is None:
            return None
        brackets += state[6]
        for raw in new[:-1]:
            state = _step(state, _DECODE(raw))
        last = _DECODE(raws[-1])
        state = _step(state, last)
        key = (count, state[0], state[1], state[2], state[3])
        position = _position(key)
        state = (*state[:6], brackets, position)
        STATES.remember(whole, state)
    found_results = _results(last)
    calls = state[5] if found_results is not None else None
    return found_results, calls, position, state[6]


def _scan(raws: list[msgspec.Raw], joined: bytes, whole: bytes) -> Read | None:
    """A request none of whose prefixes within reach is remembered: the scan reads it."""
    brackets = _brackets(joined, len(raws))
    if brackets is None:
        return None
    last = _DECODE(raws[-1])
    calls, position = read_history(last, raws, _DECODE, want_calls=True)
    calls = calls or _NO_CALLS
    STATES.remember(
        whole,
        (
            position.exchanges_before,
            position.round_trips,
            position.programmatic_calls,
            position.direct_calls,
            _after(calls, last),
            calls,
            brackets,
            position,
        ),
    )
    found_results = _results(last)
    return (
        found_results,
        calls if found_results is not None else None,
        position,
        brackets,
    )


def _after(calls: dict[str, Call], last: HistoryMessage) -> dict[str, Call]:
    # The calls at the end after ``last``, given those before it.
    return _step((0, 0, 0, 0, calls, _NO_CALLS, 0, RUN_START), last)[4]


def _reach(
    raws: list[msgspec.Raw], joined: bytes, states: dict[bytes, _State]
) -> tuple[int, _State | None]:
    """The longest remembered prefix within reach, but the three tried first."""
    count = len(raws)
    if count - 3 < 1:
        return 0, None
    view = memoryview(joined)
    # ends[k - 1]: where the first k messages end in the joined text.
    ends = [end + k for k, end in enumerate(accumulate(map(len, raws)))]
    lowest = max(1, count - _REACH)
    digest = sha256(view[: ends[lowest - 1]])
    digests = [digest.digest()]
    for k in range(lowest, count - 3):
        digest.update(view[ends[k - 1] : ends[k]])
        digests.append(digest.digest())
    # digests[i]: the first lowest + i messages, up to count - 3.
    for size in range(count - 3, lowest - 1, -1):
        state = states.get(digests[size - lowest])
        if state is not None:
            return size, state
    return 0, None
