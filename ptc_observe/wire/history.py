"""What a request's history says without any memory: the calls it answers, its run position.

Every Messages API request resends the conversation. Its last message's ``tool_result``
blocks answer the ``tool_use`` blocks of the assistant message(s) right before it, which
carry the tool name and the ``caller``; the messages back to the user's own turn show
where the run stands. So one request alone tells the caller, tool and size of every
result it carries, and its place in the run, whichever process saw the earlier exchanges.

Both request parsers feed :func:`read_history` the same shapes, :class:`HistoryMessage`
structs. The msgspec path decodes them straight from the body, in the one pass that reads
the request (only roles, block types, ids, names, callers, the flags of results and the
span of their contents: texts, tool inputs and result contents cost no Python objects);
the reference path converts its parsed dicts with :func:`history_message`, lazily,
newest first. The scan stops at the user's own turn: the facts come from the last run.
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
    "HistoryCaller",
    "HistoryMessage",
    "history_message",
    "read_history",
]

_TOOL_USE = "tool_use"
_TOOL_RESULT = "tool_result"
_ASSISTANT = "assistant"


_NULL = msgspec.Raw(b"null")


class HistoryCaller(msgspec.Struct):
    """A block's ``caller`` object: the two fields that tell a programmatic call."""

    type: Any = None
    tool_id: Any = None


class HistoryBlock(msgspec.Struct):
    """The facts of one content block (the rest is skipped).

    ``type``, ``id``, ``name`` and ``caller`` are what the scan reads; ``tool_use_id``,
    ``content`` (its JSON text, decoded only for the last message's results) and
    ``is_error`` are what a ``tool_result`` of the last message reports.
    """

    type: Any = None
    id: Any = None
    name: Any = None
    # An object, or any other value, read as direct (a list leaves the body to the
    # reference path, which reads it as direct too).
    caller: HistoryCaller | str | int | float | bool | None = None
    tool_use_id: Any = None
    content: msgspec.Raw = _NULL
    is_error: Any = None


class _Skipped(msgspec.Struct):
    """A JSON object whose members are skipped (a content that holds no blocks)."""


class HistoryMessage(msgspec.Struct):
    """A message: its role and, when its content is a list, its blocks."""

    role: Any = None
    # A content that is not a list has no blocks, whatever it holds (the scan reads a
    # list only). A list item that is not an object leaves the body to the reference
    # path, which reads it as a block of no type.
    content: str | list[HistoryBlock] | int | float | bool | _Skipped | None = None


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
    content = value.get("content")
    if isinstance(content, list):
        content = [
            HistoryBlock(b.get("type"), b.get("id"), b.get("name"), _caller(b))
            if isinstance(b, dict)
            else _NOT_A_BLOCK
            for b in content
        ]
    elif not isinstance(content, str):
        content = None
    return HistoryMessage(value.get("role"), content)


def _caller(block: dict[str, Any]) -> HistoryCaller | None:
    caller = block.get("caller")
    if not isinstance(caller, dict):
        return None  # direct, as any caller that is not an object
    return HistoryCaller(caller.get("type"), caller.get("tool_id"))


def call_of(block: HistoryBlock) -> Call:
    """A ``tool_use`` block's (name, caller type, caller tool id), leniently.

    The caller is programmatic, as ``CallerInfo`` defines it, when it is an object with
    a non-``direct`` string type and a non-empty string ``tool_id``; anything else reads
    as ``direct`` with no tool id.
    """
    # type() rather than isinstance: the values are parsed JSON, never subclasses.
    name = block.name if type(block.name) is str else ""
    caller = block.caller
    if type(caller) is HistoryCaller:
        kind = caller.type
        tool_id = caller.tool_id
        if type(kind) is str and kind != DIRECT and type(tool_id) is str and tool_id:
            return name, kind, tool_id
    return name, DIRECT, None


# Positions already built, keyed by their fields: requests of one conversation repeat
# few of them and a lookup costs a fraction of a frozen dataclass. Bounded.
_POSITIONS: dict[tuple[int, int, int, int, int], RunPosition] = {}
_POSITIONS_SIZE = 1024


def _position(key: tuple[int, int, int, int, int]) -> RunPosition:
    # A position not in the cache yet (read_history looks it up inline).
    position = RunPosition(*key)
    if len(_POSITIONS) >= _POSITIONS_SIZE:
        _POSITIONS.clear()
    _POSITIONS[key] = position
    return position


def read_history(
    last: HistoryMessage,
    messages: Sequence[T],
    decode: Callable[[T], HistoryMessage] | None,
    *,
    want_calls: bool,
) -> tuple[dict[str, Call] | None, RunPosition]:
    """The calls the last message answers, and the run position.

    Args:
        last: the last message, read.
        messages: the request's messages, ``last``'s place included, oldest first, in
            any form ``decode`` reads: only as many as the scan needs are decoded,
            newest first.
        decode: makes a :class:`HistoryMessage` of one of ``messages``; ``None`` when
            they are :class:`HistoryMessage` structs already.
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
    index = len(messages) - 1
    message: Any = last
    while True:
        blocks = message.content
        if message.role == _ASSISTANT:
            if type(blocks) is list:
                if collecting and not first:
                    asking.append(blocks)
                if in_run:
                    for block in blocks:
                        if block.type == _TOOL_USE:
                            # call_of's rule, without building the call.
                            caller = block.caller
                            if (
                                type(caller) is HistoryCaller
                                and type(caller.type) is str
                                and caller.type != DIRECT
                                and type(caller.tool_id) is str
                                and caller.tool_id
                            ):
                                programmatic += 1
                            else:
                                direct += 1
            if in_run:
                exchanges += 1
        else:
            if not first:
                collecting = False
            # A user message of tool results only is a tool round trip; any other is
            # the user's own turn: the run started after it.
            if in_run and type(blocks) is list and blocks:
                for block in blocks:
                    if block.type != _TOOL_RESULT:
                        in_run = False
                        break
                else:
                    round_trips += 1
            else:
                in_run = False
            if not in_run and not collecting:
                break
        first = False
        if not index:
            break
        index -= 1
        message = messages[index]
        if decode is not None:
            message = decode(message)
    key = (len(messages), exchanges, round_trips, programmatic, direct)
    position = _POSITIONS.get(key)
    if position is None:
        position = _position(key)
    if not want_calls:
        return None, position
    calls: dict[str, Call] = {}
    # Oldest message first, blocks in order: a repeated id keeps its latest block.
    for blocks in reversed(asking):
        for block in blocks:
            if block.type == _TOOL_USE and type(block.id) is str:
                calls[block.id] = call_of(block)
    return calls, position
