"""The facts of a Messages API request: ``parse_request``.

Request parsing is lenient inside a valid JSON object: a field of the wrong type reads as
absent, since an observer should report what it can. Credentials (``authorization``,
``x-api-key``) are never read. msgspec reads the body first, once, into structs of exactly
the fields the facts and the history need (the resent texts, tool inputs and schemas cost
no Python objects); the reference path (``pydantic_core.from_json`` of the whole body)
decides on any error or doubt, and the two give equal facts for every input
(tests/wire/test_msgspec_paths.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import msgspec

from ..events import (
    RUN_START,
    RequestFacts,
    ToolDeclaration,
    ToolResultSent,
)
from ._json import (
    _DEPTH,
    _DIGITS,
    _NOT_BRACKETS,
    WireError,
    _no_long_number,
    _object,
)
from .history import Call, history_message, read_history
from .resends import read_resent_history

__all__ = ["parse_request"]


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
_TOOLS: dict[tuple[Any, Any, Any, Any], ToolDeclaration] = {}
_TOOLS_SIZE = 256


def _tool(value: Any) -> ToolDeclaration | None:
    if not isinstance(value, dict):
        return None
    get = value.get
    return _cached_tool(
        get("name"), get("type"), get("allowed_callers"), get("description")
    )


def _cached_tool(
    name: Any, kind: Any, callers: Any, description: Any = None
) -> ToolDeclaration:
    # The key holds the raw values: a declaration follows from them alone, and the
    # usual allowed_callers (absent, or a list of strings) is keyed without filtering.
    key = (name, kind, tuple(callers) if type(callers) is list else None, description)
    try:
        tool = _TOOLS.get(key)
    except TypeError:  # a list or object inside allowed_callers: not hashable
        return _declaration(key[0], key[1], callers, description)
    if tool is None:
        tool = _declaration(key[0], key[1], callers, description)
        if len(_TOOLS) >= _TOOLS_SIZE:
            _TOOLS.clear()
        _TOOLS[key] = tool
    return tool


def _declaration(
    name: Any, kind: Any, callers: Any, description: Any = None
) -> ToolDeclaration:
    kind = _str(kind)
    # "custom" is the explicit type of the application's own tools.
    return ToolDeclaration(
        _str(name) or "",
        None if kind in (None, "custom") else kind,
        _strings(callers),
        _str(description),
    )


OUTPUT_TYPE_JSON = "json"


def _output_type(config: Any, legacy_format: Any) -> str | None:
    """``json`` when ``output_config.format`` (or the older top-level ``output_format``)
    asks for structured output; every format the API defines is JSON."""
    fmt = config.get("format") if isinstance(config, dict) else None
    if fmt is None:
        fmt = legacy_format
    return OUTPUT_TYPE_JSON if isinstance(fmt, dict) else None


def _effort(config: Any) -> str | None:
    return _str(config.get("effort")) if isinstance(config, dict) else None


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


def _has_results(content: Any) -> bool:
    if not isinstance(content, list):
        return False
    for block in content:
        if isinstance(block, dict) and block.get("type") == _TOOL_RESULT:
            return True
    return False


_TOOL_RESULT = "tool_result"
_NO_CALL = (None, None, None)


def _result(
    use_id: Any, content: Any, is_error: Any, calls: dict[str, Call] | None
) -> ToolResultSent:
    """A result block of the last message, from its raw fields (both parsers' rule)."""
    if type(use_id) is not str:
        use_id = ""
    call = calls.get(use_id) if calls else None
    return ToolResultSent(
        use_id,
        # Most results are ASCII text: measured inline, else by the general rule.
        len(content)
        if type(content) is str and content.isascii()
        else _content_size(content),
        is_error is True,
        *(call if call is not None else _NO_CALL),
    )


def _history(messages: Any) -> tuple[tuple[ToolResultSent, ...], Any]:
    """The last message's results and the run position, from a parsed ``messages``
    value (the reference path)."""
    if not isinstance(messages, list) or not messages:
        return (), RUN_START
    last = messages[-1]
    # Only the last message's results are new in this request: earlier tool results
    # were sent (and counted) by earlier requests of the conversation.
    content = last.get("content") if isinstance(last, dict) else None
    want = _has_results(content)
    calls, position = read_history(
        history_message(last), messages, history_message, want_calls=want
    )
    if not want or not isinstance(content, list):
        return (), position
    return tuple(
        [
            _result(
                block.get("tool_use_id"),
                block.get("content"),
                block.get("is_error"),
                calls,
            )
            for block in content
            if isinstance(block, dict) and block.get("type") == _TOOL_RESULT
        ]
    ), position


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
    url: str | None = None,
) -> RequestFacts:
    """Read the facts of a Messages API request.

    Args:
        body: the request body (JSON).
        method, path, server_address, server_port: where it went.
        headers: request headers with lower-case names. Only ``anthropic-beta``,
            ``x-stainless-retry-count`` and ``x-stainless-helper-method`` are looked up;
            credentials are never read.
        capture_content: keep the parsed body in ``RequestFacts.content``.
        url: the request URL as ``RequestFacts.url`` (``url.full``), already cleaned.

    Returns:
        The request facts; tool results are those of the last message only.

    Raises:
        WireError: the body is not a JSON object.
    """
    if not capture_content:
        values = _fast_request(body)
        if values is not None:
            return _request_facts(
                values,
                body,
                method,
                path,
                server_address,
                server_port,
                headers,
                None,
                url,
            )
    return _parse_request_reference(
        body,
        method=method,
        path=path,
        server_address=server_address,
        server_port=server_port,
        headers=headers,
        capture_content=capture_content,
        url=url,
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
    url: str | None = None,
) -> RequestFacts:
    """:func:`parse_request` on the whole body parsed into Python objects.

    The definition the msgspec path must equal, and its fallback for anything it is not
    sure of; tests call it directly.
    """
    obj = _object(body, "request body")
    get = obj.get
    try:
        results, position = _history(get("messages"))
    except (ValueError, RecursionError) as exc:
        # json.dumps of a result block, which the parser already proved readable, so
        # only a caller's stack leaves less room. The promise is "only WireError".
        raise WireError(f"unreadable request: {type(exc).__name__}") from None
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
        results,
        position,
        get("output_config"),
        get("output_format"),
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
        url,
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
    url: str | None = None,
) -> RequestFacts:
    # values: the raw fields (model, stream, max_tokens, temperature, top_p, top_k,
    # stop_sequences), the declarations, the raw container, the last message's results
    # and the run position (read_history's), the raw output_config and output_format.
    # The rules for each are here once, whichever parser read them; a field absent (or
    # of its usual type) is decided inline, without a helper call.
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
        results,
        position,
        output_config,
        output_format,
    ) = values
    get = headers.get
    betas = get("anthropic-beta")
    retries = get("x-stainless-retry-count")
    try:
        # Positional, in RequestFacts' field order (tests/wire/test_requests.py checks
        # that order): ~25 % less than keywords for its fields.
        return RequestFacts(
            method,
            path,
            server_address,
            server_port,
            model if type(model) is str else None,
            stream is True,
            max_tokens if type(max_tokens) is int else None,
            None if temperature is None else _float(temperature),
            None if top_p is None else _float(top_p),
            None if top_k is None else _int(top_k),
            () if stop is None else _strings(stop),
            tools,
            container
            if container is None or type(container) is str
            else _container_id(container),
            results,
            _betas(betas) if betas else (),
            0 if retries is None else _retry_count(retries),
            get("x-stainless-helper-method"),
            len(body),
            content,
            position,
            None
            if output_config is None and output_format is None
            else _output_type(output_config, output_format),
            None if output_config is None else _effort(output_config),
            url,
        )
    except OverflowError:
        # float() of an integer past the float range (a temperature of 10**400).
        raise WireError("unreadable request: OverflowError") from None


class _Tool(msgspec.Struct):
    name: Any = None
    type: Any = None
    allowed_callers: Any = None
    description: Any = None


# No tools array (msgspec reads a Raw field as anything but null: null is read as text).
_ABSENT = msgspec.Raw(b"null")


class _Request(msgspec.Struct):
    """Exactly what the facts and the history need of a request body.

    The scalar fields are ``Any``: they are read leniently (a wrong type reads as
    absent), by the same rules as the reference's; null and absent both read as None
    there too. ``tools`` stays JSON text, read once per distinct array; ``messages``
    stay JSON texts, for :func:`~.resends.read_resent_history` to decode only the
    messages earlier requests of the conversation did not show.
    """

    model: Any = None
    stream: Any = None
    max_tokens: Any = None
    temperature: Any = None
    top_p: Any = None
    top_k: Any = None
    stop_sequences: Any = None
    container: Any = None
    tools: msgspec.Raw = _ABSENT
    messages: list[msgspec.Raw] | None = None
    output_config: Any = None
    output_format: Any = None


_REQUEST = msgspec.json.Decoder(_Request)
_TOOL_LIST = msgspec.json.Decoder(list[_Tool] | None)
_RAW_OBJECT = msgspec.json.Decoder(dict[str, msgspec.Raw])
_ANY = msgspec.json.Decoder()
# What every tools array already read says, keyed by its JSON text: its declarations,
# its opening brackets and its exact nesting. An application sends the same array on every
# request, so it is decoded, declared and measured once (a lookup hashes the text, ~0.2 ns
# a byte, about what skipping it costs msgspec). Its nesting is known exactly, so its
# brackets (a schema has many) never count toward the body's bound: a request with a
# large tool set stays on this path. Bounded in entries and in the size of a key it holds.
_ToolSet = tuple[tuple[ToolDeclaration, ...], int, int]
_TOOL_SETS: dict[bytes, _ToolSet] = {}
_TOOL_SETS_SIZE = 64
_TOOL_SET_BYTES = 65536
_NO_TOOLS: _ToolSet = ((), 0, 0)


def _tool_set(raw: msgspec.Raw) -> _ToolSet:
    """(declarations, opening brackets, nesting) of a tools array's JSON text."""
    if raw is _ABSENT:
        return _NO_TOOLS
    key = bytes(raw)
    entry = _TOOL_SETS.get(key)
    if entry is None:
        tools = tuple(
            [
                _cached_tool(t.name, t.type, t.allowed_callers, t.description)
                for t in _TOOL_LIST.decode(key) or ()
            ]
        )
        brackets = len(key.translate(None, _NOT_BRACKETS))
        # Nested past msgspec's recursion limit: a RecursionError, the reference decides.
        entry = (tools, brackets, _nesting(_ANY.decode(key)) if brackets else 0)
        if len(key) <= _TOOL_SET_BYTES:
            if len(_TOOL_SETS) >= _TOOL_SETS_SIZE:
                _TOOL_SETS.clear()
            _TOOL_SETS[key] = entry
    return entry


def _nesting(value: Any) -> int:
    """The most arrays and objects nested in a parsed JSON value, itself included."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if type(item) is list:
            children: Any = item
        elif type(item) is dict:
            children = item.values()
        else:
            continue
        deepest = max(deepest, level)
        stack.extend([(child, level + 1) for child in children])
    return deepest


def _fast_request(body: bytes) -> tuple[Any, ...] | None:
    """The raw values :func:`_request_facts` takes, or ``None``: use the reference."""
    if len(body) >= _DIGITS and not _no_long_number(body):
        return None
    try:
        # One decode reads the body, the messages as JSON texts; the guard follows.
        request = _REQUEST.decode(body)
        tools, tool_brackets, nesting = _tool_set(request.tools)
        if 1 + nesting > _DEPTH:  # the body's object around the array's own nesting
            return None
        messages = request.messages
        results: tuple[ToolResultSent, ...] = ()
        position = RUN_START
        brackets = 0
        if messages:
            # Each message is bounded on its own before it is read.
            read = read_resent_history(messages)
            if read is None:
                return None
            found, calls, position, brackets = read
            if found is not None:
                # A result's content is the only part of the history decoded whole.
                results = tuple(
                    [
                        _result(
                            b.tool_use_id, _ANY.decode(b.content), b.is_error, calls
                        )
                        for b in found
                    ]
                )
        # Outside the tools array and the messages, the nesting is bounded by the
        # brackets left; too many for one bound: each top-level value on its own.
        total = len(body.translate(None, _NOT_BRACKETS))
        if total - tool_brackets - brackets > _DEPTH and not _parts_bounded(
            body, total
        ):
            return None
    except (ValueError, RecursionError):  # msgspec's errors are ValueErrors
        return None
    return (
        request.model,
        request.stream,
        request.max_tokens,
        request.temperature,
        request.top_p,
        request.top_k,
        request.stop_sequences,
        tools,
        request.container,
        results,
        position,
        request.output_config,
        request.output_format,
    )


def _parts_bounded(body: bytes, total: int) -> bool:
    """Each top-level value but the tools and messages (bounded on their own) nests
    within the limit, by its own brackets; and every bracket of the body is in one of
    them (none in a key, or in a value a repeated key replaced)."""
    counted = 1  # the body's own object
    for name, raw in _RAW_OBJECT.decode(body).items():
        brackets = len(bytes(raw).translate(None, _NOT_BRACKETS))
        if name != "tools" and name != "messages" and brackets + 1 > _DEPTH:
            return False
        counted += brackets
    return counted == total
