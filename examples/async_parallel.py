"""Async: AsyncPTCClient with coroutine handlers; parallel calls from code run together.

Claude's code gathers five ``get_weather`` calls with ``asyncio.gather``; they arrive in
one response and the client runs their handlers concurrently (the report shows how
many were in flight at once).

    python examples/async_parallel.py          # against the in-process emulator
    python examples/async_parallel.py --live   # against the API (ANTHROPIC_API_KEY)
"""

from __future__ import annotations

import json

import anyio
from _support import report, setup

from ptc_observe import AsyncPTCClient, ToolRegistry, ToolSeverity, ToolSpec

FORECASTS = {
    "Lisbon": {"high_c": 27, "low_c": 18, "sky": "clear"},
    "Madrid": {"high_c": 31, "low_c": 22, "sky": "clear"},
    "Rome": {"high_c": 29, "low_c": 20, "sky": "partly cloudy"},
    "Paris": {"high_c": 22, "low_c": 13, "sky": "showers"},
    "Berlin": {"high_c": 19, "low_c": 10, "sky": "cloudy"},
}


class InFlight:
    """Counts handlers running at the same time."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0


def weather_tool(in_flight: InFlight) -> ToolRegistry:
    async def get_weather(city: str) -> str:
        in_flight.now += 1
        in_flight.most = max(in_flight.most, in_flight.now)
        try:
            await anyio.sleep(0.05)  # a forecast service round trip
            return json.dumps({"city": city, **FORECASTS.get(city, {"high_c": None})})
        finally:
            in_flight.now -= 1

    registry = ToolRegistry()
    registry.register(
        ToolSpec(
            "get_weather",
            "Tomorrow's forecast for a city. Returns JSON {city, high_c, low_c, sky}.",
            parameters={
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
            severity=ToolSeverity.READ_ONLY,
            timeout=10.0,
        ),
        get_weather,
    )
    return registry


async def main() -> None:
    s = setup(__doc__.splitlines()[0] if __doc__ else "", asynchronous=True)
    in_flight = InFlight()
    async with AsyncPTCClient(
        tools=weather_tool(in_flight), **s.client_kwargs
    ) as client:
        result = await client.run(
            "Which of Lisbon, Madrid, Rome, Paris and Berlin will be warmest tomorrow?"
        )
    batches = [
        len(message["content"])
        for message in result.messages
        if message["role"] == "user" and isinstance(message["content"], list)
    ]
    print(f"tool results per answering message: {batches}")
    print(f"handlers in flight at once: {in_flight.most}")
    report(result, s, title="async parallel calls")


if __name__ == "__main__":
    anyio.run(main)
