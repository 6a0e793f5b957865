"""Helpers for the emulator tests: tool loops with the SDK, raw SSE parsing and accumulation."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import anthropic
from anthropic.types import Message

from ptc_observe.emulator import Scenario

MODEL = "claude-sonnet-4-6"
AUTH = {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"}


def answer_calls(
    scenario: Scenario, content: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``tool_result`` blocks for every ``tool_use`` in ``content``, from the scenario's scripted results."""
    results = []
    for block in content:
        if block["type"] != "tool_use":
            continue
        call = scenario.call_for(block["name"], block["input"])
        assert call is not None, f"unscripted call {block['name']}({block['input']})"
        result: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": block["id"],
            "content": call.result,
        }
        if call.error:
            result["is_error"] = True
        results.append(result)
    return results


def sdk_turn(mode: Any, client: Any, style: str, **params: Any) -> Message:
    """One ``messages`` call in ``style``: ``create``, ``stream`` (helper) or ``create_stream``."""
    if style == "create":
        return mode.run(client.messages.create, **params)  # type: ignore[no-any-return]
    if style == "stream":
        _, final = mode.stream_helper(client.messages.stream(**params))
        return final  # type: ignore[no-any-return]
    events = mode.collect(mode.run(client.messages.create, stream=True, **params))
    return Message.model_validate(accumulate([e.to_dict(mode="json") for e in events]))


def sdk_loop(
    mode: Any,
    client: Any,
    scenario: Scenario,
    *,
    programmatic: bool = True,
    style: str = "create",
    max_turns: int = 12,
    **extra: Any,
) -> tuple[list[Message], list[dict[str, Any]]]:
    """Run the scenario's task to its end; returns the responses and the request bodies sent."""
    tools = scenario.tool_definitions(programmatic=programmatic)
    messages: list[dict[str, Any]] = [{"role": "user", "content": scenario.prompt}]
    responses: list[Message] = []
    requests: list[dict[str, Any]] = []
    container: str | None = None
    for _ in range(max_turns):
        params: dict[str, Any] = {
            "model": MODEL,
            "max_tokens": 4096,
            "messages": list(messages),
            "tools": tools,
        }
        if container is not None:
            params["container"] = container
        params.update(extra)
        requests.append(json.loads(json.dumps(params)))
        message = sdk_turn(mode, client, style, **params)
        responses.append(message)
        if message.container is not None:
            container = message.container.id
        if message.stop_reason != "tool_use":
            return responses, requests
        content = [b.to_dict(mode="json") for b in message.content]
        messages.append({"role": "assistant", "content": content})
        messages.append({"role": "user", "content": answer_calls(scenario, content)})
    raise AssertionError("the loop did not end")


def parse_sse(data: bytes) -> list[tuple[str, dict[str, Any]]]:
    """``(event name, payload)`` pairs of an SSE body; every event must have ``event:`` and ``data:``."""
    events = []
    for chunk in data.decode("utf-8").split("\n\n"):
        if not chunk.strip():
            continue
        lines = dict(line.split(": ", 1) for line in chunk.split("\n"))
        assert set(lines) == {"event", "data"}, chunk
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def accumulate(events: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Build the final message from stream event payloads (replacing usage, as the SDK does)."""
    message: dict[str, Any] = {}
    buffers: dict[int, str] = {}
    for event in events:
        kind = event["type"]
        if kind == "message_start":
            message = json.loads(json.dumps(event["message"]))
        elif kind == "content_block_start":
            message["content"].append(dict(event["content_block"]))
        elif kind == "content_block_delta":
            block, delta = message["content"][event["index"]], event["delta"]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            else:
                buffers[event["index"]] = (
                    buffers.get(event["index"], "") + delta["partial_json"]
                )
        elif kind == "content_block_stop" and event["index"] in buffers:
            message["content"][event["index"]]["input"] = json.loads(
                buffers.pop(event["index"])
            )
        elif kind == "message_delta":
            for key in ("stop_reason", "stop_sequence", "stop_details", "container"):
                if key in event["delta"]:
                    message[key] = event["delta"][key]
            message["usage"].update(event["usage"])
    return message


def raw_loop(
    post: Any, scenario: Scenario, *, stream: bool, programmatic: bool = True
) -> list[dict[str, Any]]:
    """A tool loop over raw HTTP: ``post(body) -> (status, headers, bytes)``; returns the messages."""
    tools = scenario.tool_definitions(programmatic=programmatic)
    messages: list[dict[str, Any]] = [{"role": "user", "content": scenario.prompt}]
    container = None
    out = []
    for _ in range(12):
        body: dict[str, Any] = {
            "model": MODEL,
            "max_tokens": 2048,
            "messages": messages,
            "tools": tools,
        }
        if stream:
            body["stream"] = True
        if container:
            body["container"] = container
        status, headers, data = post(body)
        assert status == 200, data
        if stream:
            assert headers["content-type"].startswith("text/event-stream")
            events = parse_sse(data)
            assert events[-1][0] == "message_stop"
            message = accumulate(payload for _, payload in events)
        else:
            message = json.loads(data)
        out.append(message)
        if message.get("container"):
            container = message["container"]["id"]
        if message["stop_reason"] != "tool_use":
            return out
        messages = [*messages, {"role": "assistant", "content": message["content"]}]
        messages.append(
            {"role": "user", "content": answer_calls(scenario, message["content"])}
        )
    raise AssertionError("the loop did not end")


def error_of(exc: BaseException) -> dict[str, Any]:
    """The ``error`` object of an ``APIStatusError``'s body."""
    body = status_error(exc).body
    assert isinstance(body, dict)
    return dict(body["error"])


def status_error(exc: BaseException) -> anthropic.APIStatusError:
    """``exc`` as an ``APIStatusError`` (fails the test otherwise)."""
    assert isinstance(exc, anthropic.APIStatusError), repr(exc)
    return exc
