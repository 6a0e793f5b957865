"""The facts of a non-streaming response body: ``parse_reply``.

The facts sinks use are read without pydantic: by msgspec into structs that declare only
them (a reply's text and tool inputs cost no Python objects), else from the parsed JSON;
``Reply.message`` validates the whole :class:`~ptc_observe.models.Message` on first use.
Anything unusual takes the full validation, which decides (tests/wire/test_reply.py,
tests/wire/test_msgspec_paths.py).
"""

from __future__ import annotations

from typing import Any

import msgspec
from pydantic import ValidationError

from ..events import (
    NO_USAGE,
    CodeResult,
    Reply,
    TokenUsage,
    ToolUse,
)
from ..models import (
    DIRECT,
    ContainerInfo,
    Message,
)
from ._json import _DEPTH, WireError, _depth_bound, _no_long_number, _object, _summary

__all__ = ["parse_reply"]


class _Unsure(Exception):
    """A fact of the body is not in the shape the API sends: validate it all instead."""


def parse_reply(body: bytes) -> Reply:
    """Read the facts of a non-streaming response body; the model is built on demand.

    The facts sinks use (id, model, stop reason, usage, container, tool calls with their
    callers, code execution results) are read straight from the JSON (by msgspec, into
    structs typed as :class:`~ptc_observe.models.Message` checks them; else from the
    parsed object), and the pydantic model of the whole message is only validated, from
    the body, when someone asks for ``Reply.message`` (~3x the cost of parsing the JSON).
    Anything unexpected in a fact (a wrong type, an unknown caller without its tool id)
    takes the full validation instead, which decides.

    Raises:
        WireError: not JSON, not an object, an error envelope, or not a valid message.
    """
    reply = _fast_reply(body)
    if reply is not None:
        return reply
    return _parse_reply_reference(body)


def _parse_reply_reference(body: bytes) -> Reply:
    """:func:`parse_reply` on the whole body parsed into Python objects.

    The definition the msgspec path must equal, and its fallback; tests call it directly.
    """
    obj = _object(body, "response body")
    kind = obj.get("type", "message")
    if kind == "error":
        raise WireError("the body is an error envelope, not a message")
    try:
        if not isinstance(kind, str):
            raise _Unsure
        return _reply(obj)
    except _Unsure:
        pass
    try:
        return Reply.from_message(Message.model_validate(obj))
    except (ValidationError, RecursionError, TypeError) as exc:
        raise WireError(f"invalid message: {_summary(exc)}") from None


def _reply(obj: dict[str, Any]) -> Reply:
    message_id = obj.get("id", "")
    model = obj.get("model")
    stop_reason = obj.get("stop_reason")
    if (
        not isinstance(message_id, str)
        or (model is not None and not isinstance(model, str))
        or (stop_reason is not None and not isinstance(stop_reason, str))
    ):
        raise _Unsure
    content = obj.get("content", [])
    if not isinstance(content, list):
        raise _Unsure
    tool_uses: list[ToolUse] = []
    server_tools: list[str] = []
    code_results: list[CodeResult] = []
    for block in content:
        if not isinstance(block, dict):
            raise _Unsure
        kind = block.get("type")
        if kind == "tool_use":
            tool_uses.append(_tool_use(block))
        elif kind == "server_tool_use":
            server_tools.append(_server_tool(block))
        elif kind == "code_execution_tool_result":
            code_results.append(_code_result(block))
        elif not isinstance(kind, str):
            raise _Unsure
    return Reply(
        id=message_id,
        model=model,
        stop_reason=stop_reason,
        usage=_usage(obj.get("usage", _ABSENT)),
        container=_container(obj.get("container")),
        tool_uses=tuple(tool_uses),
        server_tools=tuple(server_tools),
        code_results=tuple(code_results),
        source=obj,
    )


class _Caller(msgspec.Struct):
    type: str = DIRECT
    tool_id: str | None = None


class _Object(msgspec.Struct):
    """Any JSON object; its members are skipped."""


class _CodeContent(msgspec.Struct):
    type: str
    return_code: int | None = None


_NULL = msgspec.Raw(b"null")


class _Block(msgspec.Struct):
    type: str
    id: str | None = None
    name: str | None = None
    input: _Object | msgspec.UnsetType = msgspec.UNSET
    caller: _Caller | None = None
    tool_use_id: str | None = None
    content: msgspec.Raw = _NULL


class _Usage(msgspec.Struct):
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None


class _Container(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    expires_at: str


class _Body(msgspec.Struct):
    type: str = "message"
    id: str = ""
    model: str | None = None
    stop_reason: str | None = None
    usage: _Usage | msgspec.UnsetType = msgspec.UNSET
    container: _Container | None = None
    content: list[_Block] = []


_BODY = msgspec.json.Decoder(_Body)
_CODE_CONTENT = msgspec.json.Decoder(_CodeContent | None)


def _fast_reply(body: bytes) -> Reply | None:
    """The reply read by msgspec, or ``None``: the reference path decides.

    Strict types stand for the checks of :func:`_reply`; a body whose facts need any
    other reading fails to decode. The reply keeps the body: its message is validated
    from the JSON, which the guards make equal to validating the parsed object.
    """
    if (
        type(body) is not bytes
        or _depth_bound(body) > _DEPTH
        or not _no_long_number(body)
    ):
        return None
    try:
        if not body.isascii():
            body.decode()  # skipped text is not checked: bad UTF-8 takes the reference
        msg = _BODY.decode(body)
        if msg.type == "error":
            return None  # the reference raises
        tool_uses: list[ToolUse] = []
        server_tools: list[str] = []
        code_results: list[CodeResult] = []
        for block in msg.content:
            kind = block.type
            if kind == "tool_use" or kind == "server_tool_use":
                use_id = block.id
                name = block.name
                caller = block.caller
                if use_id is None or name is None:
                    return None
                if caller is not None and caller.type != DIRECT and not caller.tool_id:
                    return None  # CallerInfo refuses it: the model decides
                if kind == "server_tool_use":
                    server_tools.append(name)
                elif caller is None:
                    tool_uses.append(ToolUse(use_id, name))
                else:
                    tool_uses.append(ToolUse(use_id, name, caller.type, caller.tool_id))
            elif kind == "code_execution_tool_result":
                tool_use_id = block.tool_use_id
                if tool_use_id is None:
                    return None
                result = _CODE_CONTENT.decode(block.content)
                if result is None:
                    code_results.append(CodeResult(tool_use_id, False))
                else:
                    code = result.return_code
                    succeeded = not result.type.endswith("_error") and not code
                    code_results.append(CodeResult(tool_use_id, succeeded, code))
        usage = msg.usage
        container = msg.container
        return Reply(
            id=msg.id,
            model=msg.model,
            stop_reason=msg.stop_reason,
            usage=NO_USAGE
            if usage is msgspec.UNSET
            else TokenUsage(
                usage.input_tokens,
                usage.output_tokens,
                usage.cache_creation_input_tokens,
                usage.cache_read_input_tokens,
            ),
            container=None
            if container is None
            else _container({"id": container.id, "expires_at": container.expires_at}),
            tool_uses=tuple(tool_uses),
            server_tools=tuple(server_tools),
            code_results=tuple(code_results),
            source=body,
        )
    except (ValueError, RecursionError, _Unsure):  # msgspec's errors are ValueErrors
        return None


def _tool_use(block: dict[str, Any]) -> ToolUse:
    use_id = block.get("id")
    name = block.get("name")
    if (
        not isinstance(use_id, str)
        or not isinstance(name, str)
        or not isinstance(block.get("input", {}), dict)
    ):
        raise _Unsure
    caller = block.get("caller")
    if caller is None:
        return ToolUse(use_id, name)
    return ToolUse(use_id, name, *_caller(caller))


def _server_tool(block: dict[str, Any]) -> str:
    name = block.get("name")
    if (
        not isinstance(block.get("id"), str)
        or not isinstance(name, str)
        or not isinstance(block.get("input", {}), dict)
    ):
        raise _Unsure
    caller = block.get("caller")
    if caller is not None:
        _caller(caller)
    return name


def _caller(caller: Any) -> tuple[str, str | None]:
    if not isinstance(caller, dict):
        raise _Unsure
    caller_type = caller.get("type", DIRECT)
    tool_id = caller.get("tool_id")
    if (
        not isinstance(caller_type, str)
        or (tool_id is not None and not isinstance(tool_id, str))
        or (caller_type != DIRECT and not tool_id)
    ):
        raise _Unsure  # CallerInfo refuses a programmatic caller without its tool id
    return caller_type, tool_id


def _code_result(block: dict[str, Any]) -> CodeResult:
    tool_use_id = block.get("tool_use_id")
    result = block.get("content")
    if not isinstance(tool_use_id, str):
        raise _Unsure
    if result is None:
        return CodeResult(tool_use_id, False)
    if not isinstance(result, dict):
        raise _Unsure
    kind = result.get("type")
    return_code = result.get("return_code")
    if not isinstance(kind, str) or not (
        return_code is None or type(return_code) is int
    ):
        raise _Unsure
    succeeded = not kind.endswith("_error") and (return_code or 0) == 0
    return CodeResult(tool_use_id, succeeded, return_code)


# Containers of recent replies by (id, expires_at) text: a run names the same container
# on every turn, and ContainerInfo is frozen, so one object can be shared (validating
# one, its datetime included, costs ~4 us). Bounded: cleared when full.
_CONTAINERS: dict[tuple[str, str], ContainerInfo] = {}
_CONTAINERS_MAX = 128


_ABSENT = object()


def _usage(value: Any) -> TokenUsage:
    # The four counts only, as plain ints (the pydantic Usage costs ~9 us to validate,
    # ~5 us even empty). Any other number form ("7", 7.0, true) lets Usage decide.
    if value is _ABSENT:
        return NO_USAGE
    if not isinstance(value, dict):
        raise _Unsure
    get = value.get
    counts = (
        get("input_tokens"),
        get("output_tokens"),
        get("cache_creation_input_tokens"),
        get("cache_read_input_tokens"),
    )
    for count in counts:
        if count is not None and type(count) is not int:
            raise _Unsure
    return TokenUsage(*counts)


def _container(value: Any) -> ContainerInfo | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _Unsure
    container_id = value.get("id")
    expires_at = value.get("expires_at")
    if (
        len(value) == 2
        and isinstance(container_id, str)
        and isinstance(expires_at, str)
    ):
        key = (container_id, expires_at)
        info = _CONTAINERS.get(key)
        if info is None:
            info = _validated_container(value)
            if len(_CONTAINERS) >= _CONTAINERS_MAX:
                _CONTAINERS.clear()
            _CONTAINERS[key] = info
        return info
    return _validated_container(value)


def _validated_container(value: dict[str, Any]) -> ContainerInfo:
    try:
        return ContainerInfo.model_validate(value)
    except ValidationError:
        raise _Unsure from None
