"""The SSE shapes of ``ptc-wire-format.md`` §4, event by event."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ptc_observe.emulator import Emulator, ManualClock, builtin_scenario

from .helpers import AUTH, MODEL, accumulate, answer_calls, parse_sse, raw_loop

SALES = builtin_scenario("sales_by_region")


def post(emulator: Emulator, headers: dict[str, str] | None = None):
    def send(body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        answer = emulator.handle(
            "POST",
            "/v1/messages",
            {**AUTH, **(headers or {})},
            json.dumps(body).encode(),
        )
        return (
            answer.status,
            dict(answer.headers),
            b"".join(data for _, data in answer.chunks()),
        )

    return send


def events_of(
    emulator: Emulator, body: dict[str, Any], **headers: str
) -> list[tuple[str, dict[str, Any]]]:
    status, _, data = post(emulator, headers)({**body, "stream": True})
    assert status == 200
    return parse_sse(data)


def turn1_body(scenario=SALES, **extra: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": 2048,
        "tools": scenario.tool_definitions(),
        "messages": [{"role": "user", "content": scenario.prompt}],
        **extra,
    }


def resume_body(first: dict[str, Any], scenario=SALES) -> dict[str, Any]:
    body = turn1_body(scenario, container=first["container"]["id"])
    body["messages"] += [
        {"role": "assistant", "content": first["content"]},
        {"role": "user", "content": answer_calls(scenario, first["content"])},
    ]
    return body


def shape(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Event names with block types, runs of deltas collapsed, e.g. ``start:text``, ``delta*``."""
    out: list[str] = []
    for name, payload in events:
        if name == "content_block_start":
            block = payload["content_block"]
            whole = (
                "whole"
                if block.get("input") or block["type"].endswith("_result")
                else "open"
            )
            out.append(
                f"start:{block['type']}:{whole if block['type'] != 'text' else 'open'}"
            )
        elif name == "content_block_delta":
            if out[-1] != "delta*":
                out.append("delta*")
        else:
            out.append(name)
    return out


class TestTurnOne:
    def test_shape_matches_the_recorded_stream(self, fixtures: Any) -> None:
        """Turn 1 has the event shape of fixture 08: deltas for model-written blocks, the call whole."""
        ours = events_of(Emulator(seed=3, clock=ManualClock()), turn1_body())
        recorded = parse_sse(fixtures.bytes("08_stream_ptc_turn1.sse"))
        assert shape(ours) == shape(recorded)

    def test_details(self) -> None:
        """Pings after the first block start, input {} then "" first delta, caller only in block starts."""
        events = events_of(Emulator(seed=3, clock=ManualClock()), turn1_body())
        names = [n for n, _ in events]
        assert names[:3] == ["message_start", "content_block_start", "ping"]
        start = events[0][1]["message"]
        assert (
            start["content"] == []
            and start["container"] is None
            and start["stop_reason"] is None
        )
        assert (
            start["usage"]["output_tokens"] == 1 and start["usage"]["input_tokens"] > 0
        )
        server = next(
            p for n, p in events if n == "content_block_start" and p["index"] == 1
        )
        assert server["content_block"]["input"] == {} and server["content_block"][
            "caller"
        ] == {"type": "direct"}
        deltas = [
            p["delta"]
            for n, p in events
            if n == "content_block_delta" and p["index"] == 1
        ]
        assert (
            deltas[0] == {"type": "input_json_delta", "partial_json": ""}
            and len(deltas) > 3
        )
        call_start = next(
            i
            for i, (n, p) in enumerate(events)
            if n == "content_block_start" and p["index"] == 2
        )
        assert events[call_start + 1] == (
            "content_block_stop",
            {"type": "content_block_stop", "index": 2},
        )
        assert (
            events[call_start][1]["content_block"]["caller"]["type"]
            == "code_execution_20260120"
        )
        delta = events[-2][1]
        assert delta["delta"]["stop_reason"] == "tool_use" and delta["delta"][
            "container"
        ]["id"].startswith("container_")
        assert delta["usage"]["server_tool_use"] == {
            "web_search_requests": 0,
            "web_fetch_requests": 0,
        }
        assert all(p["type"] == n for n, p in events)

    def test_stream_accumulates_to_the_json_response(self) -> None:
        """Same seed, same requests: the accumulated stream equals the non-streamed body."""
        streamed = accumulate(
            p for _, p in events_of(Emulator(seed=3, clock=ManualClock()), turn1_body())
        )
        _, _, data = post(Emulator(seed=3, clock=ManualClock()))(turn1_body())
        plain = json.loads(data)
        # message_delta usage replaces message_start's but does not repeat service_tier/cache_creation.
        assert streamed["usage"]["output_tokens"] == plain["usage"]["output_tokens"]
        for key in (
            "id",
            "content",
            "container",
            "stop_reason",
            "stop_sequence",
            "model",
        ):
            assert streamed[key] == plain[key]


class TestContinuation:
    def test_prepopulated_message_start(self, fixtures: Any) -> None:
        """By default a streamed continuation is one full message_start and message_stop, as recorded."""
        emulator = Emulator(seed=3, clock=ManualClock())
        first = json.loads(post(emulator)(turn1_body())[2])
        events = events_of(emulator, resume_body(first))
        assert shape(events) == shape(
            parse_sse(fixtures.bytes("10_stream_ptc_resume_prepopulated.sse"))
        )
        message = events[0][1]["message"]
        assert message["stop_reason"] == "tool_use"
        assert message["container"]["id"] == first["container"]["id"]
        assert message["usage"] == {
            "input_tokens": 0,
            "output_tokens": 0,
            "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0},
        }
        assert message["content"][0]["caller"]["tool_id"] == first["content"][1]["id"]

    @pytest.mark.parametrize("how", ["header", "constructor"])
    def test_block_shape_on_request(self, how: str) -> None:
        """The ordinary block shape is selectable per request or per emulator."""
        emulator = Emulator(
            seed=3,
            clock=ManualClock(),
            continuation_stream="blocks" if how == "constructor" else "prepopulated",
        )
        first = json.loads(post(emulator)(turn1_body())[2])
        headers = {"x-emulator-continuation": "blocks"} if how == "header" else {}
        events = events_of(emulator, resume_body(first), **headers)
        assert shape(events) == [
            "message_start",
            "start:tool_use:whole",
            "ping",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
        assert events[-2][1]["usage"]["output_tokens"] == 0
        assert events[-2][1]["delta"]["container"]["id"] == first["container"]["id"]


class TestFinal:
    def finish(self, emulator: Emulator) -> list[tuple[str, dict[str, Any]]]:
        scenario = builtin_scenario("parallel_weather")
        first = json.loads(post(emulator)(turn1_body(scenario))[2])
        return events_of(emulator, resume_body(first, scenario))

    def test_result_whole_then_text(self) -> None:
        """The code result arrives whole; the answer streams as text; no container by default."""
        events = self.finish(Emulator(seed=3, clock=ManualClock()))
        assert shape(events) == [
            "message_start",
            "start:code_execution_tool_result:whole",
            "ping",
            "content_block_stop",
            "start:text:open",
            "delta*",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
        assert "container" not in events[0][1]["message"]
        assert "container" not in events[-2][1]["delta"]
        assert events[-2][1]["usage"]["input_tokens"] > 0

    @pytest.mark.parametrize(
        ("setting", "expected"), [("null", None), ("object", dict)]
    )
    def test_final_container_setting(self, setting: str, expected: Any) -> None:
        """final_container='null' or 'object' puts the container in the final message_delta."""
        events = self.finish(
            Emulator(seed=3, clock=ManualClock(), final_container=setting)
        )
        value = events[-2][1]["delta"]["container"]
        assert value is None if expected is None else isinstance(value, dict)


def test_direct_tool_use_streams_its_input() -> None:
    """A direct tool_use starts with input {} and the caller, then streams input_json_delta."""
    body = turn1_body()
    body["tools"] = SALES.tool_definitions(programmatic=False)
    events = events_of(Emulator(seed=3, clock=ManualClock()), body)
    start = next(
        p
        for n, p in events
        if n == "content_block_start" and p["content_block"]["type"] == "tool_use"
    )
    assert start["content_block"]["input"] == {} and start["content_block"][
        "caller"
    ] == {"type": "direct"}
    message = accumulate(p for _, p in events)
    assert message["content"][1]["input"] == SALES.phases[0].batches[0][0].input
    assert message["container"] is None


@pytest.mark.parametrize(
    "name",
    ["sales_by_region", "parallel_weather", "mixed_direct_and_code", "failing_tool"],
)
def test_whole_loops_stream_like_json(name: str) -> None:
    """A full loop streamed and not streamed, from equal seeds, yields identical messages."""
    scenario = builtin_scenario(name)
    streamed = raw_loop(
        post(Emulator(seed=9, clock=ManualClock())), scenario, stream=True
    )
    plain = raw_loop(
        post(Emulator(seed=9, clock=ManualClock())), scenario, stream=False
    )
    assert [m["content"] for m in streamed] == [m["content"] for m in plain]
    assert [m.get("container") for m in streamed] == [m.get("container") for m in plain]
    assert [m["usage"]["output_tokens"] for m in streamed] == [
        m["usage"]["output_tokens"] for m in plain
    ]
