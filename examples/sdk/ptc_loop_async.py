"""The PTC tool loop of ``ptc_loop.py`` on ``AsyncAnthropic``, streamed, tools run concurrently.

The same loop as ``examples/sdk/ptc_loop.py`` for asyncio applications: every turn is
streamed with ``client.messages.stream()`` (text printed as it arrives), and the batch of
programmatic calls that one paused turn carries is answered with ``asyncio.gather``. The
observer's async transport is the only ptc_observe line.

    ptc-observe emulator                        # terminal 1: the local emulator, port 8765
    python examples/sdk/ptc_loop_async.py       # terminal 2: this loop, against it

    ANTHROPIC_API_KEY=... python examples/sdk/ptc_loop_async.py --base-url https://api.anthropic.com
"""

from __future__ import annotations

import argparse
import asyncio
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


async def get_weather(city: str) -> str:
    """The application's own tool (an I/O-bound lookup)."""
    await asyncio.sleep(0.01)
    high, low, sky = FORECASTS[city]
    return json.dumps({"city": city, "high_c": high, "low_c": low, "sky": sky})


async def answer(block: Any) -> dict[str, Any]:
    """The ``tool_result`` for one ``tool_use`` block (an error result if the tool fails)."""
    caller = getattr(block.caller, "type", "direct") if block.caller else "direct"
    print(f"tool_use {block.name}({json.dumps(block.input)}) from {caller}")
    try:
        content = await get_weather(**block.input)
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


async def loop(client: anthropic.AsyncAnthropic) -> tuple[Any, str | None]:
    """Play the task to its end; returns the last message and the container id."""
    messages: list[Any] = [{"role": "user", "content": PROMPT}]
    container: str | None = None
    for _ in range(20):
        async with client.messages.stream(
            model=MODEL,
            max_tokens=4096,
            tools=TOOLS,
            messages=messages,
            container=container or anthropic.omit,
        ) as stream:
            async for text in stream.text_stream:
                print(text, end="", flush=True)
            message = await stream.get_final_message()
        print()
        if message.container is not None:
            container = message.container.id
        messages.append(
            {
                "role": "assistant",
                "content": [b.model_dump(exclude_none=True) for b in message.content],
            }
        )
        if message.stop_reason == "pause_turn":
            continue
        if message.stop_reason != "tool_use":
            break
        calls = [b for b in message.content if b.type == "tool_use"]
        results = await asyncio.gather(*(answer(b) for b in calls))
        messages.append({"role": "user", "content": list(results)})
    return message, container


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--base-url",
        default=os.environ.get("ANTHROPIC_BASE_URL", "http://127.0.0.1:8765"),
        help="where the Messages API is (default: a local `ptc-observe emulator`)",
    )
    args = parser.parse_args()

    registry = CollectorRegistry()
    observer = Observer(registry=registry)
    client = anthropic.AsyncAnthropic(
        base_url=args.base_url,
        api_key=os.environ.get("ANTHROPIC_API_KEY", "emulated"),
        # The ptc_observe line: an httpx2 async client sending through the observer.
        http_client=httpx2.AsyncClient(transport=observer.async_transport()),
    )
    try:
        message, container = await loop(client)
    except anthropic.APIConnectionError as exc:
        print(
            f"cannot reach {args.base_url} ({exc}): start `ptc-observe emulator` first,"
            " or pass --base-url",
            file=sys.stderr,
        )
        return 1
    finally:
        await client.close()
    print(f"stop_reason: {message.stop_reason}, container: {container}")
    seen = tool_calls_by_caller(registry)
    print(
        "observer: tool calls"
        f" programmatic={seen.get('programmatic', 0):.0f} direct={seen.get('direct', 0):.0f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
