"""Token accounting: the estimator, direct versus programmatic runs, prompt caching, limits."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2
import pytest
from anthropic.types import TextBlock

from ptc_observe.emulator import Emulator, ManualClock, builtin_scenario
from ptc_observe.emulator.tokens import (
    CODE_EXECUTION_TOOL,
    REQUEST_OVERHEAD,
    block_tokens,
    context_segments,
    count_context,
    count_text,
    tool_tokens,
)

from .helpers import MODEL, sdk_loop


def sync_client(emulator: Emulator) -> anthropic.Anthropic:
    transport = emulator.mock_transport(httpx2)
    return anthropic.Anthropic(
        api_key="k", http_client=httpx2.Client(transport=transport), max_retries=0
    )


class Sync:
    """The plain sync mode, for tests that need no async twin."""

    is_async = False

    def run(self, fn, *args, **kwargs):
        return fn(*args, **kwargs)


def run(emulator: Emulator, name: str, *, programmatic: bool):
    return sdk_loop(
        Sync(), sync_client(emulator), builtin_scenario(name), programmatic=programmatic
    )


def message_tokens(message):
    """Tokens a message adds to a context (its blocks plus the per-message overhead)."""
    return count_context(context_segments({"messages": [message]})) - REQUEST_OVERHEAD


def programmatic_ids(body):
    return {
        b["id"]
        for m in body["messages"]
        if isinstance(m["content"], list)
        for b in m["content"]
        if b["type"] == "tool_use"
        and b.get("caller", {}).get("type", "direct") != "direct"
    }


class TestEstimator:
    def test_text_is_four_bytes_per_token(self) -> None:
        """One token per started group of 4 UTF-8 bytes."""
        assert [count_text(t) for t in ("", "a", "abcd", "abcde", "→→")] == [
            0,
            1,
            1,
            2,
            2,
        ]

    def test_segments_leave_out_programmatic_calls(self) -> None:
        """Programmatic tool_use blocks and their results are not part of the model's context."""
        body = {
            "messages": [
                {"role": "user", "content": "hi"},
                {
                    "role": "assistant",
                    "content": [
                        {
                            "type": "server_tool_use",
                            "id": "srv",
                            "name": "code_execution",
                            "input": {"code": "x"},
                        },
                        {
                            "type": "tool_use",
                            "id": "t1",
                            "name": "q",
                            "input": {},
                            "caller": {
                                "type": "code_execution_20260120",
                                "tool_id": "srv",
                            },
                        },
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "t1",
                            "content": "x" * 400,
                        }
                    ],
                },
            ]
        }
        messages: Any = body["messages"]
        full = count_context(context_segments(body))
        seen = count_context(context_segments(body, drop_ids={"t1"}))
        dropped_result = (
            block_tokens(messages[2]["content"][0]) + 4
        )  # its message overhead too
        dropped_call = block_tokens(messages[1]["content"][1])
        assert full - seen == dropped_result + dropped_call


class TestDirectVersusProgrammatic:
    def test_exact_accounting_and_round_trips(self) -> None:
        """Same task both ways: every reported input count follows from the estimator, exactly."""
        direct_emulator, ptc_emulator = (
            Emulator(seed=1, clock=ManualClock()),
            Emulator(seed=1, clock=ManualClock()),
        )
        direct, direct_requests = run(
            direct_emulator, "product_search", programmatic=False
        )
        ptc, ptc_requests = run(ptc_emulator, "product_search", programmatic=True)
        d = [r.usage.input_tokens for r in direct]
        p = [r.usage.input_tokens for r in ptc]

        # Both take four HTTP round trips; direct samples the model four times, PTC twice.
        assert len(direct) == len(ptc) == 4
        assert p[1:3] == [0, 0]
        assert direct_emulator.stats()["turns"] == {"sampled": 4, "continuation": 0}
        assert ptc_emulator.stats()["turns"] == {"sampled": 2, "continuation": 2}

        # Turn 1 differs only by the code-execution tool and the allowed_callers field.
        defs = builtin_scenario("product_search")
        callers_bytes = tool_tokens(defs.tool_definitions()[1]) - tool_tokens(
            defs.tool_definitions(programmatic=False)[0]
        )
        assert p[0] - d[0] == CODE_EXECUTION_TOOL + callers_bytes

        # Direct: each round re-reads the previous round's assistant turn and its tool results.
        history = direct_requests[-1]["messages"]
        for k in range(3):
            assistant, results = history[1 + 2 * k], history[2 + 2 * k]
            assert d[k + 1] - d[k] == message_tokens(assistant) + message_tokens(
                results
            )

        # PTC: the final turn reads turn 1 plus what the model wrote (text, code) plus the code's
        # result; no tool result and no programmatic call enters the context.
        first_turn = ptc_requests[-1]["messages"][1]
        written = {
            **first_turn,
            "content": [b for b in first_turn["content"] if b["type"] != "tool_use"],
        }
        code_result = ptc[-1].content[0].to_dict(mode="json")
        assert p[3] == p[0] + message_tokens(written) + block_tokens(code_result)
        assert p[3] == (
            count_context(
                context_segments(
                    ptc_requests[-1], drop_ids=programmatic_ids(ptc_requests[-1])
                )
            )
            + block_tokens(code_result)
        )

        # Large catalog pages: re-reading them costs more than the code tool does.
        assert sum(p) < sum(d)
        assert direct_emulator.ledger.tokens("input") == sum(d)
        assert ptc_emulator.ledger.tokens("input") == sum(p)

    def test_small_results_make_programmatic_dearer(self) -> None:
        """With tiny results (one row per region) the code tool's overhead outweighs the savings."""
        direct, _ = run(
            Emulator(seed=1, clock=ManualClock()), "sales_by_region", programmatic=False
        )
        ptc, _ = run(
            Emulator(seed=1, clock=ManualClock()), "sales_by_region", programmatic=True
        )
        assert sum(r.usage.input_tokens for r in ptc) > sum(
            r.usage.input_tokens for r in direct
        )
        assert len(direct) == len(ptc) == 4


class TestPromptCache:
    def params(self, system_text: str, **control):
        return {
            "model": MODEL,
            "max_tokens": 256,
            "system": [
                {
                    "type": "text",
                    "text": system_text,
                    "cache_control": {"type": "ephemeral", **control},
                }
            ],
            "messages": [{"role": "user", "content": "Summarize the policy."}],
        }

    def test_write_then_read_then_expire(self) -> None:
        """A cached prefix is written once, read while fresh, and written again after 5 minutes."""
        clock = ManualClock()
        client = sync_client(Emulator(seed=3, clock=clock))
        params = self.params("policy " * 800)
        prefix = 7 + count_text("policy " * 800)  # request overhead + the system block
        first = client.messages.create(**params).usage
        assert (first.cache_creation_input_tokens, first.cache_read_input_tokens) == (
            prefix,
            0,
        )
        assert (
            first.cache_creation is not None
            and first.cache_creation.ephemeral_5m_input_tokens == prefix
        )
        clock.advance(120)
        second = client.messages.create(**params).usage
        assert (second.cache_creation_input_tokens, second.cache_read_input_tokens) == (
            0,
            prefix,
        )
        assert second.input_tokens == first.input_tokens
        clock.advance(301)
        third = client.messages.create(**params).usage
        assert (third.cache_creation_input_tokens, third.cache_read_input_tokens) == (
            prefix,
            0,
        )

    def test_one_hour_ttl(self) -> None:
        """``ttl: 1h`` entries are billed as 1h writes and survive ten minutes."""
        clock = ManualClock()
        client = sync_client(Emulator(seed=3, clock=clock))
        params = self.params("rules " * 900, ttl="1h")
        first = client.messages.create(**params).usage
        assert (
            first.cache_creation is not None
            and first.cache_creation.ephemeral_1h_input_tokens > 0
        )
        clock.advance(600)
        assert client.messages.create(**params).usage.cache_read_input_tokens == (
            first.cache_creation.ephemeral_1h_input_tokens
        )

    def test_short_prefix_is_not_cached(self) -> None:
        """Prefixes under the minimum cacheable length are neither written nor read."""
        client = sync_client(Emulator(seed=3, clock=ManualClock()))
        params = self.params("short")
        for _ in range(2):
            usage = client.messages.create(**params).usage
            assert (
                usage.cache_creation_input_tokens,
                usage.cache_read_input_tokens,
            ) == (0, 0)


class TestLimits:
    def test_max_tokens_truncates_the_answer(self) -> None:
        """A final answer longer than max_tokens is cut and reports stop_reason max_tokens."""
        client = sync_client(Emulator(seed=3, clock=ManualClock()))
        message = client.messages.create(
            model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "x" * 99}]
        )
        assert message.stop_reason == "max_tokens"
        assert message.usage.output_tokens == 5

    def test_stop_sequence(self) -> None:
        """The answer stops before the first stop sequence it contains."""
        client = sync_client(Emulator(seed=3, clock=ManualClock()))
        message = client.messages.create(
            model=MODEL,
            max_tokens=500,
            stop_sequences=["placeholder"],
            messages=[{"role": "user", "content": "Hello there"}],
        )
        assert (
            message.stop_reason == "stop_sequence"
            and message.stop_sequence == "placeholder"
        )
        assert isinstance(message.content[0], TextBlock)
        assert "placeholder" not in message.content[0].text


@pytest.mark.parametrize("system", ["be brief", [{"type": "text", "text": "be brief"}]])
def test_system_counts(system: Any) -> None:
    """String and block system prompts cost the same."""
    body = {"system": system, "messages": [{"role": "user", "content": "hi"}]}
    assert count_context(context_segments(body)) == 7 + count_text(
        "be brief"
    ) + 4 + 3 + count_text("hi")
