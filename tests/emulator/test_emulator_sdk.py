"""The official SDK runs complete PTC and direct tool loops against the emulator."""

from __future__ import annotations

from typing import Any

import pytest
from anthropic.types import (
    CodeExecutionToolResultBlock,
    DirectCaller,
    ServerToolCaller20260120,
    ServerToolUseBlock,
    TextBlock,
    ToolUseBlock,
)

from ptc_observe.emulator import builtin_scenario

from .conftest import Api
from .helpers import MODEL, sdk_loop

STYLES = [
    pytest.param("create", id="create"),
    pytest.param("stream", id="stream-helper"),
    pytest.param("create_stream", id="create-stream"),
]


class TestProgrammaticLoop:
    @pytest.mark.parametrize("style", STYLES)
    def test_sales_by_region(self, api: Api, style: str) -> None:
        """Turn 1 starts code and pauses, continuations carry one call each, the final uses the results."""
        scenario = builtin_scenario("sales_by_region")
        responses, _ = sdk_loop(api.mode, api.client(), scenario, style=style)
        assert [r.stop_reason for r in responses] == [
            "tool_use",
            "tool_use",
            "tool_use",
            "end_turn",
        ]

        first = responses[0]
        kinds = [TextBlock, ServerToolUseBlock, ToolUseBlock]
        assert all(isinstance(b, k) for b, k in zip(first.content, kinds, strict=True))
        server_use, call = first.content[1], first.content[2]
        assert isinstance(server_use, ServerToolUseBlock) and isinstance(
            call, ToolUseBlock
        )
        code_input: Any = server_use.input
        assert server_use.name == "code_execution"
        assert "await query_sales" in code_input["code"]
        assert isinstance(server_use.caller, DirectCaller)
        assert isinstance(call.caller, ServerToolCaller20260120)
        assert call.caller.tool_id == server_use.id
        assert first.container is not None and first.container.id.startswith(
            "container_011C"
        )
        assert first.usage.input_tokens > 0 and first.usage.output_tokens > 0

        for continuation in responses[1:3]:
            assert len(continuation.content) == 1
            block = continuation.content[0]
            assert isinstance(block, ToolUseBlock) and isinstance(
                block.caller, ServerToolCaller20260120
            )
            assert block.caller.tool_id == server_use.id
            assert (
                continuation.container is not None
                and continuation.container.id == first.container.id
            )
            assert (
                continuation.usage.input_tokens,
                continuation.usage.output_tokens,
            ) == (0, 0)
            assert continuation.usage.cache_read_input_tokens is None

        final = responses[-1]
        result, text = final.content
        assert (
            isinstance(result, CodeExecutionToolResultBlock)
            and result.tool_use_id == server_use.id
        )
        assert result.content.type == "code_execution_result"
        assert (
            result.content.stdout
            == "West: total=412850.5\nEast: total=389120.0\nCentral: total=447310.25\n"
        )
        assert isinstance(text, TextBlock) and "Central: total=447310.25" in text.text
        assert final.container is None  # the recorded final answer has no container key

        stats = api.emulator.stats()
        assert stats["tool_use_blocks"] == {
            "code_execution_20260120": {"query_sales": 3}
        }
        assert stats["turns"] == {"sampled": 2, "continuation": 2}
        assert stats["containers"] == {"created": 1, "reused": 3, "expired": 0}
        assert stats["tokens"]["input"] == sum(r.usage.input_tokens for r in responses)
        assert stats["tokens"]["output"] == sum(
            r.usage.output_tokens for r in responses
        )

    def test_parallel_gather_in_one_response(self, api: Api) -> None:
        """asyncio.gather gives one paused response with every call, in an order unlike the code's."""
        scenario = builtin_scenario("parallel_weather")
        responses, _ = sdk_loop(api.mode, api.client(), scenario, style="stream")
        assert len(responses) == 2
        calls = [b for b in responses[0].content if isinstance(b, ToolUseBlock)]
        inputs: list[Any] = [b.input for b in calls]
        cities = [i["city"] for i in inputs]
        assert sorted(cities) == sorted(["Lisbon", "Madrid", "Rome", "Paris", "Berlin"])
        assert cities != ["Lisbon", "Madrid", "Rome", "Paris", "Berlin"]
        text = responses[1].content[-1]
        assert isinstance(text, TextBlock)
        # The summary is back in the code's order even though the calls came shuffled.
        assert (
            text.text.index("Lisbon")
            < text.text.index("Madrid")
            < text.text.index("Berlin")
        )

    def test_mixed_direct_then_programmatic(self, api: Api) -> None:
        """A direct-only tool is called directly first, then code calls the programmatic tool."""
        scenario = builtin_scenario("mixed_direct_and_code")
        responses, _ = sdk_loop(api.mode, api.client(), scenario)
        callers = [
            [
                b.caller.type
                for b in r.content
                if isinstance(b, ToolUseBlock) and b.caller
            ]
            for r in responses
        ]
        assert callers == [
            ["direct"],
            ["code_execution_20260120"],
            ["code_execution_20260120"],
            ["code_execution_20260120"],
            [],
        ]
        assert responses[0].container is None
        assert api.emulator.ledger.tool_uses("direct", "get_customer") == 1
        assert (
            api.emulator.ledger.tool_uses("code_execution_20260120", "get_order_status")
            == 3
        )

    def test_failing_tool_stops_the_code(self, api: Api) -> None:
        """A tool_result with is_error makes the code raise: return_code 1, traceback on stderr."""
        scenario = builtin_scenario("failing_tool")
        responses, _ = sdk_loop(api.mode, api.client(), scenario, style="create_stream")
        assert len(responses) == 3  # the third warehouse is never asked for
        result = responses[-1].content[0]
        assert isinstance(result, CodeExecutionToolResultBlock)
        assert result.content.type == "code_execution_result"
        assert result.content.return_code == 1
        assert (
            "RuntimeError: tool fetch_inventory failed: Error: warehouse 'ams'"
            in result.content.stderr
        )
        assert (
            result.content.stdout == "reno: sku=LMP-2290, warehouse=reno, units=148\n"
        )
        assert api.emulator.stats()["code_results"] == {"tool_error": 1}


class TestDirectLoop:
    @pytest.mark.parametrize("style", STYLES)
    def test_direct_rounds(self, api: Api, style: str) -> None:
        """Without a code-execution tool each call is its own model turn with a direct caller."""
        scenario = builtin_scenario("product_search")
        responses, _ = sdk_loop(
            api.mode, api.client(), scenario, programmatic=False, style=style
        )
        assert [r.stop_reason for r in responses] == ["tool_use"] * 3 + ["end_turn"]
        for response in responses[:3]:
            uses = [b for b in response.content if isinstance(b, ToolUseBlock)]
            assert len(uses) == 1 and isinstance(uses[0].caller, DirectCaller)
            assert response.container is None
            assert response.usage.input_tokens > 0
        final = responses[-1].content[0]
        assert isinstance(final, TextBlock)
        assert "- jewelry: 13 items" in final.text
        stats = api.emulator.stats()
        assert stats["tool_use_blocks"] == {"direct": {"search_products": 3}}
        assert stats["turns"] == {"sampled": 4, "continuation": 0}
        assert stats["containers"]["created"] == 0


def test_count_tokens(api: Api) -> None:
    """``messages.count_tokens`` answers with the estimate a first turn reports as input."""
    client = api.client()
    scenario = builtin_scenario("sales_by_region")
    params = {
        "model": MODEL,
        "messages": [{"role": "user", "content": scenario.prompt}],
        "tools": scenario.tool_definitions(),
    }
    counted = api.mode.run(client.messages.count_tokens, **params)
    message = api.mode.run(client.messages.create, max_tokens=1024, **params)
    assert counted.input_tokens == message.usage.input_tokens
    assert api.emulator.ledger.responses(200, "count_tokens") == 1
