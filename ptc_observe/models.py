"""Pydantic models of the Messages API wire format, as far as PTC needs them.

The API grows: every model accepts unknown fields (kept in ``model_extra``), content
blocks and stream events are discriminated unions on ``type`` with a fallback member for
types we have never seen, and usage fields that are null or missing mean "unknown",
never an error.

The one deliberate strictness is :class:`CallerInfo`: a caller other than ``direct``
must name the ``srvtoolu_…`` code-execution call it came from (``tool_id``), as the API
guarantees.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

__all__ = [
    "APIError",
    "CacheCreation",
    "CallerInfo",
    "CodeExecutionResult",
    "CodeExecutionToolResultBlock",
    "ContainerInfo",
    "ContentBlock",
    "ContentBlockDeltaEvent",
    "ContentBlockStartEvent",
    "ContentBlockStopEvent",
    "ErrorEvent",
    "Message",
    "MessageDelta",
    "MessageDeltaEvent",
    "MessageStartEvent",
    "MessageStopEvent",
    "OutputTokensDetails",
    "PingEvent",
    "ServerToolResultBlock",
    "ServerToolUsage",
    "ServerToolUseBlock",
    "StreamEvent",
    "TextBlock",
    "ThinkingBlock",
    "ToolCall",
    "ToolUseBlock",
    "UnknownBlock",
    "UnknownEvent",
    "Usage",
    "total_input_tokens",
]

DIRECT = "direct"


class _Wire(BaseModel):
    """Base for wire models: unknown fields are kept, never rejected."""

    # cache_strings="keys": pydantic-core's process-wide cache of parsed JSON strings
    # keeps field names only, never values (ids, text, tool inputs outlive no exchange).
    model_config = ConfigDict(extra="allow", cache_strings="keys")


# --- callers and containers ---


class CallerInfo(_Wire):
    """Who invoked a tool: the model directly, or code in a code-execution container.

    ``type`` is kept as the raw string (``direct``, ``code_execution_20250825``,
    ``code_execution_20260120``, or a version nobody has seen yet).
    """

    model_config = ConfigDict(extra="allow", frozen=True, cache_strings="keys")

    type: str = DIRECT
    tool_id: str | None = None

    @model_validator(mode="after")
    def _programmatic_needs_tool_id(self) -> CallerInfo:
        if self.type != DIRECT and not self.tool_id:
            raise ValueError(
                f"a {self.type!r} caller needs the tool_id of the code execution"
                " call that made it"
            )
        return self

    @property
    def is_programmatic(self) -> bool:
        """True when code in a container made the call.

        That is any non-``direct`` caller with a ``tool_id``.
        """
        return self.type != DIRECT and self.tool_id is not None


DIRECT_CALLER = CallerInfo()


class ContainerInfo(_Wire):
    """A code-execution container as a response names it: ``{"id", "expires_at"}``."""

    model_config = ConfigDict(extra="allow", frozen=True, cache_strings="keys")

    id: str
    expires_at: AwareDatetime

    @property
    def is_expired(self) -> bool:
        """True once ``expires_at`` has passed."""
        return datetime.now(timezone.utc) >= self.expires_at

    @property
    def time_remaining_seconds(self) -> float:
        """Seconds until ``expires_at``; never below zero."""
        return max(0.0, (self.expires_at - datetime.now(timezone.utc)).total_seconds())


# --- usage ---


class CacheCreation(_Wire):
    """Split of cache writes by time to live."""

    ephemeral_5m_input_tokens: int | None = None
    ephemeral_1h_input_tokens: int | None = None


class ServerToolUsage(_Wire):
    """Counts of server tool requests (``usage.server_tool_use``); what is billed.

    Other ``*_requests`` counts the API adds are kept as extra fields.
    """

    web_search_requests: int | None = None
    web_fetch_requests: int | None = None
    code_execution_requests: int | None = None


class OutputTokensDetails(_Wire):
    """``usage.output_tokens_details``: the reasoning (thinking) part of the output."""

    thinking_tokens: int | None = None


def total_input_tokens(usage: Any) -> int:
    """Uncached input plus cache reads and writes of a ``Usage`` or ``TokenUsage``.

    Unknown counts are zero.
    """
    return (
        (usage.input_tokens or 0)
        + (usage.cache_read_input_tokens or 0)
        + (usage.cache_creation_input_tokens or 0)
    )


class Usage(_Wire):
    """Token usage of one response. ``None`` means the API did not say.

    ``output_tokens`` includes the reasoning tokens of ``output_tokens_details``;
    ``cache_creation_input_tokens`` is the sum of the TTL split in ``cache_creation``.
    Newer fields (``iterations`` of a compaction, ``speed``, ...) are kept as extras.
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    cache_creation: CacheCreation | None = None
    server_tool_use: ServerToolUsage | None = None
    output_tokens_details: OutputTokensDetails | None = None
    service_tier: str | None = None
    inference_geo: str | None = None

    @property
    def total_input_tokens(self) -> int:
        """Uncached input plus cache reads and writes (unknown counts as zero)."""
        return total_input_tokens(self)

    @property
    def is_empty(self) -> bool:
        """True when no token count is known at all."""
        return self.input_tokens is None and self.output_tokens is None


def _usage_or_empty(value: Any) -> Any:
    """``usage: null`` is a usage nobody reported: every count unknown, not an error."""
    return {} if value is None else value


# --- content blocks ---


class TextBlock(_Wire):
    """Model-written text."""

    type: Literal["text"] = "text"
    text: str = ""


class ThinkingBlock(_Wire):
    """Extended thinking."""

    type: Literal["thinking"] = "thinking"
    thinking: str = ""
    signature: str | None = None


class ToolUseBlock(_Wire):
    """A call of one of the application's tools, direct or programmatic."""

    type: Literal["tool_use"] = "tool_use"
    id: str
    name: str
    input: dict[str, Any] = Field(default_factory=dict)
    caller: CallerInfo | None = None

    @property
    def effective_caller(self) -> CallerInfo:
        """The caller; an absent one reads as ``direct`` (older responses omit it)."""
        return self.caller if self.caller is not None else DIRECT_CALLER


class ServerToolUseBlock(_Wire):
    """A call of a server tool (``code_execution``, ``web_search``, …)."""

    type: Literal["server_tool_use"] = "server_tool_use"
    id: str
    name: str
    input: dict[str, Any] = Field(default_factory=dict)
    caller: CallerInfo | None = None


class CodeExecutionResult(_Wire):
    """The ``content`` of a code execution result: a finished cell, or an error."""

    type: str
    stdout: str | None = None
    stderr: str | None = None
    return_code: int | None = None
    error_code: str | None = None

    @property
    def succeeded(self) -> bool:
        """True for a result with return code 0; false for errors and non-zero exits."""
        return not self.type.endswith("_error") and (self.return_code or 0) == 0


class CodeExecutionToolResultBlock(_Wire):
    """``code_execution_tool_result``: what the code in a container produced."""

    type: Literal["code_execution_tool_result"] = "code_execution_tool_result"
    tool_use_id: str
    content: CodeExecutionResult | None = None


class ServerToolResultBlock(_Wire):
    """Any other ``*_tool_result`` block (bash, text editor, web search, …)."""

    type: str
    tool_use_id: str
    content: Any = None
    caller: CallerInfo | None = None


class UnknownBlock(_Wire):
    """A content block of a type this version does not know; all its fields are kept."""

    type: str


def _block_tag(value: Any) -> str:
    kind = _type_of(value)
    if not isinstance(kind, str):  # e.g. a list: unhashable, and never a known type
        return "unknown"
    if kind in _KNOWN_BLOCKS:
        return str(kind)
    if (
        isinstance(kind, str)
        and kind.endswith("_tool_result")
        and _has(value, "tool_use_id")
    ):
        return "server_tool_result"
    return "unknown"


def _type_of(value: Any) -> Any:
    if isinstance(value, dict):
        return value.get("type")
    return getattr(value, "type", None)


def _has(value: Any, key: str) -> bool:
    return key in value if isinstance(value, dict) else hasattr(value, key)


_KNOWN_BLOCKS = frozenset(
    {"text", "thinking", "tool_use", "server_tool_use", "code_execution_tool_result"}
)

ContentBlock = Annotated[
    Annotated[TextBlock, Tag("text")]
    | Annotated[ThinkingBlock, Tag("thinking")]
    | Annotated[ToolUseBlock, Tag("tool_use")]
    | Annotated[ServerToolUseBlock, Tag("server_tool_use")]
    | Annotated[CodeExecutionToolResultBlock, Tag("code_execution_tool_result")]
    | Annotated[ServerToolResultBlock, Tag("server_tool_result")]
    | Annotated[UnknownBlock, Tag("unknown")],
    Discriminator(_block_tag),
]
"""One block of ``Message.content``; unknown types become :class:`UnknownBlock`."""


# --- messages ---


class ToolCall(BaseModel):
    """A tool call the application must execute, with who made it."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    input: dict[str, Any] = Field(default_factory=dict)
    caller: CallerInfo = DIRECT_CALLER

    @property
    def is_programmatic(self) -> bool:
        """True when code in a container made the call."""
        return self.caller.is_programmatic


class Message(_Wire):
    """A Messages API response (``type: "message"``)."""

    id: str = ""
    type: str = "message"
    role: str = "assistant"
    model: str | None = None
    content: list[ContentBlock] = Field(default_factory=list)
    container: ContainerInfo | None = None
    stop_reason: str | None = None
    stop_sequence: str | None = None
    stop_details: Any = None
    usage: Usage = Field(default_factory=Usage)

    _null_usage = field_validator("usage", mode="before")(_usage_or_empty)

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The ``tool_use`` blocks in order as :class:`ToolCall` (no caller: direct)."""
        return [
            ToolCall(id=b.id, name=b.name, input=b.input, caller=b.effective_caller)
            for b in self.content
            if isinstance(b, ToolUseBlock)
        ]

    @property
    def server_tool_calls(self) -> list[ServerToolUseBlock]:
        """The ``server_tool_use`` blocks (code execution, web search, …)."""
        return [b for b in self.content if isinstance(b, ServerToolUseBlock)]

    @property
    def code_execution_results(self) -> list[CodeExecutionToolResultBlock]:
        """The ``code_execution_tool_result`` blocks."""
        return [b for b in self.content if isinstance(b, CodeExecutionToolResultBlock)]

    @property
    def text(self) -> str:
        """All text blocks joined."""
        return "".join(b.text for b in self.content if isinstance(b, TextBlock))

    @property
    def is_programmatic_pause(self) -> bool:
        """True when the turn paused for programmatic tool calls.

        The client must then answer with ``tool_result`` blocks and the container id.
        """
        return self.stop_reason == "tool_use" and any(
            c.is_programmatic for c in self.tool_calls
        )


class APIError(_Wire):
    """The ``error`` object of an error body or a mid-stream ``error`` event.

    ``request_id``: the error body's top-level ``request_id`` (2026 bodies carry one),
    which :func:`~ptc_observe.wire.messages.parse_error` copies here.
    """

    type: str = "api_error"
    message: str = ""
    request_id: str | None = None


# --- stream events ---


class MessageStartEvent(_Wire):
    """``message_start``: the message skeleton (PTC continuations: the whole one)."""

    type: Literal["message_start"] = "message_start"
    message: Message


class ContentBlockStartEvent(_Wire):
    """``content_block_start``: a block skeleton (programmatic ``tool_use``: whole)."""

    type: Literal["content_block_start"] = "content_block_start"
    index: int
    content_block: ContentBlock


class ContentBlockDeltaEvent(_Wire):
    """``content_block_delta``: ``text_delta``, ``input_json_delta``, …"""

    type: Literal["content_block_delta"] = "content_block_delta"
    index: int
    delta: dict[str, Any] = Field(default_factory=dict)


class ContentBlockStopEvent(_Wire):
    """``content_block_stop``."""

    type: Literal["content_block_stop"] = "content_block_stop"
    index: int


class MessageDelta(_Wire):
    """``message_delta.delta``: stop reason and, for PTC, the container."""

    stop_reason: str | None = None
    stop_sequence: str | None = None
    stop_details: Any = None
    container: ContainerInfo | None = None


class MessageDeltaEvent(_Wire):
    """``message_delta``: the usage here is cumulative (replace, never add)."""

    type: Literal["message_delta"] = "message_delta"
    delta: MessageDelta = Field(default_factory=MessageDelta)
    usage: Usage = Field(default_factory=Usage)

    _null_usage = field_validator("usage", mode="before")(_usage_or_empty)


class MessageStopEvent(_Wire):
    """``message_stop``: the stream is complete."""

    type: Literal["message_stop"] = "message_stop"


class PingEvent(_Wire):
    """``ping``: keep-alive."""

    type: Literal["ping"] = "ping"


class ErrorEvent(_Wire):
    """``error`` after HTTP 200: the exchange failed."""

    type: Literal["error"] = "error"
    error: APIError = Field(default_factory=APIError)


class UnknownEvent(_Wire):
    """An event type this version does not know (new ones may be added at any time)."""

    type: str


_KNOWN_EVENTS = frozenset(
    {
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
        "ping",
        "error",
    }
)


def _event_tag(value: Any) -> str:
    kind = _type_of(value)
    return kind if isinstance(kind, str) and kind in _KNOWN_EVENTS else "unknown"


StreamEvent = Annotated[
    Annotated[MessageStartEvent, Tag("message_start")]
    | Annotated[ContentBlockStartEvent, Tag("content_block_start")]
    | Annotated[ContentBlockDeltaEvent, Tag("content_block_delta")]
    | Annotated[ContentBlockStopEvent, Tag("content_block_stop")]
    | Annotated[MessageDeltaEvent, Tag("message_delta")]
    | Annotated[MessageStopEvent, Tag("message_stop")]
    | Annotated[PingEvent, Tag("ping")]
    | Annotated[ErrorEvent, Tag("error")]
    | Annotated[UnknownEvent, Tag("unknown")],
    Discriminator(_event_tag),
]
"""One SSE event payload; unknown types become :class:`UnknownEvent`."""
