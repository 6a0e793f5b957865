"""Programmatic tool calling with the official ``anthropic`` SDK, observed by ptc_observe.

No ``PTCClient`` here: this is the tool loop most applications already have, written with
the SDK alone. ptc_observe adds one thing, the observing transport of the SDK's HTTP client
(the two lines marked below), and from then on counts every tool call by caller, the tokens,
the container, the latency, in Prometheus and OpenTelemetry.

Claude writes Python that runs in a code-execution container and calls ``get_weather`` from
there (the tool allows the ``code_execution_20260120`` caller). Each programmatic call
reaches this loop as a ``tool_use`` block with a ``caller``; the loop answers it with a
``tool_result`` and the container id, until Claude ends its turn.

    ptc-observe emulator                  # terminal 1: the local Messages API emulator, port 8765
    python examples/sdk/ptc_loop.py       # terminal 2: this loop, against it (no API key)

    ANTHROPIC_API_KEY=... python examples/sdk/ptc_loop.py --base-url https://api.anthropic.com
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import anthropic
import httpx2
from prometheus_client import CollectorRegistry

from ptc_observe import Observer

MODEL = "claude-sonnet-4-6"
PROMPT = "Which of Lisbon, Madrid, Rome, Paris and Berlin will be warmest tomorrow?"
CODE_EXECUTION = "code_execution_20260120"
TOOLS: list[Any] = [
    {"type": CODE_EXECUTION, "name": "code_execution"},
    {
        "name": "get_weather",
        "description": "Tomorrow's forecast for a city. Returns JSON {city, high_c, low_c, sky}.",
        "input_schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
        # Callable from Claude's code: the calls arrive from the container, in batches.
        "allowed_callers": [CODE_EXECUTION],
    },
]
FORECASTS = {
    "Lisbon": (27, 18, "clear"),
    "Madrid": (31, 22, "clear"),
    "Rome": (29, 20, "clear"),
    "Paris": (22, 14, "cloudy"),
    "Berlin": (20, 12, "rain"),
}


def get_weather(city: str) -> str:
    """The application's own tool."""
    high, low, sky = FORECASTS[city]
    return json.dumps({"city": city, "high_c": high, "low_c": low, "sky": sky})


def answer(block: Any) -> dict[str, Any]:
    """The ``tool_result`` for one ``tool_use`` block (an error result if the tool fails)."""
    caller = getattr(block.caller, "type", "direct") if block.caller else "direct"
    print(f"tool_use {block.name}({json.dumps(block.input)}) from {caller}")
    try:
        content = get_weather(**block.input)
    except Exception as exc:
        return {
            "type": "tool_result",
            "tool_use_id": block.id,
            "content": f"{type(exc).__name__}: {exc}",
            "is_error": True,
        }
    return {"type": "tool_result", "tool_use_id": block.id, "content": content}


def tool_calls_by_caller(registry: CollectorRegistry) -> dict[str, float]:
    """``ptc_tool_calls_total`` summed by caller, as a dashboard would show it."""
    found: dict[str, float] = {}
    for family in registry.collect():
        for sample in family.samples:
            if sample.name == "ptc_tool_calls_total":
                caller = sample.labels.get("caller", "")
                found[caller] = found.get(caller, 0.0) + sample.value
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--base-url",
        default=os.environ.get("ANTHROPIC_BASE_URL", "http://127.0.0.1:8765"),
        help="where the Messages API is (default: a local `ptc-observe emulator`)",
    )
    args = parser.parse_args()

    registry = (
        CollectorRegistry()
    )  # the example's own registry; by default: the global one
    observer = Observer(registry=registry)
    client = anthropic.Anthropic(
        base_url=args.base_url,
        api_key=os.environ.get("ANTHROPIC_API_KEY", "emulated"),
        # The two lines ptc_observe adds: an httpx2 client sending through the observer.
        http_client=httpx2.Client(transport=observer.transport()),
    )

    messages: list[Any] = [{"role": "user", "content": PROMPT}]
    container: str | None = None
    try:
        for _ in range(20):
            message = client.messages.create(
                model=MODEL,
                max_tokens=4096,
                tools=TOOLS,
                messages=messages,
                container=container or anthropic.omit,
            )
            # Keep the container: code paused for tool results resumes in it.
            if message.container is not None:
                container = message.container.id
            messages.append(
                {
                    "role": "assistant",
                    "content": [
                        b.model_dump(exclude_none=True) for b in message.content
                    ],
                }
            )
            if message.stop_reason == "pause_turn":
                continue  # a long-running turn: send it back as it is
            if message.stop_reason != "tool_use":
                break
            results = [answer(b) for b in message.content if b.type == "tool_use"]
            messages.append({"role": "user", "content": results})
    except anthropic.APIConnectionError as exc:
        print(
            f"cannot reach {args.base_url} ({exc}): start `ptc-observe emulator` first,"
            " or pass --base-url",
            file=sys.stderr,
        )
        return 1
    finally:
        client.close()

    final = "".join(b.text for b in message.content if b.type == "text")
    print(f"answer: {final}")
    print(f"stop_reason: {message.stop_reason}, container: {container}")
    seen = tool_calls_by_caller(registry)
    print(
        "observer: tool calls"
        f" programmatic={seen.get('programmatic', 0):.0f} direct={seen.get('direct', 0):.0f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
