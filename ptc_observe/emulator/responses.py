"""Response bodies, usage objects and headers, shaped as recorded (§3, §4.3, §5.3)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import EmulatorError, error_body
from .frames import Frame
from .tokens import CacheUsage, compact_json

SERVER_TOOL_USE = {"web_search_requests": 0, "web_fetch_requests": 0}
JSON_TYPE = "application/json"
SSE_TYPE = "text/event-stream; charset=utf-8"


@dataclass
class EmulatorResponse:
    """A sans-IO response: what to send and when.

    Attributes:
        status: HTTP status.
        headers: response headers (lower-case names).
        body: the whole body of a non-streamed response.
        frames: the SSE events of a streamed response (``None`` if not streamed).
        delay: seconds to wait before sending the headers.
        per_token: seconds to wait per output token before each event.
        end: ``"complete"``; ``"drop"`` to drop the connection after the last
            chunk (a cut stream); ``"truncate"`` to end the body cleanly but early.
        cut_at: for a dropped non-streamed body, how many bytes are sent (the
            headers still announce the whole body).
    """

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    frames: list[Frame] | None = None
    delay: float = 0.0
    per_token: float = 0.0
    end: str = "complete"
    cut_at: int | None = None

    @property
    def streaming(self) -> bool:
        """Whether the body is a stream of SSE events."""
        return self.frames is not None

    def chunks(self) -> Iterator[tuple[float, bytes]]:
        """``(delay, bytes)`` pairs to send after the headers, in order."""
        if self.frames is None:
            body = self.body if self.cut_at is None else self.body[: self.cut_at]
            if body:
                yield 0.0, body
            return
        for frame in self.frames:
            yield frame.tokens * self.per_token, frame.data

    def json(self) -> Any:
        """The parsed body of a non-streamed response."""
        return json.loads(self.body)


def full_usage(cache: CacheUsage, output: int, *, code_tool: bool) -> dict[str, Any]:
    """``usage`` of a sampled, non-streamed response."""
    usage: dict[str, Any] = {
        "input_tokens": cache.input_tokens,
        "cache_creation_input_tokens": cache.cache_creation,
        "cache_read_input_tokens": cache.cache_read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": cache.cache_creation_5m,
            "ephemeral_1h_input_tokens": cache.cache_creation_1h,
        },
        "output_tokens": output,
        "service_tier": "standard",
        "inference_geo": "global",
    }
    if code_tool:
        usage["server_tool_use"] = dict(SERVER_TOOL_USE)
    return usage


def continuation_usage() -> dict[str, Any]:
    """``usage`` of an unsampled PTC continuation: zeros, no cache fields (§0.4)."""
    return {
        "input_tokens": 0,
        "output_tokens": 0,
        "server_tool_use": dict(SERVER_TOOL_USE),
    }


def stream_usages(
    usage: dict[str, Any], *, sampled: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``message_start`` and (cumulative) ``message_delta`` usage for ``usage``."""
    if not sampled:
        return {"input_tokens": 0, "output_tokens": 0}, dict(usage)
    # The output details (thinking tokens) are known at the end: message_delta.
    start = {
        k: v
        for k, v in usage.items()
        if k not in ("server_tool_use", "output_tokens_details")
    }
    start["output_tokens"] = min(1, usage["output_tokens"])
    delta = {
        k: usage[k]
        for k in (
            "input_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
            "output_tokens",
        )
    }
    if "output_tokens_details" in usage:
        delta["output_tokens_details"] = usage["output_tokens_details"]
    if "server_tool_use" in usage:
        delta["server_tool_use"] = usage["server_tool_use"]
    return start, delta


def message_body(
    *,
    model: str,
    message_id: str,
    content: list[dict[str, Any]],
    container: Any,
    include_container: bool,
    stop_reason: str,
    stop_sequence: str | None,
    usage: dict[str, Any] | None,
) -> dict[str, Any]:
    """A message in the recorded key order (``container`` omitted when not included)."""
    body: dict[str, Any] = {
        "model": model,
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "content": content,
    }
    if include_container:
        body["container"] = container
    body.update(
        stop_reason=stop_reason,
        stop_sequence=stop_sequence,
        stop_details=None,
        usage=usage,
    )
    return body


def error_response(
    error: EmulatorError, request_id: str, base_headers: list[tuple[str, str]]
) -> EmulatorResponse:
    """The API error envelope for ``error`` with ``request-id`` and ``base_headers``."""
    body = compact_json(
        error_body(error.error_type, error.message, request_id)
    ).encode()
    headers = [
        ("request-id", request_id),
        ("content-type", JSON_TYPE),
        *base_headers,
        *error.headers,
    ]
    return EmulatorResponse(error.status, headers, body)


def json_response(
    status: int, payload: Any, headers: list[tuple[str, str]]
) -> EmulatorResponse:
    """A JSON response with ``content-type`` added."""
    return EmulatorResponse(
        status, [("content-type", JSON_TYPE), *headers], compact_json(payload).encode()
    )


class RequestHandler(Protocol):
    """What the transports in :mod:`.mock` serve: the :class:`~.core.Emulator` is one."""

    def handle(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str] | Sequence[tuple[str, str]],
        body: bytes,
    ) -> EmulatorResponse:
        """Answer one HTTP request (sans-IO)."""
        ...
