"""What sinks receive: one frozen :class:`Exchange` per finished HTTP exchange.

The recorder fills the request and response facts; the observer's correlator then adds
what only shows across exchanges (tool turnarounds, container sightings) and the tracing
stage adds the ids of the exchange's span. Sinks see only this module and ``models``,
never the HTTP library.

Times come from two clocks: ``time.perf_counter()`` (monotonic, for durations) and one
wall-clock reading at send time (``Timings.sent_unix_ns``) to place spans.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .models import (
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
    "CodeExecution",
    "COST_COMPONENTS",
    "CodeResult",
    "ExchangeCost",
    "RunFacts",
    "ContainerEnded",
    "ContainerSighting",
    "Exchange",
    "Outcome",
    "RateLimit",
    "Reply",
    "RequestFacts",
    "RunPosition",
    "ServerToolResult",
    "ServerToolUse",
    "Timings",
    "ToolDeclaration",
    "ToolResultSent",
    "TokenUsage",
    "ToolTurnaround",
    "ToolUse",
]


class Outcome(str, enum.Enum):
    """How an exchange ended."""

    OK = "ok"
    """A complete response: full JSON body, or a stream up to ``message_stop``."""
    ERROR = "error"
    """An error status, an ``error`` event in the stream, or an exception."""
    INCOMPLETE = "incomplete"
    """The body ended without the end of the message (no ``message_stop``)."""
    CLOSED_EARLY = "closed_early"
    """The client closed (or dropped) the response before reading it all."""


@dataclass(frozen=True, slots=True)
class ToolDeclaration:
    """One entry of the request's ``tools`` array."""

    name: str
    type: str | None = None
    """``None`` for the application's own tools; the versioned type for server tools."""
    allowed_callers: tuple[str, ...] = ()
    description: str | None = field(default=None, compare=False)
    """The tool's ``description`` as declared (``gen_ai.tool.description`` of its
    ``execute_tool`` spans); not part of equality."""

    @property
    def is_code_execution(self) -> bool:
        """True for a ``code_execution_*`` tool."""
        return self.type is not None and self.type.startswith("code_execution_")


@dataclass(frozen=True, slots=True)
class ToolResultSent:
    """A ``tool_result`` block the application sent back, and the call it answers.

    The call is read from the request itself (the ``tool_use`` block of the assistant
    message it answers is resent in the history), so no memory of the asking response is
    needed: any process that sees the request knows the caller and the tool.
    """

    tool_use_id: str
    size_bytes: int
    """UTF-8 size of the result content (string, or the text of its text blocks)."""
    is_error: bool = False
    tool_name: str | None = None
    """The name of the call it answers; ``None``: no ``tool_use`` with this id in the
    assistant message(s) right before it (a request the API refuses)."""
    caller_type: str | None = None
    """The raw caller type of that call (``direct``, ``code_execution_20260120``, …);
    ``None`` with ``tool_name``."""
    caller_tool_id: str | None = None
    """The ``server_tool_use`` id of the code execution that made the call."""

    @property
    def is_programmatic(self) -> bool:
        """True when code in a container made the call: the result went back to the
        container, not into the model's context."""
        return self.caller_type != DIRECT and self.caller_tool_id is not None

    @property
    def caller(self) -> str:
        """``programmatic`` or ``direct`` (a result whose call is unknown: ``direct``)."""
        return "programmatic" if self.is_programmatic else DIRECT


@dataclass(frozen=True, slots=True)
class RunPosition:
    """Where a request stands in its run, read from its own history (no memory).

    A *run* is what one user turn sets going: the exchanges from the user's own message
    (a user message that is not only ``tool_result`` blocks) to the model's final answer,
    with every tool round trip in between. Each request resends the whole conversation,
    so every process that sees one knows its place without having seen the others.
    """

    messages: int = 0
    """Messages in the request (the conversation so far)."""
    exchanges_before: int = 0
    """Assistant messages since the user's own message: the earlier exchanges of this
    run (0: the request starts a run)."""
    round_trips: int = 0
    """Tool round trips since the user's own message: user messages of tool results
    only, this request's last message included."""
    programmatic_calls: int = 0
    """``tool_use`` blocks made by code in a container in the run's assistant messages
    (the calls of the run so far; this request answers the latest)."""
    direct_calls: int = 0
    """``tool_use`` blocks the model made itself in the run's assistant messages."""

    @property
    def starts_run(self) -> bool:
        """True when the request's last message is the user's own: a new run."""
        return self.exchanges_before == 0 and self.round_trips == 0

    @property
    def tool_calls(self) -> int:
        """Client tool calls of the run so far, either caller."""
        return self.programmatic_calls + self.direct_calls


RUN_START = RunPosition()
"""The position of a request without history (an empty or unreadable ``messages``)."""


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What the request said. Never holds credentials; content only when captured."""

    method: str
    path: str
    server_address: str
    server_port: int | None
    model: str | None = None
    stream: bool = False
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop_sequences: tuple[str, ...] = ()
    tools: tuple[ToolDeclaration, ...] = ()
    container_id: str | None = None
    tool_results: tuple[ToolResultSent, ...] = ()
    """The ``tool_result`` blocks of the last message (earlier ones were sent, and
    counted, by earlier requests), each with the call it answers."""
    betas: tuple[str, ...] = ()
    retry_count: int = 0
    """``x-stainless-retry-count``: 0 for a first attempt."""
    stream_helper: str | None = None
    """``x-stainless-helper-method`` (``stream`` for ``messages.stream()``)."""
    body_bytes: int = 0
    content: Any = None
    """The parsed request body, only when content capture is on (after redaction)."""
    run: RunPosition = RUN_START
    """Where the request stands in its run (from its history)."""
    output_type: str | None = None
    """``json`` when the request asks for structured output (``output_config.format``)."""
    reasoning_level: str | None = None
    """``output_config.effort`` as sent (``low`` … ``max``)."""
    url: str | None = None
    """The request URL (``url.full``): no credentials, query values other than ``beta``
    redacted."""

    def description_of(self, tool_name: str) -> str | None:
        """The declared description of the tool named ``tool_name``, if any."""
        for tool in self.tools:
            if tool.name == tool_name:
                return tool.description
        return None

    @property
    def has_code_execution(self) -> bool:
        """True when a code execution tool is declared."""
        return any(t.is_code_execution for t in self.tools)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """One ``anthropic-ratelimit-{resource}-*`` triplet of the response headers."""

    resource: str
    """``requests``, ``tokens``, ``input_tokens`` or ``output_tokens``."""
    limit: int | None
    remaining: int | None
    reset: str | None = None


@dataclass(frozen=True, slots=True)
class Timings:
    """When things happened (``perf_counter`` seconds; ``sent_unix_ns`` wall clock)."""

    sent: float
    finished: float
    sent_unix_ns: int
    headers: float | None = None
    first_token: float | None = None
    """First SSE event that carries content (streams only)."""

    @property
    def duration(self) -> float:
        """Seconds from send to finish (the whole stream, for streams)."""
        return self.finished - self.sent

    @property
    def time_to_headers(self) -> float | None:
        """Seconds from send to the response headers."""
        return None if self.headers is None else self.headers - self.sent

    @property
    def time_to_first_token(self) -> float | None:
        """Seconds from send to the first content event (streams only)."""
        return None if self.first_token is None else self.first_token - self.sent

    def unix_ns(self, moment: float) -> int:
        """Wall-clock nanoseconds of a ``perf_counter`` reading of this exchange."""
        return self.sent_unix_ns + int((moment - self.sent) * 1e9)


@dataclass(frozen=True, slots=True)
class ToolTurnaround:
    """A tool result matched with the response that asked for it."""

    tool_use_id: str
    tool_name: str
    caller: str
    """``direct`` or ``programmatic`` (a closed set, fit for metric labels)."""
    caller_type: str
    """The raw caller type (``direct``, ``code_execution_20260120``, …)."""
    caller_tool_id: str | None
    seconds: float
    """End of the asking response to the send of this request: app time included."""
    result_bytes: int
    is_error: bool
    asked_by: int
    """``Exchange.id`` of the exchange whose response asked for the call."""


@dataclass(frozen=True, slots=True)
class ContainerSighting:
    """The code-execution container an exchange used (at most one per exchange).

    ``created``, ``reused`` and ``expired`` follow from the exchange alone (its request and
    response), so they are exact however the traffic is split over processes;
    ``remaining_seconds`` needs memory and is given only when it is sure.
    """

    id: str
    expires_at: datetime | None
    created: bool
    """A complete response named a container its request did not: the API created it."""
    reused: bool
    """The request named the container and a complete response came back in it."""
    expired: bool
    """The request named the container and the API refused it (a 400 or 404 about the
    container: expired or unknown)."""
    remaining_seconds: float | None = None
    """At a reuse: seconds left before the ``expires_at`` of the container's previous
    response. Only when this process saw that response, as the request's own history
    proves (its messages continue the request that got it); ``None`` otherwise."""


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


@dataclass(frozen=True, slots=True)
class ContainerEnded:
    """A container left the tracker: it expired, or was evicted to bound memory."""

    id: str
    lifetime_seconds: float | None
    """From the response that created it to its last known ``expires_at`` (or last
    sighting, if no response gave one). Only the process that saw the creating response
    knows it (exactly one, fleet-wide): ``None`` in the others, so a fleet observes each
    container's lifetime once."""
    reason: str
    """``expired`` or ``evicted``."""


COST_COMPONENTS = (
    "input",
    "cache_read",
    "cache_write",
    "output",
    "server_tools",
    "container",
)
"""The ``component`` values of ``ptc_cost_usd_total``, in :class:`ExchangeCost` order."""


@dataclass(frozen=True, slots=True)
class ExchangeCost:
    """What one exchange cost, in US dollars, from its own response's usage.

    Token components are exact at the prices in force (their sum is what
    ``genai_prices.calc_price`` gives); ``container`` is an estimate (the API does not
    report container time; see docs/telemetry.md, "Cost").
    """

    price_id: str | None
    """The price entry used (genai-prices' model id, or ``file:<name>#<n>``); ``None``:
    the model has no known price, its tokens are in ``unpriced_tokens`` and its token
    components are zero."""
    input: float = 0.0
    cache_read: float = 0.0
    cache_write: float = 0.0
    output: float = 0.0
    server_tools: float = 0.0
    container: float = 0.0
    container_seconds: float = 0.0
    """Container time billed to this exchange (seconds; 0 when free or none)."""
    unpriced_tokens: int = 0

    @property
    def components(self) -> tuple[float, float, float, float, float, float]:
        """The components in :data:`COST_COMPONENTS` order."""
        return (
            self.input,
            self.cache_read,
            self.cache_write,
            self.output,
            self.server_tools,
            self.container,
        )

    @property
    def total(self) -> float:
        """The sum of the components."""
        return (
            self.input
            + self.cache_read
            + self.cache_write
            + self.output
            + self.server_tools
            + self.container
        )


@dataclass(frozen=True, slots=True)
class RunFacts:
    """An exchange's share of its run: a user turn served by a tool loop.

    A run starts with a request whose last message is the user's own turn and ends with
    the response that asks for no tool call. ``mode`` is the run's mode as known at this
    exchange (``programmatic``: a programmatic call so far; ``direct``: tool calls, none
    programmatic; ``none``). The byte counts and estimates are this exchange's own (the
    tool results its request carries); ``round_trips``, ``tool_calls`` and ``duration``
    are set only on the exchange that ends the run, from its request's history, so they
    are exact whichever process saw the earlier exchanges.
    """

    mode: str
    finished: bool = False
    round_trips: int = 0
    tool_calls: int = 0
    bytes_to_container: int = 0
    """UTF-8 bytes of this request's programmatic tool results: they went to the container."""
    bytes_to_context: int = 0
    """UTF-8 bytes of this request's direct tool results: they entered the model's context."""
    saved_tokens_estimate: float = 0.0
    """ESTIMATE: ``bytes_to_container / 4`` (about 4 bytes a token)."""
    saved_usd_estimate: float = 0.0
    """ESTIMATE: the saved tokens at the model's uncached input price."""
    duration: float | None = None
    """First request sent to last response finished, when this process saw them all."""


@dataclass(frozen=True, slots=True)
class CodeExecution:
    """One code execution in a container, as far as this process has followed it.

    A code execution (``server_tool_use`` named ``code_execution``,
    ``bash_code_execution`` or ``text_editor_code_execution``) starts in the response
    that carries its ``server_tool_use`` and ends in the response that carries its result;
    for programmatic tool calling that is several exchanges later (every resume of the
    run). The observer's code-execution tracker keeps one record per open execution and
    puts a snapshot on every exchange that shows it (``Exchange.code_executions``).
    Times are wall-clock nanoseconds.
    """

    id: str
    """The ``srvtoolu_...`` id of its ``server_tool_use``."""
    name: str
    """The variant: ``code_execution``, ``bash_code_execution`` or
    ``text_editor_code_execution``."""
    started_unix_ns: int
    """When the response that first showed it began to arrive (headers, else send)."""
    started_by: int
    """``Exchange.id`` of that exchange."""
    start_observed: bool
    """This process saw its ``server_tool_use``. ``False``: it was first seen mid-run
    (another process served the start), so the start is where this process came in."""
    container_id: str | None = None
    tool_calls: int = 0
    """Programmatic tool calls it made (``tool_use`` blocks whose caller is its id)."""
    server_tool_calls: int = 0
    """Server tools it called (``server_tool_use`` blocks whose caller is its id)."""
    exchanges: int = 1
    """Exchanges that showed it so far (its start, its resumes, its result)."""
    outcome: str | None = None
    """``None`` while it runs; ``success`` / ``error`` when its result came;
    ``unfinished`` when it ended without one (see ``end_reason``)."""
    return_code: int | None = None
    end_reason: str | None = None
    """``result``; or why it ended without one: ``expired`` (no sighting for
    ``Limits.code_execution_ttl_seconds``), ``container_ended`` (its container expired or
    was evicted), ``evicted`` (more than ``Limits.max_code_executions`` open),
    ``closed`` (the observer was closed)."""
    ended_unix_ns: int | None = None

    @property
    def ended(self) -> bool:
        """True once it has an outcome."""
        return self.outcome is not None

    @property
    def duration_seconds(self) -> float | None:
        """Start to end, when it ended."""
        if self.ended_unix_ns is None:
            return None
        seconds = (self.ended_unix_ns - self.started_unix_ns) / 1e9
        return seconds if seconds > 0.0 else 0.0


@dataclass(frozen=True, slots=True)
class Exchange:
    """One finished HTTP exchange with the Messages API: the unit every sink receives."""

    id: int
    """Process-unique, increasing."""
    request: RequestFacts
    timings: Timings
    outcome: Outcome
    streamed: bool
    complete: bool
    """The full message arrived (JSON body parsed, or ``message_stop`` seen)."""
    closed_early: bool = False
    status_code: int | None = None
    reply: Reply | None = None
    """The response message's facts (the final message, or the partial one of an
    unfinished stream); ``message`` gives the whole model."""
    error_type: str | None = None
    """Low cardinality: API error type, else HTTP status, else exception class name."""
    error_message: str | None = None
    """The API's error message (never an exception's text, which may hold secrets)."""
    request_id: str | None = None
    rate_limits: tuple[RateLimit, ...] = ()
    retry_after: float | None = None
    sse_events: int = 0
    output_chunks: int = 0
    """``content_block_delta`` events seen (streams)."""
    response_bytes: int = 0
    """Bytes of the body as received (before content decoding)."""
    tool_turnarounds: tuple[ToolTurnaround, ...] = ()
    answers: tuple[int, ...] = ()
    """Ids of the exchanges whose tool calls this request answered."""
    unmatched_results: tuple[ToolResultSent, ...] = ()
    """Tool results of the request whose asking response this process never saw (another
    process served it, or it was forgotten): no turnaround, no link, counted as such."""
    container: ContainerSighting | None = None
    code_executions: tuple[CodeExecution, ...] = ()
    """The code executions this exchange showed (started, resumed or ended), as of its end."""
    trace_id: int | None = None
    span_id: int | None = None
    parent_context: Any = field(default=None, compare=False, repr=False)
    """The OpenTelemetry context current when the request was sent."""
    cost: ExchangeCost | None = None
    """What the exchange cost (``None``: no usage to price, or pricing is off)."""
    run: RunFacts | None = None
    """The exchange's place in its run (``None``: no complete response)."""

    @property
    def message(self) -> Message | None:
        """The response message as the pydantic model (built on first access)."""
        reply = self.reply
        return None if reply is None else reply.message

    @property
    def model(self) -> str | None:
        """The requested model (the response's if the request did not say)."""
        if self.request.model is not None:
            return self.request.model
        return self.reply.model if self.reply is not None else None

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The tool calls the response asked for (empty without a message)."""
        return self.reply.tool_calls if self.reply is not None else []

    @property
    def ok(self) -> bool:
        """True for a complete, successful exchange."""
        return self.outcome is Outcome.OK
