"""JSON bodies, SSE payloads and headers of the Messages API, turned into facts and models.

Every parse failure is a :class:`WireError`; nothing else escapes (deep nesting, bad
UTF-8 and wrong types included). Request parsing is lenient inside a valid JSON object: a
field of the wrong type reads as absent, since an observer should report what it can.
Credentials (``authorization``, ``x-api-key``) are never read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_core import from_json as _from_json

from ..events import (
    NO_USAGE,
    CodeResult,
    Reply,
    RequestFacts,
    TokenUsage,
    ToolDeclaration,
    ToolResultSent,
    ToolUse,
)
from ..models import (
    DIRECT,
    APIError,
    ContainerInfo,
    ContentBlockDeltaEvent,
    ContentBlockStartEvent,
    ContentBlockStopEvent,
    ErrorEvent,
    Message,
    MessageDeltaEvent,
    MessageStartEvent,
    MessageStopEvent,
    PingEvent,
    StreamEvent,
    UnknownEvent,
)

# Header parsing lives in .headers; it is re-exported here, where the interface names it.
from .headers import RATE_LIMIT_RESOURCES, parse_rate_limits, parse_retry_after

__all__ = [
    "RATE_LIMIT_RESOURCES",
    "StreamError",
    "WireError",
    "parse_error",
    "parse_event",
    "parse_message",
    "parse_rate_limits",
    "parse_reply",
    "parse_request",
    "parse_retry_after",
]


class WireError(ValueError):
    """A body, payload or stream that cannot be read. Every parse failure of ``wire``."""


class StreamError(WireError):
    """A stream that carried an ``error`` event (the exchange failed despite HTTP 200).

    Attributes:
        error: the API error of the event.
    """

    def __init__(self, error: APIError) -> None:
        super().__init__(f"{error.type}: {error.message}")
        self.error = error


def _loads(body: bytes | str) -> Any:
    try:
        # pydantic-core's parser (jiter) builds the same objects about twice as fast
        # as json.loads. It refuses some input json.loads accepts (bad UTF-8, lone
        # surrogate escapes, nesting past its depth limit) and never accepts what
        # json.loads refuses, so a refusal just takes the json.loads path below.
        return _from_json(body, cache_strings="keys")
    except ValueError as exc:
        if "recursion limit" in str(exc):
            # Nesting past jiter's fixed depth limit is malformed, full stop: json.loads
            # would give up at a depth that depends on the caller's stack, so the same
            # payload could parse on one path and fail on another.
            raise WireError("invalid JSON: nested too deeply") from None
    if isinstance(body, bytes):
        # The API speaks UTF-8; bad bytes become U+FFFD rather than a failure (and
        # json.loads on bytes would guess UTF-16/32 from NUL bytes).
        body = body.decode("utf-8", "replace")
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # RecursionError: deep nesting
        raise WireError(f"invalid JSON: {type(exc).__name__}") from None


def _object(body: bytes | str, what: str) -> dict[str, Any]:
    obj = _loads(body)
    if not isinstance(obj, dict):
        raise WireError(f"{what} is not a JSON object")
    return obj


# --- request ---


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple([v for v in value if isinstance(v, str)])


# Declarations already built, per (name, type, allowed callers as sent): an application
# sends the same tools on every turn, and a frozen ToolDeclaration can be shared between
# requests (building one costs ~4 us, the lookup well under 1). Bounded; cleared when full.
_TOOLS: dict[tuple[Any, Any, Any], ToolDeclaration] = {}
_TOOLS_SIZE = 256


def _tool(value: Any) -> ToolDeclaration | None:
    if not isinstance(value, dict):
        return None
    get = value.get
    # The key holds the raw values: a declaration follows from them alone, and the
    # usual allowed_callers (absent, or a list of strings) is keyed without filtering.
    callers = get("allowed_callers")
    key = (get("name"), get("type"), tuple(callers) if type(callers) is list else None)
    try:
        tool = _TOOLS.get(key)
    except TypeError:  # a list or object inside allowed_callers: not hashable
        return _declaration(key[0], key[1], callers)
    if tool is None:
        tool = _declaration(key[0], key[1], callers)
        if len(_TOOLS) >= _TOOLS_SIZE:
            _TOOLS.clear()
        _TOOLS[key] = tool
    return tool


def _declaration(name: Any, kind: Any, callers: Any) -> ToolDeclaration:
    kind = _str(kind)
    # "custom" is the explicit type of the application's own tools.
    return ToolDeclaration(
        _str(name) or "", None if kind in (None, "custom") else kind, _strings(callers)
    )


def _tools(value: Any) -> tuple[ToolDeclaration, ...]:
    if not isinstance(value, list):
        return ()
    return tuple([t for t in map(_tool, value) if t is not None])


def _container_id(value: Any) -> str | None:
    # Sent as a string, or (newer SDKs) as {"id": ..., "skills": [...]}.
    if isinstance(value, dict):
        value = value.get("id")
    return _str(value)


def _utf8_len(text: str) -> int:
    # isascii() is a flag test in CPython: ASCII text (most tool output) is measured
    # without encoding a copy of it.
    if text.isascii():
        return len(text)
    # "surrogatepass": a lone surrogate from a JSON "\ud800" escape must not raise.
    return len(text.encode("utf-8", "surrogatepass"))


def _json_len(value: Any) -> int:
    """UTF-8 bytes of ``json.dumps(value, ensure_ascii=False, separators=(",", ":"))``.

    Counted rather than serialised: a 100 KB base64 image block costs ~90 us instead of
    ~320 (small blocks cost about the same either way). Floats, and anything nested
    deeper than the recursion limit allows, are measured by json.dumps itself.
    """
    try:
        return _counted_json_len(value)
    except RecursionError:
        return _dumped_json_len(value)


def _dumped_json_len(value: Any) -> int:
    return _utf8_len(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


# Bytes json.dumps writes as they are (with ensure_ascii=False); the others are escaped:
# '"', '\\' and \b \f \n \r \t as two characters, other control characters as \u00XX.
_PLAIN_BYTES = bytes(b for b in range(0x20, 0x100) if b not in b'"\\')
_SHORT_ESCAPES = b'"\\\b\f\n\r\t'


def _json_str_len(text: str) -> int:
    # In UTF-8 every byte of a multi-byte character is >= 0x80, so the escaped
    # characters are exactly the bytes left after deleting the plain ones (one C pass).
    raw = text.encode("utf-8", "surrogatepass")
    special = raw.translate(None, _PLAIN_BYTES)
    if not special:
        return len(raw) + 2
    return (
        len(raw) + 2 + len(special) + 4 * len(special.translate(None, _SHORT_ESCAPES))
    )


def _counted_json_len(value: Any) -> int:
    if isinstance(value, str):
        return _json_str_len(value)
    if isinstance(value, dict):
        # "{}", a colon per key, a comma between items; JSON keys are strings.
        size = 2 * len(value) + 1 if value else 2
        for key, item in value.items():
            if not isinstance(key, str):
                return _dumped_json_len(value)
            size += _json_str_len(key) + _counted_json_len(item)
        return size
    if isinstance(value, list):
        size = len(value) + 1 if value else 2
        for item in value:
            size += _counted_json_len(item)
        return size
    if value is None or value is True:
        return 4
    if value is False:
        return 5
    if type(value) is int:
        return len(int.__repr__(value))
    return _dumped_json_len(value)  # floats (NaN, Infinity), anything else


def _content_size(content: Any) -> int:
    """UTF-8 bytes of a tool result: the string, the text of text blocks, else JSON."""
    if isinstance(content, str):
        return _utf8_len(content)
    if content is None:
        return 0
    if isinstance(content, list):
        size = 0
        for item in content:
            text = item.get("text") if isinstance(item, dict) else None
            if isinstance(text, str) and item.get("type") == "text":
                size += _utf8_len(text)
            else:
                size += _json_len(item)
        return size
    return _json_len(content)


def _tool_results(messages: Any) -> tuple[ToolResultSent, ...]:
    # Only the last message is new in this request: earlier tool results were sent
    # (and counted) by earlier requests of the conversation.
    if not isinstance(messages, list) or not messages:
        return ()
    last = messages[-1]
    content = last.get("content") if isinstance(last, dict) else None
    if not isinstance(content, list):
        return ()
    results = []
    for block in content:
        if not isinstance(block, dict) or block.get("type") != "tool_result":
            continue
        results.append(
            ToolResultSent(
                _str(block.get("tool_use_id")) or "",
                _content_size(block.get("content")),
                block.get("is_error") is True,
            )
        )
    return tuple(results)


# anthropic-beta values already split: an application sends the same betas on every
# request, and the lookup costs ~0.1 us against ~1.5 for the split. Bounded; cleared
# when full.
_BETAS: dict[str, tuple[str, ...]] = {}
_BETAS_SIZE = 64


def _betas(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    betas = _BETAS.get(value)
    if betas is None:
        betas = tuple([b for b in map(str.strip, value.split(",")) if b])
        if len(_BETAS) >= _BETAS_SIZE:
            _BETAS.clear()
        _BETAS[value] = betas
    return betas


def _retry_count(value: str | None) -> int:
    if value is None:
        return 0
    try:
        return max(0, int(value))
    except ValueError:
        return 0


def parse_request(
    body: bytes,
    *,
    method: str,
    path: str,
    server_address: str,
    server_port: int | None,
    headers: Mapping[str, str],
    capture_content: bool = False,
) -> RequestFacts:
    """Read the facts of a Messages API request.

    Args:
        body: the request body (JSON).
        method, path, server_address, server_port: where it went.
        headers: request headers with lower-case names. Only ``anthropic-beta``,
            ``x-stainless-retry-count`` and ``x-stainless-helper-method`` are looked up;
            credentials are never read.
        capture_content: keep the parsed body in ``RequestFacts.content``.

    Returns:
        The request facts; tool results are those of the last message only.

    Raises:
        WireError: the body is not a JSON object.
    """
    obj = _object(body, "request body")
    get = obj.get
    # The fields every request carries are tested inline; a helper call costs more
    # than the test. The sampling parameters are usually absent: no call then.
    model = get("model")
    max_tokens = get("max_tokens")
    temperature = get("temperature")
    top_p = get("top_p")
    top_k = get("top_k")
    stop = get("stop_sequences")
    try:
        # Positional, in RequestFacts' field order (tests/wire/test_requests.py checks
        # that order): ~25 % less than keywords for its 19 fields.
        return RequestFacts(
            method,
            path,
            server_address,
            server_port,
            model if isinstance(model, str) else None,
            get("stream") is True,
            max_tokens
            if isinstance(max_tokens, int) and not isinstance(max_tokens, bool)
            else None,
            None if temperature is None else _float(temperature),
            None if top_p is None else _float(top_p),
            None if top_k is None else _int(top_k),
            () if stop is None else _strings(stop),
            _tools(get("tools")),
            _container_id(get("container")),
            _tool_results(get("messages")),
            _betas(headers.get("anthropic-beta")),
            _retry_count(headers.get("x-stainless-retry-count")),
            headers.get("x-stainless-helper-method"),
            len(body),
            obj if capture_content else None,
        )
    except (ValueError, RecursionError) as exc:  # pragma: no cover
        # json.dumps of a result block: json.loads above already refused anything too
        # deep or too large to re-serialise, so this only guards the "only WireError"
        # promise should a caller's stack leave less room.
        raise WireError(f"unreadable request: {type(exc).__name__}") from None


# --- response bodies ---


def parse_message(body: bytes) -> Message:
    """Parse a non-streaming response body into a :class:`~ptc_observe.models.Message`.

    Raises:
        WireError: not JSON, not an object, an error envelope, or not a valid message.
    """
    try:
        # pydantic's own JSON parser: no Python dict in between (~30 % less time). It
        # refuses what json.loads accepts or repairs (bad UTF-8, a lone surrogate
        # escape, a BOM), so any refusal takes the slow path below, which gives the
        # same result or the same error as before.
        message = _validate_json(body)
    except (ValidationError, RecursionError, TypeError, ValueError):
        pass
    else:
        if message.type == "error":
            raise WireError("the body is an error envelope, not a message")
        return message
    obj = _object(body, "response body")
    if obj.get("type") == "error":
        raise WireError("the body is an error envelope, not a message")
    try:
        return Message.model_validate(obj)
    except (ValidationError, RecursionError, TypeError) as exc:
        raise WireError(f"invalid message: {_summary(exc)}") from None


_validate_json = Message.model_validate_json


class _Unsure(Exception):
    """A fact of the body is not in the shape the API sends: validate it all instead."""


def parse_reply(body: bytes) -> Reply:
    """Read the facts of a non-streaming response body; the model is built on demand.

    The facts sinks use (id, model, stop reason, usage, container, tool calls with their
    callers, code execution results) are read straight from the parsed JSON, each checked
    as :class:`~ptc_observe.models.Message` would check it; the pydantic model of the
    whole message is only validated when someone asks for ``Reply.message`` (~3x the
    cost of parsing the JSON). Anything unexpected in a fact (a wrong type, an unknown
    caller without its tool id) takes the full validation instead, which decides.

    Raises:
        WireError: not JSON, not an object, an error envelope, or not a valid message.
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


def parse_error(body: bytes) -> APIError | None:
    """Read an error body ``{"type": "error", "error": {"type", "message"}}``.

    Returns:
        The error, or ``None`` when the body is not such an envelope (an HTML page
        from a proxy, an empty body, ...). Never raises.
    """
    try:
        obj = _loads(body)
    except WireError:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("error"), dict):
        return None
    if obj.get("type") not in ("error", None):
        return None
    try:
        return APIError.model_validate(obj["error"])
    except (ValidationError, RecursionError, TypeError):
        return None


_EVENT_MODELS: dict[str, Any] = {
    "message_start": MessageStartEvent,
    "content_block_start": ContentBlockStartEvent,
    "content_block_delta": ContentBlockDeltaEvent,
    "content_block_stop": ContentBlockStopEvent,
    "message_delta": MessageDeltaEvent,
    "message_stop": MessageStopEvent,
    "ping": PingEvent,
    "error": ErrorEvent,
}


def parse_event(event: str | bytes, data: str | bytes) -> StreamEvent:
    """Parse the payload of one SSE event into its model.

    The SSE event name decides the model, as in the official SDKs; a payload whose
    ``type`` disagrees is invalid. Unknown names give an
    :class:`~ptc_observe.models.UnknownEvent` whose ``type`` is the event name.

    Raises:
        WireError: the payload is not a JSON object valid for the event.
    """
    name = event.decode("utf-8", "replace") if isinstance(event, bytes) else event
    model = _EVENT_MODELS.get(name)
    if model is not None:
        try:
            # pydantic's JSON parser straight into the model (~35 % less than a dict
            # in between); any refusal takes the path below, which decides the result.
            fast: StreamEvent = model.model_validate_json(data)
            return fast
        except (ValidationError, RecursionError, TypeError, ValueError):
            pass
    obj = _object(data, f"the {name!r} payload")
    try:
        if model is None:
            return UnknownEvent.model_validate({**obj, "type": name})
        result: StreamEvent = model.model_validate(obj)
        return result
    except (ValidationError, RecursionError, TypeError) as exc:
        raise WireError(f"invalid {name!r} event: {_summary(exc)}") from None


def _summary(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):  # it always holds at least one error
        first = exc.errors(include_url=False, include_input=False)[0]
        loc = ".".join(str(p) for p in first["loc"])
        return f"{loc}: {first['msg']}"[:200]
    return type(exc).__name__
