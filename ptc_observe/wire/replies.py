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
    CODE_EXECUTION,
    NO_USAGE,
    CodeResult,
    Reply,
    ServerToolResult,
    ServerToolUse,
    TokenUsage,
    ToolUse,
    code_variant,
    server_tool_requests,
)
from ..models import (
    DIRECT,
    ContainerInfo,
    Message,
)
from ._json import (
    _DEPTH,
    _DIGITS,
    _NOT_BRACKETS,
    WireError,
    _no_long_number,
    _object,
    _summary,
)

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
    server_uses: list[ServerToolUse] = []
    code_results: list[CodeResult] = []
    server_results: list[ServerToolResult] = []
    for block in content:
        if not isinstance(block, dict):
            raise _Unsure
        kind = block.get("type")
        if kind == "tool_use":
            tool_uses.append(_tool_use(block))
        elif kind == "server_tool_use":
            server_uses.append(_server_tool(block))
        elif kind == "code_execution_tool_result":
            code_results.append(_code_result(block))
        elif not isinstance(kind, str):
            raise _Unsure
        elif kind.endswith(_RESULT) and "tool_use_id" in block:
            # Blocks the model reads as ServerToolResultBlock: other code-execution
            # variants (bash, text editor) and the other server tools' results.
            _result_block(block, kind, code_results, server_results)
    return Reply(
        id=message_id,
        model=model,
        stop_reason=stop_reason,
        usage=_usage(obj.get("usage", _ABSENT)),
        container=_container(obj.get("container")),
        tool_uses=tuple(tool_uses),
        server_tool_uses=tuple(server_uses),
        code_results=tuple(code_results),
        server_results=tuple(server_results),
        source=obj,
    )


_RESULT = "_tool_result"


def _result_block(
    block: dict[str, Any],
    kind: str,
    code_results: list[CodeResult],
    server_results: list[ServerToolResult],
) -> None:
    tool_use_id = block["tool_use_id"]
    if not isinstance(tool_use_id, str):
        raise _Unsure
    caller = block.get("caller")
    caller_type, caller_tool_id = (DIRECT, None) if caller is None else _caller(caller)
    content = block.get("content")
    variant = code_variant(kind)
    if variant is not None:
        code_results.append(CodeResult.read(variant, tool_use_id, content))
    else:
        server_results.append(
            ServerToolResult(
                tool_use_id,
                kind,
                ServerToolResult.failed(content, block.get("is_error")),
                caller_type,
                caller_tool_id,
            )
        )


class _Caller(msgspec.Struct):
    type: str = DIRECT
    tool_id: str | None = None


class _Object(msgspec.Struct):
    """Any JSON object; its members are skipped."""


class _CodeContent(msgspec.Struct):
    type: str
    return_code: int | None = None
    error_code: str | None = None
    abort_reason: str | None = None


class _Typed(msgspec.Struct):
    """The ``type`` of a result content object (its other members are skipped)."""

    type: Any = None


_NULL = msgspec.Raw(b"null")


class _Block(msgspec.Struct):
    type: str
    id: str | None = None
    name: str | None = None
    input: _Object | msgspec.UnsetType = msgspec.UNSET
    caller: _Caller | None = None
    tool_use_id: str | None | msgspec.UnsetType = msgspec.UNSET
    content: msgspec.Raw = _NULL
    is_error: Any = None


class _CacheCreation(msgspec.Struct):
    ephemeral_5m_input_tokens: int | None = None
    ephemeral_1h_input_tokens: int | None = None


class _OutputDetails(msgspec.Struct):
    thinking_tokens: int | None = None


class _Usage(msgspec.Struct):
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    cache_creation: _CacheCreation | None = None
    output_tokens_details: _OutputDetails | None = None
    # Its JSON text: the counts are read once per distinct text (see _requests).
    server_tool_use: msgspec.Raw = _NULL


class _Container(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    expires_at: str


class _Body(msgspec.Struct):
    type: str = "message"
    id: str = ""
    model: str | None = None
    stop_reason: str | None = None
    usage: _Usage | None | msgspec.UnsetType = msgspec.UNSET
    container: _Container | None = None
    content: list[_Block] = []


_BODY = msgspec.json.Decoder(_Body)
_CODE_CONTENT = msgspec.json.Decoder(_CodeContent | None)
_TYPED = msgspec.json.Decoder(_Typed)
_COUNTS = msgspec.json.Decoder(dict[str, Any] | None)


def _fast_reply(body: bytes) -> Reply | None:
    """The reply read by msgspec, or ``None``: the reference path decides.

    Strict types stand for the checks of :func:`_reply`; a body whose facts need any
    other reading fails to decode. The reply keeps the body: its message is validated
    from the JSON, which the guards make equal to validating the parsed object.
    """
    if (
        type(body) is not bytes
        or len(body.translate(None, _NOT_BRACKETS)) > _DEPTH  # a bound of the nesting
        or (len(body) >= _DIGITS and not _no_long_number(body))
    ):
        return None
    try:
        if not body.isascii():
            body.decode()  # skipped text is not checked: bad UTF-8 takes the reference
        msg = _BODY.decode(body)
        if msg.type == "error":
            return None  # the reference raises
        tool_uses: list[ToolUse] = []
        server_uses: list[ServerToolUse] = []
        code_results: list[CodeResult] = []
        server_results: list[ServerToolResult] = []
        for block in msg.content:
            kind = block.type
            caller = block.caller
            if caller is not None and caller.type != DIRECT and not caller.tool_id:
                return None  # CallerInfo refuses it: the model decides
            if kind == "text":
                continue  # the most common block carries no fact
            if kind == "tool_use" or kind == "server_tool_use":
                use_id = block.id
                name = block.name
                if use_id is None or name is None:
                    return None
                if kind == "server_tool_use":
                    server_uses.append(
                        ServerToolUse(use_id, name)
                        if caller is None
                        else ServerToolUse(use_id, name, caller.type, caller.tool_id)
                    )
                elif caller is None:
                    tool_uses.append(ToolUse(use_id, name))
                else:
                    tool_uses.append(ToolUse(use_id, name, caller.type, caller.tool_id))
            elif kind.endswith(_RESULT):
                tool_use_id = block.tool_use_id
                if (
                    tool_use_id is msgspec.UNSET
                    and kind != "code_execution_tool_result"
                ):
                    continue  # no tool_use_id: an unknown block to the model
                if tool_use_id is None or tool_use_id is msgspec.UNSET:
                    return None
                variant = code_variant(kind)
                if variant is not None:
                    code_results.append(_fast_code(variant, tool_use_id, block.content))
                else:
                    content = block.content
                    failed = block.is_error is True or (
                        memoryview(content)[:1].tobytes() == b"{"
                        and _error_type(_TYPED.decode(content).type)
                    )
                    server_results.append(
                        ServerToolResult(tool_use_id, kind, failed)
                        if caller is None
                        else ServerToolResult(
                            tool_use_id, kind, failed, caller.type, caller.tool_id
                        )
                    )
        usage = msg.usage
        container = msg.container
        info = None
        if container is not None:
            key = (container.id, container.expires_at)
            info = _CONTAINERS.get(key)
            if info is None:
                info = _container({"id": key[0], "expires_at": key[1]})
        return Reply(
            id=msg.id,
            model=msg.model,
            stop_reason=msg.stop_reason,
            usage=NO_USAGE
            if usage is msgspec.UNSET or usage is None
            else _fast_usage(usage),
            container=info,
            tool_uses=tuple(tool_uses),
            server_tool_uses=tuple(server_uses),
            code_results=tuple(code_results),
            server_results=tuple(server_results),
            source=body,
        )
    except (ValueError, RecursionError, _Unsure):  # msgspec's errors are ValueErrors
        return None


def _error_type(kind: Any) -> bool:
    return isinstance(kind, str) and kind.endswith("_error")


def _fast_code(variant: str, tool_use_id: str, content: msgspec.Raw) -> CodeResult:
    result = _CODE_CONTENT.decode(content)
    if result is None:
        return CodeResult(tool_use_id, False, None, variant)
    kind = result.type
    code = result.return_code
    return CodeResult(
        tool_use_id,
        not kind.endswith("_error") and not code,
        code,
        variant,
        kind,
        result.error_code,
        result.abort_reason,
    )


# The server tool request counts of every usage.server_tool_use already read, keyed by
# its JSON text: replies repeat a few (mostly all zeros), so each is decoded, checked
# and sorted once. Bounded: cleared when full; a long text is not kept.
_REQUESTS: dict[bytes, tuple[tuple[str, int], ...]] = {}
_REQUESTS_MAX = 256
_REQUESTS_KEY = 1024


def _requests(raw: msgspec.Raw) -> tuple[tuple[str, int], ...]:
    key = bytes(raw)
    requests = _REQUESTS.get(key)
    if requests is None:
        tools = _COUNTS.decode(key)  # not an object: a ValueError, the model decides
        if tools is None:
            requests = ()
        else:
            for name, count in tools.items():
                if (
                    count is not None
                    and type(count) is not int
                    and name.endswith("_requests")
                ):
                    raise _Unsure
            requests = server_tool_requests(tools)
        if len(key) <= _REQUESTS_KEY:
            if len(_REQUESTS) >= _REQUESTS_MAX:
                _REQUESTS.clear()
            _REQUESTS[key] = requests
    return requests


def _fast_usage(usage: _Usage) -> TokenUsage:
    details = usage.output_tokens_details
    split = usage.cache_creation
    tools = usage.server_tool_use
    requests = () if tools is _NULL else _requests(tools)
    return TokenUsage(
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_creation_input_tokens,
        usage.cache_read_input_tokens,
        None if details is None else details.thinking_tokens,
        None if split is None else split.ephemeral_5m_input_tokens,
        None if split is None else split.ephemeral_1h_input_tokens,
        requests,
    )


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


def _server_tool(block: dict[str, Any]) -> ServerToolUse:
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
        return ServerToolUse(use_id, name)
    return ServerToolUse(use_id, name, *_caller(caller))


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
    # code_execution_tool_result: its content is a CodeExecutionResult, which
    # validates it; any value the model might read otherwise lets it decide.
    tool_use_id = block.get("tool_use_id")
    result = block.get("content")
    if not isinstance(tool_use_id, str):
        raise _Unsure
    if result is None:
        return CodeResult(tool_use_id, False)
    if not isinstance(result, dict):
        raise _Unsure
    return_code = result.get("return_code")
    error_code = result.get("error_code")
    if (
        not isinstance(result.get("type"), str)
        or not (return_code is None or type(return_code) is int)
        or not (error_code is None or isinstance(error_code, str))
    ):
        raise _Unsure
    return CodeResult.read(CODE_EXECUTION, tool_use_id, result)


# Containers of recent replies by (id, expires_at) text: a run names the same container
# on every turn, and ContainerInfo is frozen, so one object can be shared (validating
# one, its datetime included, costs ~4 us). Bounded: cleared when full.
_CONTAINERS: dict[tuple[str, str], ContainerInfo] = {}
_CONTAINERS_MAX = 128


_ABSENT = object()


def _usage(value: Any) -> TokenUsage:
    # The counts only, as plain ints (the pydantic Usage costs ~9 us to validate,
    # ~5 us even empty). Any other number form ("7", 7.0, true) lets Usage decide.
    if value is _ABSENT or value is None:  # usage: null is a usage nobody reported
        return NO_USAGE
    if not isinstance(value, dict):
        raise _Unsure
    get = value.get
    input_tokens = get("input_tokens")
    output_tokens = get("output_tokens")
    cache_write = get("cache_creation_input_tokens")
    cache_read = get("cache_read_input_tokens")
    details = get("output_tokens_details")
    split = get("cache_creation")
    tools = get("server_tool_use")
    reasoning = _count(details, "thinking_tokens")
    five = _count(split, "ephemeral_5m_input_tokens")
    hour = _count(split, "ephemeral_1h_input_tokens")
    for count in (input_tokens, output_tokens, cache_write, cache_read):
        if count is not None and type(count) is not int:
            raise _Unsure
    requests: tuple[tuple[str, int], ...] = ()
    if tools is not None:
        if not isinstance(tools, dict):
            raise _Unsure
        for key, count in tools.items():
            if (
                count is not None
                and type(count) is not int
                and key.endswith("_requests")
            ):
                raise _Unsure
        requests = server_tool_requests(tools)
    return TokenUsage(
        input_tokens,
        output_tokens,
        cache_write,
        cache_read,
        reasoning,
        five,
        hour,
        requests,
    )


def _count(obj: Any, name: str) -> int | None:
    # A count inside one of the usage's detail objects (absent or null: unknown).
    if obj is None:
        return None
    if not isinstance(obj, dict):
        raise _Unsure
    count = obj.get(name)
    if count is not None and type(count) is not int:
        raise _Unsure
    return count


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
