"""The client's requests and responses, sans IO.

Builds the headers and JSON body of a Messages API request, and turns response bytes
into a :class:`~ptc_observe.models.Message`, a stream of events, or a typed error. The
HTTP shells in :mod:`ptc_observe.client` only move bytes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import _version
from ..models import Message, StreamEvent
from ..wire.accumulate import StreamAccumulator
from ..wire.messages import (
    WireError,
    parse_error,
    parse_event,
    parse_message,
    parse_retry_after,
)
from ..wire.sse import SSEDecoder
from .errors import APIStatusError, IncompleteStreamError, PTCError, error_for
from .tools import BETA_HEADERS, DEFAULT_CODE_EXECUTION_VERSION, ToolRegistry

__all__ = [
    "API_VERSION",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_MODEL",
    "MESSAGES_PATH",
    "ClientConfig",
    "MessagesInput",
    "StreamReader",
    "ToolsInput",
]

API_VERSION = "2023-06-01"
"""``anthropic-version`` sent by default."""
DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_MODEL = "claude-sonnet-4-6"
DEFAULT_MAX_TOKENS = 4096
MESSAGES_PATH = "/v1/messages"

MessagesInput = str | Sequence[Mapping[str, Any]]
"""A user prompt, or a list of API messages (``{"role", "content"}``)."""

ToolsInput = ToolRegistry | Sequence[Mapping[str, Any]] | None
"""A registry, a ready ``tools`` array, or nothing."""


def resolve_api_key(api_key: str | None) -> str:
    """The API key from the argument, else ``ANTHROPIC_API_KEY``.

    Raises:
        PTCError: Neither is set.
    """
    key = api_key if api_key is not None else os.environ.get("ANTHROPIC_API_KEY")
    if not key:
        raise PTCError(
            "no API key: pass api_key=... or set the ANTHROPIC_API_KEY environment"
            " variable"
        )
    return key


def resolve_base_url(base_url: str | None) -> str:
    """The base URL from the argument, else ``ANTHROPIC_BASE_URL``, else the API's."""
    url = base_url or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL
    return url.rstrip("/")


@dataclass(frozen=True)
class ClientConfig:
    """Resolved client settings shared by the sync and async clients."""

    api_key: str
    base_url: str
    model: str = DEFAULT_MODEL
    max_tokens: int = DEFAULT_MAX_TOKENS
    ptc: bool = True
    code_execution_version: str = DEFAULT_CODE_EXECUTION_VERSION
    anthropic_version: str = API_VERSION
    default_headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def betas(self) -> tuple[str, ...]:
        """``anthropic-beta`` values: only the beta-era code execution needs one."""
        beta = BETA_HEADERS.get(self.code_execution_version)
        return (beta,) if self.ptc and beta else ()

    def headers(self, *, retry_count: int = 0, stream: bool = False) -> dict[str, str]:
        """Request headers (the key as ``x-api-key``).

        ``x-stainless-retry-count`` is the header the official SDK uses to number its
        attempts; sending it lets an observer count our retries the same way.
        """
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream" if stream else "application/json",
            "anthropic-version": self.anthropic_version,
            "x-api-key": self.api_key,
            "user-agent": f"ptc-observe/{_version.__version__}",
            "x-stainless-retry-count": str(retry_count),
        }
        if self.betas:
            headers["anthropic-beta"] = ",".join(self.betas)
        headers.update({k.lower(): v for k, v in self.default_headers.items()})
        return headers

    def tools_array(self, tools: ToolsInput) -> list[dict[str, Any]]:
        """The ``tools`` array for a registry (policy applied) or a ready list."""
        if tools is None:
            return []
        if isinstance(tools, ToolRegistry):
            return tools.to_api(
                ptc=self.ptc, code_execution_version=self.code_execution_version
            )
        return [dict(t) for t in tools]

    def body(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        tools: Sequence[Mapping[str, Any]] = (),
        container_id: str | None = None,
        stream: bool = False,
        model: str | None = None,
        max_tokens: int | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The JSON body of a Messages request.

        Args:
            messages: API messages.
            tools: The ``tools`` array (omitted when empty).
            container_id: Container to use (omitted when ``None``).
            stream: Ask for server-sent events.
            model: Overrides the client's model.
            max_tokens: Overrides the client's ``max_tokens``.
            params: Further body fields (``system``, ``tool_choice``, …), sent as given.
        """
        body: dict[str, Any] = {
            "model": model or self.model,
            "max_tokens": max_tokens if max_tokens is not None else self.max_tokens,
            "messages": list(messages),
        }
        if tools:
            body["tools"] = list(tools)
        if container_id is not None:
            body["container"] = container_id
        if stream:
            body["stream"] = True
        for key, value in (params or {}).items():
            if value is not None:
                body[key] = value
        return body


def normalize_messages(messages: MessagesInput) -> list[dict[str, Any]]:
    """API messages from a prompt string or a list of message mappings.

    Raises:
        ValueError: An empty list or a message without ``role``/``content``.
    """
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    out = [dict(m) for m in messages]
    if not out:
        raise ValueError("messages is empty")
    for i, m in enumerate(out):
        if "role" not in m or "content" not in m:
            raise ValueError(f"messages[{i}] needs 'role' and 'content'")
    return out


def encode(body: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON, as the API expects."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def error_from_response(
    status_code: int, headers: Mapping[str, str], body: bytes
) -> APIStatusError:
    """The typed error for a response with status ≥ 400.

    Args:
        status_code: HTTP status.
        headers: Response headers with lower-case names.
        body: The whole (decoded) body; need not be JSON.
    """
    api_error = None
    parsed: Any = None
    try:
        api_error = parse_error(body)
        parsed = json.loads(body)
    except (WireError, ValueError):
        pass
    request_id = parsed.get("request_id") if isinstance(parsed, dict) else None
    if api_error is not None:
        error_type: str | None = api_error.type
        message = api_error.message
    else:
        error_type = None
        text = body.decode("utf-8", "replace").strip()
        message = text[:500] if text else f"HTTP {status_code} without a body"
    return error_for(
        status_code=status_code,
        error_type=error_type,
        message=message,
        request_id=request_id or headers.get("request-id"),
        retry_after=parse_retry_after(headers),
        headers=headers,
        body=parsed,
    )


def message_from_body(body: bytes, headers: Mapping[str, str]) -> Message:
    """Parse a successful JSON response.

    Raises:
        PTCError: The body is not a message.
    """
    try:
        return parse_message(body)
    except WireError as exc:
        raise PTCError(
            f"the response is not a message ({exc});"
            f" request-id {headers.get('request-id')}"
        ) from exc


class StreamReader:
    """Turns the bytes of an SSE response into events and the final message.

    Two readers of one body: an SSE decoder gives the events a caller iterates over,
    and the wire :class:`StreamAccumulator` (with content capture) builds the message
    the same way the observer does, so both agree on what arrived.

    Args:
        status_code: HTTP status of the stream (for errors inside it).
        headers: Response headers with lower-case names.
    """

    def __init__(self, status_code: int, headers: Mapping[str, str]) -> None:
        self._decoder = SSEDecoder()
        self._accumulator = StreamAccumulator(capture_content=True)
        self._status = status_code
        self._headers = headers
        self.events_seen = 0

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        """Take the next chunk of the body; return the events it completed.

        Raises:
            APIStatusError: The stream carried an ``error`` event.
        """
        self._accumulator.feed(chunk)
        return self._events(self._decoder.feed(chunk))

    def _events(self, raw: Iterable[Any]) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for sse in raw:
            try:
                event = parse_event(sse.event, sse.data)
            except WireError:
                # Malformed payloads are the accumulator's anomalies; a caller
                # iterating events just does not see them.
                continue
            self.events_seen += 1
            if event.type == "error":
                self._raise_error()
            out.append(event)
        return out

    def _raise_error(self) -> None:
        error = self._accumulator.error
        raise error_for(
            status_code=self._status,
            error_type=error.type if error is not None else None,
            message=error.message if error is not None else "error event in stream",
            request_id=self._headers.get("request-id"),
            retry_after=parse_retry_after(self._headers),
            in_stream=True,
            headers=self._headers,
        )

    def close(self) -> tuple[list[StreamEvent], Message]:
        """End of body: the last events and the complete message.

        Raises:
            APIStatusError: An ``error`` event came last.
            IncompleteStreamError: The stream ended without ``message_stop``.
        """
        tail = self._events(self._decoder.flush())
        self._accumulator.close()
        if self._accumulator.error is not None:
            self._raise_error()
        message = self._accumulator.message
        if not self._accumulator.complete or message is None:
            raise IncompleteStreamError(
                f"the stream ended without message_stop after {self.events_seen}"
                " events",
                request_id=self._headers.get("request-id"),
            )
        return tail, message
