"""JSON bodies, SSE payloads and headers of the Messages API, turned into facts and models.

Every parse failure is a :class:`WireError`; nothing else escapes (deep nesting, bad
UTF-8 and wrong types included). Request parsing is lenient inside a valid JSON object: a
field of the wrong type reads as absent, since an observer should report what it can.
Credentials (``authorization``, ``x-api-key``) are never read.

Requests and non-streaming replies are read by msgspec (https://jcristharif.com/msgspec/)
first, into structs that declare only the facts, so that a request's resent history and a
reply's text and tool inputs cost no Python objects; on any error or doubt the reference
path (``pydantic_core.from_json`` of the whole body) decides, and the two give equal facts
for every input (tests/wire/test_msgspec_paths.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import msgspec
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
    return _cached_tool(get("name"), get("type"), get("allowed_callers"))


def _cached_tool(name: Any, kind: Any, callers: Any) -> ToolDeclaration:
    # The key holds the raw values: a declaration follows from them alone, and the
    # usual allowed_callers (absent, or a list of strings) is keyed without filtering.
    key = (name, kind, tuple(callers) if type(callers) is list else None)
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


def _results_in(content: Any) -> tuple[ToolResultSent, ...]:
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
    if not capture_content:
        values = _fast_request(body)
        if values is not None:
            return _request_facts(
                values, body, method, path, server_address, server_port, headers, None
            )
    return _parse_request_reference(
        body,
        method=method,
        path=path,
        server_address=server_address,
        server_port=server_port,
        headers=headers,
        capture_content=capture_content,
    )


def _parse_request_reference(
    body: bytes,
    *,
    method: str,
    path: str,
    server_address: str,
    server_port: int | None,
    headers: Mapping[str, str],
    capture_content: bool = False,
) -> RequestFacts:
    """:func:`parse_request` on the whole body parsed into Python objects.

    The definition the msgspec path must equal, and its fallback for anything it is not
    sure of; tests call it directly.
    """
    obj = _object(body, "request body")
    get = obj.get
    messages = get("messages")
    last = messages[-1] if isinstance(messages, list) and messages else None
    values = (
        get("model"),
        get("stream"),
        get("max_tokens"),
        get("temperature"),
        get("top_p"),
        get("top_k"),
        get("stop_sequences"),
        _tools(get("tools")),
        get("container"),
        # Only the last message is new in this request: earlier tool results were
        # sent (and counted) by earlier requests of the conversation.
        last.get("content") if isinstance(last, dict) else None,
    )
    return _request_facts(
        values,
        body,
        method,
        path,
        server_address,
        server_port,
        headers,
        obj if capture_content else None,
    )


def _request_facts(
    values: tuple[Any, ...],
    body: bytes,
    method: str,
    path: str,
    server_address: str,
    server_port: int | None,
    headers: Mapping[str, str],
    content: Any,
) -> RequestFacts:
    # values: the raw fields (model, stream, max_tokens, temperature, top_p, top_k,
    # stop_sequences), the declarations, the raw container and the last message's raw
    # content. The rules for each are here once, whichever parser read them.
    (
        model,
        stream,
        max_tokens,
        temperature,
        top_p,
        top_k,
        stop,
        tools,
        container,
        last,
    ) = values
    try:
        # Positional, in RequestFacts' field order (tests/wire/test_requests.py checks
        # that order): ~25 % less than keywords for its 19 fields. The fields every
        # request carries are tested inline (a helper call costs more than the test).
        return RequestFacts(
            method,
            path,
            server_address,
            server_port,
            model if isinstance(model, str) else None,
            stream is True,
            max_tokens
            if isinstance(max_tokens, int) and not isinstance(max_tokens, bool)
            else None,
            None if temperature is None else _float(temperature),
            None if top_p is None else _float(top_p),
            None if top_k is None else _int(top_k),
            () if stop is None else _strings(stop),
            tools,
            _container_id(container),
            _results_in(last),
            _betas(headers.get("anthropic-beta")),
            _retry_count(headers.get("x-stainless-retry-count")),
            headers.get("x-stainless-helper-method"),
            len(body),
            content,
        )
    except (ValueError, RecursionError, OverflowError) as exc:
        # OverflowError: float() of an integer past the float range (a temperature of
        # 10**400). ValueError/RecursionError: json.dumps of a result block, which the
        # parser already proved readable, so only a caller's stack leaves less room.
        # Either way the promise is "only WireError".
        raise WireError(f"unreadable request: {type(exc).__name__}") from None


# --- the msgspec fast paths ---
#
# msgspec (https://jcristharif.com/msgspec/, a maintained C JSON library) decodes into
# structs that declare only the fact fields and skips everything else without building
# Python objects: the history a request resends on every turn, the text and tool inputs
# of a response. It reads exactly what from_json reads or refuses, except where it
# skips: there it neither limits the nesting depth as jiter does nor refuses integers too
# long for from_json and json.loads, nor checks UTF-8. The guards below send any body
# that could differ there to the reference path (bad UTF-8 in skipped text changes no
# fact: json.loads reads it). Any msgspec error (malformed JSON, NaN, a lone surrogate, a
# field of an unexpected type) takes the reference path too, which decides.
#
# What it buys (docs/performance.md): 1.5 KB request 29 -> 22.5 us, 4 KB reply 29 -> 23;
# a 500 KB conversation ~2.7 -> ~2.2 ms. The depth guard (bytes.count of the brackets,
# ~1.6 ns a byte) costs about what msgspec's own decoding does: without it a 500 KB body
# would take ~1.35 ms, but a body nested 201 to ~1,000 levels deep would read where the
# reference refuses it.

# from_json (jiter) reads 201 nested levels, a scalar inside counting as one: 200
# arrays or objects around a value (201 around nothing), and refuses one more.
_DEPTH = 200
_DIGITS = 4000  # from_json refuses integers past ~4300 digits; json.loads past 4300
_STRIDE = 500  # a run of _DIGITS digits covers 8 consecutive bytes of body[::_STRIDE]
_DIGIT_MAP = bytes(0x30 if 0x30 <= i <= 0x39 else 0x20 for i in range(256))
_DIGIT_RUN = b"0" * (_DIGITS // _STRIDE)


def _no_long_number(body: bytes) -> bool:
    """No run of digits long enough for an integer the reference parsers refuse."""
    if len(body) < _DIGITS:
        return True
    if _DIGIT_RUN not in body[::_STRIDE].translate(_DIGIT_MAP):
        return True  # the sampled bytes rule a long run out (almost always)
    return b"0" * _DIGITS not in body.translate(_DIGIT_MAP)


def _depth_bound(raw: bytes) -> int:
    # Nesting can go no deeper than the count of opening brackets (those inside
    # strings included, which only makes the bound looser).
    return raw.count(b"[") + raw.count(b"{")


class _Tool(msgspec.Struct):
    name: Any = None
    type: Any = None
    allowed_callers: Any = None


class _Request(msgspec.Struct):
    # Any: the fields are read leniently (a wrong type reads as absent), by the same
    # rules as the reference's; null and absent both read as None there too.
    model: Any = None
    stream: Any = None
    max_tokens: Any = None
    temperature: Any = None
    top_p: Any = None
    top_k: Any = None
    stop_sequences: Any = None
    container: Any = None
    tools: list[_Tool] | None = None
    messages: list[msgspec.Raw] | None = None


class _Last(msgspec.Struct):
    content: Any = None


_REQUEST = msgspec.json.Decoder(_Request)
_LAST = msgspec.json.Decoder(_Last)
_RAW_OBJECT = msgspec.json.Decoder(dict[str, msgspec.Raw])
_RAW_LIST = msgspec.json.Decoder(list[msgspec.Raw] | None)
_ANY = msgspec.json.Decoder()
# The decoders of the top-level fields but messages, for a body read part by part.
_FIELD_DECODERS: dict[str, msgspec.json.Decoder[Any]] = {
    name: _ANY for name in _Request.__struct_fields__ if name != "messages"
}
_FIELD_DECODERS["tools"] = msgspec.json.Decoder(list[_Tool] | None)
# Past this length a body nearly always has more than _DEPTH brackets: counting them all
# would be wasted, so it is checked part by part at once.
_SMALL = 16384


def _fast_request(body: bytes) -> tuple[Any, ...] | None:
    """The raw values :func:`_request_facts` takes, or ``None``: use the reference."""
    if not _no_long_number(body):
        return None
    try:
        if len(body) <= _SMALL and _depth_bound(body) <= _DEPTH:
            request: _Request | None = _REQUEST.decode(body)
        else:
            request = _checked_request(body)
        if request is None:
            return None
        messages = request.messages
        last = _LAST.decode(messages[-1]).content if messages else None
    except (ValueError, RecursionError):  # msgspec's errors are ValueErrors
        return None
    tools = request.tools
    return (
        request.model,
        request.stream,
        request.max_tokens,
        request.temperature,
        request.top_p,
        request.top_k,
        request.stop_sequences,
        ()
        if tools is None
        else tuple([_cached_tool(t.name, t.type, t.allowed_callers) for t in tools]),
        request.container,
        last,
    )


def _checked_request(body: bytes) -> _Request | None:
    """A long body read part by part, each part's nesting bounded by its own brackets.

    The body's top-level values nest one level deep, the messages two; a part whose
    bound passes the limit leaves the body to the reference parser.
    """
    parts = _RAW_OBJECT.decode(body)
    raw_messages = parts.pop("messages", None)
    values: dict[str, Any] = {}
    for name, raw in parts.items():
        if _depth_bound(bytes(raw)) + 1 > _DEPTH:
            return None
        decoder = _FIELD_DECODERS.get(name)
        if decoder is not None:
            values[name] = decoder.decode(raw)
    if raw_messages is not None:
        messages = values["messages"] = _RAW_LIST.decode(raw_messages)
        for message in messages or ():
            if _depth_bound(bytes(message)) + 2 > _DEPTH:
                return None
    return _Request(**values)


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
