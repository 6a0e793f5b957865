"""Observability for Claude's Programmatic Tool Calling (PTC).

Put an :class:`Observer`'s transport under the official SDK and every Messages API
exchange becomes Prometheus metrics and OpenTelemetry spans::

    import anthropic, httpx2
    from ptc_observe import Observer

    observer = Observer()
    client = anthropic.Anthropic(http_client=httpx2.Client(transport=observer.transport()))
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .client import AsyncPTCClient, PTCClient, ToolRegistry, ToolSeverity, ToolSpec
    from .events import (
        ContainerEnded,
        ContainerSighting,
        Exchange,
        Outcome,
        RateLimit,
        RequestFacts,
        Timings,
        ToolDeclaration,
        ToolResultSent,
        ToolTurnaround,
    )
    from .models import (
        APIError,
        CallerInfo,
        ContainerInfo,
        Message,
        ToolCall,
        Usage,
    )
    from .observer import Limits, Observer, Sink

__all__ = [
    "APIError",
    "AsyncPTCClient",
    "CallerInfo",
    "ContainerEnded",
    "ContainerInfo",
    "ContainerSighting",
    "Exchange",
    "Limits",
    "Message",
    "Observer",
    "Outcome",
    "PTCClient",
    "RateLimit",
    "RequestFacts",
    "Sink",
    "Timings",
    "ToolCall",
    "ToolDeclaration",
    "ToolRegistry",
    "ToolResultSent",
    "ToolSeverity",
    "ToolSpec",
    "ToolTurnaround",
    "Usage",
    "__version__",
]

# Every export loads on first use: importing ptc_observe for the transport alone does not pay
# for the PTC client, and the ``ptc-observe`` command (whose module is inside this package)
# starts at once, so that --help is quick and Ctrl-C is handled from its first moment.
_LAZY = {
    **dict.fromkeys(
        ("AsyncPTCClient", "PTCClient", "ToolRegistry", "ToolSeverity", "ToolSpec"),
        ".client",
    ),
    **dict.fromkeys(
        (
            "ContainerEnded",
            "ContainerSighting",
            "Exchange",
            "Outcome",
            "RateLimit",
            "RequestFacts",
            "Timings",
            "ToolDeclaration",
            "ToolResultSent",
            "ToolTurnaround",
        ),
        ".events",
    ),
    **dict.fromkeys(
        ("APIError", "CallerInfo", "ContainerInfo", "Message", "ToolCall", "Usage"),
        ".models",
    ),
    **dict.fromkeys(("Limits", "Observer", "Sink"), ".observer"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
