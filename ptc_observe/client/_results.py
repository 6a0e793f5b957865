"""What the tool loop reports: each executed call, the run summary and the result."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..models import ContainerInfo, Message, ToolCall
from .tools import ToolResult

__all__ = ["RunResult", "RunSummary", "ToolExecution", "render_result"]


def render_result(value: Any) -> ToolResult:
    """A handler's return value as a :class:`ToolResult` (text content).

    ``str`` stays, ``bytes`` are decoded as UTF-8, a :class:`ToolResult` is kept,
    anything else becomes JSON (objects that JSON cannot encode use ``str()``).
    """
    if isinstance(value, ToolResult):
        return value
    if isinstance(value, str):
        return ToolResult(value)
    if isinstance(value, bytes | bytearray):
        return ToolResult(bytes(value).decode("utf-8", "replace"))
    return ToolResult(json.dumps(value, ensure_ascii=False, default=str))


@dataclass(frozen=True)
class ToolExecution:
    """One tool call the loop executed, and how it went."""

    call: ToolCall
    content: str
    is_error: bool = False
    error_type: str | None = None
    """``error.type`` of the span: exception class, ``TimeoutError``, ``tool_error``…"""
    timed_out: bool = False
    duration: float = 0.0
    """Seconds the handler ran (up to the timeout)."""

    def to_block(self) -> dict[str, Any]:
        """The ``tool_result`` block answering the call."""
        block: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": self.call.id,
            "content": self.content,
        }
        if self.is_error:
            block["is_error"] = True
        return block


@dataclass
class RunSummary:
    """What a run did: rounds, tool calls, tokens, containers, retries, time."""

    rounds: int = 0
    """Responses received (one per request that succeeded)."""
    tool_calls: Counter[str] = field(default_factory=Counter)
    """Executed calls by caller: ``direct`` / ``programmatic``."""
    tool_calls_by_caller_type: Counter[str] = field(default_factory=Counter)
    """Executed calls by raw caller type (``direct``, ``code_execution_20260120``…)."""
    tool_calls_by_name: Counter[str] = field(default_factory=Counter)
    tool_errors: int = 0
    tool_timeouts: int = 0
    tokens: Counter[str] = field(default_factory=Counter)
    """Tokens by type: ``input``, ``output``, ``cache_read``, ``cache_creation``."""
    containers: list[str] = field(default_factory=list)
    """Container ids in order of first use."""
    container_restarts: int = 0
    """Turns started again in a fresh container after the old one expired."""
    retries: int = 0
    pause_turns: int = 0
    stop_reason: str | None = None
    duration: float = 0.0
    """Seconds from the start of the run to its end."""

    def add_usage(self, message: Message) -> None:
        """Add a response's token counts."""
        usage = message.usage
        self.tokens["input"] += usage.input_tokens or 0
        self.tokens["output"] += usage.output_tokens or 0
        self.tokens["cache_read"] += usage.cache_read_input_tokens or 0
        self.tokens["cache_creation"] += usage.cache_creation_input_tokens or 0

    def add_execution(self, execution: ToolExecution) -> None:
        """Count an executed tool call."""
        caller = execution.call.caller
        self.tool_calls["programmatic" if caller.is_programmatic else "direct"] += 1
        self.tool_calls_by_caller_type[caller.type] += 1
        self.tool_calls_by_name[execution.call.name] += 1
        self.tool_errors += execution.is_error
        self.tool_timeouts += execution.timed_out


@dataclass
class RunResult:
    """The outcome of ``run()``: the final message, the conversation, the summary."""

    message: Message
    """The last response (the final answer, unless the run hit its round limit)."""
    messages: list[dict[str, Any]]
    """The whole conversation including the last assistant message; send it (plus a
    new user message) to continue."""
    summary: RunSummary
    container: ContainerInfo | None = None
    """The last container the run saw; pass its id to reuse it."""
    executions: list[ToolExecution] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The text of the final message."""
        return self.message.text

    @property
    def container_id(self) -> str | None:
        """The id of :attr:`container`."""
        return self.container.id if self.container is not None else None
