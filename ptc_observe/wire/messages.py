"""JSON bodies, SSE payloads and headers of the Messages API, turned into facts and models.

Every parse failure is a :class:`WireError`; nothing else escapes (deep nesting, bad
UTF-8 and wrong types included). Request parsing is lenient inside a valid JSON object: a
field of the wrong type reads as absent, since an observer should report what it can.
Credentials (``authorization``, ``x-api-key``) are never read.

Requests (:mod:`.requests`) and non-streaming replies (:mod:`.replies`) have modules of
their own; this one parses whole messages, error bodies and SSE payloads into models, and
is where the interface names every parser.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from ..models import (
    APIError,
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

# Parsers of their own modules, re-exported here, where the interface names them.
from ._json import StreamError, WireError, _loads, _object, _summary
from .headers import RATE_LIMIT_RESOURCES, parse_rate_limits, parse_retry_after
from .replies import parse_reply
from .requests import parse_request

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


def parse_error(body: bytes) -> APIError | None:
    """Read an error body ``{"type": "error", "error": {"type", "message"}}``.

    The body's top-level ``request_id`` (2026 bodies carry one) becomes the error's
    ``request_id``.

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
        error = APIError.model_validate(obj["error"])
    except (ValidationError, RecursionError, TypeError):
        return None
    request_id = obj.get("request_id")
    if error.request_id is None and isinstance(request_id, str):
        error = error.model_copy(update={"request_id": request_id})
    return error


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
