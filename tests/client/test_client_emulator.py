"""The tool loop against the emulator: every shipped scenario, every fault, both clients.

The emulator validates the resume rules itself (it answers 400 otherwise) and keeps a
ground-truth ledger; the tests also check the logged request bodies and compare the
run summary and the observer's records with the ledger.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider

from ptc_observe.client import PTCClient, RetryPolicy
from ptc_observe.client.errors import InternalServerError
from ptc_observe.emulator import (
    Emulator,
    EmulatorServer,
    FaultRule,
    ManualClock,
    builtin_scenario,
    builtin_scenarios,
)

from .emulated import EmulatorHarness, check_resume_rules, registry_for, scripted_calls

SCENARIOS = [s.name for s in builtin_scenarios()]
PROGRAMMATIC = "code_execution_20260120"


@pytest.fixture
def emulator() -> Emulator:
    return Emulator(seed=5)


@pytest.fixture
def emulated(
    mode: Any, emulator: Emulator, tracer_provider: TracerProvider
) -> Iterator[EmulatorHarness]:
    h = EmulatorHarness(mode, emulator, tracer_provider)
    yield h
    h.close()


def run_scenario(
    h: EmulatorHarness,
    name: str,
    *,
    ptc: bool = True,
    stream: bool = False,
    **kwargs: Any,
) -> Any:
    scenario = builtin_scenario(name)
    calls: list[tuple[str, dict[str, Any]]] = []
    registry = registry_for(
        scenario, on_call=lambda tool, args: calls.append((tool, args))
    )
    client = h.client(tools=registry, ptc=ptc, **kwargs)
    assert scenario.prompt is not None
    result = h.call(client.run, scenario.prompt, stream=stream)
    return result, calls


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("ptc", [True, False], ids=["programmatic", "direct"])
@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario(
    emulated: EmulatorHarness, emulator: Emulator, name: str, ptc: bool, stream: bool
) -> None:
    """Each shipped scenario completes; tools ran as scripted; summary and observer agree with the ledger."""
    result, calls = run_scenario(emulated, name, ptc=ptc, stream=stream)
    scenario = builtin_scenario(name)
    ledger = emulator.ledger

    assert result.message.stop_reason == "end_turn"
    assert result.text
    expected = scripted_calls(scenario)
    if name == "failing_tool" and ptc:
        # The code stops at the failing call: the calls after it never happen.
        assert calls == expected[: len(calls)] and len(calls) < len(expected)
    else:
        assert sorted(map(repr, calls)) == sorted(map(repr, expected))

    summary = result.summary
    assert summary.tool_calls["programmatic"] == ledger.tool_uses(caller=PROGRAMMATIC)
    assert summary.tool_calls["direct"] == ledger.tool_uses(caller="direct")
    if not ptc:
        assert summary.tool_calls["programmatic"] == 0
    elif name != "mixed_direct_and_code":
        assert (
            summary.tool_calls["direct"] == 0 and summary.tool_calls["programmatic"] > 0
        )
    assert summary.tokens["input"] == ledger.tokens("input")
    assert summary.tokens["output"] == ledger.tokens("output")
    assert summary.tokens["cache_read"] == ledger.tokens("cache_read_input")
    assert summary.tokens["cache_creation"] == ledger.tokens("cache_creation_input")
    assert len(summary.containers) == ledger.containers("created")
    assert summary.rounds == ledger.responses(status=200)
    # Only flaky_api injects faults; each faulted response cost one retry.
    assert summary.retries == ledger.responses() - summary.rounds
    assert summary.retries == (2 if name == "flaky_api" else 0)
    assert summary.tool_errors == (1 if name == "failing_tool" else 0)
    if ptc:
        assert result.container_id is not None

    bodies = emulated.bodies
    assert check_resume_rules(bodies) == summary.rounds - 1 - summary.pause_turns
    assert all(bool(b.get("stream")) is stream for b in bodies)
    declared = [t.get("type") for t in bodies[0]["tools"] if "type" in t]
    assert declared == ([PROGRAMMATIC] if ptc else [])

    # The observer saw every exchange and the same tool calls.
    exchanges = emulated.sink.exchanges
    assert len(exchanges) == ledger.responses()
    assert sum(ex.ok for ex in exchanges) == summary.rounds
    seen = sum(len(ex.tool_calls) for ex in exchanges)
    assert seen == ledger.tool_uses()


FAULTS = [
    pytest.param("rate_limit", False, id="429-json"),
    pytest.param("rate_limit", True, id="429-sse"),
    pytest.param("overloaded", False, id="529-json"),
    pytest.param("overloaded", True, id="529-sse"),
    pytest.param("server_error", False, id="500-json"),
    pytest.param("server_error", True, id="500-sse"),
    pytest.param("stream_cut", False, id="cut-json"),
    pytest.param("stream_cut", True, id="cut-sse"),
    pytest.param("stream_error", True, id="mid-stream-error"),
    pytest.param("stream_truncate", True, id="truncated-sse"),
]


@pytest.mark.parametrize("kind, stream", FAULTS)
@pytest.mark.parametrize("round_trip", [1, 2, 4], ids=["turn1", "resume", "final"])
def test_fault_is_retried(
    mode: Any, tracer_provider: TracerProvider, kind: str, stream: bool, round_trip: int
) -> None:
    """A fault injected once on one round trip is retried and the run completes as without it."""
    emulator = Emulator(
        seed=5,
        faults=[FaultRule(kind=kind, count=1, round_trip=round_trip, retry_after=0.5)],
    )
    h = EmulatorHarness(mode, emulator, tracer_provider)
    try:
        result, calls = run_scenario(h, "sales_by_region", stream=stream)
    finally:
        h.close()
    assert result.message.stop_reason == "end_turn"
    assert len(calls) == 3
    assert result.summary.retries == 1
    assert len(h.sleeps) == 1
    if kind == "rate_limit":
        assert h.sleeps == [0.5]  # the retry-after the emulator sent
    failed, retried = emulator.log[round_trip - 1], emulator.log[round_trip]
    assert failed.body == retried.body
    assert (failed.retry_count, retried.retry_count) == (0, 1)
    assert check_resume_rules(h.bodies) == result.summary.rounds - 1


def test_flaky_api_scenario(emulated: EmulatorHarness, emulator: Emulator) -> None:
    """The flaky_api scenario (a 529 on the first resume, a 429 on the final round trip) completes with two retries."""
    result, calls = run_scenario(emulated, "flaky_api")
    assert result.message.stop_reason == "end_turn"
    assert result.summary.retries == 2
    assert emulator.ledger.errors("fault_overloaded") == 1
    assert emulator.ledger.errors("fault_rate_limit") == 1
    assert 0.2 in emulated.sleeps


class TestContainerExpiry:
    @pytest.mark.parametrize(
        "error_kind", ["invalid_request", "api_error"], ids=["400", "500"]
    )
    @pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
    def test_expired_mid_run_restarts_in_a_fresh_container(
        self, mode: Any, tracer_provider: TracerProvider, error_kind: str, stream: bool
    ) -> None:
        """The container expires while a tool runs: the turn starts again in a new container and completes."""
        clock = ManualClock()
        emulator = Emulator(seed=5, clock=clock, expired_container_error=error_kind)
        h = EmulatorHarness(mode, emulator, tracer_provider)
        scenario = builtin_scenario("sales_by_region")
        slow_once = [True]

        def on_call(tool: str, args: dict[str, Any]) -> None:
            if slow_once.pop() if slow_once else False:
                clock.advance(emulator.containers.ttl + 1)  # the container idles out

        registry = registry_for(scenario, on_call=on_call)
        try:
            client = h.client(tools=registry)
            assert scenario.prompt is not None
            result = h.call(client.run, scenario.prompt, stream=stream)
        finally:
            h.close()
        assert result.message.stop_reason == "end_turn"
        summary = result.summary
        assert summary.container_restarts == 1
        assert len(summary.containers) == 2 == emulator.ledger.containers("created")
        assert emulator.ledger.containers("expired") == (
            3 if error_kind == "api_error" else 1
        )
        assert result.container_id == summary.containers[1]
        # The restart resends the user's turn without a container.
        restart = next(b for b in h.bodies[1:] if "container" not in b)
        assert restart["messages"] == h.bodies[0]["messages"]

    def test_restarts_are_bounded(
        self, mode: Any, tracer_provider: TracerProvider
    ) -> None:
        """A container that always expires: after max_container_restarts the API error is raised."""
        clock = ManualClock()
        emulator = Emulator(seed=5, clock=clock, expired_container_error="api_error")
        h = EmulatorHarness(mode, emulator, tracer_provider)
        scenario = builtin_scenario("sales_by_region")
        registry = registry_for(
            scenario, on_call=lambda t, a: clock.advance(emulator.containers.ttl + 1)
        )
        try:
            client = h.client(
                tools=registry,
                max_container_restarts=1,
                retry=RetryPolicy(max_retries=0),
            )
            assert scenario.prompt is not None
            exc = mode.raises(client.run, scenario.prompt)
        finally:
            h.close()
        assert isinstance(exc, InternalServerError)
        assert emulator.ledger.containers("created") == 2


def test_container_reuse_across_runs(
    emulated: EmulatorHarness, emulator: Emulator
) -> None:
    """A second run given the first run's container id reuses it."""
    scenario = builtin_scenario("product_search")
    client = emulated.client(tools=registry_for(scenario))
    assert scenario.prompt is not None
    first = emulated.call(client.run, scenario.prompt)
    second = emulated.call(client.run, scenario.prompt, container_id=first.container_id)
    assert second.container_id == first.container_id
    assert emulator.ledger.containers("created") == 1
    assert emulator.ledger.containers("reused") >= 1
    assert (
        emulated.bodies[len(emulated.bodies) - second.summary.rounds]["container"]
        == first.container_id
    )


def test_async_handlers_in_parallel(
    emulated: EmulatorHarness, emulator: Emulator
) -> None:
    """Coroutine handlers answer the five parallel calls of parallel_weather."""
    scenario = builtin_scenario("parallel_weather")
    client = emulated.client(tools=registry_for(scenario, asynchronous=True))
    assert scenario.prompt is not None
    result = emulated.call(client.run, scenario.prompt)
    assert result.summary.tool_calls["programmatic"] == 5
    parallel = [b for b in emulated.bodies if len(b["messages"][-1]["content"]) == 5]
    assert len(parallel) == 1


class TestLoopbackServer:
    """Real HTTP over loopback (the client's default httpx2 transport)."""

    @pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
    def test_run_over_http(
        self, mode: Any, tracer_provider: TracerProvider, stream: bool
    ) -> None:
        """A programmatic scenario completes over a real socket, sync and async, streaming or not."""
        from ptc_observe.client import AsyncPTCClient
        from ptc_observe.observer import Observer
        from ptc_observe.testing import MemorySink

        emulator = Emulator(seed=3)
        scenario = builtin_scenario("parallel_weather")
        sink = MemorySink()
        with EmulatorServer(emulator) as server:
            cls = AsyncPTCClient if mode.is_async else PTCClient
            client = cls(
                "sk-ant-loopback",
                base_url=server.url,
                tools=registry_for(scenario),
                observer=Observer(
                    sinks=[sink], prometheus=False, tracer_provider=tracer_provider
                ),
                tracer_provider=tracer_provider,
            )
            try:
                assert scenario.prompt is not None
                result = mode.run(client.run, scenario.prompt, stream=stream)
            finally:
                mode.close(client)
        assert result.message.stop_reason == "end_turn"
        assert (
            result.summary.tool_calls["programmatic"]
            == emulator.ledger.tool_uses(caller=PROGRAMMATIC)
            == 5
        )
        assert (
            check_resume_rules([r.body for r in emulator.log])
            == result.summary.rounds - 1
        )
        assert [ex.status_code for ex in sink.exchanges] == [
            200
        ] * result.summary.rounds

    def test_cut_stream_over_http(self, tracer_provider: TracerProvider) -> None:
        """A connection dropped mid-stream on a real socket is retried."""
        emulator = Emulator(
            seed=3, faults=[FaultRule(kind="stream_cut", count=1, round_trip=2)]
        )
        scenario = builtin_scenario("sales_by_region")
        sleeps: list[float] = []
        with EmulatorServer(emulator) as server:
            with PTCClient(
                "sk-ant-loopback",
                base_url=server.url,
                tools=registry_for(scenario),
                observe=False,
                sleep=sleeps.append,
            ) as client:
                assert scenario.prompt is not None
                result = client.run(scenario.prompt, stream=True)
        assert result.summary.retries == 1 and len(sleeps) == 1
        assert emulator.ledger.responses(outcome="stream_cut") == 1
