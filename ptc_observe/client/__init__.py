"""The PTC client wing: a typed Messages API client, tool registry and tool loop.

Built on the observer wing (:mod:`ptc_observe.observer`): every request goes through an
observing transport unless ``observe=False``.

* :mod:`.clients`: :class:`PTCClient` and :class:`AsyncPTCClient`, side by side;
* :mod:`.tools`: the tool registry (:class:`ToolRegistry`, :class:`ToolSpec`);
* :mod:`.errors`: the exceptions the client raises;
* ``_protocol`` (requests and replies), ``_loop`` (the tool loop as a generator of actions),
  ``_execute`` (running handlers), ``_streams`` (message streams), ``_results`` (run results),
  ``_base`` (what both clients share): internal.
"""

from __future__ import annotations

from .clients import (
    AsyncMessageStream,
    AsyncPTCClient,
    EventCallback,
    MessageStream,
    PTCClient,
    RetryPolicy,
    RunResult,
    RunSummary,
    ToolExecution,
    default_observer,
)
from .errors import PTCError
from .tools import ToolRegistry, ToolResult, ToolSeverity, ToolSpec

__all__ = [
    "AsyncMessageStream",
    "AsyncPTCClient",
    "EventCallback",
    "MessageStream",
    "PTCClient",
    "PTCError",
    "RetryPolicy",
    "RunResult",
    "RunSummary",
    "ToolExecution",
    "ToolRegistry",
    "ToolResult",
    "ToolSeverity",
    "ToolSpec",
    "default_observer",
]
