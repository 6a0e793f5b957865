"""What a response says: the reply's facts, read once, and the blocks they come from.

:class:`Reply` holds the usage (:class:`TokenUsage`), the tool calls by caller
(:class:`ToolUse`), the server tools (:class:`ServerToolUse`, :class:`ServerToolResult`)
and the code executions' results (:class:`CodeResult`) of a response message; the full
pydantic :class:`~ptc_observe.models.Message` only on demand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..models import (
    DIRECT,
    CodeExecutionToolResultBlock,
    ContainerInfo,
    Message,
    ServerToolResultBlock,
    ServerToolUsage,
    ServerToolUseBlock,
    ToolCall,
    ToolUseBlock,
    Usage,
    total_input_tokens,
)

__all__ = [
    "CODE_EXECUTION",
    "code_variant",
    "CodeResult",
    "NO_USAGE",
    "Reply",
    "server_tool_requests",
    "ServerToolResult",
    "ServerToolUse",
    "TokenUsage",
    "ToolUse",
]


@dataclass(frozen=True, slots=True)
class ToolUse:
    """A ``tool_use`` block of the response: a call the application must run."""

    id: str
    name: str
    caller_type: str = DIRECT
    """The raw caller type (``direct``, ``code_execution_20260120``, …)."""
    caller_tool_id: str | None = None
    """The ``server_tool_use`` id of the code execution that made the call."""

    @property
    def is_programmatic(self) -> bool:
        """True when code in a container made the call (as ``CallerInfo`` says)."""
        return self.caller_type != DIRECT and self.caller_tool_id is not None


CODE_EXECUTION = "code_execution"
"""The variant of ``code_execution_tool_result`` (the Python cell PTC runs)."""
_RESULT = "_tool_result"
_CODE_RESULT = "code_execution_tool_result"


def code_variant(block_type: str) -> str | None:
    """The code-execution variant of a result block type, or ``None``.

    ``code_execution_tool_result`` -> ``code_execution``, ``bash_code_execution_tool_result``
    -> ``bash_code_execution``, ``text_editor_code_execution_tool_result`` ->
    ``text_editor_code_execution`` (and any later ``*code_execution_tool_result``): the
    ``gen_ai.tool.name`` of the ``server_tool_use`` the result answers.
    """
    if block_type.endswith(_CODE_RESULT):
        return block_type[: -len(_RESULT)]
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class CodeResult:
    """A code-execution result block of the response, of any variant.

    ``succeeded`` is false for a content whose type ends in ``_error`` (or has no type),
    a non-zero ``return_code``, or no content at all. ``abort_reason`` is recorded as the
    API gives it (``null`` on every recorded result) and does not decide the outcome.
    """

    tool_use_id: str
    """The ``srvtoolu_…`` id of the ``server_tool_use`` that ran the code."""
    succeeded: bool
    return_code: int | None = None
    variant: str = CODE_EXECUTION
    """``code_execution``, ``bash_code_execution`` or ``text_editor_code_execution``."""
    content_type: str | None = None
    """The result content's type (``bash_code_execution_result``, ``…_error``, …)."""
    error_code: str | None = None
    """The ``error_code`` of an ``…_error`` content."""
    abort_reason: str | None = None

    @property
    def outcome(self) -> str:
        """``success`` or ``error`` (a closed set, fit for metric labels)."""
        return "success" if self.succeeded else "error"

    @classmethod
    def read(cls, variant: str, tool_use_id: str, content: Any) -> CodeResult:
        """The result of a block's raw ``content`` (a JSON object, or anything else).

        Never raises: what is not an object with a string ``type`` is an error result.
        """
        if not isinstance(content, dict):
            return cls(tool_use_id, False, None, variant)
        kind = content.get("type")
        code = content.get("return_code")
        if type(code) is not int:
            code = None
        if not isinstance(kind, str):
            return cls(tool_use_id, False, code, variant)
        return cls(
            tool_use_id,
            not kind.endswith("_error") and not code,
            code,
            variant,
            kind,
            _text(content.get("error_code")),
            _text(content.get("abort_reason")),
        )


@dataclass(frozen=True, slots=True)
class ServerToolUse:
    """A ``server_tool_use`` block: a tool the API ran (code execution, web fetch, …)."""

    id: str
    name: str
    """``code_execution``, ``bash_code_execution``, ``web_fetch``, ``web_search``, …"""
    caller_type: str = DIRECT
    """``direct``, or the ``code_execution_…`` type of the code that called it."""
    caller_tool_id: str | None = None
    """The ``srvtoolu_…`` id of the code execution that called it (programmatic)."""

    @property
    def is_programmatic(self) -> bool:
        """True when code in a container called the server tool."""
        return self.caller_type != DIRECT and self.caller_tool_id is not None


@dataclass(frozen=True, slots=True)
class ServerToolResult:
    """Any other server-side ``*_tool_result`` block (web fetch, web search, MCP, …)."""

    tool_use_id: str
    type: str
    """The block type (``web_fetch_tool_result``, ``mcp_tool_result``, …)."""
    is_error: bool
    """The content's type ends in ``_error``, or the block says ``is_error: true``."""
    caller_type: str = DIRECT
    caller_tool_id: str | None = None

    @property
    def is_programmatic(self) -> bool:
        """True when the result went to code in a container."""
        return self.caller_type != DIRECT and self.caller_tool_id is not None

    @staticmethod
    def failed(content: Any, is_error: Any) -> bool:
        """The ``is_error`` fact of a block's raw ``content`` and ``is_error`` field."""
        if is_error is True:
            return True
        if isinstance(content, dict):
            kind = content.get("type")
            return isinstance(kind, str) and kind.endswith("_error")
        return False


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """The token counts of a response (``None``: the API did not say).

    The four counts of :class:`~ptc_observe.models.Usage`, under the same names, and the
    details sinks count: the reasoning part of the output
    (``output_tokens_details.thinking_tokens``), the cache writes by time to live
    (``cache_creation.ephemeral_5m_input_tokens`` / ``…_1h_…``), and the server tool
    requests of ``usage.server_tool_use`` as ``(name, count)`` pairs sorted by name, the
    name without its ``_requests`` suffix (``web_search``, ``web_fetch``, …). A plain
    record costs a fraction of the pydantic model.
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    reasoning_tokens: int | None = None
    """Part of ``output_tokens``, not in addition to it."""
    cache_write_5m_tokens: int | None = None
    cache_write_1h_tokens: int | None = None
    server_tool_requests: tuple[tuple[str, int], ...] = ()

    @classmethod
    def from_usage(cls, usage: Usage) -> TokenUsage:
        """The counts of a validated ``Usage``."""
        details = usage.output_tokens_details
        split = usage.cache_creation
        tools = usage.server_tool_use
        return cls(
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_creation_input_tokens,
            usage.cache_read_input_tokens,
            None if details is None else details.thinking_tokens,
            None if split is None else split.ephemeral_5m_input_tokens,
            None if split is None else split.ephemeral_1h_input_tokens,
            () if tools is None else _requests_of(tools),
        )

    @property
    def total_input_tokens(self) -> int:
        """Uncached input plus cache reads and writes (unknown counts as zero)."""
        return total_input_tokens(self)

    @property
    def is_empty(self) -> bool:
        """True when no token count is known at all."""
        return self.input_tokens is None and self.output_tokens is None

    def cache_write_by_ttl(self) -> tuple[int, int, int]:
        """``(5m, 1h, unknown)`` cache-write tokens; they sum to the cache writes.

        The split is capped by ``cache_creation_input_tokens`` (unknown: 0), so the three
        always add up to the total that ``ptc_tokens_total`` counts.
        """
        total = self.cache_creation_input_tokens or 0
        five = min(self.cache_write_5m_tokens or 0, total)
        hour = min(self.cache_write_1h_tokens or 0, total - five)
        return five, hour, total - five - hour


_REQUESTS = "_requests"


def _requests_of(tools: ServerToolUsage) -> tuple[tuple[str, int], ...]:
    # The fields read one by one: dict(model) costs ~6 us.
    counts: dict[str, Any] = {
        "code_execution_requests": tools.code_execution_requests,
        "web_fetch_requests": tools.web_fetch_requests,
        "web_search_requests": tools.web_search_requests,
    }
    extra = tools.model_extra
    if extra:
        counts.update(extra)
    return server_tool_requests(counts)


def server_tool_requests(counts: dict[str, Any]) -> tuple[tuple[str, int], ...]:
    """``(name, count)`` of a ``usage.server_tool_use`` object's ``*_requests`` ints."""
    found = [
        (key[:-9], value)  # len("_requests") == 9
        for key, value in counts.items()
        if type(value) is int and key.endswith(_REQUESTS) and len(key) > 9
    ]
    if len(found) > 1:
        found.sort()
    return tuple(found)


NO_USAGE = TokenUsage()
"""The usage of a response that did not say."""


class Reply:
    """The response message's facts, read once; the full :class:`Message` on demand.

    Sinks and the correlator read only these fields, so the hot path never builds the
    pydantic model of a JSON body: :attr:`message` validates it on first access (content
    capture, the PTC client and user code ask for it) from the JSON body or object it was
    read from (``source``), and keeps it. A reply built from a :class:`Message`
    (streams, tests) holds that message from the start.

    Treat it as immutable: it is shared by every copy of its exchange.
    """

    __slots__ = (
        "_message",
        "_source",
        "code_results",
        "container",
        "id",
        "model",
        "server_results",
        "server_tool_uses",
        "stop_reason",
        "tool_uses",
        "usage",
    )

    def __init__(
        self,
        *,
        id: str,
        model: str | None,
        stop_reason: str | None,
        usage: TokenUsage,
        container: ContainerInfo | None = None,
        tool_uses: tuple[ToolUse, ...] = (),
        server_tool_uses: tuple[ServerToolUse, ...] = (),
        code_results: tuple[CodeResult, ...] = (),
        server_results: tuple[ServerToolResult, ...] = (),
        message: Message | None = None,
        source: bytes | dict[str, Any] | None = None,
    ) -> None:
        self.id = id
        self.model = model
        self.stop_reason = stop_reason
        self.usage = usage
        self.container = container
        self.tool_uses = tool_uses
        """The ``tool_use`` blocks, in order."""
        self.server_tool_uses = server_tool_uses
        """The ``server_tool_use`` blocks, in order, with their callers."""
        self.code_results = code_results
        """The code-execution results of every variant, in order."""
        self.server_results = server_results
        """The other server tool results (``web_fetch_tool_result``, …), in order."""
        self._message = message
        self._source = source

    @property
    def server_tools(self) -> tuple[str, ...]:
        """The names of the ``server_tool_use`` blocks, in order."""
        return tuple(use.name for use in self.server_tool_uses)

    @classmethod
    def from_message(cls, message: Message) -> Reply:
        """The facts of an already validated message (which the reply keeps)."""
        tool_uses: list[ToolUse] = []
        server_uses: list[ServerToolUse] = []
        code_results: list[CodeResult] = []
        server_results: list[ServerToolResult] = []
        for block in message.content:
            if isinstance(block, ToolUseBlock):
                caller = block.caller
                tool_uses.append(
                    ToolUse(block.id, block.name)
                    if caller is None
                    else ToolUse(block.id, block.name, caller.type, caller.tool_id)
                )
            elif isinstance(block, ServerToolUseBlock):
                caller = block.caller
                server_uses.append(
                    ServerToolUse(block.id, block.name)
                    if caller is None
                    else ServerToolUse(
                        block.id, block.name, caller.type, caller.tool_id
                    )
                )
            elif isinstance(block, CodeExecutionToolResultBlock):
                code_results.append(_code_execution_result(block))
            elif isinstance(block, ServerToolResultBlock):
                variant = code_variant(block.type)
                if variant is not None:
                    code_results.append(
                        CodeResult.read(variant, block.tool_use_id, block.content)
                    )
                else:
                    caller = block.caller
                    extra = block.model_extra
                    server_results.append(
                        ServerToolResult(
                            block.tool_use_id,
                            block.type,
                            ServerToolResult.failed(
                                block.content,
                                None if extra is None else extra.get("is_error"),
                            ),
                            *(
                                (DIRECT, None)
                                if caller is None
                                else (caller.type, caller.tool_id)
                            ),
                        )
                    )
        return cls(
            id=message.id,
            model=message.model,
            stop_reason=message.stop_reason,
            usage=TokenUsage.from_usage(message.usage),
            container=message.container,
            tool_uses=tuple(tool_uses),
            server_tool_uses=tuple(server_uses),
            code_results=tuple(code_results),
            server_results=tuple(server_results),
            message=message,
        )

    @property
    def message(self) -> Message:
        """The whole message as the pydantic model, validated on first access.

        Raises:
            pydantic.ValidationError: the body's facts were readable but some other part
                is not a valid message (never seen from the API; the facts still hold).
        """
        message = self._message
        if message is None:
            source = self._source
            # The source is the JSON body (validated straight from it: no Python dict
            # in between) or its already parsed object.
            if isinstance(source, bytes):
                message = Message.model_validate_json(source)
            else:
                message = Message.model_validate(source)
            self._message = message
            self._source = None
        return message

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The tool calls as :class:`ToolCall` models (inputs included: builds the message)."""
        return self.message.tool_calls

    def __repr__(self) -> str:
        return (
            f"Reply(id={self.id!r}, model={self.model!r}, "
            f"stop_reason={self.stop_reason!r}, tool_uses={len(self.tool_uses)})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Reply):
            return NotImplemented
        return self.message == other.message

    __hash__ = None  # type: ignore[assignment]


def _code_execution_result(block: CodeExecutionToolResultBlock) -> CodeResult:
    result = block.content
    if result is None:
        return CodeResult(block.tool_use_id, False)
    extra = result.model_extra
    return CodeResult(
        block.tool_use_id,
        result.succeeded,
        result.return_code,
        CODE_EXECUTION,
        result.type,
        result.error_code,
        None if extra is None else _text(extra.get("abort_reason")),
    )
