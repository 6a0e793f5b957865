"""What sinks receive: one frozen :class:`Exchange` per finished HTTP exchange.

The recorder fills the request and response facts; the observer's correlator then adds
what only shows across exchanges (tool turnarounds, container sightings) and the tracing
stage adds the ids of the exchange's span. Sinks see only this package and ``models``,
never the HTTP library.

| module | holds |
|---|---|
| ``request`` | what a request says: :class:`RequestFacts`, its tools, the results it sends, its run position |
| ``reply`` | what a response says: :class:`Reply`, usage, tool calls by caller, server tools, code results |
| ``exchange`` | one finished exchange (:class:`Exchange`) and what the observer adds across exchanges |

Every name is imported from here (``from ptc_observe.events import Exchange``), as before the
package was split.
"""

from __future__ import annotations

from .exchange import (
    COST_COMPONENTS,
    CodeExecution,
    ContainerEnded,
    ContainerSighting,
    Exchange,
    ExchangeCost,
    Outcome,
    RateLimit,
    RunFacts,
    Timings,
    ToolTurnaround,
)
from .reply import (
    CODE_EXECUTION,
    NO_USAGE,
    CodeResult,
    Reply,
    ServerToolResult,
    ServerToolUse,
    TokenUsage,
    ToolUse,
    code_variant,
    server_tool_requests,
)
from .request import (
    RUN_START,
    RequestFacts,
    RunPosition,
    ToolDeclaration,
    ToolResultSent,
)

__all__ = [
    "CODE_EXECUTION",
    "COST_COMPONENTS",
    "NO_USAGE",
    "RUN_START",
    "CodeExecution",
    "CodeResult",
    "ContainerEnded",
    "ContainerSighting",
    "Exchange",
    "ExchangeCost",
    "Outcome",
    "RateLimit",
    "Reply",
    "RequestFacts",
    "RunFacts",
    "RunPosition",
    "ServerToolResult",
    "ServerToolUse",
    "Timings",
    "TokenUsage",
    "ToolDeclaration",
    "ToolResultSent",
    "ToolTurnaround",
    "ToolUse",
    "code_variant",
    "server_tool_requests",
]
