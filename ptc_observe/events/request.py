"""What a request says: the facts the recorder reads from the request body and headers.

:class:`RequestFacts` with the tools it declares (:class:`ToolDeclaration`), the tool results
it sends back (:class:`ToolResultSent`) and its place in its run (:class:`RunPosition`), all
read from the request alone (see ``wire.requests`` and ``wire.history``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..models import (
    DIRECT,
)

__all__ = [
    "RequestFacts",
    "RUN_START",
    "RunPosition",
    "ToolDeclaration",
    "ToolResultSent",
]


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
    """Where a request stands in its run, read from its own history (memory only as a cache:
    ``wire/resends``).

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
