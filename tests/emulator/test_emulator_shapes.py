"""The 2026 shapes the emulator speaks: thinking tokens, bash and text-editor sub-tools,
programmatic web_fetch, padded data lines, usage: null; each in its ledger, each seeded.

The real recordings (tests/data/real, see PROVENANCE.md) give the shapes; the observer,
replaying the emulator's traffic through the official SDK, must read them without a
telemetry error and count what the ledger says was sent.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx2
import pytest
from prometheus_client import CollectorRegistry

from ptc_observe import Observer
from ptc_observe.emulator import Emulator, ManualClock, builtin_scenario

from .helpers import AUTH, MODEL, answer_calls, parse_sse

WEB_FETCH = {"type": "web_fetch_20260209", "name": "web_fetch"}
THINKING = {"type": "enabled", "budget_tokens": 1024}


def run_task(
    emulator: Emulator,
    scenario_name: str,
    *,
    registry: CollectorRegistry | None = None,
    stream: bool = False,
    **extra: Any,
) -> tuple[list[Any], Observer]:
    """Play one scenario's PTC task to its end through an observed SDK client."""
    scenario = builtin_scenario(scenario_name)
    observer = Observer(registry=registry or CollectorRegistry(), opentelemetry=False)
    client = anthropic.Anthropic(
        api_key="sk-ant-test",
        http_client=httpx2.Client(
            transport=observer.transport(emulator.mock_transport(httpx2))
        ),
    )
    tools = [*scenario.tool_definitions(programmatic=True), WEB_FETCH]
    messages: list[dict[str, Any]] = [{"role": "user", "content": scenario.prompt}]
    container = None
    replies = []
    for _ in range(12):
        params: dict[str, Any] = {
            "model": MODEL,
            "max_tokens": 4096,
            "messages": list(messages),
            "tools": tools,
            "extra_headers": {"x-emulator-scenario": scenario.name},
            **extra,
        }
        if container:
            params["container"] = container
        if stream:
            with client.messages.stream(**params) as s:
                reply = s.get_final_message()
        else:
            reply = client.messages.create(**params)
        replies.append(reply)
        if reply.container is not None:
            container = reply.container.id
        if reply.stop_reason != "tool_use":
            break
        content = [b.to_dict(mode="json") for b in reply.content]
        messages.append({"role": "assistant", "content": content})
        messages.append({"role": "user", "content": answer_calls(scenario, content)})
    client.close()
    return replies, observer


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_thinking_tokens_are_part_of_the_output(stream: bool) -> None:
    emulator = Emulator(seed=4, clock=ManualClock())
    registry = CollectorRegistry()
    replies, observer = run_task(
        emulator, "sales_by_region", registry=registry, stream=stream, thinking=THINKING
    )
    sampled = [r for r in replies if r.usage.output_tokens]
    assert sampled
    for reply in sampled:
        assert reply.content[0].type == "thinking"
        details = reply.usage.output_tokens_details
        assert (
            details is not None
            and 0 < details.thinking_tokens < reply.usage.output_tokens
        )
    reasoning = emulator.ledger.usage_detail("reasoning")
    assert reasoning == sum(
        r.usage.output_tokens_details.thinking_tokens for r in sampled
    )
    assert observer.telemetry_errors == {}
    assert (
        sample(registry, "ptc_reasoning_tokens_total", gen_ai_request_model=MODEL)
        == reasoning
    )


def test_code_fetches_a_page_with_a_programmatic_web_fetch() -> None:
    """A declared web_fetch tool: some finished code runs fetched a page; the server tool
    use names the code execution as its caller, the usage bills it."""
    registry = CollectorRegistry()
    fetched = []
    for name in (
        "sales_by_region",
        "product_search",
        "parallel_weather",
        "database_filter",
    ):
        emulator = Emulator(seed=4, clock=ManualClock())
        replies, observer = run_task(emulator, name, registry=registry)
        assert observer.telemetry_errors == {}
        for reply in replies:
            uses = [b for b in reply.content if b.type == "server_tool_use"]
            for use in uses:
                if use.name == "web_fetch":
                    fetched.append(reply)
                    code = next(
                        b
                        for b in reply.content
                        if b.type == "code_execution_tool_result"
                    )
                    caller = use.to_dict()["caller"]
                    assert caller["tool_id"] == code.tool_use_id
                    assert caller["type"].startswith("code_execution_")
                    assert reply.usage.server_tool_use.web_fetch_requests == 1
        assert emulator.ledger.server_tool_calls("programmatic", "web_fetch") == sum(
            1
            for r in replies
            for b in r.content
            if b.type == "server_tool_use" and b.name == "web_fetch"
        )
    assert fetched, "no scenario fetched a page: the share is 1/2 per finished run"
    assert sample(
        registry,
        "ptc_server_tool_calls_total",
        gen_ai_tool_name="web_fetch",
        caller="programmatic",
    ) == len(fetched)


def test_sub_tools_bash_and_text_editor() -> None:
    """With sub_tools=True some final answers first create a file and run it in bash,
    each answered in the same response; the ledger counts the results by variant."""
    registry = CollectorRegistry()
    seen: dict[str, int] = {}
    ledgers = []
    for name in (
        "sales_by_region",
        "product_search",
        "parallel_weather",
        "database_filter",
        "flaky_api",
    ):
        emulator = Emulator(seed=4, clock=ManualClock(), sub_tools=True)
        replies, observer = run_task(emulator, name, registry=registry)
        assert observer.telemetry_errors == {}
        for reply in replies:
            for block in reply.content:
                if block.type.endswith("code_execution_tool_result"):
                    seen[block.type] = seen.get(block.type, 0) + 1
        ledgers.append(emulator.ledger)
    assert seen.get("bash_code_execution_tool_result", 0) > 0
    assert (
        seen["text_editor_code_execution_tool_result"]
        == seen["bash_code_execution_tool_result"]
    )
    for variant in (
        "bash_code_execution",
        "text_editor_code_execution",
        "code_execution",
    ):
        sent = sum(ledger.code_execution_results(variant) for ledger in ledgers)
        assert sent == seen.get(f"{variant}_tool_result", 0)
        assert sent == sample(
            registry,
            "ptc_code_executions_total",
            gen_ai_tool_name=variant,
            outcome="success",
        ) + sample(
            registry,
            "ptc_code_executions_total",
            gen_ai_tool_name=variant,
            outcome="error",
        )


def test_sub_tools_are_off_by_default() -> None:
    emulator = Emulator(seed=4, clock=ManualClock())
    for name in (
        "sales_by_region",
        "product_search",
        "parallel_weather",
        "database_filter",
        "flaky_api",
    ):
        run_task(emulator, name)
    assert emulator.ledger.code_execution_results("bash_code_execution") == 0


def test_padded_data_lines() -> None:
    """Every data line ends with 1-8 spaces after its JSON; the SDK reads it as usual."""
    emulator = Emulator(seed=2, clock=ManualClock(), pad_data_lines=True)
    body = {
        "model": MODEL,
        "max_tokens": 256,
        "stream": True,
        "messages": [{"role": "user", "content": "Say hello"}],
    }
    response = emulator.handle("POST", "/v1/messages", AUTH, json.dumps(body).encode())
    raw = b"".join(chunk for _, chunk in response.chunks())
    data_lines = [line for line in raw.split(b"\n") if line.startswith(b"data: ")]
    assert data_lines
    for line in data_lines:
        stripped = line.rstrip(b" ")
        assert 1 <= len(line) - len(stripped) <= 8
        json.loads(stripped[len(b"data: ") :])
    assert [name for name, _ in parse_sse(raw.replace(b" \n", b"\n"))][
        0
    ] == "message_start"
    replies, observer = run_task(emulator, "sales_by_region", stream=True)
    assert replies[-1].stop_reason == "end_turn"
    assert observer.telemetry_errors == {}


def test_usage_null_is_in_the_ledger_and_unknown_to_the_observer() -> None:
    """null_usage_every=1: every sampled JSON reply says usage: null; the ledger counts them
    and no tokens; the observer records the exchanges ok and no tokens either."""
    emulator = Emulator(seed=2, clock=ManualClock(), null_usage_every=1)
    registry = CollectorRegistry()
    observer = Observer(registry=registry, opentelemetry=False)
    client = anthropic.Anthropic(
        api_key="sk-ant-test",
        http_client=httpx2.Client(
            transport=observer.transport(emulator.mock_transport(httpx2))
        ),
    )
    raw = client.messages.with_raw_response.create(
        model=MODEL, max_tokens=256, messages=[{"role": "user", "content": "Say hello"}]
    )
    assert raw.http_response.json()["usage"] is None
    assert emulator.ledger.usage_detail("usage_null") == 1
    assert emulator.ledger.tokens("output") == 0
    assert observer.telemetry_errors == {}
    assert (
        sample(
            registry,
            "ptc_exchanges_total",
            gen_ai_request_model=MODEL,
            stream="false",
            outcome="ok",
        )
        == 1
    )
    assert (
        sample(
            registry,
            "ptc_tokens_total",
            gen_ai_request_model=MODEL,
            token_kind="output",
        )
        == 0
    )


def test_shapes_are_seeded() -> None:
    """Two emulators with one seed send the same content and usage (their ledgers agree)
    for the same requests."""
    bodies = []
    for _ in range(2):
        emulator = Emulator(
            seed=9,
            clock=ManualClock(),
            sub_tools=True,
            pad_data_lines=True,
            null_usage_every=3,
        )
        run_task(emulator, "sales_by_region", thinking=THINKING)
        run_task(emulator, "product_search", stream=True)
        bodies.append(emulator.ledger.snapshot())
    assert bodies[0] == bodies[1]
