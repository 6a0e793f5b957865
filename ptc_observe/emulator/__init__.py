"""A local emulator of the Claude Messages API, with programmatic tool calling.

In process (through ``MockTransport``) or over loopback HTTP::

    from ptc_observe.emulator import Emulator, EmulatorServer

    emulator = Emulator(seed=1)
    transport = emulator.mock_transport(httpx2)          # sync clients
    atransport = emulator.async_mock_transport(httpx2)   # async clients

    with EmulatorServer(emulator) as server:
        client = anthropic.Anthropic(api_key="test", base_url=server.url)

See ``docs/emulator.md`` for the policy, scenarios, token estimator, faults and
what is not faithful.
"""

from __future__ import annotations

from .clock import Clock, ManualClock
from .core import Emulator, RequestRecord
from .faults import FaultRule, Latency
from .ledger import Ledger
from .mock import (
    AsyncMockHandler,
    SyncMockHandler,
    async_mock_transport,
    mock_transport,
)
from .ratelimits import RateLimits
from .responses import EmulatorResponse
from .scenarios import (
    Call,
    Phase,
    Scenario,
    builtin_scenario,
    builtin_scenarios,
    load_scenario,
)
from .server import EmulatorServer

__all__ = [
    "AsyncMockHandler",
    "Call",
    "Clock",
    "Emulator",
    "EmulatorResponse",
    "EmulatorServer",
    "FaultRule",
    "Latency",
    "Ledger",
    "ManualClock",
    "Phase",
    "RateLimits",
    "RequestRecord",
    "Scenario",
    "SyncMockHandler",
    "async_mock_transport",
    "builtin_scenario",
    "builtin_scenarios",
    "load_scenario",
    "mock_transport",
]
