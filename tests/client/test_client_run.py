"""run(): the tool loop over scripted responses (recorded fixtures), sync and async.

Each test asserts the requests the loop sent: the resume rules of the wire reference
§2.7 (assistant content echoed, a user message of only tool_result blocks answering
every call, string content, the container id, the same tools array).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from ptc_observe.client.errors import BadRequestError, NotFoundError, RunLimitExceeded
from ptc_observe.client.tools import ToolResult, ToolSeverity, ToolSpec

from .helpers import (
    Harness,
    error,
    fixture_json,
    ok,
    sales_registry,
    sse,
    stream_with_error,
    text_message,
    truncated_stream,
)

CONTAINER = "container_011CZq7TfRmB3vKx9NwPd2Lh"


def assert_resume(
    body: dict[str, Any], previous: dict[str, Any], response: dict[str, Any]
) -> None:
    """``body`` answers ``response`` (sent after ``previous``) as the resume rules require."""
    messages = body["messages"]
    assert messages[:-2] == previous["messages"]
    assistant, user = messages[-2], messages[-1]
    assert assistant == {"role": "assistant", "content": response["content"]}
    asked = [b["id"] for b in response["content"] if b["type"] == "tool_use"]
    assert user["role"] == "user"
    assert [b["type"] for b in user["content"]] == ["tool_result"] * len(asked)
    assert [b["tool_use_id"] for b in user["content"]] == asked
    assert all(isinstance(b["content"], str) for b in user["content"])
    assert body["tools"] == previous["tools"]
    if response.get("container"):
        assert body["container"] == response["container"]["id"]


class TestProgrammatic:
    def test_ptc_run_follows_the_resume_rules(self, harness: Harness) -> None:
        """02 → 03 → 04: each pause is answered with tool results in the same container; the summary counts it all."""
        seen: list[str] = []

        def query_sales(sql: str) -> list[dict[str, float]]:
            seen.append(sql)
            return [{"total": 412850.5}]

        client = harness.client(
            [ok("02"), ok("03"), ok("04")], tools=sales_registry(query_sales)
        )
        result = harness.call(
            client.run, "Compare Q2 revenue for West, East and Central."
        )

        first, second, third = harness.bodies
        assert "container" not in first
        assert_resume(second, first, fixture_json("02"))
        assert_resume(third, second, fixture_json("03"))
        assert (
            second["messages"][-1]["content"][0]["content"] == '[{"total": 412850.5}]'
        )
        assert len(seen) == 2 and "West" in seen[0] and "East" in seen[1]

        assert result.text.startswith("Central led Q2")
        assert result.message.stop_reason == "end_turn"
        assert result.container_id == CONTAINER
        assert result.messages[-1]["role"] == "assistant"
        summary = result.summary
        assert summary.rounds == 3
        assert summary.tool_calls == {"programmatic": 2}
        assert summary.tool_calls_by_caller_type == {"code_execution_20260120": 2}
        assert summary.tokens["input"] == 1874 + 0 + 2311
        assert summary.tokens["output"] == 246 + 0 + 58
        assert summary.containers == [CONTAINER]
        assert summary.retries == 0 and summary.container_restarts == 0
        assert summary.duration > 0
        assert [e.call.id for e in result.executions] == [
            "toolu_01Fk2YwHs9PqLm4Rt7VbZc3N",
            "toolu_01Wn6DcJ3xRv8Hq2Lt5MpYk9",
        ]

    def test_calls_arriving_together_run_in_parallel(self, harness: Harness) -> None:
        """Three programmatic calls in one response run at once (a 3-party barrier passes) and are all answered in one message."""
        barrier = threading.Barrier(3, timeout=10)

        def query_sales(sql: str) -> str:
            barrier.wait()  # raises BrokenBarrierError unless all three run together
            return sql.split("'")[1]

        final = fixture_json("04")
        client = harness.client(
            [ok("05"), ok(final)], tools=sales_registry(query_sales)
        )
        result = harness.call(client.run, "Q2 by region")
        response = fixture_json("05")
        assert_resume(harness.bodies[1], harness.bodies[0], response)
        results = harness.bodies[1]["messages"][-1]["content"]
        assert [r["content"] for r in results] == ["East", "West", "Central"]
        assert not any(r.get("is_error") for r in results)
        assert result.summary.tool_calls["programmatic"] == 3

    def test_async_handlers(self, harness: Harness) -> None:
        """Coroutine handlers work with both clients."""

        async def query_sales(sql: str) -> dict[str, str]:
            return {"sql": sql[:6]}

        client = harness.client([ok("02"), ok("04")], tools=sales_registry(query_sales))
        harness.call(client.run, "Q2")
        assert (
            harness.bodies[1]["messages"][-1]["content"][0]["content"]
            == '{"sql": "SELECT"}'
        )


class TestDirect:
    def test_direct_call_is_answered(self, harness: Harness) -> None:
        """A direct call is executed and answered; no container is sent (none was named)."""
        client = harness.client(
            [ok("01"), ok(text_message("12 in Reno."))], tools=sales_registry()
        )
        result = harness.call(client.run, "Stock of LMP-2290 in Reno?")
        first, second = harness.bodies
        assert_resume(second, first, fixture_json("01"))
        assert "container" not in second
        assert second["messages"][-1]["content"][0]["content"] == (
            '{"sku": "LMP-2290", "warehouse": "reno", "on_hand": 12}'
        )
        assert result.summary.tool_calls == {"direct": 1}
        assert result.text == "12 in Reno."


class TestToolFailures:
    def test_handler_that_raises_gives_an_error_result(self, harness: Harness) -> None:
        """A raising handler becomes is_error with the exception text; the run goes on."""

        def query_sales(sql: str) -> str:
            raise ConnectionError("sales DB is down")

        client = harness.client([ok("02"), ok("04")], tools=sales_registry(query_sales))
        result = harness.call(client.run, "Q2")
        (block,) = harness.bodies[1]["messages"][-1]["content"]
        assert block["is_error"] is True
        assert (
            block["content"] == "query_sales failed: ConnectionError: sales DB is down"
        )
        assert result.summary.tool_errors == 1
        assert result.executions[0].error_type == "ConnectionError"

    def test_custom_error_text(self, harness: Harness) -> None:
        """format_tool_error decides what the model reads."""

        def query_sales(sql: str) -> str:
            raise RuntimeError("secret detail")

        client = harness.client(
            [ok("02"), ok("04")],
            tools=sales_registry(query_sales),
            format_tool_error=lambda call, exc: f"{call.name} is unavailable",
        )
        harness.call(client.run, "Q2")
        assert (
            harness.bodies[1]["messages"][-1]["content"][0]["content"]
            == "query_sales is unavailable"
        )

    def test_tool_result_object(self, harness: Harness) -> None:
        """A handler returning ToolResult(is_error=True) controls the block."""
        client = harness.client(
            [ok("02"), ok("04")],
            tools=sales_registry(
                lambda sql: ToolResult("no such region", is_error=True)
            ),
        )
        result = harness.call(client.run, "Q2")
        block = harness.bodies[1]["messages"][-1]["content"][0]
        assert block == {
            "type": "tool_result",
            "tool_use_id": "toolu_01Fk2YwHs9PqLm4Rt7VbZc3N",
            "content": "no such region",
            "is_error": True,
        }
        assert result.executions[0].error_type == "tool_error"

    def test_timeout_gives_an_error_result(self, harness: Harness) -> None:
        """A handler past its spec's timeout is answered with an error result; the loop does not wait for it."""
        release = threading.Event()

        def query_sales(sql: str) -> str:
            release.wait(30)
            return "late"

        registry = sales_registry()
        registry.register(
            ToolSpec(
                "query_sales", "slow", severity=ToolSeverity.READ_ONLY, timeout=0.05
            ),
            query_sales,
            replace=True,
        )
        client = harness.client([ok("02"), ok("04")], tools=registry)
        try:
            result = harness.call(client.run, "Q2")
        finally:
            release.set()
        block = harness.bodies[1]["messages"][-1]["content"][0]
        assert block["is_error"] is True
        assert block["content"] == "query_sales timed out after 0.05 s"
        assert result.summary.tool_timeouts == 1
        assert result.executions[0].timed_out

    def test_unknown_tool(self, harness: Harness) -> None:
        """A call of a tool the registry does not have is answered with an error result."""
        from ptc_observe.client.tools import ToolRegistry

        client = harness.client([ok("01"), ok(text_message())], tools=ToolRegistry())
        harness.call(client.run, "stock?")
        block = harness.bodies[1]["messages"][-1]["content"][0]
        assert block["is_error"] is True
        assert "get_inventory is not a tool of this application" == block["content"]


class TestTurnControl:
    def test_pause_turn_is_continued(self, harness: Harness) -> None:
        """pause_turn: the assistant content goes back as is, with no new user message, in the same container."""
        paused = fixture_json("02")
        paused["content"] = paused["content"][:2]
        paused["stop_reason"] = "pause_turn"
        client = harness.client([ok(paused), ok("04")], tools=sales_registry())
        result = harness.call(client.run, "Q2")
        first, second = harness.bodies
        assert second["messages"] == first["messages"] + [
            {"role": "assistant", "content": paused["content"]}
        ]
        assert second["container"] == CONTAINER
        assert result.summary.pause_turns == 1

    def test_round_limit(self, harness: Harness) -> None:
        """Out of rounds: RunLimitExceeded with the partial result attached."""
        client = harness.client(
            [ok("02"), ok("03")], tools=sales_registry(), max_rounds=2
        )
        exc = harness.raises(client.run, "Q2")
        assert isinstance(exc, RunLimitExceeded)
        assert exc.result.summary.rounds == 2
        assert exc.result.message.stop_reason == "tool_use"
        assert len(harness.requests) == 2

    def test_container_reuse(self, harness: Harness) -> None:
        """run(container_id=...) sends the container from the first request on."""
        client = harness.client([ok(text_message())], tools=sales_registry())
        harness.call(client.run, "again", container_id=CONTAINER)
        assert harness.bodies[0]["container"] == CONTAINER


class TestContainerExpiry:
    def test_expired_container_restarts_the_turn(self, harness: Harness) -> None:
        """The container expires mid-run: the turn starts again from the user's messages in a fresh container."""
        expired = error(
            400, "invalid_request_error", f"container {CONTAINER} has expired"
        )
        client = harness.client(
            [ok("02"), expired, ok("02"), ok("03"), ok("04")], tools=sales_registry()
        )
        result = harness.call(client.run, "Q2")
        first, failed, restarted = harness.bodies[:3]
        assert failed["container"] == CONTAINER
        assert restarted == first
        assert_resume(harness.bodies[3], restarted, fixture_json("02"))
        assert result.summary.container_restarts == 1
        assert result.summary.rounds == 4
        assert result.text.startswith("Central led Q2")

    def test_unknown_container_at_start(self, harness: Harness) -> None:
        """A reused container the API does not know (404) is dropped and the run starts fresh."""
        gone = error(404, "not_found_error", "container container_old not found")
        client = harness.client([gone, ok(text_message())], tools=sales_registry())
        result = harness.call(client.run, "again", container_id="container_old")
        assert harness.bodies[0]["container"] == "container_old"
        assert "container" not in harness.bodies[1]
        assert result.summary.container_restarts == 1

    def test_restarts_are_bounded(self, harness: Harness) -> None:
        """Only max_container_restarts restarts; then the error is raised."""
        expired = error(400, "invalid_request_error", "container expired")
        replies = [ok("02"), expired] * 2
        client = harness.client(
            replies, tools=sales_registry(), max_container_restarts=1
        )
        exc = harness.raises(client.run, "Q2")
        assert isinstance(exc, BadRequestError)
        assert len(harness.requests) == 4

    def test_other_bad_requests_do_not_restart(self, harness: Harness) -> None:
        """A 400 about something else is raised as is."""
        client = harness.client(
            [ok("02"), error(400, "invalid_request_error", "messages.2: bad")],
            tools=sales_registry(),
        )
        exc = harness.raises(client.run, "Q2")
        assert isinstance(exc, BadRequestError) and not isinstance(exc, NotFoundError)
        assert len(harness.requests) == 2


class TestRetriesInRun:
    def test_rate_limit_and_overload_mid_run(self, harness: Harness) -> None:
        """A 429 and a 529 during a run are retried; the resumed request is resent unchanged."""
        client = harness.client(
            [
                ok("02"),
                error(429, "rate_limit_error", "slow", headers={"retry-after": "2"}),
                error(529, "overloaded_error", "Overloaded"),
                ok("03"),
                ok("04"),
            ],
            tools=sales_registry(),
        )
        result = harness.call(client.run, "Q2")
        assert harness.bodies[1] == harness.bodies[2] == harness.bodies[3]
        assert harness.sleeps[0] == 2.0 and len(harness.sleeps) == 2
        assert result.summary.retries == 2


class TestStreamingRun:
    def test_streamed_ptc_run(self, harness: Harness) -> None:
        """Streamed 08 → 10 → 09: events reach on_event; the echoed assistant content is the accumulated stream."""
        events: list[str] = []
        client = harness.client(
            [sse("08"), sse("10"), sse("09")], tools=sales_registry()
        )
        result = harness.call(
            client.run, "Q2", stream=True, on_event=lambda e: events.append(e.type)
        )
        first, second, third = harness.bodies
        assert all(b["stream"] is True for b in harness.bodies)
        echoed = second["messages"][-2]["content"]
        assert [b["type"] for b in echoed] == ["text", "server_tool_use", "tool_use"]
        assert (
            echoed[0]["text"]
            == "I'll total Q2 revenue for each region with a short script."
        )
        assert "query_sales" in echoed[1]["input"]["code"]
        assert echoed[1]["caller"] == {"type": "direct"}
        assert echoed[2]["caller"]["type"] == "code_execution_20260120"
        assert (
            second["container"]
            == third["container"]
            == "container_011CZq9Q8sHb4Nw6Tx2KcLm7"
        )
        assert [b["tool_use_id"] for b in third["messages"][-1]["content"]] == [
            "toolu_01Qs8Ln4Vc2Yk7Hd5Rw3MtBx"
        ]
        assert events.count("message_stop") == 3
        assert result.text.startswith("Programmatic tool calling lets")
        assert result.summary.tool_calls == {"programmatic": 2}

    def test_stream_faults_mid_run(self, harness: Harness) -> None:
        """A mid-stream error and a cut stream during a run are retried."""
        client = harness.client(
            [
                sse(stream_with_error()),
                sse("08"),
                sse(truncated_stream(), broken=True),
                sse("10"),
                sse("09"),
            ],
            tools=sales_registry(),
        )
        result = harness.call(client.run, "Q2", stream=True)
        assert result.summary.retries == 2
        assert harness.bodies[0] == harness.bodies[1]
        assert harness.bodies[2] == harness.bodies[3]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_run_needs_a_registry(harness: Harness, stream: bool) -> None:
    """run() without any registry is a TypeError."""
    client = harness.client([])
    exc = harness.raises(client.run, "Q2", stream=stream)
    assert isinstance(exc, TypeError)
