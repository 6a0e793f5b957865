"""One finished exchange and what the observer adds to it across exchanges.

:class:`Exchange` joins the request's and the reply's facts with how the exchange went
(:class:`Outcome`, :class:`Timings`, :class:`RateLimit`) and what the correlator, the
code-execution tracker and pricing add: tool turnarounds, container sightings and ends,
code executions, the cost and the run.

Times come from two clocks: ``time.perf_counter()`` (monotonic, for durations) and one
wall-clock reading at send time (``Timings.sent_unix_ns``) to place spans.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..models import (
    Message,
    ToolCall,
)
from .reply import Reply
from .request import RequestFacts, ToolResultSent

__all__ = [
    "CodeExecution",
    "ContainerEnded",
    "ContainerSighting",
    "COST_COMPONENTS",
    "Exchange",
    "ExchangeCost",
    "Outcome",
    "RateLimit",
    "RunFacts",
    "Timings",
    "ToolTurnaround",
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
