"""Clients and tool registries over the emulator, for the client tests and examples.

:func:`registry_for` implements a scenario's tools from its scripted results (a tool
the scenario marks as failing raises), so a run's answers are exactly what the
scenario expects. :func:`check_resume_rules` inspects the bodies the emulator logged.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import httpx2
from opentelemetry.sdk.trace import TracerProvider

from ptc_observe.client import AsyncPTCClient, PTCClient
from ptc_observe.client.tools import ToolRegistry, ToolSeverity, ToolSpec
from ptc_observe.emulator import Emulator, Scenario
from ptc_observe.observer import Observer
from ptc_observe.testing import MemorySink


class ScenarioToolError(RuntimeError):
    """Raised by a tool the scenario scripts as failing."""


def registry_for(
    scenario: Scenario,
    *,
    on_call: Callable[[str, dict[str, Any]], object] | None = None,
    asynchronous: bool = False,
) -> ToolRegistry:
    """Tools of ``scenario`` whose handlers return the scripted results.

    Tools the scenario allows code execution to call are READ_ONLY (so the registry
    enables them itself); the others are LOW and stay direct.
    """
    registry = ToolRegistry()
    for tool in scenario.tools:
        name = str(tool["name"])
        programmatic = any(c != "direct" for c in tool.get("allowed_callers", ()))
        spec = ToolSpec(
            name,
            str(tool.get("description", name)),
            parameters=dict(
                tool.get("input_schema", {"type": "object", "properties": {}})
            ),
            severity=ToolSeverity.READ_ONLY if programmatic else ToolSeverity.LOW,
        )
        registry.register(spec, _handler(scenario, name, on_call, asynchronous))
    return registry


def _handler(
    scenario: Scenario,
    name: str,
    on_call: Callable[[str, dict[str, Any]], object] | None,
    asynchronous: bool,
) -> Callable[..., Any]:
    def run(**tool_input: Any) -> str:
        if on_call is not None:
            on_call(name, tool_input)
        call = scenario.call_for(name, tool_input)
        if call is None:
            return f"no data for {name}"
        if call.error:
            raise ScenarioToolError(f"{name} failed for {call.display_label}")
        return call.result if call.result is not None else "ok"

    async def arun(**tool_input: Any) -> str:
        return run(**tool_input)

    return arun if asynchronous else run


def scripted_calls(scenario: Scenario) -> list[tuple[str, dict[str, Any]]]:
    """Every (tool, input) the scenario scripts, in order."""
    return [
        (call.tool, dict(call.input))
        for phase in scenario.phases
        for batch in phase.batches
        for call in batch
    ]


class EmulatorHarness:
    """Sync or async clients (per ``mode``) over an in-process emulator."""

    def __init__(
        self, mode: Any, emulator: Emulator, tracer_provider: TracerProvider
    ) -> None:
        self.mode = mode
        self.emulator = emulator
        self.tracer_provider = tracer_provider
        self.sink = MemorySink()
        self.sleeps: list[float] = []
        self._clients: list[Any] = []

    def client(self, **kwargs: Any) -> Any:
        sleeps = self.sleeps

        def sleep(seconds: float) -> None:
            sleeps.append(seconds)

        async def asleep(seconds: float) -> None:
            sleeps.append(seconds)

        kwargs.setdefault("api_key", "sk-ant-emulated")
        kwargs.setdefault("base_url", "http://emulator.test")
        kwargs.setdefault("rng", random.Random(11))
        kwargs.setdefault("tracer_provider", self.tracer_provider)
        kwargs.setdefault(
            "observer",
            Observer(
                sinks=[self.sink],
                prometheus=False,
                tracer_provider=self.tracer_provider,
            ),
        )
        if self.mode.is_async:
            client: Any = AsyncPTCClient(
                transport=self.emulator.async_mock_transport(httpx2),
                sleep=asleep,
                **kwargs,
            )
        else:
            client = PTCClient(
                transport=self.emulator.mock_transport(httpx2), sleep=sleep, **kwargs
            )
        self._clients.append(client)
        return client

    def call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        return self.mode.run(method, *args, **kwargs)

    def close(self) -> None:
        for client in self._clients:
            self.mode.close(client)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        """Bodies of the requests the emulator answered, in order."""
        return [r.body for r in self.emulator.log]


def check_resume_rules(bodies: list[dict[str, Any]]) -> int:
    """Assert the resume rules on consecutive requests of one run; return how many resumes.

    A request that continues the previous one (its messages extend them) must send the
    previous tools array; when the added assistant turn asked for tool calls, the added
    user message holds only tool_result blocks, one per call in order, string content,
    and for programmatic calls the request names the container.
    """
    resumes = 0
    for before, after in zip(bodies, bodies[1:], strict=False):
        prev, cur = before["messages"], after["messages"]
        if len(cur) <= len(prev) or cur[: len(prev)] != prev:
            continue  # a retry of the same request or a fresh start
        added = cur[len(prev) :]
        assert after.get("tools") == before.get("tools")
        assert added[0]["role"] == "assistant"
        calls = [b for b in added[0]["content"] if b.get("type") == "tool_use"]
        if not calls:
            assert len(added) == 1  # pause_turn: nothing but the assistant content
            continue
        assert len(added) == 2 and added[1]["role"] == "user"
        results = added[1]["content"]
        assert [b["type"] for b in results] == ["tool_result"] * len(calls)
        assert [b["tool_use_id"] for b in results] == [c["id"] for c in calls]
        assert all(isinstance(b["content"], str) for b in results)
        if any(
            (c.get("caller") or {}).get("type", "direct") != "direct" for c in calls
        ):
            assert isinstance(after.get("container"), str)
        resumes += 1
    return resumes
