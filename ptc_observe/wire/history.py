"""What a request's history says without any memory: the calls it answers, its run position.

Every Messages API request resends the conversation. Its last message's ``tool_result``
blocks answer the ``tool_use`` blocks of the assistant message(s) right before it, which
carry the tool name and the ``caller``; the messages back to the user's own turn show
where the run stands. So one request alone tells the caller, tool and size of every
result it carries, and its place in the run, whichever process saw the earlier exchanges.

Both request parsers feed :func:`read_history` the same shapes: the last message as
parsed JSON (a dict, or anything), and the earlier ones newest first as
:class:`HistoryMessage` structs. The msgspec path decodes those straight from the body
(only role, block types, ids, names and callers: tool inputs and result contents are
skipped); the reference path converts its parsed dicts with :func:`history_message`.
The scan stops at the user's own turn, so a long conversation costs only its last run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import msgspec

from ..events import RunPosition
from ..models import DIRECT

__all__ = [
    "Call",
    "HistoryBlock",
    "HistoryMessage",
    "history_message",
    "message_of",
    "read_history",
]

_TOOL_USE = "tool_use"
_TOOL_RESULT = "tool_result"
_ASSISTANT = "assistant"


class HistoryBlock(msgspec.Struct):
    """The facts of one content block of an earlier message (the rest is skipped)."""

    type: Any = None
    id: Any = None
    name: Any = None
    caller: Any = None


class HistoryMessage(msgspec.Struct):
    """An earlier message: its role and, when it is a list, its blocks."""

    role: Any = None
    # A string (or absent) content has no blocks; anything else is not a message the
    # msgspec path reads (it leaves the body to the reference path).
    content: str | list[HistoryBlock] | None = None


_NOT_A_BLOCK = HistoryBlock()
_NO_MESSAGE = HistoryMessage()

T = TypeVar("T")

Call = tuple[str, str, str | None]
"""A ``tool_use`` call: (tool name, raw caller type, caller tool id)."""


def history_message(value: Any) -> HistoryMessage:
    """A parsed message as the msgspec path would read it (a wrong type: no blocks).

    A block that is not an object counts as a block of no type, so a user message
    holding one is the user's own turn.
    """
    if not isinstance(value, dict):
        return _NO_MESSAGE
    return message_of(value.get("role"), value.get("content"))


def message_of(role: Any, content: Any) -> HistoryMessage:
    """A message of this role and parsed content, as :func:`history_message` reads it."""
    if isinstance(content, list):
        content = [
            HistoryBlock(b.get("type"), b.get("id"), b.get("name"), b.get("caller"))
            if isinstance(b, dict)
            else _NOT_A_BLOCK
            for b in content
        ]
    elif not isinstance(content, str):
        content = None
    return HistoryMessage(role, content)


def call_of(block: HistoryBlock) -> Call:
    """A ``tool_use`` block's (name, caller type, caller tool id), leniently.

    The caller is programmatic, as ``CallerInfo`` defines it, when it is an object with
    a non-``direct`` string type and a non-empty string ``tool_id``; anything else reads
    as ``direct`` with no tool id.
    """
    name = block.name if isinstance(block.name, str) else ""
    caller = block.caller
    if isinstance(caller, dict):
        kind = caller.get("type")
        tool_id = caller.get("tool_id")
        if isinstance(kind, str) and kind != DIRECT and isinstance(tool_id, str):
            if tool_id:
                return name, kind, tool_id
    return name, DIRECT, None


def _results_only(blocks: list[HistoryBlock] | str | None) -> bool:
    # A user message of tool results only is a tool round trip, not the user's turn.
    if not isinstance(blocks, list) or not blocks:
        return False
    for block in blocks:
        if block.type != _TOOL_RESULT:
            return False
    return True


# Positions already built, keyed by their fields: requests of one conversation repeat
# few of them and a lookup costs a fraction of a frozen dataclass. Bounded.
_POSITIONS: dict[tuple[int, int, int, int, int], RunPosition] = {}
_POSITIONS_SIZE = 1024


def _position(key: tuple[int, int, int, int, int]) -> RunPosition:
    position = _POSITIONS.get(key)
    if position is None:
        position = RunPosition(*key)
        if len(_POSITIONS) >= _POSITIONS_SIZE:
            _POSITIONS.clear()
        _POSITIONS[key] = position
    return position


def _programmatic(caller: Any) -> bool:
    # call_of's rule, without building the call (the run scan only counts callers).
    if type(caller) is not dict:
        return False
    kind = caller.get("type")
    tool_id = caller.get("tool_id")
    return (
        type(kind) is str and kind != DIRECT and type(tool_id) is str and tool_id != ""
    )


def read_history(
    last: HistoryMessage,
    earlier: Sequence[T],
    decode: Callable[[T], HistoryMessage],
    *,
    want_calls: bool,
) -> tuple[dict[str, Call] | None, RunPosition]:
    """The calls the last message answers, and the run position.

    Args:
        last: the last message (anything, without messages).
        earlier: the messages before it, oldest first, in any form ``decode`` reads:
            only as many as the scan needs are decoded, newest first.
        decode: makes a :class:`HistoryMessage` of one of ``earlier``.
        want_calls: the last message holds tool results: collect the calls they answer.

    Returns:
        ``(calls, position)``: ``calls`` maps each ``tool_use`` id of the assistant
        messages right before the last message to its call (a repeated id: the latest
        block), ``None`` unless ``want_calls``.
    """
    exchanges = round_trips = programmatic = direct = 0
    in_run = first = True
    collecting = want_calls  # still in the assistant messages right before the last
    asking: list[list[HistoryBlock]] = []
    message = last
    index = len(earlier)
    while True:
        blocks = message.content
        if message.role == _ASSISTANT:
            if type(blocks) is list:
                if collecting and not first:
                    asking.append(blocks)
                if in_run:
                    for block in blocks:
                        if block.type == _TOOL_USE:
                            if _programmatic(block.caller):
                                programmatic += 1
                            else:
                                direct += 1
            if in_run:
                exchanges += 1
        else:
            if not first:
                collecting = False
            if in_run and _results_only(blocks):
                round_trips += 1
            else:
                in_run = False  # the user's own turn: the run started after it
            if not in_run and not collecting:
                break
        first = False
        if not index:
            break
        index -= 1
        message = decode(earlier[index])
    position = _position(
        (len(earlier) + 1, exchanges, round_trips, programmatic, direct)
    )
    if not want_calls:
        return None, position
    calls: dict[str, Call] = {}
    # Oldest message first, blocks in order: a repeated id keeps its latest block.
    for blocks in reversed(asking):
        for block in blocks:
            if block.type == _TOOL_USE and isinstance(block.id, str):
                calls[block.id] = call_of(block)
    return calls, position
